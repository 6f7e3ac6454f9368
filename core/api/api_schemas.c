/* Pagoda API — one schema per request body (common/json_schema.h), named
 * in the route table's body column. A schema says which JSON types each
 * documented field may have; the value rules that need context (a job
 * type that is loaded, a cron expression that parses, a node id that
 * exists) stay with the master's normalisers. Fields not listed are kept as
 * they are (a job's "description" and the like), so the schemas are open
 * objects. docs/api.md "Errors" describes the 400 they produce. */
#include "api/api_int.h"

#define NUL PGD_JT_NULL
#define BOOL PGD_JT_BOOL
#define INT PGD_JT_INT
#define NUM PGD_JT_NUMBER
#define STR PGD_JT_STRING
#define ARR PGD_JT_ARRAY
#define OBJ PGD_JT_OBJECT

/* Names of jobs, flows, schedules, nodes: the normalisers check the
 * characters; the schema bounds the length so messages stay short. */
#define NAME_MAX_BYTES 200

static const pgd_jschema_t name_str = {.types = STR, .max_len = NAME_MAX_BYTES};
static const pgd_jschema_t name_or_null = {.types = STR | NUL, .max_len = NAME_MAX_BYTES};
static const pgd_jschema_t text = {.types = STR};
static const pgd_jschema_t text_or_null = {.types = STR | NUL};
static const pgd_jschema_t object = {.types = OBJ};
static const pgd_jschema_t object_or_null = {.types = OBJ | NUL};
static const pgd_jschema_t number_or_null = {.types = NUM | NUL};
static const pgd_jschema_t boolean = {.types = BOOL};
static const pgd_jschema_t boolean_or_null = {.types = BOOL | NUL};
static const pgd_jschema_t strings = {.types = ARR, .each = &text};
static const pgd_jschema_t strings_or_null = {.types = ARR | NUL, .each = &text};
static const pgd_jschema_t string_map = {.types = OBJ, .each = &text};
static const pgd_jschema_t duration = {.types = STR | NUM};
static const pgd_jschema_t duration_or_null = {.types = STR | NUM | NUL};

/* ---- alarm rules of a definition (docs/alarms.md "Rules"): the alarm
 * service checks the values (event names, channels, durations) ---- */

static const pgd_jschema_t text_or_texts = {.types = STR | ARR, .each = &text};
static const pgd_jfield_t sla_fields[] = {
    {"start_within", &duration, false},
    {"finish_within", &duration, false},
    {"finish_by", &(const pgd_jschema_t){.types = STR, .max_len = 8}, false},
    {NULL, NULL, false}};
static const pgd_jfield_t alarm_rule_fields[] = {
    {"on", &text_or_texts, true},
    {"channels", &text_or_texts, false},
    {"group_window", &duration, false},
    {"sla", &(const pgd_jschema_t){.types = OBJ, .fields = sla_fields}, false},
    {"comment", &text, false},
    {NULL, NULL, false}};
static const pgd_jschema_t alarm_rule = {.types = OBJ, .fields = alarm_rule_fields};
static const pgd_jschema_t alarm_rules = {.types = ARR | NUL, .each = &alarm_rule};

/* ---- jobs (docs/api.md "Jobs", docs/cluster.md) ---- */

/* docs/operations.md "Retention" */
static const pgd_jfield_t job_retention_fields[] = {
    {"days", &number_or_null, false}, {"keep_last", &number_or_null, false}, {NULL, NULL, false}};
static const pgd_jschema_t job_retention = {.types = OBJ | NUL, .fields = job_retention_fields};

static const pgd_jfield_t job_fields[] = {
    {"name", &name_str, true},
    {"type", &name_str, true},
    {"params", &object, false},
    {"timeout", &number_or_null, false},
    {"slots", &number_or_null, false},
    {"priority", &number_or_null, false},
    {"retries", &number_or_null, false},
    {"retry_delay", &number_or_null, false},
    {"retry_max_delay", &number_or_null, false},
    {"max_relaunches", &number_or_null, false},
    {"labels", &strings, false},
    {"mode", &text, false},
    {"shards", &number_or_null, false},
    {"retry_backoff", &(const pgd_jschema_t){.types = STR | OBJ}, false},
    {"retry_on", &strings, false},
    {"relaunch_on_lost", &boolean, false},
    {"run_as", &text_or_null, false},
    {"balancer", &text, false},
    {"balancer_args", &object, false},
    {"env", &string_map, false},
    {"resources", &strings_or_null, false},
    {"alarms", &alarm_rules, false},
    {"retention", &job_retention, false},
    {NULL, NULL, false}};
const pgd_jschema_t api_schema_job = {.types = OBJ, .fields = job_fields};

static const pgd_jfield_t job_run_fields[] = {{"params", &object, false}, {NULL, NULL, false}};
const pgd_jschema_t api_schema_job_run = {.types = OBJ, .fields = job_run_fields};

/* POST /api/v1/runs (docs/api.md "Batch runs"): closed objects, so that a
 * misspelt member is an error rather than a run without it. */
static const pgd_jfield_t batch_run_fields[] = {
    {"job", &name_str, true},
    {"params", &object, false},
    {"idempotency_key", &(const pgd_jschema_t){.types = STR, .max_len = 255}, false},
    {"run_index", &(const pgd_jschema_t){.types = INT, .ranged = true, .min = 0, .max = 1e9}, false},
    {NULL, NULL, false}};
static const pgd_jschema_t batch_run = {.types = OBJ, .fields = batch_run_fields, .closed = true};
static const pgd_jfield_t runs_fields[] = {
    {"runs", &(const pgd_jschema_t){.types = ARR, .each = &batch_run, .max_items = PGD_MASTER_RUNS_MAX},
     true},
    {NULL, NULL, false}};
const pgd_jschema_t api_schema_runs = {.types = OBJ, .fields = runs_fields, .closed = true};

/* ---- console sessions (docs/security.md "Console sessions") ---- */

static const pgd_jfield_t session_fields[] = {{"token", &text, false}, {NULL, NULL, false}};
const pgd_jschema_t api_schema_session = {.types = OBJ, .fields = session_fields};

/* ---- flows (docs/flows.md) ---- */

static const pgd_jfield_t hooks_fields[] = {
    {"script", &text, false}, {"file", &name_str, false}, {NULL, NULL, false}};
static const pgd_jschema_t hooks = {.types = OBJ | NUL, .fields = hooks_fields};

static const pgd_jfield_t node_fields[] = {
    {"id", &name_str, true},
    {"job", &(const pgd_jschema_t){.types = STR | OBJ, .max_len = NAME_MAX_BYTES}, true},
    {"params", &object_or_null, false},
    {"depends_on", &(const pgd_jschema_t){.types = ARR | NUL, .each = &name_str}, false},
    {"trigger_rule", &name_or_null, false},
    {"timeout", &number_or_null, false},
    {"retries", &number_or_null, false},
    {"labels", &strings_or_null, false},
    {"balancer", &name_or_null, false},
    {NULL, NULL, false}};
static const pgd_jschema_t node = {.types = OBJ, .fields = node_fields};

static const pgd_jfield_t flow_fields[] = {
    {"name", &name_str, true},
    {"nodes", &(const pgd_jschema_t){.types = ARR, .each = &node}, true},
    {"params", &object_or_null, false},
    {"failure_strategy", &name_or_null, false},
    {"max_parallel", &number_or_null, false},
    {"hooks", &hooks, false},
    {"hooks_error", &name_or_null, false},
    {"alarms", &alarm_rules, false},
    {NULL, NULL, false}};
const pgd_jschema_t api_schema_flow = {.types = OBJ, .fields = flow_fields};

static const pgd_jfield_t flow_run_fields[] = {
    {"params", &object_or_null, false},
    {"logical_time_us", &(const pgd_jschema_t){.types = INT, .ranged = true, .min = 0,
                                               .max = 9007199254740991.0},
     false},
    {NULL, NULL, false}};
const pgd_jschema_t api_schema_flow_run = {.types = OBJ, .fields = flow_run_fields};

static const pgd_jfield_t rerun_fields[] = {
    {"from_failed", &boolean_or_null, false},
    {"nodes", &(const pgd_jschema_t){.types = ARR, .each = &name_str}, false},
    {"params", &object_or_null, false},
    {NULL, NULL, false}};
const pgd_jschema_t api_schema_fexec_rerun = {.types = OBJ, .fields = rerun_fields};

/* ---- schedules (docs/schedules.md) ---- */

static const pgd_jfield_t schedule_fields[] = {
    {"name", &name_str, true},
    {"job", &name_str, false},
    {"flow", &name_str, false},
    {"params", &object_or_null, false},
    {"concurrency", &name_or_null, false},
    {"cron", &(const pgd_jschema_t){.types = STR, .max_len = 1024}, false},
    {"every", &duration, false},
    {"delay", &duration, false},
    {"at", &(const pgd_jschema_t){.types = STR, .max_len = 100}, false},
    {"timezone", &name_or_null, false},
    {"start", &name_or_null, false},
    {"end", &name_or_null, false},
    {"misfire", &name_or_null, false},
    {"max_catchup", &number_or_null, false},
    {"misfire_grace", &duration_or_null, false},
    {"enabled", &boolean_or_null, false},
    {"alarms", &alarm_rules, false},
    {NULL, NULL, false}};
const pgd_jschema_t api_schema_schedule = {.types = OBJ, .fields = schedule_fields};
