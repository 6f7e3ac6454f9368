/* Fuzz target for the cron parser (core/sched/cron.c) and the schedule
 * trigger parser around it (core/sched/trigger.c). An input starting with
 * '{' is a schedule object for pgd_trigger_parse; anything else is a cron
 * expression. An accepted expression must give increasing fire times; a
 * refused one must say why. Built with tests/fuzz/fuzz_driver.c, or with
 * libFuzzer (docs/testing.md "Fuzzing"). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "sched/cron.h"
#include "sched/trigger.h"

/* 2026-01-01T00:00:00Z */
#define T0 1767225600000000LL

static void cron_case(const char *text) {
  pgd_cron_t *c = NULL;
  char err[256] = "";
  int rc = pgd_cron_parse(text, &c, err, sizeof err);
  if (rc < 0) {
    if (c || !err[0]) abort(); /* refused: no object, and a message */
    return;
  }
  if (!c || strcmp(pgd_cron_text(c), text) != 0) abort();
  int64_t t = T0;
  for (int i = 0; i < 3; i++) {
    int64_t next = pgd_cron_next(c, NULL, t);
    if (next == -1) break;
    if (next <= t || next % 1000000 != 0) abort(); /* strictly later, whole seconds */
    t = next;
  }
  pgd_cron_free(c);
}

static void trigger_case(const char *text, size_t len) {
  cJSON *j = cJSON_ParseWithLength(text, len);
  if (!j) return;
  pgd_trigger_t *t = NULL;
  char err[512] = "";
  int rc = pgd_trigger_parse(j, T0, &t, err, sizeof err);
  if (rc < 0) {
    if (t || !err[0]) abort();
  } else {
    int64_t a = T0;
    for (int i = 0; i < 3 && a >= 0; i++) {
      int64_t next = pgd_trigger_next(t, a, -1);
      if (next >= 0 && next <= a) abort();
      a = next;
    }
    pgd_trigger_free(t);
  }
  cJSON_Delete(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 4096) return 0;
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = 0;
  if (size && text[0] == '{')
    trigger_case(text, size);
  else
    cron_case(text);
  free(text);
  return 0;
}

const char *const *fuzz_dictionary(void) {
  static const char *const d[] = {"*", "?", "/", "-", ",", " ", "L", "JAN", "DEC", "SUN", "SAT",
                                  "@yearly", "@hourly", "@daily", "59", "60", "31", "32", "0",
                                  "\"cron\":", "\"every\":", "\"delay\":", "\"at\":", "\"timezone\":",
                                  "\"start\":", "\"end\":", "\"misfire\":", "\"max_catchup\":",
                                  "\"misfire_grace\":", "\"enabled\":", "\"Europe/Paris\"",
                                  "\"2030-01-01T00:00:00Z\"", "\"1m\"", "\"30s\"", NULL};
  return d;
}
