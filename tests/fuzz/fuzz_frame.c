/* Fuzz target for the frame decoder (core/net/frame.c), run by ctest as
 * fuzz.frame (tests/fuzz/CMakeLists.txt; -DPAGODA_LIBFUZZER=ON with clang
 * for libFuzzer).
 *
 * The first input byte chooses the feed size (1..256 bytes, or all at once
 * for 0), the rest is the stream. Each decoded message is re-encoded and
 * decoded again; both must agree. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/frame.h"

static int reencode(void *ud, pgd_msg_type_t type, cJSON *msg);

static int check_again(void *ud, pgd_msg_type_t type, cJSON *msg) {
  cJSON *orig = ud;
  if (!cJSON_Compare(orig, msg, 1)) abort();
  (void)type;
  return 0;
}

static int reencode(void *ud, pgd_msg_type_t type, cJSON *msg) {
  (void)ud;
  cJSON *copy = cJSON_Duplicate(msg, 1);
  if (!copy) return 0;
  char *out;
  size_t len;
  if (pgd_frame_encode(type, copy, &out, &len) == 0) {
    pgd_frame_decoder_t d;
    pgd_frame_decoder_init(&d, 0);
    if (pgd_frame_decoder_feed(&d, out, len, check_again, copy) != 0) abort();
    if (pgd_frame_decoder_partial(&d)) abort();
    pgd_frame_decoder_free(&d);
    free(out);
  }
  cJSON_Delete(copy);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  size_t step = data[0] ? data[0] : SIZE_MAX;
  data++;
  size--;
  pgd_frame_decoder_t d;
  pgd_frame_decoder_init(&d, 4096);
  for (size_t off = 0; off < size;) {
    size_t n = size - off < step ? size - off : step;
    /* an exact-size copy so that any over-read is caught */
    char *piece = malloc(n);
    memcpy(piece, data + off, n);
    int rc = pgd_frame_decoder_feed(&d, piece, n, reencode, NULL);
    free(piece);
    if (rc != 0) break;
    off += n;
  }
  pgd_frame_decoder_free(&d);
  return 0;
}
