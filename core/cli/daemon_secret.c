/* Pagoda — the cluster secret's sources (see daemon_secret.h). */
#include "cli/daemon_secret.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

#include "common/err.h"
#include "common/log.h"

#define MOD "daemon"
#define SECRET_FILE_MAX 4096

int pgd_secret_read_file(const char *path, char **out, char *err, size_t errlen) {
  *out = NULL;
  FILE *f = fopen(path, "r");
  if (!f) return pgd_set_err(err, errlen, -errno, "cannot read the secret file %s: %s", path,
                             strerror(errno));
  struct stat st;
  if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077))
    PGD_WARN(MOD, "the secret file %s can be read by other users (mode %03o): chmod 600 it", path,
             (unsigned)(st.st_mode & 0777));
  char *buf = calloc(1, SECRET_FILE_MAX + 1);
  if (!buf) {
    fclose(f);
    return pgd_set_err(err, errlen, -ENOMEM, "out of memory");
  }
  size_t n = fread(buf, 1, SECRET_FILE_MAX + 1, f);
  fclose(f);
  int rc = 0;
  if (n > SECRET_FILE_MAX) {
    rc = pgd_set_err(err, errlen, -EFBIG, "the secret file %s is larger than %d bytes", path,
                     SECRET_FILE_MAX);
  } else if (memchr(buf, '\0', n)) {
    rc = pgd_set_err(err, errlen, -EINVAL, "the secret file %s holds a NUL byte", path);
  } else {
    char *nl = strchr(buf, '\n'); /* the first line; CRLF too */
    if (nl) *nl = 0;
    size_t len = strlen(buf);
    if (len > 0 && buf[len - 1] == '\r') buf[--len] = 0;
    if (len == 0) rc = pgd_set_err(err, errlen, -EINVAL, "the secret file %s is empty", path);
  }
  if (rc < 0) {
    OPENSSL_cleanse(buf, SECRET_FILE_MAX + 1);
    free(buf);
    return rc;
  }
  *out = buf;
  return 0;
}

int pgd_secret_scrub_argv(int argc, char **argv) {
  int n = 0;
  for (int i = 1; i + 1 < argc; i++) {
    if (strcmp(argv[i], "--secret") != 0) continue;
    memset(argv[i + 1], '*', strlen(argv[i + 1]));
    n++;
  }
  return n;
}

void pgd_secret_free(char *secret) {
  if (!secret) return;
  OPENSSL_cleanse(secret, strlen(secret));
  free(secret);
}
