/* Pagoda benchmark — printing an execution record as JSON: cJSON's
 * cJSON_PrintUnformatted against pgd_json_print (common/json.h), which
 * prints integral numbers as integers instead of "%1.15g" plus a read-back.
 * The record is shaped like the master's (µs timestamps, params, a job
 * definition, tasks). Prints ns per print for each and checks that both
 * texts parse back to equal trees. Usage: bench_json_print [N=200000] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/clock.h"
#include "common/json.h"

static const char *k_rec =
    "{\"id\":123456,\"job\":\"true\",\"type\":\"shell\",\"state\":\"succeeded\",\"attempt\":1,"
    "\"worker_id\":\"w-6c1f0a9e\",\"exit_code\":0,\"signal\":null,\"error\":null,\"trigger\":\"api\","
    "\"params\":{\"argv\":[\"/bin/true\"],\"shell\":\"bash\"},"
    "\"definition\":{\"name\":\"true\",\"type\":\"shell\",\"params\":{\"argv\":[\"/bin/true\"]},"
    "\"timeout\":0,\"slots\":1,\"priority\":0,\"retries\":2,\"retry_delay\":1.5},"
    "\"submitted_us\":1795000000123456,\"dispatched_us\":1795000000123789,"
    "\"started_us\":1795000000124500,\"finished_us\":1795000000126000,\"mode\":\"single\","
    "\"tasks\":[{\"attempt\":1,\"state\":\"succeeded\",\"worker_id\":\"w-6c1f0a9e\","
    "\"retries_used\":0,\"relaunches_used\":0}],\"attributes\":null,\"result\":null}";

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 200000;
  cJSON *rec = cJSON_Parse(k_rec);
  if (!rec) return 1;
  size_t bytes[2] = {0, 0};
  double ns[2];
  for (int which = 0; which < 2; which++) {
    uint64_t t = pgd_mono_ns();
    for (long i = 0; i < n; i++) {
      char *s = which ? pgd_json_print(rec) : cJSON_PrintUnformatted(rec);
      if (!s) return 1;
      if (i == 0) {
        bytes[which] = strlen(s);
        cJSON *back = cJSON_Parse(s);
        if (!cJSON_Compare(back, rec, 1)) {
          fprintf(stderr, "%s: the text does not parse back to the record\n",
                  which ? "pgd_json_print" : "cJSON");
          return 1;
        }
        cJSON_Delete(back);
      }
      free(s);
    }
    ns[which] = (double)(pgd_mono_ns() - t) / (double)n;
  }
  printf("execution record, %ld prints each:\n", n);
  printf("  cJSON_PrintUnformatted  %8.0f ns  (%zu bytes)\n", ns[0], bytes[0]);
  printf("  pgd_json_print          %8.0f ns  (%zu bytes)  %.2fx\n", ns[1], bytes[1], ns[0] / ns[1]);
  cJSON_Delete(rec);
  return 0;
}
