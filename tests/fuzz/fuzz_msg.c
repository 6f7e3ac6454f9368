/* libFuzzer target for the typed message decoders (core/net/msg*.c). Built and run
 * by ctest with tests/fuzz/fuzz_driver.c (tests/fuzz/CMakeLists.txt); by hand
 * with libFuzzer:
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I core \
 *     tests/fuzz/fuzz_msg.c core/net/msg_codec.c core/net/msg_util.c \
 *     core/net/msg_fields.c core/net/protocol.c core/common/err.c \
 *     core/common/exec_state.c -lcjson -lm -o /tmp/fuzz_msg && /tmp/fuzz_msg -max_total_time=60
 *
 * The input is parsed as JSON and given to every decoder. A decoder must
 * not crash; when it accepts, encoding the result and decoding that again
 * must succeed and re-encode to the same JSON (the codec is stable). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/msg.h"

#define CHECK(name)                                                                     \
  do {                                                                                  \
    pgd_msg_##name##_t a, b;                                                            \
    char err[256];                                                                      \
    if (pgd_msg_##name##_decode(in, &a, err, sizeof err) != 0) break;                   \
    cJSON *e1 = pgd_msg_##name##_encode(&a);                                            \
    if (!e1) break;                                                                     \
    if (pgd_msg_##name##_decode(e1, &b, err, sizeof err) != 0) abort();                 \
    cJSON *e2 = pgd_msg_##name##_encode(&b);                                            \
    if (!e2 || !cJSON_Compare(e1, e2, 1)) abort();                                      \
    cJSON_Delete(e2);                                                                   \
    cJSON_Delete(e1);                                                                   \
  } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cJSON *in = cJSON_ParseWithLength((const char *)data, size);
  if (!in) return 0;
  CHECK(hello);
  CHECK(welcome);
  CHECK(reject);
  CHECK(heartbeat);
  CHECK(launch);
  CHECK(kill);
  CHECK(state);
  CHECK(log);
  CHECK(ack);
  CHECK(error);
  CHECK(plugins);
  cJSON_Delete(in);
  return 0;
}
