#include "net/frame.h"

#include "common/json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A gathering buffer bigger than this is released once its frame is done, so
 * that an idle connection does not keep a large frame's memory. */
#define PGD_FRAME_KEEP_CAP ((size_t)64 * 1024)
#define PGD_FRAME_MIN_CAP ((size_t)4096)
#define PGD_FRAME_LEN_LIMIT ((size_t)UINT32_MAX)

const char *pgd_frame_strerror(int err) {
  switch (err) {
  case 0: return "success";
  case PGD_FRAME_ETOOBIG: return "frame length is zero or above the maximum frame size";
  case PGD_FRAME_EJSON: return "frame payload is not a JSON object (or names a key twice, or a number beyond a double)";
  case PGD_FRAME_ETYPE: return "message has a missing or unknown \"type\"";
  case PGD_FRAME_ETLS: return "TLS failed (handshake, certificate or record)";
  default: return err < 0 ? strerror(-err) : "unknown error";
  }
}

int pgd_frame_encode(pgd_msg_type_t type, cJSON *body, char **out, size_t *out_len) {
  const char *name = pgd_msg_name(type);
  if (!name || !out || !out_len) return -EINVAL;
  if (body && !cJSON_IsObject(body)) return -EINVAL;
  *out = NULL;
  *out_len = 0;

  cJSON *own = NULL;
  if (!body) {
    own = body = cJSON_CreateObject();
    if (!body) return -ENOMEM;
  } else {
    cJSON_DeleteItemFromObjectCaseSensitive(body, "type");
  }
  /* The name is a static string: add it as a reference with a constant key,
   * no allocation for either. */
  cJSON *t = cJSON_CreateStringReference(name);
  if (!t || !cJSON_AddItemToObjectCS(body, "type", t)) {
    cJSON_Delete(t);
    cJSON_Delete(own);
    return -ENOMEM;
  }
  char *text = pgd_json_print(body);
  cJSON_Delete(own);
  if (!text) return -ENOMEM;
  size_t n = strlen(text);
  if (n > PGD_FRAME_LEN_LIMIT) {
    free(text);
    return PGD_FRAME_ETOOBIG;
  }
  char *buf = malloc(PGD_FRAME_HEADER_SIZE + n);
  if (!buf) {
    free(text);
    return -ENOMEM;
  }
  buf[0] = (char)((n >> 24) & 0xff);
  buf[1] = (char)((n >> 16) & 0xff);
  buf[2] = (char)((n >> 8) & 0xff);
  buf[3] = (char)(n & 0xff);
  memcpy(buf + PGD_FRAME_HEADER_SIZE, text, n);
  free(text);
  *out = buf;
  *out_len = PGD_FRAME_HEADER_SIZE + n;
  return 0;
}

void pgd_frame_decoder_init(pgd_frame_decoder_t *dec, size_t max) {
  memset(dec, 0, sizeof *dec);
  if (max == 0) max = PGD_FRAME_MAX_DEFAULT;
  if (max > PGD_FRAME_LEN_LIMIT) max = PGD_FRAME_LEN_LIMIT;
  dec->max = max;
}

void pgd_frame_decoder_free(pgd_frame_decoder_t *dec) {
  free(dec->buf);
  dec->buf = NULL;
  dec->len = dec->cap = 0;
}

int pgd_frame_decoder_partial(const pgd_frame_decoder_t *dec) {
  return dec->hdr_len > 0 || dec->need > 0;
}

static int is_json_ws(char ch) { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r'; }

/* Parses one payload and hands it to cb. Returns 0, cb's non-zero value, or
 * a negative frame error. */
static int deliver(const char *p, size_t n, pgd_frame_cb cb, void *ud) {
  const char *end = NULL;
  cJSON *msg = cJSON_ParseWithLengthOpts(p, n, &end, 0);
  if (!msg) return PGD_FRAME_EJSON;
  if (!cJSON_IsObject(msg)) {
    cJSON_Delete(msg);
    return PGD_FRAME_EJSON;
  }
  /* cJSON stops after the value: only whitespace may follow it. */
  if (end && end >= p && end <= p + n) {
    for (const char *q = end; q < p + n; q++) {
      if (!is_json_ws(*q)) {
        cJSON_Delete(msg);
        return PGD_FRAME_EJSON;
      }
    }
  }
  if (pgd_json_ambiguous(msg, NULL)) { /* a key named twice, or 1e999 */
    cJSON_Delete(msg);
    return PGD_FRAME_EJSON;
  }
  cJSON *t = cJSON_GetObjectItemCaseSensitive(msg, "type");
  int type = cJSON_IsString(t) ? pgd_msg_parse(t->valuestring) : -1;
  if (type < 0) {
    cJSON_Delete(msg);
    return PGD_FRAME_ETYPE;
  }
  int rc = cb ? cb(ud, (pgd_msg_type_t)type, msg) : 0;
  cJSON_Delete(msg);
  return rc;
}

static size_t read_be32(const unsigned char *p) {
  return ((size_t)p[0] << 24) | ((size_t)p[1] << 16) | ((size_t)p[2] << 8) | (size_t)p[3];
}

/* Makes room for `want` bytes in dec->buf, growing geometrically but never
 * past the frame's length. */
static int reserve(pgd_frame_decoder_t *dec, size_t want) {
  if (want <= dec->cap) return 0;
  size_t cap = dec->cap ? dec->cap * 2 : PGD_FRAME_MIN_CAP;
  if (cap < want) cap = want;
  if (cap > dec->need) cap = dec->need;
  char *nb = realloc(dec->buf, cap);
  if (!nb) return -ENOMEM;
  dec->buf = nb;
  dec->cap = cap;
  return 0;
}

static void frame_done(pgd_frame_decoder_t *dec) {
  dec->need = 0;
  dec->len = 0;
  dec->hdr_len = 0;
  if (dec->cap > PGD_FRAME_KEEP_CAP) pgd_frame_decoder_free(dec);
}

int pgd_frame_decoder_feed(pgd_frame_decoder_t *dec, const char *buf, size_t len,
                           pgd_frame_cb cb, void *ud) {
  if (dec->err) return dec->err;
  if (!buf && len) return dec->err = -EINVAL;

  while (len > 0) {
    if (dec->need == 0) {
      /* Reading a length header. */
      size_t n;
      if (dec->hdr_len == 0 && len >= PGD_FRAME_HEADER_SIZE) {
        n = read_be32((const unsigned char *)buf);
        buf += PGD_FRAME_HEADER_SIZE;
        len -= PGD_FRAME_HEADER_SIZE;
      } else {
        size_t take = PGD_FRAME_HEADER_SIZE - dec->hdr_len;
        if (take > len) take = len;
        memcpy(dec->hdr + dec->hdr_len, buf, take);
        dec->hdr_len += take;
        buf += take;
        len -= take;
        if (dec->hdr_len < PGD_FRAME_HEADER_SIZE) break;
        n = read_be32(dec->hdr);
      }
      if (n == 0 || n > dec->max) return dec->err = PGD_FRAME_ETOOBIG;
      dec->need = n;
      dec->len = 0;
      if (len == 0) break;
    }

    if (dec->len == 0 && len >= dec->need) {
      /* The whole payload is in the caller's buffer: parse it in place. */
      size_t n = dec->need;
      const char *p = buf;
      buf += n;
      len -= n;
      dec->need = 0;
      dec->hdr_len = 0;
      int rc = deliver(p, n, cb, ud);
      if (rc < 0) return dec->err = rc;
      if (rc != 0) return rc;
      continue;
    }

    /* Gather the payload across feeds. */
    size_t take = dec->need - dec->len;
    if (take > len) take = len;
    int rc = reserve(dec, dec->len + take);
    if (rc < 0) return dec->err = rc;
    memcpy(dec->buf + dec->len, buf, take);
    dec->len += take;
    buf += take;
    len -= take;
    if (dec->len == dec->need) {
      size_t n = dec->need;
      rc = deliver(dec->buf, n, cb, ud);
      frame_done(dec);
      if (rc < 0) return dec->err = rc;
      if (rc != 0) return rc;
    }
  }
  return 0;
}
