/* `pagoda plugin check`: one plugin file through the loader, reported. */
#include "plugin/check.h"

#include <string.h>

#include "plugin/plugin_priv.h"
#include "plugin/schema.h"

/* Appends `name` to a ", "-separated list in buf. */
static void list_add(char *buf, size_t len, const char *name) {
  size_t n = strlen(buf);
  snprintf(buf + n, len - n, "%s%s", n ? ", " : "", name);
}

static void report_loaded(const pgd_plugin_t *p, FILE *out) {
  const pagoda_plugin_descriptor_t *d = p->desc;
  fprintf(out, "type:        %s\n", d->type);
  fprintf(out, "version:     %s\n", d->version ? d->version : "-");
  fprintf(out, "abi:         %s (host %d.%d)\n", p->abi, PAGODA_PLUGIN_ABI_MAJOR,
          PAGODA_PLUGIN_ABI_MINOR);
  fprintf(out, "description: %s\n", d->description ? d->description : "-");

  char buf[256] = "";
  const pagoda_generator_t *g = d->generator;
  if (g && g->validate) list_add(buf, sizeof buf, "validate");
  if (g && g->expand) list_add(buf, sizeof buf, "expand");
  if (g && !buf[0]) list_add(buf, sizeof buf, "(empty table: accepts every params object)");
  fprintf(out, "generator:   %s\n", g ? buf : "none (no master half)");

  const pagoda_executor_t *x = d->executor;
  int kind = pgd_plugin_executor_kind(p);
  if (kind == PGD_EXEC_PROCESS) {
    buf[0] = '\0';
    list_add(buf, sizeof buf, "describe_process");
    /* the slot the host calls for each step (a 1.2 slot replaces its 1.1 one) */
    int v12 = d->abi_minor >= PGD_EXEC_STATE_MINOR;
    list_add(buf, sizeof buf,
             v12 && x->interpret_exit_ex ? "interpret_exit_ex"
             : x->interpret_exit         ? "interpret_exit"
                                         : "default exit rule");
    if (v12 && x->on_output_line_ex)
      list_add(buf, sizeof buf, "on_output_line_ex");
    else if (d->abi_minor >= 1 && x->on_output_line)
      list_add(buf, sizeof buf, "on_output_line");
    if (pgd_plugin_has_kill(p)) list_add(buf, sizeof buf, "describe_kill");
    if (v12 && x->exec_state_free) list_add(buf, sizeof buf, "exec_state_free");
    fprintf(out, "executor:    process (%s)\n", buf);
  } else if (kind == PGD_EXEC_IN_PROCESS) {
    fprintf(out, "executor:    in-process (run)\n");
  } else {
    fprintf(out, "executor:    none (no worker half)\n");
  }
  pagoda_param_spec_t ps;
  if (!pgd_param_spec_at(d, 0, &ps)) fprintf(out, "params:      (no schema)\n");
  for (size_t i = 0; pgd_param_spec_at(d, i, &ps); i++) {
    fprintf(out, "%s %s (%s%s", i == 0 ? "params:     " : "            ", ps.key,
            pgd_param_type_name(ps.type), ps.required ? ", required" : "");
    if (ps.default_text) fprintf(out, ", default \"%s\"", ps.default_text);
    fprintf(out, ")%s%s\n", ps.description ? ": " : "", ps.description ? ps.description : "");
  }
  fprintf(out, "schema:      %s\n", d->abi_minor >= PGD_SCHEMA_MINOR
                                        ? "enforced by the host (ABI >= 1.2)"
                                        : "listed only (ABI < 1.2: validate checks params)");
  fprintf(out, "result:      ok: the plugin loads\n");
}

int pgd_plugin_check(const char *path, FILE *out) {
  if (!path || !out) return 2;
  pgd_registry_t *r = pgd_registry_new();
  if (!r) return 2;
  fprintf(out, "file:        %s\n", path);
  char err[1200];
  int rc = pgd_registry_load_file(r, path, err, sizeof err);
  int ret;
  if (rc == 0 && r->n == 1) {
    report_loaded(r->plugins[0], out);
    ret = 0;
  } else {
    /* What the loader learnt before refusing, then the reason (the message
     * starts with the path: drop it, the first line names the file). */
    if (r->nref == 1) {
      const pgd_refusal_t *f = &r->refused[0];
      if (f->type) fprintf(out, "type:        %s\n", f->type);
      if (f->version) fprintf(out, "version:     %s\n", f->version);
      if (f->abi[0])
        fprintf(out, "abi:         %s (host %d.%d)\n", f->abi, PAGODA_PLUGIN_ABI_MAJOR,
                PAGODA_PLUGIN_ABI_MINOR);
    }
    const char *reason = err;
    size_t plen = strlen(path);
    if (strncmp(reason, path, plen) == 0 && strncmp(reason + plen, ": ", 2) == 0)
      reason += plen + 2;
    fprintf(out, "result:      refused: %s\n", reason[0] ? reason : "unknown reason");
    ret = 1;
  }
  pgd_registry_free(r);
  return ret;
}
