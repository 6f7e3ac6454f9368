/* Pagoda — tables and values for the `pagoda` client's output (pure
 * functions: they write to the FILE * they are given and nothing else).
 *
 * Every cell taken from a server response tolerates a missing, null or
 * oddly typed value: it prints "-" rather than failing.
 * Thread rules: reentrant; a table is used by one thread at a time.
 */
#ifndef PAGODA_CLI_CLIENT_TABLE_H
#define PAGODA_CLI_CLIENT_TABLE_H

#include <stddef.h>
#include <stdio.h>

#include <cjson/cJSON.h>

/* ---- a plain text table ------------------------------------------------ */

typedef struct pgd_cli_table pgd_cli_table_t;

/* Creates a table with `ncols` (1..32) columns named by `headers` (copied).
 * Returns NULL on a bad argument or allocation failure. Owned by the caller:
 * free with pgd_cli_table_free(). */
pgd_cli_table_t *pgd_cli_table_new(size_t ncols, const char *const *headers);

/* Appends a row of ncols cells (each copied; NULL or "" prints "-"; control
 * characters print as spaces). Returns 0 or -ENOMEM / -EINVAL. */
int pgd_cli_table_add_row(pgd_cli_table_t *t, const char *const *cells);

/* Number of data rows (headers not counted). */
size_t pgd_cli_table_rows(const pgd_cli_table_t *t);

/* Writes the header and the rows, columns left-aligned and separated by two
 * spaces, no trailing spaces. Widths count UTF-8 code points. Returns 0 or
 * -EIO when writing fails. */
int pgd_cli_table_print(const pgd_cli_table_t *t, FILE *out);

/* Frees the table. NULL is allowed. */
void pgd_cli_table_free(pgd_cli_table_t *t);

/* ---- cells from JSON ------------------------------------------------------ */

/* Formats `obj[key]` as a cell into buf (len >= 2): strings as they are,
 * integral numbers without a fraction, other numbers with %g, booleans as
 * true/false, arrays of scalars comma-joined (objects in an array by their
 * "name", "type" or "id" member), other objects as compact JSON, and "-" for a
 * missing or null value or an empty string/array. Truncates to fit with "...".
 * obj may be NULL. Returns buf. */
char *pgd_cli_cell(const cJSON *obj, const char *key, char *buf, size_t len);

/* Formats a timestamp `obj[key]`: a string is printed as it is; a number is
 * taken as microseconds (> 1e14), milliseconds (> 1e11) or seconds since the
 * epoch and printed as UTC "YYYY-MM-DDTHH:MM:SSZ"; anything else "-". */
char *pgd_cli_time_cell(const cJSON *obj, const char *key, char *buf, size_t len);

/* ---- the list commands' tables ------------------------------------------- */

/* Each prints the list found in a parsed API response (borrowed) as a table
 * on `out`. They return 0, or -EPROTO when the response does not hold the
 * expected array (nothing printed), -ENOMEM or -EIO.
 *   jobs:       {"jobs": [...]}        NAME TYPE TIMEOUT UPDATED
 *   executions: {"executions": [...]}  ID JOB STATE ATTEMPT WORKER EXIT SUBMITTED
 *   workers:    {"workers": [...]}     ID HOST STATE SLOTS TYPES LAST-HEARTBEAT
 *   plugins:    {"plugins": [...]}     TYPE VERSION STATUS FILE/REASON */
int pgd_cli_print_jobs(const cJSON *resp, FILE *out);
int pgd_cli_print_executions(const cJSON *resp, FILE *out);
int pgd_cli_print_workers(const cJSON *resp, FILE *out);
int pgd_cli_print_plugins(const cJSON *resp, FILE *out);
int pgd_cli_print_balancers(const cJSON *resp, FILE *out); /* {"balancers": [...]} */
int pgd_cli_print_resources(const cJSON *resp, FILE *out); /* {"resources": [...]} */
int pgd_cli_print_tokens(const cJSON *resp, FILE *out);    /* {"tokens": [...]} */
int pgd_cli_print_audit(const cJSON *resp, FILE *out);     /* {"audit": [...]} */
int pgd_cli_print_alarms(const cJSON *resp, FILE *out);    /* {"alarms": [...]} */
/* {"flows": [...]}: NAME STRATEGY NODES UPDATED (added in 0.3). */
int pgd_cli_print_flows(const cJSON *resp, FILE *out);
/* {"schedules": [...]}  NAME TARGET TRIGGER TIMEZONE ENABLED NEXT LAST-FIRED */
int pgd_cli_print_schedules(const cJSON *resp, FILE *out);
/* A flow execution (GET /api/v1/flow-executions/ID): a line "flow execution
 * ID of FLOW: STATE[: error]" then NODE STATE EXECUTION OUTPUTS REASON, one
 * row per node (outputs as k=v; reason: the node's submission error when
 * there is one). -EPROTO when `fe` has no "nodes" object. */
int pgd_cli_print_flow_status(const cJSON *fe, FILE *out);

/* Extracts the message of an API error body ({"error": "..."} or
 * {"error": {"message": "..."}}), else the body's first line (trimmed), else
 * "request failed", into buf (len >= 2). body (may be NULL, need not be
 * NUL-terminated) is borrowed. Returns buf. */
char *pgd_cli_error_message(const char *body, size_t body_len, char *buf, size_t len);

/* Returns 1 when `state` is a final execution state (succeeded, failed,
 * killed, timed_out, lost), 0 otherwise (NULL included). */
int pgd_cli_state_is_final(const char *state);

#endif
