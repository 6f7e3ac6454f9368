/* Pagoda master — storage figures (master/storage.h): the store's size, the
 * logs' size wherever they are kept, and the counters of the log backend
 * and of retention, for GET /api/v1/cluster and the metrics. Loop thread. */
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/clock.h"
#include "master/logs_int.h"
#include "master/retention_int.h"
#include "master/storage.h"
#include "store/store_logs.h"

#define DIR_SIZE_EVERY_US (60LL * 1000000LL)

/* The local log directory's size, recomputed at most once a minute (a walk
 * of every file). One master per process: a static cache is enough. */
static int64_t local_log_bytes(pgd_master_t *m) {
  static int64_t cached = -1, at_us;
  int64_t now = pgd_now_us();
  if (cached >= 0 && now - at_us < DIR_SIZE_EVERY_US) return cached;
  DIR *d = opendir(m->log_dir);
  if (!d) return -1;
  int64_t total = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    struct stat st;
    if (de->d_name[0] == '.' || fstatat(dirfd(d), de->d_name, &st, 0) != 0) continue;
    total += st.st_size;
  }
  closedir(d);
  cached = total;
  at_us = now;
  return total;
}

void pgd_master_storage_stats(pgd_master_t *m, pgd_master_storage_stats_t *out) {
  memset(out, 0, sizeof *out);
  bool shared = m_log_shared_enabled(m);
  out->log_backend = shared ? "store" : "files";
  out->store_bytes = m->store ? pgd_store_size_bytes(m->store) : -1;
  out->log_bytes = shared ? (m->store ? pgd_store_log_bytes(m->store) : -1) : local_log_bytes(m);
  out->blob_bytes = shared && m->store ? pgd_store_blob_bytes(m->store) : 0;
  m_log_shared_stats_t ls;
  m_log_shared_stats(m, &ls);
  out->log_pending_bytes = ls.pending_bytes;
  out->log_chunks_written = ls.chunks_written;
  out->log_bytes_written = ls.bytes_written;
  out->log_reports_refused = ls.reports_refused;
  m_retention_stats_t rs;
  m_retention_stats(m, &rs);
  out->retention_deleted = rs.deleted;
  out->retention_passes = rs.passes;
  out->retention_batch_us_max = rs.batch_us_max;
  out->exec_deleted = rs.api_deleted;
  out->retention_runs_deleted = rs.runs_deleted;
}

cJSON *pgd_master_storage_json(pgd_master_t *m) {
  pgd_master_storage_stats_t s;
  pgd_master_storage_stats(m, &s);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "log_backend", s.log_backend);
  cJSON_AddNumberToObject(o, "store_bytes", (double)s.store_bytes);
  cJSON_AddNumberToObject(o, "log_bytes", (double)s.log_bytes);
  cJSON_AddNumberToObject(o, "blob_bytes", (double)s.blob_bytes);
  cJSON_AddNumberToObject(o, "log_pending_bytes", (double)s.log_pending_bytes);
  cJSON *r = cJSON_AddObjectToObject(o, "retention");
  cJSON_AddNumberToObject(r, "days", m->cfg.retention_days);
  cJSON_AddNumberToObject(r, "keep_last", m->cfg.retention_keep_last);
  cJSON_AddNumberToObject(r, "deleted", (double)s.retention_deleted);
  cJSON_AddNumberToObject(r, "passes", (double)s.retention_passes);
  cJSON_AddNumberToObject(r, "batch_us_max", (double)s.retention_batch_us_max);
  cJSON_AddNumberToObject(r, "api_deleted", (double)s.exec_deleted);
  cJSON_AddNumberToObject(r, "runs_deleted", (double)s.retention_runs_deleted);
  return o;
}

bool pgd_master_log_in_store(const pgd_master_t *m) { return m_log_shared_enabled(m); }
