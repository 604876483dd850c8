/*
 * chunked.c — decoder for the chunked transfer coding (RFC 9112 §7.1).
 *
 * Owns: chunk-size lines, chunk extensions (validated, then dropped), chunk
 * data boundaries, the trailer section (validated, then dropped) and the
 * body-size limit of chunked requests.
 * Invariants: a byte-level state machine over caller-owned input. Framing
 * bytes are consumed one at a time, data is handed out as slices of the input,
 * so any split of the same stream decodes the same body and fails at the same
 * byte with the same error. No allocation, no globals. Consumes nothing after
 * the final CRLF: those bytes belong to the next request.
 * Must not know about: the request head, sockets, Python.
 */
#include "http1.h"

#include <string.h>

#include "http1_chars.h"

enum {
    S_SIZE_START, /* first HEXDIG of chunk-size */
    S_SIZE,       /* more HEXDIG, or what ends the size */
    S_EXT_BWS,    /* BWS that must lead to ";" */
    S_EXT_NAME0,  /* after ";": BWS, then the first tchar of chunk-ext-name */
    S_EXT_NAME,   /* in chunk-ext-name */
    S_EXT_EQ,     /* BWS after a name: then "=" or ";" */
    S_EXT_VAL0,   /* after "=": BWS, then token or quoted-string */
    S_EXT_TOKEN,  /* in a token value */
    S_EXT_QUOTED, /* in a quoted-string value */
    S_EXT_QPAIR,  /* after "\" in a quoted-string */
    S_EXT_AFTER,  /* after a complete value: BWS, ";" or CR */
    S_SIZE_LF,    /* CR seen at the end of the size line */
    S_DATA,       /* chunk-data: remaining bytes */
    S_DATA_CR,    /* CRLF after chunk-data */
    S_DATA_LF,
    S_TRAILER,  /* start of a trailer field line or of the final CRLF */
    S_TNAME,    /* in a trailer field name */
    S_TVALUE,   /* in a trailer field value */
    S_TLF,      /* CR seen at the end of a trailer field line */
    S_FINAL_LF, /* CR of the final CRLF seen */
    S_DONE,
    S_FAILED,
};

/*
 * Fields a sender must not put in a trailer section because they are needed
 * before the content (RFC 9110 §6.5.1): framing, routing, connection control,
 * request modifiers, authentication, and how to process the content.
 */
static const char *const forbidden_trailers[] = {
    "authorization",
    "cache-control",
    "connection",
    "content-encoding",
    "content-length",
    "content-range",
    "cookie",
    "expect",
    "host",
    "keep-alive",
    "max-forwards",
    "pragma",
    "proxy-authorization",
    "proxy-connection",
    "range",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
};

static int forbidden_trailer(const unsigned char *name, size_t len)
{
    for (size_t i = 0; i < sizeof forbidden_trailers / sizeof *forbidden_trailers; i++) {
        const char *f = forbidden_trailers[i];
        if (strlen(f) == len && memcmp(f, name, len) == 0) {
            return 1;
        }
    }
    return 0;
}

void pn_chunked_init(pn_chunked_t *c, uint64_t max_body, size_t max_line, size_t max_trailer)
{
    memset(c, 0, sizeof *c);
    c->state = S_SIZE_START;
    c->max_body = max_body;
    c->max_line = max_line ? max_line : PN_CHUNKED_DEFAULT_MAX_LINE;
    c->max_trailer = max_trailer ? max_trailer : PN_CHUNKED_DEFAULT_MAX_TRAILER;
}

int pn_chunked_done(const pn_chunked_t *c)
{
    return c->state == S_DONE;
}

static int hexval(uint8_t ch)
{
    return ch <= '9' ? ch - '0' : pn__lower(ch) - 'a' + 10;
}

/* One byte of the chunk-size line (size, extensions, CRLF). Returns a reason or NULL. */
static const char *size_line_byte(pn_chunked_t *c, uint8_t ch, int *status)
{
    int ws = ch == ' ' || ch == '\t';
    if (++c->line_len > c->max_line) {
        return "chunk-size line too long";
    }
    switch (c->state) {
    case S_SIZE_START:
        if (!PN__CLS(ch, PN__C_HEX)) {
            return "invalid chunk size";
        }
        c->remaining = (uint64_t)hexval(ch);
        c->state = S_SIZE;
        if (c->remaining > c->max_body - c->total) {
            *status = 413;
            return "chunked body exceeds the body size limit";
        }
        break;
    case S_SIZE:
        if (PN__CLS(ch, PN__C_HEX)) {
            if (c->remaining > (UINT64_MAX >> 4)) {
                return "chunk size overflow";
            }
            c->remaining = c->remaining << 4 | (uint64_t)hexval(ch);
            if (c->remaining > c->max_body - c->total) {
                *status = 413;
                return "chunked body exceeds the body size limit";
            }
        } else if (ch == ';') {
            c->state = S_EXT_NAME0;
        } else if (ws) {
            c->state = S_EXT_BWS;
        } else if (ch == '\r') {
            c->state = S_SIZE_LF;
        } else {
            return "invalid chunk size";
        }
        break;
    /* chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ( token / quoted-string ) ] ) */
    case S_EXT_BWS:
        if (ch == ';') {
            c->state = S_EXT_NAME0;
        } else if (!ws) {
            return "invalid chunk extension";
        }
        break;
    case S_EXT_NAME0:
        if (PN__CLS(ch, PN__C_TCHAR)) {
            c->state = S_EXT_NAME;
        } else if (!ws) {
            return "invalid chunk extension";
        }
        break;
    case S_EXT_NAME:
    case S_EXT_EQ:
        if (c->state == S_EXT_NAME && PN__CLS(ch, PN__C_TCHAR)) {
            break;
        }
        if (ws) {
            c->state = S_EXT_EQ;
        } else if (ch == '=') {
            c->state = S_EXT_VAL0;
        } else if (ch == ';') {
            c->state = S_EXT_NAME0;
        } else if (ch == '\r' && c->state == S_EXT_NAME) {
            c->state = S_SIZE_LF;
        } else {
            return "invalid chunk extension";
        }
        break;
    case S_EXT_VAL0:
        if (ch == '"') {
            c->state = S_EXT_QUOTED;
        } else if (PN__CLS(ch, PN__C_TCHAR)) {
            c->state = S_EXT_TOKEN;
        } else if (!ws) {
            return "invalid chunk extension";
        }
        break;
    case S_EXT_TOKEN:
    case S_EXT_AFTER:
        if (c->state == S_EXT_TOKEN && PN__CLS(ch, PN__C_TCHAR)) {
            break;
        }
        if (ws) {
            c->state = S_EXT_BWS;
        } else if (ch == ';') {
            c->state = S_EXT_NAME0;
        } else if (ch == '\r') {
            c->state = S_SIZE_LF;
        } else {
            return "invalid chunk extension";
        }
        break;
    case S_EXT_QUOTED:
        if (ch == '"') {
            c->state = S_EXT_AFTER;
        } else if (ch == '\\') {
            c->state = S_EXT_QPAIR;
        } else if (!PN__CLS(ch, PN__C_QDTEXT)) {
            return "invalid character in chunk extension";
        }
        break;
    case S_EXT_QPAIR:
        if (!PN__CLS(ch, PN__C_FVALUE)) {
            return "invalid character in chunk extension";
        }
        c->state = S_EXT_QUOTED;
        break;
    case S_SIZE_LF:
        if (ch != '\n') {
            return "bare CR in chunk-size line";
        }
        c->line_len = 0;
        c->state = c->remaining > 0 ? S_DATA : S_TRAILER;
        break;
    }
    return NULL;
}

/* One byte of the trailer section. Returns a reason or NULL; *status preset to 400. */
static const char *trailer_byte(pn_chunked_t *c, uint8_t ch, int *status)
{
    if (++c->trailer_len > c->max_trailer || ++c->line_len > c->max_line) {
        *status = 431;
        return "trailer section too large";
    }
    switch (c->state) {
    case S_TRAILER:
        if (ch == '\r') {
            c->state = S_FINAL_LF;
            break;
        }
        if (ch == ' ' || ch == '\t') {
            return "obs-fold or whitespace before a trailer field";
        }
        c->state = S_TNAME;
        /* fall through */
    case S_TNAME:
        if (PN__CLS(ch, PN__C_TCHAR)) {
            if (c->line_len <= sizeof c->tname) {
                c->tname[c->line_len - 1] = pn__lower(ch);
            }
            break;
        }
        if (ch != ':' || c->line_len == 1) {
            return ch == ':'                   ? "empty trailer field name"
                   : (ch == ' ' || ch == '\t') ? "whitespace before colon in trailer"
                                               : "invalid character in trailer field name";
        }
        if (c->line_len - 1 <= sizeof c->tname && forbidden_trailer(c->tname, c->line_len - 1)) {
            return "field not allowed in trailers";
        }
        c->state = S_TVALUE;
        break;
    case S_TVALUE:
        if (ch == '\r') {
            c->state = S_TLF;
        } else if (!PN__CLS(ch, PN__C_FVALUE)) {
            return ch == '\n' ? "bare LF in trailer section" : "invalid character in trailer value";
        }
        break;
    case S_TLF:
    case S_FINAL_LF:
        if (ch != '\n') {
            return "bare CR in trailer section";
        }
        c->line_len = 0;
        c->state = c->state == S_TLF ? S_TRAILER : S_DONE;
        break;
    }
    return NULL;
}

ssize_t pn_chunked_feed(pn_chunked_t *c, const char *in, size_t len, pn_slice_t *data,
                        pn_http1_error_t *err)
{
    const uint8_t *s = (const uint8_t *)in;
    size_t i = 0;
    int status = 400;
    const char *why = NULL;
    *data = (pn_slice_t){in, 0};
    if (c->state == S_FAILED) {
        err->status = 400;
        err->reason = "chunked body already failed";
        err->offset = c->pos;
        return PN_EPROTO;
    }
    while (i < len && c->state != S_DONE) {
        if (c->state == S_DATA) {
            /*
             * Return right after the data run: an error in the framing that
             * follows is then reported by the next call, so the caller has
             * received the same data before the error whatever the split.
             */
            size_t n = len - i < c->remaining ? len - i : (size_t)c->remaining;
            *data = (pn_slice_t){in + i, n};
            i += n;
            c->pos += n;
            c->total += n;
            c->remaining -= n;
            if (c->remaining == 0) {
                c->state = S_DATA_CR;
            }
            break;
        }
        uint8_t ch = s[i];
        if (c->state < S_DATA) {
            why = size_line_byte(c, ch, &status);
        } else if (c->state == S_DATA_CR) {
            why = ch == '\r' ? NULL : "missing CRLF after chunk data";
            c->state = S_DATA_LF;
        } else if (c->state == S_DATA_LF) {
            why = ch == '\n' ? NULL : "bare CR after chunk data";
            c->state = S_SIZE_START;
        } else {
            why = trailer_byte(c, ch, &status);
        }
        if (why != NULL) {
            c->state = S_FAILED;
            err->status = status;
            err->reason = why;
            err->offset = c->pos;
            return PN_EPROTO;
        }
        i++;
        c->pos++;
    }
    return (ssize_t)i;
}
