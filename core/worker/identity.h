/* Pagoda — worker: the stable worker id and host facts.
 * Thread rules: any thread (they block briefly on small files). */
#ifndef PAGODA_WORKER_IDENTITY_H
#define PAGODA_WORKER_IDENTITY_H

#include <stddef.h>

/* Longest id accepted (characters). */
#define PGD_WORKER_ID_MAX 64

/* Reads `data_dir`/worker.id, creating it once (data_dir too, mode 0755)
 * with a random id "w-<16 hex digits>" when absent, so that the id survives
 * restarts. The file holds one line; surrounding whitespace is ignored; an
 * id must be 1..PGD_WORKER_ID_MAX characters of [A-Za-z0-9._-].
 * `data_dir` is borrowed; the id is copied into `id` (idlen >= 
 * PGD_WORKER_ID_MAX + 1). Returns 0, or a negative errno with a message in
 * err (-EINVAL: the file holds no valid id). */
int pgd_worker_identity_load(const char *data_dir, char *id, size_t idlen, char *err, size_t errlen);

/* 1 when `id` is a valid worker id (see above), else 0. */
int pgd_worker_id_valid(const char *id);

/* Samples the host load: load1 from /proc/loadavg and MemAvailable (MiB)
 * from /proc/meminfo; a value that cannot be read is -1. ~10 us. */
void pgd_worker_load_sample(double *load1, long *mem_free_mb);

#endif
