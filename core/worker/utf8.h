/* Pagoda — worker: making process output safe to ship as JSON text. The
 * functions live in common/utf8.h (one set of UTF-8 rules for the worker,
 * the master and the HTTP layer); this header is kept for the worker's
 * includes. */
#ifndef PAGODA_WORKER_UTF8_H
#define PAGODA_WORKER_UTF8_H

#include "common/utf8.h"

#endif
