/* Pagoda — master <-> worker wire protocol: the one list of message types.
 *
 * Every message is a JSON object carried in one frame (see net/frame.h) with a
 * string field "type" naming the message. The list below is the single source
 * of truth: the enum, the names and the documentation are generated from it
 * (an X-macro, like libuv's UV_ERRNO_MAP), so they cannot drift apart.
 *
 * Direction and body of each message (fields other than "type"; every
 * command sent by the master carries "epoch", the leader's epoch, so that a
 * worker can refuse a deposed leader):
 *
 *   hello      worker -> master. First message on a connection.
 *              {"version": PGD_PROTOCOL_VERSION, "secret": "...",
 *               "worker_id": "...", "host": "...", "slots": N,
 *               "types": ["shell", ...], "labels": {"k": "v", ...}}
 *   welcome    master -> worker. Handshake accepted.
 *              {"accepted": true, "epoch": N, "heartbeat_ms": N}
 *   reject     master -> worker. Handshake refused; the master closes after.
 *              {"reason": "..."}
 *   heartbeat  worker -> master. {"slots_free": N, "load": x, "running": N,
 *              "types": [...]}; the master may answer with its own heartbeat.
 *   launch     master -> worker. {"epoch": N, "execution_id": ..,
 *              "attempt": N, "request": {...}}
 *   state      worker -> master. State change of an attempt:
 *              {"seq": N, "execution_id": .., "attempt": N, "state": "...",
 *               "exit_code": N, "at_us": N, ...}
 *   log        worker -> master. {"execution_id": .., "attempt": N,
 *              "stream": "stdout"|"stderr", "offset": N, "data": "..."}
 *   kill       master -> worker. {"epoch": N, "execution_id": .., "attempt": N,
 *              "signal": N, "grace_ms": N}
 *   ack        either way. {"seq": N} acknowledges a numbered message.
 *   error      either way. {"reason": "...", "code": N}: the peer's last
 *              message was refused; when the stream cannot be trusted the
 *              sender closes the connection right after.
 *
 * Version rule: PGD_PROTOCOL_VERSION is raised when a message or field
 * changes meaning or is removed; adding an optional field does not raise it.
 * Added in protocol version 1 unless stated.
 */
#ifndef PAGODA_NET_PROTOCOL_H
#define PAGODA_NET_PROTOCOL_H

#define PGD_PROTOCOL_VERSION 1

/* XX(ENUM_SUFFIX, "wire name") */
#define PGD_MSG_MAP(XX)   \
  XX(HELLO, "hello")       \
  XX(WELCOME, "welcome")   \
  XX(REJECT, "reject")     \
  XX(HEARTBEAT, "heartbeat") \
  XX(LAUNCH, "launch")     \
  XX(STATE, "state")       \
  XX(LOG, "log")           \
  XX(KILL, "kill")         \
  XX(ACK, "ack")           \
  XX(ERROR, "error")

typedef enum {
#define PGD_MSG_ENUM_(name, str) PGD_MSG_##name,
  PGD_MSG_MAP(PGD_MSG_ENUM_)
#undef PGD_MSG_ENUM_
  PGD_MSG__COUNT
} pgd_msg_type_t;

/* Returns the wire name of `type` ("hello", "welcome", ...), a static string,
 * or NULL when `type` is out of range. Thread rules: any thread. */
const char *pgd_msg_name(pgd_msg_type_t type);

/* Returns the type whose wire name is `name` (exact, case-sensitive), or -1
 * for NULL or an unknown name. `name` is borrowed for the call. Any thread. */
int pgd_msg_parse(const char *name);

#endif
