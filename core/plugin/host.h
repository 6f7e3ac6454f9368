/* Pagoda — the host side of the plugin ABI: the services table handed to
 * plugins and the concrete types behind the SDK's opaque handles.
 *
 * Handle mapping (all casts are private to core/plugin):
 *   pagoda_json_t    -> cJSON (read-only)
 *   pagoda_request_t -> cJSON object (the request's params)
 *   pagoda_process_t -> pgd_procspec_t
 *   pagoda_error_t   -> struct pagoda_error below (a caller-provided buffer)
 *   pagoda_run_t     -> struct pagoda_run below
 *   pagoda_attrs_t   -> struct pagoda_attrs below (1.1)
 * Thread rules: the table is immutable and its functions are safe from any
 * thread (each handle is used by one thread at a time, except
 * run_is_cancelled/run_log which forward to the thread-safe pgd_run_ops_t).
 */
#ifndef PAGODA_PLUGIN_HOST_H
#define PAGODA_PLUGIN_HOST_H

#include <cjson/cJSON.h>
#include <pagoda/plugin.h>
#include <stddef.h>

#include "plugin/registry.h"

struct pagoda_error {
  char *buf;   /* message buffer, borrowed from the caller */
  size_t len;  /* its size in bytes */
  int set;     /* 1 once error_set was called */
};

/* Behind pagoda_attrs_t (1.1): the caller's attribute object and a count
 * of the values attr_set actually changed. */
struct pagoda_attrs {
  cJSON *obj;  /* borrowed from the caller; an object of strings */
  int changes; /* attr_set calls that added or changed a value */
};

struct pagoda_run {
  const pgd_run_ops_t *ops; /* borrowed for the run */
  struct pagoda_error err;
};

/* Limits of execution attributes (host->attr_set, ABI 1.1). */
#define PGD_ATTR_KEY_MAX 63
#define PGD_ATTR_VALUE_MAX 1023

/* 1 when `key` is 1-63 characters of [a-z0-9_], else 0 (NULL too). */
int pgd_plugin_attr_key_ok(const char *key);

/* The services table (static, never freed). */
const pagoda_host_t *pgd_plugin_host(void);

/* Prepares `e` to write into buf[len] (buf may be NULL when len == 0). The
 * buffer is emptied. */
void pgd_plugin_error_init(struct pagoda_error *e, char *buf, size_t len);

/* Writes a printf-style message into `e` (like host->error_set). */
void pgd_plugin_error_setf(struct pagoda_error *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
