/* Pagoda — UTF-8 sanitising of streamed text (process output), see
 * common/utf8.h. Moved from core/worker so that the master and the HTTP
 * layer use the same rules. */
#include "common/utf8.h"

#include <string.h>

static size_t put_replacement(char *out, size_t o) {
  out[o] = (char)0xEF;
  out[o + 1] = (char)0xBF;
  out[o + 2] = (char)0xBD;
  return o + 3;
}

size_t pgd_utf8_sanitize(const char *in_, size_t len, int final, char *out, size_t *consumed) {
  const unsigned char *in = (const unsigned char *)in_;
  size_t i = 0, o = 0;
  while (i < len) {
    unsigned char c = in[i];
    if (c >= 0x01 && c <= 0x7F) { /* ASCII run: the common case */
      out[o++] = (char)c;
      i++;
      continue;
    }
    size_t n = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c == 0xE0) { n = 3; lo = 0xA0; }
    else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) n = 3;
    else if (c == 0xED) { n = 3; hi = 0x9F; }
    else if (c == 0xF0) { n = 4; lo = 0x90; }
    else if (c >= 0xF1 && c <= 0xF3) n = 4;
    else if (c == 0xF4) { n = 4; hi = 0x8F; }
    if (n == 0) { /* NUL, continuation byte out of place, C0/C1, F5..FF */
      o = put_replacement(out, o);
      i++;
      continue;
    }
    size_t k = 1;
    int truncated = 0, bad = 0;
    for (; k < n; k++) {
      if (i + k >= len) {
        truncated = 1;
        break;
      }
      unsigned char b = in[i + k];
      unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
      if (b < l || b > h) {
        bad = 1;
        break;
      }
    }
    if (truncated && !final) break; /* keep the tail for the next chunk */
    if (truncated || bad) {
      o = put_replacement(out, o);
      i++;
      continue;
    }
    memcpy(out + o, in + i, n);
    o += n;
    i += n;
  }
  out[o] = '\0';
  if (consumed) *consumed = i;
  return o;
}
