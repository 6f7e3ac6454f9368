/* Pagoda — command line parsing for the `pagoda` executable (see client_args.h). */
#include "cli/client_args.h"
#include "cli/client_token.h"
#include "common/clock.h"
#include "common/err.h"

#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_help(const char *s) {
  return s && (strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0);
}

static int is_worker_client_sub(const char *s) {
  return s && (strcmp(s, "list") == 0 || strcmp(s, "show") == 0 || strcmp(s, "drain") == 0 ||
               strcmp(s, "undrain") == 0);
}

/* `--version` or `-V` after a command word (`pagoda job list --version`,
 * `pagoda master --version`) prints the version too, before "--". The one
 * exception: `resource get|delete ... --version HASH` names a resource
 * version, so there `--version` asks for pagoda's only as the last word. */
static int asks_version(int argc, char **argv, int cmd) {
  const char *group = argv[cmd];
  const char *sub = cmd + 1 < argc ? argv[cmd + 1] : NULL;
  int takes_value = strcmp(group, "resource") == 0 && sub &&
                    (strcmp(sub, "get") == 0 || strcmp(sub, "delete") == 0);
  for (int i = cmd + 1; i < argc && argv[i] && strcmp(argv[i], "--") != 0; i++) {
    if (strcmp(argv[i], "-V") == 0) return 1;
    if (strcmp(argv[i], "--version") == 0 && (!takes_value || i + 1 >= argc)) return 1;
  }
  return 0;
}

pgd_cli_route_t pgd_cli_route(int argc, char **argv, int *cmd_index) {
  int i = 1;
  if (cmd_index) *cmd_index = 0;
  if (argc < 1 || !argv) return PGD_CLI_ROUTE_USAGE_ERROR;
  while (i < argc && argv[i]) {
    if (strcmp(argv[i], "--addr") == 0 || strcmp(argv[i], "--cacert") == 0 ||
        strcmp(argv[i], "--token") == 0) {
      if (i + 1 >= argc) return PGD_CLI_ROUTE_USAGE_ERROR;
      i += 2;
    } else if (strncmp(argv[i], "--addr=", 7) == 0 || strncmp(argv[i], "--cacert=", 9) == 0 ||
               strncmp(argv[i], "--token=", 8) == 0) {
      i += 1;
    } else {
      break;
    }
  }
  if (i >= argc || !argv[i]) return PGD_CLI_ROUTE_USAGE_ERROR;
  const char *w = argv[i];
  const char *next = (i + 1 < argc) ? argv[i + 1] : NULL;
  if (cmd_index) *cmd_index = i;
  if (strcmp(w, "--version") == 0 || strcmp(w, "-V") == 0 || strcmp(w, "version") == 0)
    return PGD_CLI_ROUTE_VERSION;
  if (asks_version(argc, argv, i)) return PGD_CLI_ROUTE_VERSION;
  if (is_help(w) || strcmp(w, "help") == 0) {
    if (cmd_index) *cmd_index = next ? i + 1 : 0;
    return PGD_CLI_ROUTE_HELP;
  }
  if (strcmp(w, "worker") != 0 && pgd_cli_is_client_group(w)) return PGD_CLI_ROUTE_CLIENT;
  if (strcmp(w, "worker") == 0 && is_worker_client_sub(next)) return PGD_CLI_ROUTE_CLIENT;
  if (strcmp(w, "dev") == 0 || strcmp(w, "master") == 0 || strcmp(w, "worker") == 0) {
    if (i != 1) return PGD_CLI_ROUTE_USAGE_ERROR; /* --addr before a daemon */
    if (is_help(next)) return PGD_CLI_ROUTE_CMD_HELP;
    return PGD_CLI_ROUTE_DAEMON;
  }
  return PGD_CLI_ROUTE_UNKNOWN;
}

/* ---- client parser ---------------------------------------------------- */

enum {
  OPT_JSON = 1 << 0,
  OPT_JOB = 1 << 1,
  OPT_STATE = 1 << 2,
  OPT_LIMIT = 1 << 3,
  OPT_FOLLOW = 1 << 4,
  OPT_WAIT = 1 << 5,
  OPT_PARAM = 1 << 6,
  OPT_FROM_FAILED = 1 << 7,
  OPT_NODES = 1 << 8,
  OPT_COUNT = 1 << 9,
  OPT_VERSION = 1 << 10,
  OPT_OUTPUT = 1 << 11,
  OPT_PLUGIN_PARAMS = 1 << 12,
  OPT_TYPE = 1 << 13,
  OPT_NAME = 1 << 14,   /* token create */
  OPT_ROLE = 1 << 15,
  OPT_EXPIRES = 1 << 16,
  OPT_SINCE = 1 << 17,  /* audit */
  OPT_BY = 1 << 18,
  OPT_ROUTE = 1 << 19,
  OPT_BEFORE = 1 << 20,
  OPT_DRY_RUN = 1 << 21, /* apply */
  OPT_PRUNE = 1 << 22,
  OPT_PARAMS_FILE = 1 << 23, /* job run */
  OPT_UNTIL = 1 << 24,       /* exec list */
};

typedef struct {
  const char *group;
  const char *sub;
  pgd_cli_cmd_t cmd;
  int nargs;   /* positional arguments after the subcommand */
  unsigned opts;
  const char *arg_name;
} cmd_spec_t;

static const cmd_spec_t k_cmds[] = {
    {"job", "create", PGD_CLI_JOB_CREATE, 1, 0, "FILE"},
    {"job", "list", PGD_CLI_JOB_LIST, 0, OPT_JSON, NULL},
    {"job", "show", PGD_CLI_JOB_SHOW, 1, 0, "NAME"},
    {"job", "run", PGD_CLI_JOB_RUN, 1, OPT_WAIT | OPT_PARAM | OPT_COUNT | OPT_PARAMS_FILE, "NAME"},
    {"job", "delete", PGD_CLI_JOB_DELETE, 1, 0, "NAME"},
    {"exec", "list", PGD_CLI_EXEC_LIST, 0,
     OPT_JSON | OPT_JOB | OPT_STATE | OPT_LIMIT | OPT_SINCE | OPT_UNTIL, NULL},
    {"exec", "show", PGD_CLI_EXEC_SHOW, 1, 0, "ID"},
    {"exec", "logs", PGD_CLI_EXEC_LOGS, 1, OPT_FOLLOW, "ID"},
    {"exec", "kill", PGD_CLI_EXEC_KILL, 1, 0, "ID"},
    {"exec", "delete", PGD_CLI_EXEC_DELETE, 1, 0, "ID"},
    {"worker", "list", PGD_CLI_WORKER_LIST, 0, OPT_JSON, NULL},
    {"worker", "show", PGD_CLI_WORKER_SHOW, 1, 0, "ID"},
    {"worker", "drain", PGD_CLI_WORKER_DRAIN, 1, 0, "ID"},
    {"worker", "undrain", PGD_CLI_WORKER_UNDRAIN, 1, 0, "ID"},
    {"plugin", "list", PGD_CLI_PLUGIN_LIST, 0, OPT_JSON, NULL},
    {"plugin", "check", PGD_CLI_PLUGIN_CHECK, 1, 0, "FILE"},
    {"plugin", "test", PGD_CLI_PLUGIN_TEST, 1, OPT_PLUGIN_PARAMS | OPT_TYPE, "FILE"},
    {"plugin", "push", PGD_CLI_PLUGIN_PUSH, 1, 0, "FILE.so"},
    {"plugin", "rollback", PGD_CLI_PLUGIN_ROLLBACK, 1, 0, "TYPE"},
    {"balancer", "list", PGD_CLI_BALANCER_LIST, 0, OPT_JSON, NULL},
    {"balancer", "reload", PGD_CLI_BALANCER_RELOAD, 0, 0, NULL},
    {"flow", "create", PGD_CLI_FLOW_CREATE, 1, 0, "FILE"},
    {"flow", "list", PGD_CLI_FLOW_LIST, 0, OPT_JSON, NULL},
    {"flow", "show", PGD_CLI_FLOW_SHOW, 1, 0, "NAME"},
    {"flow", "delete", PGD_CLI_FLOW_DELETE, 1, 0, "NAME"},
    {"flow", "run", PGD_CLI_FLOW_RUN, 1, OPT_WAIT | OPT_PARAM, "NAME"},
    {"flow", "status", PGD_CLI_FLOW_STATUS, 1, OPT_JSON, "ID"},
    {"flow", "kill", PGD_CLI_FLOW_KILL, 1, 0, "ID"},
    {"flow", "rerun", PGD_CLI_FLOW_RERUN, 1, OPT_FROM_FAILED | OPT_NODES, "ID"},
    {"schedule", "create", PGD_CLI_SCHED_CREATE, 1, 0, "FILE"},
    {"schedule", "list", PGD_CLI_SCHED_LIST, 0, OPT_JSON, NULL},
    {"schedule", "show", PGD_CLI_SCHED_SHOW, 1, 0, "NAME"},
    {"schedule", "next", PGD_CLI_SCHED_NEXT, 1, OPT_COUNT, "NAME"},
    {"schedule", "pause", PGD_CLI_SCHED_PAUSE, 1, 0, "NAME"},
    {"schedule", "resume", PGD_CLI_SCHED_RESUME, 1, 0, "NAME"},
    {"schedule", "run", PGD_CLI_SCHED_RUN, 1, 0, "NAME"},
    {"schedule", "delete", PGD_CLI_SCHED_DELETE, 1, 0, "NAME"},
    {"resource", "put", PGD_CLI_RES_PUT, 2, 0, "NAME FILE"},
    {"resource", "list", PGD_CLI_RES_LIST, 0, OPT_JSON, NULL},
    {"resource", "get", PGD_CLI_RES_GET, 1, OPT_VERSION | OPT_OUTPUT, "NAME"},
    {"resource", "versions", PGD_CLI_RES_VERSIONS, 1, 0, "NAME"},
    {"resource", "delete", PGD_CLI_RES_DELETE, 1, OPT_VERSION, "NAME"},
    {"token", "create", PGD_CLI_TOKEN_CREATE, 0, OPT_NAME | OPT_ROLE | OPT_EXPIRES | OPT_JSON, NULL},
    {"token", "list", PGD_CLI_TOKEN_LIST, 0, OPT_JSON, NULL},
    {"token", "revoke", PGD_CLI_TOKEN_REVOKE, 1, 0, "NAME"},
    {"audit", "list", PGD_CLI_AUDIT_LIST, 0,
     OPT_JSON | OPT_LIMIT | OPT_SINCE | OPT_BY | OPT_ROUTE | OPT_BEFORE, NULL},
    /* one-word commands: the parser repeats the word as the subcommand;
     * `apply -f PATH` reads -f (otherwise --follow) as "from" */
    {"apply", "apply", PGD_CLI_APPLY, 1, OPT_FOLLOW | OPT_DRY_RUN | OPT_PRUNE, "FILE|DIR"},
    {"export", "export", PGD_CLI_EXPORT, 1, 0, "DIR"},
    {"alarm", "list", PGD_CLI_ALARM_LIST, 0, OPT_JSON | OPT_STATE | OPT_LIMIT | OPT_BEFORE, NULL},
    {"alarm", "ack", PGD_CLI_ALARM_ACK, 1, 0, "ID"},
};

static const char *k_groups[] = {"job", "exec", "worker", "plugin", "balancer", "flow",
                                 "schedule", "resource", "token", "audit", "apply", "export", "alarm"};

int pgd_cli_is_client_group(const char *word) {
  for (size_t g = 0; word && g < sizeof(k_groups) / sizeof(k_groups[0]); g++)
    if (strcmp(word, k_groups[g]) == 0) return 1;
  return 0;
}

void pgd_cli_print_commands(FILE *out) {
  static const char *const daemons[] = {"dev", "master", "worker"};
  for (size_t i = 0; i < sizeof daemons / sizeof daemons[0]; i++) fprintf(out, "%s\n", daemons[i]);
  for (size_t i = 0; i < sizeof k_cmds / sizeof k_cmds[0]; i++)
    fprintf(out, "%s %s\n", k_cmds[i].group, k_cmds[i].sub);
}

int pgd_cli_param_set(cJSON *obj, const char *kv) {
  if (!obj || !kv) return -EINVAL;
  const char *eq = strchr(kv, '=');
  if (!eq || eq == kv) return -EINVAL;
  size_t klen = (size_t)(eq - kv);
  char *key = malloc(klen + 1);
  if (!key) return -ENOMEM;
  memcpy(key, kv, klen);
  key[klen] = '\0';
  cJSON *val = cJSON_CreateString(eq + 1);
  if (!val) {
    free(key);
    return -ENOMEM;
  }
  int rc = 0;
  if (cJSON_GetObjectItemCaseSensitive(obj, key)) {
    if (!cJSON_ReplaceItemInObjectCaseSensitive(obj, key, val)) {
      cJSON_Delete(val);
      rc = -ENOMEM;
    }
  } else if (!cJSON_AddItemToObject(obj, key, val)) {
    cJSON_Delete(val);
    rc = -ENOMEM;
  }
  free(key);
  return rc;
}

/* Merges the members of `src` (an object) into `dst`, later values winning. */
static int merge_params(cJSON *dst, const cJSON *src) {
  const cJSON *it;
  cJSON_ArrayForEach(it, src) {
    if (!it->string) continue;
    cJSON *dup = cJSON_Duplicate(it, 1);
    if (!dup) return -ENOMEM;
    cJSON_DeleteItemFromObjectCaseSensitive(dst, it->string);
    if (!cJSON_AddItemToObject(dst, it->string, dup)) {
      cJSON_Delete(dup);
      return -ENOMEM;
    }
  }
  return 0;
}

int pgd_cli_parse_id(const char *s, long long *out) {
  if (!s || !*s || !out) return -EINVAL;
  long long v = 0;
  for (const char *p = s; *p; p++) {
    if (*p < '0' || *p > '9') return -EINVAL;
    if (v > (9007199254740992LL - (*p - '0')) / 10) return -EINVAL;
    v = v * 10 + (*p - '0');
  }
  if (v < 1) return -EINVAL;
  *out = v;
  return 0;
}

static int parse_limit(const char *s, long *out) {
  long long v;
  if (pgd_cli_parse_id(s, &v) != 0 || v > 1000000000LL) return -EINVAL;
  *out = (long)v;
  return 0;
}

/* Returns the value of an option that takes one: "--opt=V" or "--opt V".
 * *i is advanced past a separate value. NULL when the value is missing. */
static const char *opt_value(int argc, char **argv, int *i, const char *name, int *matched) {
  size_t n = strlen(name);
  const char *a = argv[*i];
  *matched = 0;
  if (strncmp(a, name, n) != 0) return NULL;
  if (a[n] == '=') {
    *matched = 1;
    return a + n + 1;
  }
  if (a[n] != '\0') return NULL;
  *matched = 1;
  if (*i + 1 >= argc || !argv[*i + 1]) return NULL;
  (*i)++;
  return argv[*i];
}

void pgd_cli_args_free(pgd_cli_args_t *args) {
  if (!args) return;
  cJSON_Delete(args->params);
  memset(args, 0, sizeof(*args));
  args->limit = -1;
  args->count = -1;
}

#define MAX_POS 8

int pgd_cli_args_parse(int argc, char **argv, const char *env_addr,
                       pgd_cli_args_t *out, char *err, size_t errlen) {
  if (!out) return -EINVAL;
  memset(out, 0, sizeof(*out));
  out->limit = -1;
  out->count = -1;
  if (err && errlen) err[0] = '\0';
  if (argc < 1 || !argv) {
    return pgd_set_err(err, errlen, -EINVAL, "no command given");
  }

  const char *pos[MAX_POS];
  int npos = 0;
  unsigned seen = 0;
  int rc = -EINVAL;
  const char *addr = NULL;
  const char *count_text = NULL;
  cJSON *params = cJSON_CreateObject();
  if (!params) {
    return pgd_set_err(err, errlen, -ENOMEM, "out of memory");
  }

  /* --help anywhere (before "--") wins over any other problem. */
  for (int i = 1; i < argc && argv[i] && strcmp(argv[i], "--") != 0; i++)
    if (is_help(argv[i])) out->help = 1;

  int dashdash = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!a) break;
    if (dashdash || a[0] != '-' || strcmp(a, "-") == 0) {
      if (npos >= MAX_POS) {
        pgd_set_err(err, errlen, -EINVAL, "too many arguments");
        goto fail;
      }
      pos[npos++] = a;
      continue;
    }
    if (strcmp(a, "--") == 0) {
      dashdash = 1;
      continue;
    }
    if (is_help(a)) {
      out->help = 1;
      continue;
    }
    if (strcmp(a, "--json") == 0) {
      seen |= OPT_JSON;
      out->json = 1;
      continue;
    }
    if (strcmp(a, "-f") == 0 || strcmp(a, "--follow") == 0) {
      seen |= OPT_FOLLOW;
      out->follow = 1;
      continue;
    }
    if (strcmp(a, "--from-failed") == 0) {
      seen |= OPT_FROM_FAILED;
      out->from_failed = 1;
      continue;
    }
    if (strcmp(a, "--dry-run") == 0) {
      seen |= OPT_DRY_RUN;
      out->dry_run = 1;
      continue;
    }
    if (strcmp(a, "--prune") == 0) {
      seen |= OPT_PRUNE;
      out->prune = 1;
      continue;
    }
    if (strcmp(a, "--wait") == 0) {
      seen |= OPT_WAIT;
      out->wait = 1;
      continue;
    }
    int m;
    const char *v;
    const char *opt = a;
    if ((v = opt_value(argc, argv, &i, "--addr", &m)), m) {
      if (!v || !*v) goto missing;
      addr = v;
      continue;
    }
    if ((v = opt_value(argc, argv, &i, "--cacert", &m)), m) {
      if (!v || !*v) goto missing;
      out->cacert = v;
      continue;
    }
    if ((v = opt_value(argc, argv, &i, "--token", &m)), m) {
      if (!v || !*v) goto missing;
      out->token = v;
      continue;
    }
    {
      /* token create / audit list options: plain strings */
      static const struct { const char *flag; unsigned bit; size_t off; } k_str[] = {
          {"--name", OPT_NAME, offsetof(pgd_cli_args_t, token_name)},
          {"--role", OPT_ROLE, offsetof(pgd_cli_args_t, role)},
          {"--expires", OPT_EXPIRES, offsetof(pgd_cli_args_t, expires)},
          {"--since", OPT_SINCE, offsetof(pgd_cli_args_t, since)},
          {"--until", OPT_UNTIL, offsetof(pgd_cli_args_t, until)},
          {"--by", OPT_BY, offsetof(pgd_cli_args_t, by)},
          {"--route", OPT_ROUTE, offsetof(pgd_cli_args_t, route)},
          {"--before", OPT_BEFORE, offsetof(pgd_cli_args_t, before)}};
      size_t k = 0;
      for (; k < sizeof k_str / sizeof k_str[0]; k++) {
        if ((v = opt_value(argc, argv, &i, k_str[k].flag, &m)), m) break;
      }
      if (k < sizeof k_str / sizeof k_str[0]) {
        if (!v || !*v) goto missing;
        seen |= k_str[k].bit;
        *(const char **)((char *)out + k_str[k].off) = v;
        continue;
      }
    }
    if ((v = opt_value(argc, argv, &i, "--nodes", &m)), m) {
      if (!v || !*v) goto missing;
      seen |= OPT_NODES;
      out->nodes = v;
      continue;
    }
    if ((v = opt_value(argc, argv, &i, "--job", &m)), m) {
      if (!v || !*v) goto missing;
      seen |= OPT_JOB;
      out->job_filter = v;
      continue;
    }
    if ((v = opt_value(argc, argv, &i, "--state", &m)), m) {
      if (!v || !*v) goto missing;
      seen |= OPT_STATE;
      out->state_filter = v;
      continue;
    }
    if ((v = opt_value(argc, argv, &i, "--limit", &m)), m) {
      if (!v) goto missing;
      seen |= OPT_LIMIT;
      if (parse_limit(v, &out->limit) != 0) {
        pgd_set_err(err, errlen, -EINVAL, "--limit wants a positive integer, not '%s'", v);
        goto fail;
      }
      continue;
    }
    if ((v = opt_value(argc, argv, &i, "--version", &m)), m) {
      if (!v || !*v) goto missing;
      seen |= OPT_VERSION;
      out->version = v;
      continue;
    }
    v = opt_value(argc, argv, &i, "-o", &m);
    if (!m) v = opt_value(argc, argv, &i, "--output", &m);
    if (m) {
      if (!v || !*v) goto missing;
      seen |= OPT_OUTPUT;
      out->output = v;
      continue;
    }
    if ((v = opt_value(argc, argv, &i, "--count", &m)), m) {
      if (!v) goto missing;
      seen |= OPT_COUNT;
      if (parse_limit(v, &out->count) != 0 || out->count > PGD_CLI_RUN_COUNT_MAX) {
        pgd_set_err(err, errlen, -EINVAL, "--count wants an integer from 1 to %d, not '%s'",
                    PGD_CLI_RUN_COUNT_MAX, v);
        goto fail;
      }
      count_text = v;
      continue;
    }
    if ((v = opt_value(argc, argv, &i, "--params-file", &m)), m) {
      if (!v || !*v) goto missing;
      seen |= OPT_PARAMS_FILE;
      out->params_file = v;
      continue;
    }
    if ((v = opt_value(argc, argv, &i, "--params", &m)), m) {
      if (!v) goto missing;
      seen |= OPT_PLUGIN_PARAMS;
      out->params_text = v;
      continue;
    }
    if ((v = opt_value(argc, argv, &i, "--type", &m)), m) {
      if (!v || !*v) goto missing;
      seen |= OPT_TYPE;
      out->type = v;
      continue;
    }
    if ((v = opt_value(argc, argv, &i, "--params-json", &m)), m) {
      if (!v) goto missing;
      seen |= OPT_PARAM;
      cJSON *obj = cJSON_Parse(v);
      if (!obj || !cJSON_IsObject(obj)) {
        cJSON_Delete(obj);
        pgd_set_err(err, errlen, -EINVAL, "--params-json wants a JSON object");
        goto fail;
      }
      int mr = merge_params(params, obj);
      cJSON_Delete(obj);
      if (mr != 0) {
        rc = mr;
        pgd_set_err(err, errlen, -ENOMEM, "out of memory");
        goto fail;
      }
      continue;
    }
    if ((v = opt_value(argc, argv, &i, "--param", &m)), m) {
      if (!v) goto missing;
      seen |= OPT_PARAM;
      int pr = pgd_cli_param_set(params, v);
      if (pr != 0) {
        rc = pr;
        if (pr == -ENOMEM)
          pgd_set_err(err, errlen, -ENOMEM, "out of memory");
        else
          pgd_set_err(err, errlen, -EINVAL, "--param wants KEY=VALUE, not '%s'", v);
        goto fail;
      }
      continue;
    }
    if (out->help) continue; /* `... --bogus --help`: still show help */
    pgd_set_err(err, errlen, -EINVAL, "unknown option '%s'", a);
    goto fail;
  missing:
    pgd_set_err(err, errlen, -EINVAL, "option '%s' needs a value", opt);
    goto fail;
  }

  if (addr) out->addr = addr;
  else if (env_addr && *env_addr) out->addr = env_addr;
  else out->addr = PGD_CLI_DEFAULT_ADDR;

  if (npos == 0) {
    if (out->help) goto ok;
    pgd_set_err(err, errlen, -EINVAL, "no command given");
    goto fail;
  }
  for (size_t g = 0; g < sizeof(k_groups) / sizeof(k_groups[0]); g++)
    if (strcmp(pos[0], k_groups[g]) == 0) out->group = k_groups[g];
  if (!out->group) {
    if (out->help) goto ok;
    pgd_set_err(err, errlen, -EINVAL, "unknown command '%s'", pos[0]);
    goto fail;
  }
  if (npos == 1 && strcmp(out->group, "audit") == 0) pos[npos++] = "list"; /* `pagoda audit` */
  if (strcmp(out->group, "apply") == 0 || strcmp(out->group, "export") == 0) {
    /* one-word commands: the word is its own subcommand */
    if (npos >= MAX_POS) {
      pgd_set_err(err, errlen, -EINVAL, "too many arguments");
      goto fail;
    }
    memmove(pos + 2, pos + 1, (size_t)(npos - 1) * sizeof pos[0]);
    pos[1] = out->group;
    npos++;
  }
  if (npos < 2) {
    if (out->help) goto ok;
    pgd_set_err(err, errlen, -EINVAL, "'%s' needs a subcommand", out->group);
    goto fail;
  }
  const cmd_spec_t *spec = NULL;
  for (size_t c = 0; c < sizeof(k_cmds) / sizeof(k_cmds[0]); c++)
    if (strcmp(k_cmds[c].group, out->group) == 0 && strcmp(k_cmds[c].sub, pos[1]) == 0)
      spec = &k_cmds[c];
  if (!spec) {
    if (out->help) goto ok;
    pgd_set_err(err, errlen, -EINVAL, "unknown command '%s %s'", out->group, pos[1]);
    goto fail;
  }
  out->cmd = spec->cmd;
  if (out->help) goto ok;
  const int one_word = strcmp(spec->group, spec->sub) == 0; /* apply, export */
  if (npos - 2 < spec->nargs) {
    pgd_set_err(err, errlen, -EINVAL, "'%s%s%s' needs %s", spec->group, one_word ? "" : " ",
                one_word ? "" : spec->sub, spec->arg_name);
    goto fail;
  }
  if (npos - 2 > spec->nargs) {
    pgd_set_err(err, errlen, -EINVAL, "unexpected argument '%s'", pos[2 + spec->nargs]);
    goto fail;
  }
  unsigned bad = seen & ~spec->opts;
  if (bad) {
    static const struct { unsigned bit; const char *name; } names[] = {
        {OPT_JSON, "--json"},   {OPT_JOB, "--job"},       {OPT_STATE, "--state"},
        {OPT_LIMIT, "--limit"}, {OPT_FOLLOW, "--follow"}, {OPT_WAIT, "--wait"},
        {OPT_PARAM, "--param/--params-json"}, {OPT_FROM_FAILED, "--from-failed"}, {OPT_COUNT, "--count"},
        {OPT_VERSION, "--version"}, {OPT_OUTPUT, "-o/--output"},
        {OPT_NODES, "--nodes"}, {OPT_PLUGIN_PARAMS, "--params"}, {OPT_TYPE, "--type"},
        {OPT_NAME, "--name"}, {OPT_ROLE, "--role"}, {OPT_EXPIRES, "--expires"},
        {OPT_SINCE, "--since"}, {OPT_BY, "--by"}, {OPT_ROUTE, "--route"},
        {OPT_BEFORE, "--before"}, {OPT_DRY_RUN, "--dry-run"}, {OPT_PRUNE, "--prune"},
        {OPT_PARAMS_FILE, "--params-file"}, {OPT_UNTIL, "--until"}};
    for (size_t n = 0; n < sizeof(names) / sizeof(names[0]); n++)
      if (bad & names[n].bit) {
        pgd_set_err(err, errlen, -EINVAL, "option %s does not apply to '%s%s%s'", names[n].name,
                    spec->group, one_word ? "" : " ", one_word ? "" : spec->sub);
        break;
      }
    goto fail;
  }
  if (spec->nargs >= 1) out->arg = pos[2];
  if (spec->nargs >= 2) out->arg2 = pos[3];
  if (out->arg && !*out->arg) {
    pgd_set_err(err, errlen, -EINVAL, "%s must not be empty", spec->arg_name);
    goto fail;
  }
  if (out->cmd == PGD_CLI_EXEC_SHOW || out->cmd == PGD_CLI_EXEC_LOGS ||
      out->cmd == PGD_CLI_EXEC_KILL || out->cmd == PGD_CLI_EXEC_DELETE) {
    if (pgd_cli_parse_id(out->arg, &out->id) != 0) {
      pgd_set_err(err, errlen, -EINVAL, "execution ID must be a positive integer, not '%s'",
                  out->arg);
      goto fail;
    }
  }
  if (out->cmd == PGD_CLI_EXEC_LIST) {
    /* resolved here so that a bad time is a usage error, before any request */
    const char *flag[2] = {"--since", "--until"}, *val[2] = {out->since, out->until};
    long long *us[2] = {&out->since_us, &out->until_us};
    for (int k = 0; k < 2; k++) {
      if (val[k] && pgd_cli_time_arg(val[k], (long long)pgd_now_us(), us[k]) != 0) {
        pgd_set_err(err, errlen, -EINVAL,
                    "%s wants µs since the epoch, RFC 3339 (2026-11-22T10:00:00Z) or a duration "
                    "back from now (15m, 12h, 7d), not '%s'", flag[k], val[k]);
        goto fail;
      }
    }
  }
  if (out->cmd == PGD_CLI_FLOW_STATUS || out->cmd == PGD_CLI_FLOW_KILL ||
      out->cmd == PGD_CLI_FLOW_RERUN) {
    if (pgd_cli_parse_id(out->arg, &out->id) != 0) {
      pgd_set_err(err, errlen, -EINVAL, "flow execution ID must be a positive integer, not '%s'",
                  out->arg);
      goto fail;
    }
  }
  if (out->cmd == PGD_CLI_FLOW_RERUN && out->from_failed == (out->nodes != NULL)) {
    pgd_set_err(err, errlen, -EINVAL,
                "'flow rerun' needs --from-failed or --nodes a,b (one of them)");
    goto fail;
  }
  if (out->cmd == PGD_CLI_SCHED_NEXT && out->count > 100) {
    pgd_set_err(err, errlen, -EINVAL, "--count wants an integer from 1 to 100, not '%s'",
                count_text);
    goto fail;
  }
  if (out->cmd == PGD_CLI_JOB_RUN && out->count > 0 && out->params_file) {
    pgd_set_err(err, errlen, -EINVAL,
                "'job run' takes --count or --params-file, not both (--params-file runs one "
                "per line)");
    goto fail;
  }
  if (out->cmd == PGD_CLI_JOB_RUN || out->cmd == PGD_CLI_FLOW_RUN) {
    out->params = params;
    params = NULL;
  }
ok:
  cJSON_Delete(params);
  return 0;
fail:
  cJSON_Delete(params);
  {
    const char *group = out->group;
    pgd_cli_args_free(out);
    out->group = group;
  }
  return rc;
}

/* ---- URLs ------------------------------------------------------------- */

char *pgd_cli_url_escape(const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  if (!s) s = "";
  size_t n = strlen(s);
  char *o = malloc(n * 3 + 1);
  if (!o) return NULL;
  size_t j = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
        c == '-' || c == '.' || c == '_' || c == '~') {
      o[j++] = (char)c;
    } else {
      o[j++] = '%';
      o[j++] = hex[c >> 4];
      o[j++] = hex[c & 15];
    }
  }
  o[j] = '\0';
  return o;
}

char *pgd_cli_url_join(const char *base, const char *path) {
  if (!base) base = "";
  if (!path) path = "";
  size_t bl = strlen(base);
  while (bl > 0 && base[bl - 1] == '/') bl--;
  size_t pl = strlen(path);
  char *o = malloc(bl + pl + 2);
  if (!o) return NULL;
  memcpy(o, base, bl);
  size_t j = bl;
  if (pl == 0 || path[0] != '/') o[j++] = '/';
  memcpy(o + j, path, pl);
  o[j + pl] = '\0';
  return o;
}

char *pgd_cli_exec_list_path(const pgd_cli_args_t *a) {
  static const char base[] = "/api/v1/executions";
  if (!a) return NULL;
  char *job = a->job_filter ? pgd_cli_url_escape(a->job_filter) : NULL;
  char *state = a->state_filter ? pgd_cli_url_escape(a->state_filter) : NULL;
  char *p = NULL;
  if ((a->job_filter && !job) || (a->state_filter && !state)) goto out;
  size_t cap = sizeof(base) + (job ? strlen(job) + 6 : 0) + (state ? strlen(state) + 8 : 0) + 96;
  p = malloc(cap);
  if (!p) goto out;
  size_t n = (size_t)snprintf(p, cap, "%s", base);
  char sep = '?';
  if (job) {
    n += (size_t)snprintf(p + n, cap - n, "%cjob=%s", sep, job);
    sep = '&';
  }
  if (state) {
    n += (size_t)snprintf(p + n, cap - n, "%cstate=%s", sep, state);
    sep = '&';
  }
  if (a->limit > 0) {
    n += (size_t)snprintf(p + n, cap - n, "%climit=%ld", sep, a->limit);
    sep = '&';
  }
  if (a->since_us > 0) {
    n += (size_t)snprintf(p + n, cap - n, "%csince=%lld", sep, a->since_us);
    sep = '&';
  }
  if (a->until_us > 0) snprintf(p + n, cap - n, "%cuntil=%lld", sep, a->until_us);
out:
  free(job);
  free(state);
  return p;
}

char *pgd_cli_alarm_list_path(const pgd_cli_args_t *a) {
  if (!a) return NULL;
  char *state = a->state_filter ? pgd_cli_url_escape(a->state_filter) : NULL;
  char *before = a->before ? pgd_cli_url_escape(a->before) : NULL;
  char *p = NULL;
  if ((a->state_filter && !state) || (a->before && !before)) goto out;
  size_t cap = 64 + (state ? strlen(state) : 0) + (before ? strlen(before) : 0);
  if (!(p = malloc(cap))) goto out;
  size_t n = (size_t)snprintf(p, cap, "/api/v1/alarms");
  char sep = '?';
  if (state) {
    n += (size_t)snprintf(p + n, cap - n, "%cstate=%s", sep, state);
    sep = '&';
  }
  if (a->limit > 0) {
    n += (size_t)snprintf(p + n, cap - n, "%climit=%ld", sep, a->limit);
    sep = '&';
  }
  if (before) snprintf(p + n, cap - n, "%cbefore=%s", sep, before);
out:
  free(state);
  free(before);
  return p;
}
