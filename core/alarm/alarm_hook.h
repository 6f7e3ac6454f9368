/* Pagoda alarms — Lua alarm hooks (conf/alarms/NAME.lua, docs/alarms.md "Lua
 * hook"): each script defines on_alarm(alarm) and returns nil (keep the
 * alarm as it is), false (drop it) or a table whose `subject`, `text` and
 * `channels` replace the alarm's (reword, route). Scripts run in file-name
 * order; a drop ends the chain.
 *
 * Each script has its own sandbox (script/sandbox.h: the same whitelist,
 * instruction budget, memory caps and 1 s wall-clock limit as balancers and
 * flow hooks). Calls run on one script thread (script/script_thread.h)
 * while the loop thread waits at most the time limit plus 250 ms; a call
 * still running then is abandoned (its thread and sandbox are orphaned and
 * freed when the call returns), the alarm passes unchanged, and the script
 * is compiled again into a fresh sandbox for the next alarm.
 *
 * Thread rules: every function here is called on the master's loop thread.
 */
#ifndef PAGODA_ALARM_ALARM_HOOK_H
#define PAGODA_ALARM_ALARM_HOOK_H

#include <cjson/cJSON.h>

typedef struct pgd_alarm_hooks pgd_alarm_hooks_t;

/* Loads every *.lua of `dir` (nullable or missing = no hooks; a script that
 * does not compile or has no on_alarm is logged and skipped).
 * `instructions` <= 0 takes the sandbox default. Returns 0 and *out (may
 * hold no hook), or a negative errno. */
int pgd_alarm_hooks_load(const char *dir, long instructions, pgd_alarm_hooks_t **out);
/* Number of hooks loaded. */
int pgd_alarm_hooks_count(const pgd_alarm_hooks_t *h);

typedef enum { PGD_ALARM_HOOK_KEEP = 0, PGD_ALARM_HOOK_DROP = 1 } pgd_alarm_hook_verdict_t;

/* Runs the chain on `alarm` (a JSON object: event, subject, text,
 * channels, job, ...), changing its subject / text / channels in place as
 * the scripts ask. On DROP, *dropped_by (borrowed until free) names the
 * script. A script error is logged and counts as "keep". */
pgd_alarm_hook_verdict_t pgd_alarm_hooks_run(pgd_alarm_hooks_t *h, cJSON *alarm,
                                             const char **dropped_by);

/* Frees the hooks (an idle script thread is joined). NULL ignored. */
void pgd_alarm_hooks_free(pgd_alarm_hooks_t *h);

#endif
