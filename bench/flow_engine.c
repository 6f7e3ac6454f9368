/* Engine cost per transition (node finished -> next actions handed out) on a
 * 20-node chain and a 100-node fan-out/fan-in, plus the cost of serialising
 * the state the master stores at every step. Prints µs; asserts nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "flow/flow.h"

static const cJSON *lookup(void *ud, const char *name) {
  (void)name;
  return ud;
}

static pgd_flow_def_t *build(int fan, int n, cJSON *job) {
  cJSON *j = cJSON_CreateObject(), *nodes = cJSON_AddArrayToObject(j, "nodes");
  cJSON_AddStringToObject(j, "name", fan ? "fan" : "chain");
  char id[32], prev[32];
  for (int i = 0; i < n; i++) {
    cJSON *nd = cJSON_CreateObject();
    snprintf(id, sizeof id, "n%d", i);
    cJSON_AddStringToObject(nd, "id", id);
    cJSON_AddStringToObject(nd, "job", "job");
    cJSON *deps = cJSON_AddArrayToObject(nd, "depends_on");
    cJSON *params = cJSON_AddObjectToObject(nd, "params");
    cJSON_AddStringToObject(params, "day", "${date:-1d}");
    if (fan) {
      if (i > 0 && i < n - 1) cJSON_AddItemToArray(deps, cJSON_CreateString("n0"));
      if (i == n - 1)
        for (int k = 1; k < n - 1; k++) {
          snprintf(prev, sizeof prev, "n%d", k);
          cJSON_AddItemToArray(deps, cJSON_CreateString(prev));
        }
    } else if (i > 0) {
      snprintf(prev, sizeof prev, "n%d", i - 1);
      cJSON_AddItemToArray(deps, cJSON_CreateString(prev));
      snprintf(prev, sizeof prev, "${node.n%d.outputs.k}", i - 1);
      cJSON_AddStringToObject(params, "from", prev);
    }
    cJSON_AddItemToArray(nodes, nd);
  }
  pgd_flow_checks_t c = {.ud = job, .lookup_job = lookup};
  pgd_flow_def_t *d = NULL;
  char err[256];
  if (pgd_flow_def_parse(j, &c, &d, err, sizeof err)) fprintf(stderr, "parse: %s\n", err);
  cJSON_Delete(j);
  return d;
}

/* Runs the flow to the end `reps` times; returns µs per transition. */
static double drive(pgd_flow_def_t *d, int reps, double *state_us) {
  pgd_flow_action_t a[128];
  uint64_t t0 = pgd_mono_ns(), state_ns = 0;
  long transitions = 0, states = 0;
  for (int rep = 0; rep < reps; rep++) {
    pgd_flow_run_t *r = NULL;
    char err[256];
    pgd_flow_run_new(d, rep + 1, NULL, 1774956645LL * 1000000, &r, err, sizeof err);
    char running[128][32];
    int nrun = 0, done = 0;
    while (!done) {
      int n = pgd_flow_run_next(r, a, 128);
      for (int i = 0; i < n; i++) {
        if (a[i].kind == PGD_FLOW_START_NODE) {
          pgd_flow_run_node_started(r, a[i].node_id, 1000 + nrun);
          snprintf(running[nrun++], 32, "%s", a[i].node_id);
          cJSON_Delete(a[i].job);
        } else if (a[i].kind == PGD_FLOW_FLOW_DONE) {
          done = 1;
        }
      }
      if (done || nrun == 0) break;
      const char *id = running[--nrun];
      pgd_flow_run_node_output(r, id, "::output k=v\n", 13);
      pgd_flow_run_node_finished(r, id, "succeeded", NULL);
      transitions++;
      if (rep % 10 == 0) {
        uint64_t s0 = pgd_mono_ns();
        cJSON *st = pgd_flow_run_state(r);
        char *txt = cJSON_PrintUnformatted(st);
        free(txt);
        cJSON_Delete(st);
        state_ns += pgd_mono_ns() - s0;
        states++;
      }
    }
    pgd_flow_run_free(r);
  }
  uint64_t total = pgd_mono_ns() - t0 - state_ns;
  *state_us = states ? state_ns / 1e3 / (double)states : 0;
  return total / 1e3 / (double)transitions;
}

int main(void) {
  cJSON *job = cJSON_Parse("{\"name\":\"job\",\"type\":\"shell\",\"params\":{\"script\":\"echo hi\"}}");
  pgd_flow_def_t *chain = build(0, 20, job), *fan = build(1, 100, job);
  double s1, s2;
  double c = drive(chain, 2000, &s1), f = drive(fan, 400, &s2);
  printf("flow engine, per transition (finish + next, incl. job resolution and ${} substitution):\n");
  printf("  20-node chain:            %.2f us/transition; state JSON (store) %.1f us\n", c, s1);
  printf("  100-node fan-out/fan-in:  %.2f us/transition; state JSON (store) %.1f us\n", f, s2);
  pgd_flow_def_free(chain);
  pgd_flow_def_free(fan);
  cJSON_Delete(job);
  return 0;
}
