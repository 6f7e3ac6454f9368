/* Unit tests: the REST route table (core/api/api_routes.c) is the source of
 * truth, and docs/api.md cannot drift from it: every row is listed in the
 * "Routes" table of docs/api.md with its role and standby flag, every row of
 * that table is a route, and every "METHOD /api/v1/..." the document
 * mentions anywhere is served by some route. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "pgd_test.h"

#include "api/api.h"

static char *doc; /* docs/api.md */

static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
    free(buf);
    fclose(f);
    return NULL;
  }
  buf[n] = 0;
  fclose(f);
  return buf;
}

static const char *role_name(pgd_role_t r) {
  return r == PGD_ROLE_ADMIN ? "admin" : r == PGD_ROLE_OPERATOR ? "operator" : "viewer";
}

/* Does the documented path match the route pattern? A {x} of the pattern
 * takes any non-empty segment ("{name}", "NAME", "ID" in the document). */
static int path_matches(const char *pattern, const char *path) {
  while (*pattern && *path) {
    if (*pattern != '/' || *path != '/') return 0;
    pattern++, path++;
    size_t pn = strcspn(pattern, "/"), dn = strcspn(path, "/");
    if (pn >= 2 && pattern[0] == '{' && pattern[pn - 1] == '}') {
      if (dn == 0) return 0;
    } else if (pn != dn || strncmp(pattern, path, pn) != 0) {
      return 0;
    }
    pattern += pn;
    path += dn;
  }
  return !*pattern && !*path;
}

/* The "## Routes" section of the document: from its heading to the next. */
static void routes_section(const char **start, const char **end) {
  *start = strstr(doc, "\n## Routes\n");
  *end = *start ? strstr(*start + 1, "\n## ") : NULL;
  if (*start && !*end) *end = *start + strlen(*start);
}

static void test_doc_read(void) {
  CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
  const char *s, *e;
  routes_section(&s, &e);
  CU_ASSERT_PTR_NOT_NULL(s);
}

static void test_rows_sane(void) {
  size_t n;
  const pgd_api_route_t *r = pgd_api_routes(&n);
  CU_ASSERT_TRUE(n >= 40);
  for (size_t i = 0; i < n; i++) {
    CU_ASSERT_PTR_NOT_NULL(r[i].handler);
    CU_ASSERT_EQUAL(strncmp(r[i].pattern, "/api/v1/", 8), 0);
    CU_ASSERT_TRUE(!strcmp(r[i].method, "GET") || !strcmp(r[i].method, "POST") ||
                   !strcmp(r[i].method, "PUT") || !strcmp(r[i].method, "DELETE"));
    for (size_t j = 0; j < i; j++)
      if (!strcmp(r[i].method, r[j].method) && !strcmp(r[i].pattern, r[j].pattern))
        CU_FAIL("a method and pattern appear twice in the route table");
    /* Writes are never the viewer's — except logging a console session in
     * and out (docs/security.md "Console sessions"), which every token may
     * do and which changes nothing in the cluster. */
    bool session = strcmp(r[i].pattern, "/api/v1/session") == 0;
    if (strcmp(r[i].method, "GET") != 0 && !session) CU_ASSERT_NOT_EQUAL(r[i].role, PGD_ROLE_VIEWER);
  }
}

/* Every route is a row "| `METHOD` | `PATTERN` | role | standby |". */
static void test_every_route_documented(void) {
  CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
  const char *s, *e;
  routes_section(&s, &e);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  size_t n;
  const pgd_api_route_t *r = pgd_api_routes(&n);
  for (size_t i = 0; i < n; i++) {
    char row[512];
    snprintf(row, sizeof row, "| `%s` | `%s` | %s | %s |", r[i].method, r[i].pattern,
             role_name(r[i].role), r[i].standby_ok ? "yes" : "no");
    const char *at = strstr(s, row);
    if (!at || at > e) {
      fprintf(stderr, "\nnot in docs/api.md \"Routes\": %s\n", row);
      CU_FAIL("a route is missing from docs/api.md (or its role/standby differ)");
    }
  }
}

/* Every row of the document's table is a route. */
static void test_every_documented_row_is_a_route(void) {
  CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
  const char *s, *e;
  routes_section(&s, &e);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  size_t n;
  const pgd_api_route_t *r = pgd_api_routes(&n);
  int rows = 0;
  for (const char *p = strstr(s, "\n| `"); p && p < e; p = strstr(p + 1, "\n| `")) {
    char method[16], pattern[256];
    if (sscanf(p, "\n| `%15[A-Z]` | `%255[^`]`", method, pattern) != 2) {
      CU_FAIL("a row of docs/api.md \"Routes\" is not | `METHOD` | `PATTERN` | ...");
      continue;
    }
    rows++;
    int found = 0;
    for (size_t i = 0; i < n; i++)
      found |= !strcmp(r[i].method, method) && !strcmp(r[i].pattern, pattern);
    if (!found) {
      fprintf(stderr, "\ndocumented but not a route: %s %s\n", method, pattern);
      CU_FAIL("docs/api.md lists a route the table does not have");
    }
  }
  CU_ASSERT_EQUAL(rows, (int)n);
}

/* Every "METHOD /api/v1/..." in the prose is served by a route. */
static void test_every_mention_is_served(void) {
  CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
  static const char *const methods[] = {"GET ", "POST ", "PUT ", "DELETE "};
  size_t n;
  const pgd_api_route_t *r = pgd_api_routes(&n);
  int mentions = 0;
  for (size_t m = 0; m < 4; m++) {
    char needle[32];
    snprintf(needle, sizeof needle, "%s/api/v1/", methods[m]);
    for (const char *p = strstr(doc, needle); p; p = strstr(p + 1, needle)) {
      const char *path = p + strlen(methods[m]);
      char buf[256];
      size_t len = strcspn(path, " `?),\n|");
      if (len >= sizeof buf) len = sizeof buf - 1;
      memcpy(buf, path, len);
      buf[len] = 0;
      if (len > 1 && buf[len - 1] == '.') buf[--len] = 0; /* end of a sentence */
      mentions++;
      int found = 0;
      for (size_t i = 0; i < n; i++) {
        char method[16];
        snprintf(method, sizeof method, "%.*s", (int)strlen(methods[m]) - 1, methods[m]);
        found |= !strcmp(r[i].method, method) && path_matches(r[i].pattern, buf);
      }
      if (!found) {
        fprintf(stderr, "\ndocs/api.md mentions %s%s: no such route\n", methods[m], buf);
        CU_FAIL("docs/api.md mentions a route that does not exist");
      }
    }
  }
  CU_ASSERT_TRUE(mentions >= (int)n);
}

int main(void) {
  const char *src = getenv("PAGODA_SOURCE_DIR");
  char path[4096];
  snprintf(path, sizeof path, "%s/docs/api.md", src ? src : ".");
  doc = read_file(path);
  if (!doc) fprintf(stderr, "cannot read %s (set PAGODA_SOURCE_DIR)\n", path);
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("api_routes", NULL, NULL);
  CU_add_test(s, "docs/api.md read", test_doc_read);
  CU_add_test(s, "rows sane", test_rows_sane);
  CU_add_test(s, "every route documented", test_every_route_documented);
  CU_add_test(s, "every documented row is a route", test_every_documented_row_is_a_route);
  CU_add_test(s, "every mention is served", test_every_mention_is_served);
  int rc = pgd_test_run();
  free(doc);
  return rc;
}
