/* Pagoda — frame codec of the master <-> worker protocol.
 *
 * Wire format: a frame is a 4-byte big-endian unsigned payload length N
 * (1 <= N <= the receiver's maximum) followed by N bytes of payload: the
 * UTF-8 text of one JSON object whose string field "type" names the message
 * (net/protocol.h). Optional whitespace may follow the object inside the
 * payload; anything else makes the frame malformed.
 *
 * The decoder is incremental: feed it bytes as they arrive, in any split.
 * When a whole frame lies in the fed buffer it is parsed in place (no copy);
 * only a frame that spans feeds is gathered into the decoder's own buffer,
 * which grows with the bytes that actually arrive (a length header alone
 * never makes it allocate the announced size).
 *
 * Thread rules: a decoder is used by one thread at a time; the functions
 * keep no global state, so different decoders may run on different threads.
 */
#ifndef PAGODA_NET_FRAME_H
#define PAGODA_NET_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "net/protocol.h"

#define PGD_FRAME_HEADER_SIZE 4
#define PGD_FRAME_MAX_DEFAULT ((size_t)16 * 1024 * 1024) /* 16 MiB of payload */

/* Error codes (negative; distinct from the -errno / UV_E* ranges). */
#define PGD_FRAME_ETOOBIG (-20001) /* announced length is 0 or above the maximum */
#define PGD_FRAME_EJSON (-20002)   /* payload is not one JSON object, or an object in it repeats a key */
#define PGD_FRAME_ETYPE (-20003)   /* "type" missing, not a string, or unknown */
#define PGD_FRAME_ETLS (-20004)    /* the TLS layer failed (handshake, certificate, record) */

/* Returns a static description of a PGD_FRAME_E* code, or of a -errno value
 * (strerror) for other negative values. Any thread. */
const char *pgd_frame_strerror(int err);

/* Encodes one frame. Sets body["type"] to the name of `type` (replacing any
 * previous "type" field; the body is modified and stays owned by the caller),
 * prints it unformatted and prefixes the length. `body` may be NULL for a
 * message with no fields ({"type": ...}); otherwise it must be a JSON object.
 * On success *out is a malloc'ed buffer of *out_len bytes owned by the caller
 * (free()). Returns 0, -EINVAL (bad type, body not an object, NULL out
 * pointers), -ENOMEM, or PGD_FRAME_ETOOBIG (payload above 4 GiB - 1). */
int pgd_frame_encode(pgd_msg_type_t type, cJSON *body, char **out, size_t *out_len);

/* Called once per complete, valid message. `msg` is the parsed object,
 * borrowed for the call (the decoder deletes it afterwards; detach items with
 * cJSON_DetachItemFromObject to keep them). Return 0 to go on, or a positive
 * value to stop: pgd_frame_decoder_feed then returns that value at once,
 * drops the rest of the buffer, and the decoder must not be fed again. (A
 * negative value also stops, and is kept as the decoder's error.) */
typedef int (*pgd_frame_cb)(void *ud, pgd_msg_type_t type, cJSON *msg);

/* Decoder state. Embed it anywhere; treat the fields as private. */
typedef struct pgd_frame_decoder {
  size_t max;                                /* largest accepted payload */
  unsigned char hdr[PGD_FRAME_HEADER_SIZE];  /* partial length header */
  size_t hdr_len;                            /* bytes in hdr */
  size_t need;                               /* payload length, 0 = reading header */
  char *buf;                                 /* partial payload (owned) */
  size_t len, cap;                           /* bytes in buf, its size */
  int err;                                   /* sticky error, 0 if none */
} pgd_frame_decoder_t;

/* Initialises `dec` with the largest accepted payload `max` bytes (0 means
 * PGD_FRAME_MAX_DEFAULT; values above 4 GiB - 1 are capped). Allocates
 * nothing. */
void pgd_frame_decoder_init(pgd_frame_decoder_t *dec, size_t max);

/* Feeds `len` bytes of the stream (borrowed for the call). Calls `cb` for
 * every message completed by these bytes, in order. Returns 0 when all bytes
 * were consumed, the callback's non-zero value when it asked to stop, or a
 * negative error: PGD_FRAME_ETOOBIG, PGD_FRAME_EJSON, PGD_FRAME_ETYPE,
 * -ENOMEM. After an error the stream cannot be trusted: the decoder keeps
 * returning the same error, and the connection should be closed. */
int pgd_frame_decoder_feed(pgd_frame_decoder_t *dec, const char *buf, size_t len,
                           pgd_frame_cb cb, void *ud);

/* True when the decoder holds a partial frame (bytes of a header or payload
 * that did not complete a message). */
int pgd_frame_decoder_partial(const pgd_frame_decoder_t *dec);

/* Releases the decoder's buffer. `dec` may be re-initialised afterwards. */
void pgd_frame_decoder_free(pgd_frame_decoder_t *dec);

#endif
