/* Pagoda — the host side of the plugin ABI: the services table handed to
 * plugins and the concrete types behind the SDK's opaque handles.
 *
 * Handle mapping (all casts are private to core/plugin):
 *   pagoda_json_t    -> cJSON (read-only)
 *   pagoda_request_t -> cJSON object (the request's params)
 *   pagoda_process_t -> pgd_procspec_t
 *   pagoda_error_t   -> struct pagoda_error below (a caller-provided buffer)
 *   pagoda_run_t     -> struct pagoda_run below
 * Thread rules: the table is immutable and its functions are safe from any
 * thread (each handle is used by one thread at a time, except
 * run_is_cancelled/run_log which forward to the thread-safe pgd_run_ops_t).
 */
#ifndef PAGODA_PLUGIN_HOST_H
#define PAGODA_PLUGIN_HOST_H

#include <pagoda/plugin.h>
#include <stddef.h>

#include "plugin/registry.h"

struct pagoda_error {
  char *buf;   /* message buffer, borrowed from the caller */
  size_t len;  /* its size in bytes */
  int set;     /* 1 once error_set was called */
};

struct pagoda_run {
  const pgd_run_ops_t *ops; /* borrowed for the run */
  struct pagoda_error err;
};

/* The services table (static, never freed). */
const pagoda_host_t *pgd_plugin_host(void);

/* Prepares `e` to write into buf[len] (buf may be NULL when len == 0). The
 * buffer is emptied. */
void pgd_plugin_error_init(struct pagoda_error *e, char *buf, size_t len);

/* Writes a printf-style message into `e` (like host->error_set). */
void pgd_plugin_error_setf(struct pagoda_error *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
