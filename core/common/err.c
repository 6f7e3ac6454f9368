#include "common/err.h"

#include <stdio.h>

int pgd_set_errv(char *err, size_t errlen, int rc, const char *fmt, va_list ap) {
  if (err && errlen > 0) vsnprintf(err, errlen, fmt, ap);
  return rc;
}

int pgd_set_err(char *err, size_t errlen, int rc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  pgd_set_errv(err, errlen, rc, fmt, ap);
  va_end(ap);
  return rc;
}
