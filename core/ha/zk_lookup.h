/* Pagoda — a one-shot, blocking read of a cluster's masters from ZooKeeper,
 * for clients that are not daemons (the `pagoda` CLI's
 * `PAGODA_ADDR=zk://host:port,.../cluster`, docs/cli.md).
 *
 * It reads /pagoda/<cluster>/masters (the layout of zk.h): the candidate
 * znodes in election order, the leader (lowest sequence) first, and each
 * one's info JSON. Nothing is written and no watch is left.
 *
 * Thread rules: blocks the calling thread up to timeout_ms (plus the
 * client's close); any thread; no shared state besides the ZooKeeper C
 * client's own log level (set to WARN once, as the daemons do).
 */
#ifndef PAGODA_HA_ZK_LOOKUP_H
#define PAGODA_HA_ZK_LOOKUP_H

#include <stddef.h>

#include <cjson/cJSON.h>

/* Connects to `hosts` ("h1:2181,h2:2181"), reads the masters of `cluster`
 * and sets *out to a new array (owned by the caller, cJSON_Delete) of their
 * "http" URLs, the leader first; masters whose info has no "http" are left
 * out. Returns 0 (the array may be empty: no master is running), or a
 * negative errno with one sentence in err: -ETIMEDOUT (no session within
 * timeout_ms), -ENOENT (no such cluster), -EIO (another ZooKeeper error),
 * -ENOMEM. */
int pgd_zk_lookup_masters(const char *hosts, const char *cluster, int timeout_ms, cJSON **out,
                          char *err, size_t errlen);

/* The election order of two candidate znode names of zk.h
 * ("m-<session>-<sequence>"): by the sequence; names without one sort
 * last. qsort-compatible over `const char *` elements. */
int pgd_zk_candidate_cmp(const void *a, const void *b);

#endif
