/* Pagoda — time zones: TZif (RFC 8536) files read from /usr/share/zoneinfo,
 * a process-wide cache of loaded zones, UTC<->wall-clock conversion. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "sched/civil.h"
#include "sched/tz.h"
#include "sched/tz_internal.h"

#define TZ_MAX_FILE (1 << 20) /* real files are < 4 KiB */

typedef struct {
  int32_t off;
  uint8_t dst;
} tz_type_t;

struct pgd_tz {
  char *name;
  int refs;
  struct pgd_tz *next; /* cache list */
  int64_t *trans;      /* transition instants, ascending */
  uint8_t *trans_type; /* type after each transition */
  int ntrans;
  tz_type_t *types;
  int ntypes;
  int has_rule; /* footer rule for times after the last transition */
  pgd_tz_rule_t rule;
};

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pgd_tz_t *g_cache;

static void tz_destroy(pgd_tz_t *tz) {
  free(tz->name);
  free(tz->trans);
  free(tz->trans_type);
  free(tz->types);
  free(tz);
}

static int valid_name(const char *name) {
  size_t n = strlen(name);
  if (n == 0 || n > 200 || name[0] == '/' || strstr(name, "..")) return 0;
  if (strncmp(name, "right/", 6) == 0) return 0;
  for (const char *p = name; *p; p++) {
    char c = *p;
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
          c == '/' || c == '_' || c == '-' || c == '+'))
      return 0;
  }
  return 1;
}

static uint32_t be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static int64_t be64(const unsigned char *p) {
  return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* Parses a TZif v2+ image into tz; 0 or -EINVAL. */
static int parse_tzif(pgd_tz_t *tz, const unsigned char *b, size_t len) {
  if (len < 44 || memcmp(b, "TZif", 4) != 0 || b[4] < '2') return -EINVAL;
  uint32_t c[6];
  for (int i = 0; i < 6; i++) c[i] = be32(b + 20 + 4 * i);
  /* c: isutcnt isstdcnt leapcnt timecnt typecnt charcnt */
  size_t v1 = (size_t)c[3] * 5 + (size_t)c[4] * 6 + c[5] + (size_t)c[2] * 8 + c[1] + c[0];
  size_t off = 44 + v1;
  if (c[3] > 100000 || c[4] > 256 || c[2] > 1000 || off + 44 > len) return -EINVAL;
  const unsigned char *h = b + off;
  if (memcmp(h, "TZif", 4) != 0) return -EINVAL;
  for (int i = 0; i < 6; i++) c[i] = be32(h + 20 + 4 * i);
  if (c[3] > 100000 || c[4] == 0 || c[4] > 256 || c[2] > 1000) return -EINVAL;
  if (c[2] != 0) return -EINVAL; /* leap-second zones are not supported */
  size_t need = (size_t)c[3] * 9 + (size_t)c[4] * 6 + c[5] + (size_t)c[2] * 12 + c[1] + c[0];
  const unsigned char *d = h + 44;
  if ((size_t)(d - b) + need > len) return -EINVAL;
  tz->ntrans = (int)c[3];
  tz->ntypes = (int)c[4];
  tz->trans = calloc(tz->ntrans ? tz->ntrans : 1, sizeof *tz->trans);
  tz->trans_type = calloc(tz->ntrans ? tz->ntrans : 1, 1);
  tz->types = calloc(tz->ntypes, sizeof *tz->types);
  if (!tz->trans || !tz->trans_type || !tz->types) return -ENOMEM;
  for (int i = 0; i < tz->ntrans; i++) {
    tz->trans[i] = be64(d + 8 * i);
    if (i && tz->trans[i] <= tz->trans[i - 1]) return -EINVAL;
  }
  d += 8 * (size_t)tz->ntrans;
  for (int i = 0; i < tz->ntrans; i++) {
    if (d[i] >= tz->ntypes) return -EINVAL;
    tz->trans_type[i] = d[i];
  }
  d += tz->ntrans;
  for (int i = 0; i < tz->ntypes; i++) {
    int32_t o = (int32_t)be32(d + 6 * i);
    if (o < -25 * 3600 || o > 26 * 3600) return -EINVAL;
    tz->types[i].off = o;
    tz->types[i].dst = d[6 * i + 4] ? 1 : 0;
  }
  d += 6 * (size_t)tz->ntypes + c[5] + (size_t)c[2] * 12 + c[1] + c[0];
  /* Footer: "\n<POSIX TZ>\n" (may be empty). */
  size_t rest = len - (size_t)(d - b);
  if (rest >= 2 && d[0] == '\n') {
    const unsigned char *nl = memchr(d + 1, '\n', rest - 1);
    if (nl && nl > d + 1 && nl - d < 128) {
      char s[128];
      memcpy(s, d + 1, (size_t)(nl - d - 1));
      s[nl - d - 1] = '\0';
      if (pgd_tz_rule_parse(s, &tz->rule) < 0) return -EINVAL;
      tz->has_rule = 1;
    }
  }
  return 0;
}

static int load_file(const char *name, pgd_tz_t *tz) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", PGD_TZ_DIR, name);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT || errno == ENOTDIR || errno == EISDIR ? -ENOENT : -errno;
  struct stat st;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return -ENOENT;
  }
  if (st.st_size > TZ_MAX_FILE) {
    close(fd);
    return -EINVAL;
  }
  size_t len = (size_t)st.st_size, got = 0;
  unsigned char *buf = malloc(len ? len : 1);
  if (!buf) {
    close(fd);
    return -ENOMEM;
  }
  while (got < len) {
    ssize_t n = read(fd, buf + got, len - got);
    if (n <= 0) break;
    got += (size_t)n;
  }
  close(fd);
  int rc = got == len ? parse_tzif(tz, buf, len) : -EIO;
  free(buf);
  return rc;
}

int pgd_tz_load(const char *name, pgd_tz_t **out, char *err, size_t errlen) {
  *out = NULL;
  if (!name || !valid_name(name)) {
    return pgd_set_err(err, errlen, -EINVAL, "unknown time zone \"%s\"", name ? name : "(null)");
  }
  pthread_mutex_lock(&g_lock);
  for (pgd_tz_t *z = g_cache; z; z = z->next) {
    if (strcmp(z->name, name) == 0) {
      z->refs++;
      pthread_mutex_unlock(&g_lock);
      *out = z;
      return 0;
    }
  }
  pthread_mutex_unlock(&g_lock);

  pgd_tz_t *tz = calloc(1, sizeof *tz);
  if (!tz || !(tz->name = strdup(name))) {
    free(tz);
    return pgd_set_err(err, errlen, -ENOMEM, "out of memory loading time zone \"%s\"", name);
  }
  int rc;
  if (strcmp(name, "UTC") == 0) {
    tz->types = calloc(1, sizeof *tz->types);
    tz->ntypes = 1;
    rc = tz->types ? 0 : -ENOMEM;
  } else {
    rc = load_file(name, tz);
  }
  if (rc < 0) {
    if (rc == -ENOENT)
      pgd_set_err(err, errlen, rc, "unknown time zone \"%s\"", name);
    else if (rc == -ENOMEM)
      pgd_set_err(err, errlen, rc, "out of memory loading time zone \"%s\"", name);
    else
      pgd_set_err(err, errlen, rc, "time zone \"%s\": not a usable TZif file", name);
    tz_destroy(tz);
    return rc;
  }
  tz->refs = 1;
  pthread_mutex_lock(&g_lock);
  for (pgd_tz_t *z = g_cache; z; z = z->next) { /* lost a race: share the winner */
    if (strcmp(z->name, name) == 0) {
      z->refs++;
      pthread_mutex_unlock(&g_lock);
      tz_destroy(tz);
      *out = z;
      return 0;
    }
  }
  tz->next = g_cache;
  g_cache = tz;
  pthread_mutex_unlock(&g_lock);
  *out = tz;
  return 0;
}

void pgd_tz_free(pgd_tz_t *tz) {
  if (!tz) return;
  pthread_mutex_lock(&g_lock);
  int last = --tz->refs == 0;
  if (last) {
    for (pgd_tz_t **pp = &g_cache; *pp; pp = &(*pp)->next) {
      if (*pp == tz) {
        *pp = tz->next;
        break;
      }
    }
  }
  pthread_mutex_unlock(&g_lock);
  if (last) tz_destroy(tz);
}

const char *pgd_tz_name(const pgd_tz_t *tz) { return tz->name; }

int32_t pgd_tz_offset(const pgd_tz_t *tz, int64_t utc_s, int *is_dst) {
  const tz_type_t *t;
  if (tz->ntrans == 0 || utc_s < tz->trans[0]) {
    if (tz->ntrans == 0 && tz->has_rule) return pgd_tz_rule_offset(&tz->rule, utc_s, is_dst);
    t = &tz->types[0];
  } else {
    int lo = 0, hi = tz->ntrans - 1; /* largest i with trans[i] <= utc_s */
    while (lo < hi) {
      int mid = lo + (hi - lo + 1) / 2;
      if (tz->trans[mid] <= utc_s) lo = mid;
      else hi = mid - 1;
    }
    if (lo == tz->ntrans - 1 && tz->has_rule) return pgd_tz_rule_offset(&tz->rule, utc_s, is_dst);
    t = &tz->types[tz->trans_type[lo]];
  }
  if (is_dst) *is_dst = t->dst;
  return t->off;
}

int64_t pgd_tz_to_local(const pgd_tz_t *tz, int64_t utc_s) {
  return utc_s + pgd_tz_offset(tz, utc_s, NULL);
}

int64_t pgd_tz_local_to_utc(const pgd_tz_t *tz, int64_t local_s, pgd_tz_local_kind_t *kind) {
  /* Offsets a day before and after bracket any single transition near local_s. */
  int32_t oa = pgd_tz_offset(tz, local_s - 86400, NULL);
  int32_t ob = pgd_tz_offset(tz, local_s + 86400, NULL);
  int64_t ua = local_s - oa, ub = local_s - ob;
  int va = pgd_tz_offset(tz, ua, NULL) == oa;
  int vb = pgd_tz_offset(tz, ub, NULL) == ob;
  if (va && vb && ua != ub) {
    if (kind) *kind = PGD_TZ_LOCAL_REPEAT;
    return ua < ub ? ua : ub;
  }
  if (va || vb) {
    if (kind) *kind = PGD_TZ_LOCAL_UNIQUE;
    return va ? ua : ub;
  }
  /* A gap: the jump happens between ub and ua; find its instant. */
  int64_t lo = ua < ub ? ua : ub, hi = ua < ub ? ub : ua;
  int32_t olo = pgd_tz_offset(tz, lo, NULL);
  while (hi - lo > 1) { /* offset(lo) == olo, offset(hi) != olo */
    int64_t mid = lo + (hi - lo) / 2;
    if (pgd_tz_offset(tz, mid, NULL) == olo) lo = mid;
    else hi = mid;
  }
  if (kind) *kind = PGD_TZ_LOCAL_GAP;
  return hi;
}
