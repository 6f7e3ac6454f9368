/* Fuzz target for the flow definition parser (core/flow/def.c): the input
 * is parsed as JSON and given to pgd_flow_def_parse. An accepted definition
 * must print back to JSON that parses again to an equal definition; a
 * refused one must say why. Hooks files are looked up in a directory that
 * does not exist; inline hooks scripts run in the sandbox with its budget.
 * Built with tests/fuzz/fuzz_driver.c, or with libFuzzer (docs/testing.md). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "flow/flow.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 8192) return 0;
  cJSON *j = cJSON_ParseWithLength((const char *)data, size);
  if (!j) return 0;
  pgd_flow_checks_t checks = {.hooks_dir = "/nonexistent/pagoda-fuzz-hooks"};
  pgd_flow_def_t *d = NULL;
  char err[1024] = "";
  int rc = pgd_flow_def_parse(j, &checks, &d, err, sizeof err);
  if (rc != 0) {
    if (d || !err[0]) abort();
  } else {
    if (!d || pgd_flow_def_node_count(d) < 1 || !pgd_flow_def_name(d)) abort();
    /* The normalised definition is accepted again with the same nodes. */
    cJSON *norm = pgd_flow_def_json(d);
    pgd_flow_def_t *again = NULL;
    char err2[1024] = "";
    if (!norm || pgd_flow_def_parse(norm, &checks, &again, err2, sizeof err2) != 0) abort();
    if (pgd_flow_def_node_count(again) != pgd_flow_def_node_count(d)) abort();
    pgd_flow_def_free(again);
    cJSON_Delete(norm);
    pgd_flow_def_free(d);
  }
  cJSON_Delete(j);
  return 0;
}

const char *const *fuzz_dictionary(void) {
  static const char *const d[] = {"\"name\":", "\"nodes\":", "\"id\":", "\"job\":", "\"depends_on\":",
                                  "\"params\":", "\"trigger_rule\":", "\"all_done\"", "\"one_failed\"",
                                  "\"timeout\":", "\"retries\":", "\"labels\":", "\"balancer\":",
                                  "\"hooks\":", "\"script\":", "\"file\":", "\"hooks_error\":",
                                  "\"failure_strategy\":", "\"continue\"", "\"max_parallel\":",
                                  "\"a\"", "\"b\"", "{\"id\":\"a\",\"job\":\"j\"}", NULL};
  return d;
}
