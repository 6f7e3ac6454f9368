/* Pagoda — the field list of every message body (net/msg.h,
 * pgd_msg_fields). docs/protocol.md has one table per message with the same
 * rows; tests/unit/test_net_msg.c checks the docs, the encoders and the
 * decoders against these tables. */
#include "net/msg.h"

#define F(path, type, req) {path, type, req}
#define REQ true
#define OPT false

static const pgd_msg_field_t hello_fields[] = {
    F("protocol", "integer", REQ),
    F("nonce", "string", REQ),
    F("worker", "object", REQ),
    F("worker.id", "string", REQ),
    F("worker.host", "string", OPT),
    F("worker.slots", "integer", OPT),
    F("worker.labels", "string[]", OPT),
    F("worker.types", "string[]", OPT),
    F("worker.pid", "integer", OPT),
    F("worker.load", "object", OPT),
    F("worker.load.load1", "number", REQ),
    F("worker.load.mem_free_mb", "integer", REQ),
    F("running", "object[]", OPT),
    F("running[].execution_id", "integer", REQ),
    F("running[].attempt", "integer", REQ),
};

static const pgd_msg_field_t welcome_fields[] = {
    F("epoch", "integer", REQ),
    F("heartbeat_ms", "integer", OPT),
    F("http", "string", OPT),
    F("proof", "string", REQ),
    F("http_token", "string", OPT),
};

static const pgd_msg_field_t challenge_fields[] = {
    F("protocol", "integer", REQ),
    F("nonce", "string", REQ),
};

static const pgd_msg_field_t auth_fields[] = {
    F("proof", "string", REQ),
};

static const pgd_msg_field_t reject_fields[] = {
    F("reason", "string", REQ),
};

static const pgd_msg_field_t heartbeat_fields[] = {
    F("slots", "integer", REQ),
    F("slots_used", "integer", REQ),
    F("running", "integer", REQ),
    F("running_attempts", "object[]", OPT),
    F("running_attempts[].execution_id", "integer", REQ),
    F("running_attempts[].attempt", "integer", REQ),
    F("types", "string[]", REQ),
    F("labels", "string[]", REQ),
    F("load", "object", OPT),
    F("load.load1", "number", REQ),
    F("load.mem_free_mb", "integer", REQ),
    F("resource_cache", "object", OPT),
    F("resource_cache.downloads", "integer", REQ),
    F("resource_cache.download_bytes", "integer", REQ),
    F("resource_cache.hits", "integer", REQ),
    F("resource_cache.corrupt", "integer", REQ),
    F("resource_cache.failures", "integer", REQ),
    F("plugins", "object[]", OPT),
    F("plugins[].type", "string", REQ),
    F("plugins[].sha256", "string", REQ),
    F("plugins[].status", "string", REQ),
    F("plugins[].version", "string", OPT),
    F("plugins[].abi", "string", OPT),
    F("plugins[].reason", "string", OPT),
};

static const pgd_msg_field_t plugins_fields[] = {
    F("plugins", "object[]", REQ),
    F("plugins[].type", "string", REQ),
    F("plugins[].sha256", "string", REQ),
    F("plugins[].size", "integer", OPT),
};

static const pgd_msg_field_t launch_fields[] = {
    F("epoch", "integer", REQ),
    F("execution_id", "integer", REQ),
    F("attempt", "integer", REQ),
    F("job", "string", OPT),
    F("job_type", "string", OPT),
    F("params", "object", OPT),
    F("slots", "integer", OPT),
    F("timeout_ms", "integer", OPT),
    F("kill_grace_ms", "integer", OPT),
    F("run_as", "string", OPT),
    F("env", "object", OPT),
    F("resources", "object[]", OPT),
    F("resources[].name", "string", REQ),
    F("resources[].hash", "string", OPT),
    F("resources[].size", "integer", OPT),
    F("resources[].error", "string", OPT),
    F("limits", "object", OPT),
    F("limits.memory_mb", "integer", OPT),
    F("limits.cpus", "number", OPT),
    F("limits.pids", "integer", OPT),
};

static const pgd_msg_field_t kill_fields[] = {
    F("epoch", "integer", REQ),
    F("execution_id", "integer", REQ),
    F("attempt", "integer", REQ),
    F("reason", "string", OPT),
    F("grace_ms", "integer", OPT),
};

static const pgd_msg_field_t state_fields[] = {
    F("seq", "integer", REQ),
    F("execution_id", "integer", REQ),
    F("attempt", "integer", REQ),
    F("state", "state", REQ),
    F("at_us", "integer", OPT),
    F("pid", "integer", OPT),
    F("exit_code", "integer", OPT),
    F("signal", "integer", OPT),
    F("error", "string", OPT),
    F("result", "any", OPT),
    F("attributes", "object", OPT),
};

static const pgd_msg_field_t log_fields[] = {
    F("seq", "integer", REQ),
    F("execution_id", "integer", REQ),
    F("attempt", "integer", REQ),
    F("offset", "integer", REQ),
    F("data", "string", REQ),
};

static const pgd_msg_field_t ack_fields[] = {
    F("seqs", "integer[]", REQ),
};

static const pgd_msg_field_t error_fields[] = {
    F("reason", "string", REQ),
    F("code", "integer", OPT),
};

static const pgd_msg_field_t leave_fields[] = {
    F("grace_ms", "integer", REQ),
};

#define N(a) (sizeof a / sizeof a[0])

const pgd_msg_field_t *pgd_msg_fields(pgd_msg_type_t type, size_t *n) {
  static const struct {
    const pgd_msg_field_t *f;
    size_t n;
  } tables[PGD_MSG__COUNT] = {
      [PGD_MSG_HELLO] = {hello_fields, N(hello_fields)},
      [PGD_MSG_CHALLENGE] = {challenge_fields, N(challenge_fields)},
      [PGD_MSG_AUTH] = {auth_fields, N(auth_fields)},
      [PGD_MSG_WELCOME] = {welcome_fields, N(welcome_fields)},
      [PGD_MSG_REJECT] = {reject_fields, N(reject_fields)},
      [PGD_MSG_HEARTBEAT] = {heartbeat_fields, N(heartbeat_fields)},
      [PGD_MSG_LAUNCH] = {launch_fields, N(launch_fields)},
      [PGD_MSG_STATE] = {state_fields, N(state_fields)},
      [PGD_MSG_LOG] = {log_fields, N(log_fields)},
      [PGD_MSG_KILL] = {kill_fields, N(kill_fields)},
      [PGD_MSG_ACK] = {ack_fields, N(ack_fields)},
      [PGD_MSG_ERROR] = {error_fields, N(error_fields)},
      [PGD_MSG_PLUGINS] = {plugins_fields, N(plugins_fields)},
      [PGD_MSG_LEAVE] = {leave_fields, N(leave_fields)},
  };
  if ((unsigned)type >= (unsigned)PGD_MSG__COUNT) {
    if (n) *n = 0;
    return NULL;
  }
  if (n) *n = tables[type].n;
  return tables[type].f;
}
