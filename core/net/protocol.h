/* Pagoda — master <-> worker wire protocol: the one list of message types.
 *
 * Every message is a JSON object carried in one frame (see net/frame.h) with a
 * string field "type" naming the message. The list below is the single source
 * of truth: the enum, the names and the documentation are generated from it
 * (an X-macro, like libuv's UV_ERRNO_MAP), so they cannot drift apart.
 *
 * Direction of each message; the fields of each body are the struct and
 * codec of that message in net/msg.h (the one place they are defined) and
 * the tables of docs/protocol.md (checked against the codec by
 * tests/unit/test_net_msg.c):
 *
 *   hello      worker -> master, first message on a connection (with the
 *              worker's nonce)
 *   challenge  master -> worker, the master's nonce for this connection (v2)
 *   auth       worker -> master, the worker's proof of the secret (v2)
 *   welcome    master -> worker, handshake accepted (with the master's proof)
 *   reject     master -> worker, handshake refused; the master closes after
 *   heartbeat  worker -> master, every heartbeat_ms
 *   launch     master -> worker, run an attempt (carries the leader's epoch)
 *   state      worker -> master, state change of an attempt (acknowledged)
 *   log        worker -> master, output of an attempt (acknowledged)
 *   kill       master -> worker, stop an attempt (carries the leader's epoch)
 *   ack        master -> worker, report sequence numbers now durable
 *   error      either way, the peer's last message was refused
 *   leave      worker -> master, the worker is stopping: no new work; what
 *              still runs after grace_ms is handed back (added in 0.1.0 of
 *              issue 16; an older master ignores it: optional)
 *
 * Version rule: PGD_PROTOCOL_VERSION is raised when a message or field
 * changes meaning or is removed; adding an optional field does not raise it.
 * Added in protocol version 1 unless stated. Version 2 replaced the secret
 * sent in clear in hello by the challenge/auth exchange of HMAC proofs
 * (net/auth.h); a hello of another version is answered with a reject that
 * names both versions.
 */
#ifndef PAGODA_NET_PROTOCOL_H
#define PAGODA_NET_PROTOCOL_H

#define PGD_PROTOCOL_VERSION 2

/* XX(ENUM_SUFFIX, "wire name") */
#define PGD_MSG_MAP(XX)   \
  XX(HELLO, "hello")       \
  XX(CHALLENGE, "challenge") \
  XX(AUTH, "auth")         \
  XX(WELCOME, "welcome")   \
  XX(REJECT, "reject")     \
  XX(HEARTBEAT, "heartbeat") \
  XX(LAUNCH, "launch")     \
  XX(STATE, "state")       \
  XX(LOG, "log")           \
  XX(KILL, "kill")         \
  XX(ACK, "ack")           \
  XX(ERROR, "error")       \
  XX(PLUGINS, "plugins")   \
  XX(LEAVE, "leave")

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
