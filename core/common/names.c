/* Pagoda — the rule for names (names.h). */
#include "common/names.h"

bool pgd_name_chars_ok(const char *s, size_t n, size_t max) {
  if (!s || n == 0 || n > max) return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '_' || c == '-' || c == '.'))
      return false;
  }
  return true;
}

bool pgd_path_name_ok(const char *s, size_t n, size_t max) {
  if (!pgd_name_chars_ok(s, n, max)) return false;
  return !(s[0] == '.' && (n == 1 || (n == 2 && s[1] == '.')));
}
