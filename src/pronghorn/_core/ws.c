/*
 * ws.c — WebSocket handshake, framing and close codes (RFC 6455), see ws.h.
 *
 * Owns: the upgrade checks and the accept key (with the base64 they need),
 * the 101 head, the frame parser state machine, the frame builder.
 * Invariants: the parser's only state between calls is the pn_ws_parser_t:
 * a frame header is parsed again from the start of the buffer until it is
 * complete (at most 14 bytes), and a control frame until its payload is there
 * too (at most 139 bytes), so nothing is consumed half-way. Data payload is
 * consumed as it arrives. Every check reads only bytes already present, in a
 * fixed order, so a prefix of the stream never reports a different error
 * than the whole stream. No allocation, no globals.
 * Must not know about: sockets, Python, zlib, how messages are assembled.
 */
#include "ws.h"

#include <limits.h>
#include <string.h>

#include "sha1.h"

/* ---------------- shared text helpers ---------------- */

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* base64 (RFC 4648 §4, with padding) of in[0..len) to out, NUL-terminated. */
static void base64_encode(const uint8_t *in, size_t len, char *out)
{
    size_t i = 0;
    for (; len - i >= 3; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        *out++ = B64[v >> 18];
        *out++ = B64[(v >> 12) & 63];
        *out++ = B64[(v >> 6) & 63];
        *out++ = B64[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        *out++ = B64[v >> 18];
        *out++ = B64[(v >> 12) & 63];
        *out++ = '=';
        *out++ = '=';
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        *out++ = B64[v >> 18];
        *out++ = B64[(v >> 12) & 63];
        *out++ = B64[(v >> 6) & 63];
        *out++ = '=';
    }
    *out = '\0';
}

static int is_b64(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

/* tchar (RFC 9110 §5.6.2) */
static int is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
        return 1;
    }
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int is_token(pn_slice_t s)
{
    if (s.len == 0) {
        return 0;
    }
    for (size_t i = 0; i < s.len; i++) {
        if (!is_tchar((unsigned char)s.base[i])) {
            return 0;
        }
    }
    return 1;
}

static int has_ctl(pn_slice_t s)
{
    for (size_t i = 0; i < s.len; i++) {
        char c = s.base[i];
        if (c == '\r' || c == '\n' || c == '\0') {
            return 1;
        }
    }
    return 0;
}

/*
 * Next element of a comma-separated list (RFC 9110 §5.6.1): OWS and empty
 * elements are skipped, the element is trimmed. Returns 0 at the end.
 */
static int list_next(pn_slice_t *rest, pn_slice_t *elem)
{
    const char *p = rest->base, *end = p + rest->len;
    while (p < end && (*p == ' ' || *p == '\t' || *p == ',')) {
        p++;
    }
    if (p == end) {
        rest->len = 0;
        return 0;
    }
    const char *start = p;
    while (p < end && *p != ',') {
        p++;
    }
    const char *stop = p;
    while (stop > start && (stop[-1] == ' ' || stop[-1] == '\t')) {
        stop--;
    }
    *elem = (pn_slice_t){start, (size_t)(stop - start)};
    *rest = (pn_slice_t){p, (size_t)(end - p)};
    return 1;
}

static int has_element(pn_slice_t value, const char *lower)
{
    pn_slice_t e;
    while (list_next(&value, &e)) {
        if (pn_slice_ieq(e, lower)) {
            return 1;
        }
    }
    return 0;
}

/* ---------------- opening handshake ---------------- */

static const char GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

void pn_ws_accept_key(pn_slice_t key, char out[PN_WS_ACCEPT_LEN + 1])
{
    pn_sha1_t c;
    uint8_t digest[PN_SHA1_DIGEST_LEN];
    pn_sha1_init(&c);
    pn_sha1_update(&c, key.base, key.len);
    pn_sha1_update(&c, GUID, sizeof GUID - 1);
    pn_sha1_final(&c, digest);
    base64_encode(digest, sizeof digest, out);
}

/* 16 bytes in base64: 22 alphabet characters and "==". */
static int valid_key(pn_slice_t k)
{
    if (k.len != 24 || k.base[22] != '=' || k.base[23] != '=') {
        return 0;
    }
    for (size_t i = 0; i < 22; i++) {
        if (!is_b64((unsigned char)k.base[i])) {
            return 0;
        }
    }
    return 1;
}

static int reject(pn_ws_handshake_t *hs, int status, const char *reason)
{
    hs->status = status;
    hs->reason = reason;
    return PN_EPROTO;
}

int pn_ws_handshake_check(pn_slice_t method, int minor_version, const pn_header_t *headers,
                          size_t n, pn_ws_handshake_t *hs)
{
    hs->status = 0;
    hs->reason = NULL;
    hs->accept[0] = '\0';
    if (method.len != 3 || memcmp(method.base, "GET", 3) != 0) {
        return reject(hs, 400, "WebSocket handshake must use GET");
    }
    if (minor_version != 1) {
        return reject(hs, 400, "WebSocket handshake must use HTTP/1.1");
    }
    int upgrade = 0, connection = 0, version13 = 0;
    size_t versions = 0, keys = 0;
    pn_slice_t key = {"", 0};
    for (size_t i = 0; i < n; i++) {
        pn_slice_t name = headers[i].name, value = headers[i].value;
        if (pn_slice_ieq(name, "upgrade")) {
            upgrade |= has_element(value, "websocket");
        } else if (pn_slice_ieq(name, "connection")) {
            connection |= has_element(value, "upgrade");
        } else if (pn_slice_ieq(name, "sec-websocket-version")) {
            versions++;
            version13 = value.len == 2 && value.base[0] == '1' && value.base[1] == '3';
        } else if (pn_slice_ieq(name, "sec-websocket-key")) {
            keys++;
            key = value;
        }
    }
    if (!upgrade) {
        return reject(hs, 400, "missing Upgrade: websocket");
    }
    if (!connection) {
        return reject(hs, 400, "missing Connection: upgrade");
    }
    if (versions != 1 || !version13) {
        return reject(hs, 426, "unsupported Sec-WebSocket-Version (13 expected)");
    }
    if (keys != 1 || !valid_key(key)) {
        return reject(hs, 400, "invalid Sec-WebSocket-Key");
    }
    if (pn_ws_subprotocols(headers, n, NULL, 0) < 0) {
        return reject(hs, 400, "invalid Sec-WebSocket-Protocol");
    }
    pn_ws_accept_key(key, hs->accept);
    return 0;
}

ssize_t pn_ws_subprotocols(const pn_header_t *headers, size_t n, pn_slice_t *out, size_t max)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        if (!pn_slice_ieq(headers[i].name, "sec-websocket-protocol")) {
            continue;
        }
        pn_slice_t rest = headers[i].value, e;
        while (list_next(&rest, &e)) {
            if (!is_token(e)) {
                return PN_EPROTO;
            }
            if (count < max) {
                out[count] = e;
            }
            count++;
        }
    }
    return (ssize_t)count;
}

size_t pn_ws_response_fields(const char *accept, pn_slice_t subprotocol, pn_slice_t extensions,
                             pn_header_t out[4])
{
    size_t n = 0;
    out[n++] = (pn_header_t){PN_SLICE_LIT("Upgrade"), PN_SLICE_LIT("websocket")};
    out[n++] = (pn_header_t){PN_SLICE_LIT("Sec-WebSocket-Accept"), {accept, strlen(accept)}};
    if (subprotocol.len > 0) {
        out[n++] = (pn_header_t){PN_SLICE_LIT("Sec-WebSocket-Protocol"), subprotocol};
    }
    if (extensions.len > 0) {
        out[n++] = (pn_header_t){PN_SLICE_LIT("Sec-WebSocket-Extensions"), extensions};
    }
    return n;
}

/* Fields of the 101 that extra headers may not repeat. */
static const char *const owned_fields[] = {
    "upgrade",
    "connection",
    "sec-websocket-accept",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
    "content-length",
    "transfer-encoding",
};

typedef struct {
    char *out;
    size_t cap, len;
} emit_t;

static void put(emit_t *e, const char *s, size_t n)
{
    if (n <= e->cap && e->len <= e->cap - n) {
        memcpy(e->out + e->len, s, n);
    }
    e->len = e->len + n < e->len ? SIZE_MAX : e->len + n;
}

static void put_field(emit_t *e, pn_slice_t name, pn_slice_t value)
{
    put(e, name.base, name.len);
    put(e, ": ", 2);
    put(e, value.base, value.len);
    put(e, "\r\n", 2);
}

static ssize_t invalid(const char **why, const char *reason)
{
    if (why != NULL) {
        *why = reason;
    }
    return PN_WS_EINVAL;
}

ssize_t pn_ws_write_response(char *out, size_t cap, const char *accept, pn_slice_t subprotocol,
                             pn_slice_t extensions, const pn_header_t *extra, size_t nextra,
                             const char **why)
{
    if (subprotocol.len > 0 && !is_token(subprotocol)) {
        return invalid(why, "subprotocol is not a token");
    }
    if (has_ctl(extensions)) {
        return invalid(why, "invalid Sec-WebSocket-Extensions value (CR, LF or NUL)");
    }
    for (size_t i = 0; i < nextra; i++) {
        if (!is_token(extra[i].name)) {
            return invalid(why, "invalid header name");
        }
        if (has_ctl(extra[i].value)) {
            return invalid(why, "invalid header value (CR, LF or NUL)");
        }
        for (size_t k = 0; k < sizeof owned_fields / sizeof *owned_fields; k++) {
            if (pn_slice_ieq(extra[i].name, owned_fields[k])) {
                return invalid(why, "header not allowed in a 101 response");
            }
        }
    }
    pn_header_t fields[4];
    size_t nf = pn_ws_response_fields(accept, subprotocol, extensions, fields);
    emit_t e = {out, cap, 0};
    static const char status[] = "HTTP/1.1 101 Switching Protocols\r\n";
    put(&e, status, sizeof status - 1);
    put_field(&e, fields[0].name, fields[0].value);
    put_field(&e, PN_SLICE_LIT("Connection"), PN_SLICE_LIT("Upgrade"));
    for (size_t i = 1; i < nf; i++) {
        put_field(&e, fields[i].name, fields[i].value);
    }
    for (size_t i = 0; i < nextra; i++) {
        put_field(&e, extra[i].name, extra[i].value);
    }
    put(&e, "\r\n", 2);
    return e.len > (size_t)SSIZE_MAX ? PN_WS_EINVAL : (ssize_t)e.len;
}

/* ---------------- masking ---------------- */

void pn_ws_mask(void *p, size_t len, const uint8_t key[4], uint64_t offset)
{
    uint8_t *b = p;
    unsigned r = (unsigned)(offset & 3);
    uint8_t k[4] = {key[r], key[(r + 1) & 3], key[(r + 2) & 3], key[(r + 3) & 3]};
    uint32_t k32;
    memcpy(&k32, k, 4);
    uint64_t k64 = (uint64_t)k32 << 32 | k32; /* both halves equal: byte order does not matter */
    size_t i = 0;
    for (; len - i >= 32; i += 32) {
        uint64_t w[4];
        memcpy(w, b + i, 32);
        w[0] ^= k64;
        w[1] ^= k64;
        w[2] ^= k64;
        w[3] ^= k64;
        memcpy(b + i, w, 32);
    }
    for (; len - i >= 8; i += 8) {
        uint64_t w;
        memcpy(&w, b + i, 8);
        w ^= k64;
        memcpy(b + i, &w, 8);
    }
    if (len - i >= 4) {
        uint32_t w;
        memcpy(&w, b + i, 4);
        w ^= k32;
        memcpy(b + i, &w, 4);
        i += 4;
    }
    for (; i < len; i++) {
        b[i] ^= k[i & 3];
    }
}

/* ---------------- close codes ---------------- */

int pn_ws_close_code_valid(unsigned code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
           (code >= 3000 && code <= 4999);
}

int pn_ws_close_code_sendable(unsigned code)
{
    return pn_ws_close_code_valid(code) || (code >= 1012 && code <= 1014);
}

/* ---------------- frame parser ---------------- */

enum { S_HEADER, S_PAYLOAD, S_CLOSED, S_FAILED };

#define B0_FIN 0x80
#define B0_RSV1 0x40
#define B0_RSV23 0x30

void pn_ws_parser_init(pn_ws_parser_t *p, uint64_t max_message_size, unsigned flags)
{
    memset(p, 0, sizeof *p);
    p->max_message_size = max_message_size ? max_message_size : PN_WS_DEFAULT_MAX_MESSAGE;
    p->flags = flags;
    p->state = S_HEADER;
}

static ssize_t fail(pn_ws_parser_t *p, uint16_t code, const char *reason, uint64_t offset)
{
    p->state = S_FAILED;
    p->error.close_code = code;
    p->error.reason = reason;
    p->error.offset = offset;
    return PN_EPROTO;
}

static uint64_t wire_limit(const pn_ws_parser_t *p, int deflate)
{
    uint64_t max = p->max_message_size;
    if (!deflate) {
        return max;
    }
    uint64_t slack = max / 4096 + 64;
    return max > UINT64_MAX - slack ? UINT64_MAX : max + slack;
}

typedef struct {
    uint64_t len; /* payload length */
    size_t size;  /* header length */
    uint8_t b0;   /* FIN, RSV, opcode */
    uint8_t key[4];
    int masked;
} header_t;

/* The frame header at b[0..n): its size (> 0), PN_INCOMPLETE or PN_EPROTO. */
static ssize_t read_header(pn_ws_parser_t *p, const uint8_t *b, size_t n, header_t *h)
{
    uint64_t at = p->pos;
    if (n < 1) {
        return PN_INCOMPLETE;
    }
    unsigned b0 = b[0], op = b0 & 0x0F;
    int control = (op & 0x8) != 0;
    if (b0 & B0_RSV23) {
        return fail(p, 1002, "RSV2 or RSV3 set", at);
    }
    if ((op > PN_WS_OP_BINARY && op < PN_WS_OP_CLOSE) || op > PN_WS_OP_PONG) {
        return fail(p, 1002, "reserved opcode", at);
    }
    if (control) {
        if (!(b0 & B0_FIN)) {
            return fail(p, 1002, "fragmented control frame", at);
        }
        if (b0 & B0_RSV1) {
            return fail(p, 1002, "RSV1 set on a control frame", at);
        }
    } else if (op == PN_WS_OP_CONT) {
        if (p->msg_op == 0) {
            return fail(p, 1002, "continuation frame without a fragmented message", at);
        }
        if (b0 & B0_RSV1) {
            return fail(p, 1002, "RSV1 set on a continuation frame", at);
        }
    } else {
        if (p->msg_op != 0) {
            return fail(p, 1002, "new data frame inside a fragmented message", at);
        }
        if ((b0 & B0_RSV1) && !(p->flags & PN_WS_F_DEFLATE)) {
            return fail(p, 1002, "RSV1 set without permessage-deflate", at);
        }
    }
    if (n < 2) {
        return PN_INCOMPLETE;
    }
    unsigned b1 = b[1], len7 = b1 & 0x7F;
    int masked = (b1 & 0x80) != 0;
    if (!(p->flags & PN_WS_F_CLIENT) && !masked) {
        return fail(p, 1002, "unmasked client frame", at);
    }
    if ((p->flags & PN_WS_F_CLIENT) && masked) {
        return fail(p, 1002, "masked server frame", at);
    }
    if (control && len7 > PN_WS_MAX_CONTROL_PAYLOAD) {
        return fail(p, 1002, "control frame payload over 125 bytes", at);
    }
    if (op == PN_WS_OP_CLOSE && len7 == 1) {
        return fail(p, 1002, "close frame payload of 1 byte", at);
    }
    uint64_t len = len7;
    size_t size = 2;
    if (len7 == 126) {
        if (n < 4) {
            return PN_INCOMPLETE;
        }
        len = (uint64_t)b[2] << 8 | b[3];
        if (len < 126) {
            return fail(p, 1002, "non-minimal frame length", at);
        }
        size = 4;
    } else if (len7 == 127) {
        if (n < 10) {
            return PN_INCOMPLETE;
        }
        len = 0;
        for (int i = 0; i < 8; i++) {
            len = len << 8 | b[2 + i];
        }
        if (len >> 63) {
            return fail(p, 1002, "64-bit frame length with the top bit set", at);
        }
        if (len <= 0xFFFF) {
            return fail(p, 1002, "non-minimal frame length", at);
        }
        size = 10;
    }
    if (!control) {
        int cont = op == PN_WS_OP_CONT;
        uint64_t used = cont ? p->msg_len : 0;
        uint64_t limit = wire_limit(p, cont ? p->msg_deflate : (b0 & B0_RSV1) != 0);
        if (used > limit || len > limit - used) {
            return fail(p, 1009, "message too big", at);
        }
    }
    if (masked) {
        if (n < size + 4) {
            return PN_INCOMPLETE;
        }
        memcpy(h->key, b + size, 4);
        size += 4;
    }
    h->len = len;
    h->size = size;
    h->b0 = (uint8_t)b0;
    h->masked = masked;
    return (ssize_t)size;
}

/* A control frame whose header h is at b[0..n): whole, or PN_INCOMPLETE. */
static ssize_t control_frame(pn_ws_parser_t *p, uint8_t *b, size_t n, const header_t *h,
                             pn_ws_event_t *ev)
{
    size_t len = (size_t)h->len; /* <= 125 */
    if (n - h->size < len) {
        return PN_INCOMPLETE;
    }
    uint8_t *payload = b + h->size;
    unsigned op = h->b0 & 0x0F;
    if (h->masked) {
        pn_ws_mask(payload, len, h->key, 0);
    }
    ev->data = (pn_slice_t){(const char *)payload, len};
    ev->close_code = 0;
    if (op == PN_WS_OP_CLOSE) {
        ev->close_code = PN_WS_CLOSE_NO_STATUS;
        if (len >= 2) {
            unsigned code = (unsigned)payload[0] << 8 | payload[1];
            if (!pn_ws_close_code_valid(code)) {
                return fail(p, 1002, "invalid close code", p->pos);
            }
            pn_utf8_t u = {0};
            size_t bad;
            if (pn_utf8_feed(&u, (const char *)payload + 2, len - 2, &bad) < 0) {
                return fail(p, 1007, "invalid UTF-8 in a close reason", p->pos + h->size + 2 + bad);
            }
            if (!pn_utf8_complete(&u)) {
                return fail(p, 1007, "invalid UTF-8 in a close reason", p->pos + h->size + len);
            }
            ev->close_code = (uint16_t)code;
            ev->data = (pn_slice_t){(const char *)payload + 2, len - 2};
        }
        p->state = S_CLOSED;
    }
    ev->frame_len = len;
    ev->opcode = (uint8_t)op;
    ev->message_opcode = (uint8_t)op;
    ev->flags = PN_WS_EV_FRAME_START | PN_WS_EV_FRAME_END | PN_WS_EV_FIN;
    p->pos += h->size + len;
    return (ssize_t)(h->size + len);
}

/*
 * The next piece of the current data frame's payload: data[0..avail), which
 * follows hsize header bytes consumed in the same call.
 */
static ssize_t payload_piece(pn_ws_parser_t *p, uint8_t *data, size_t hsize, size_t avail,
                             unsigned flags, pn_ws_event_t *ev)
{
    size_t take = p->remaining < avail ? (size_t)p->remaining : avail;
    if (!(p->flags & PN_WS_F_CLIENT)) {
        pn_ws_mask(data, take, p->key, p->phase);
        p->phase = (uint8_t)((p->phase + take) & 3);
    }
    int text = p->msg_op == PN_WS_OP_TEXT && !p->msg_deflate;
    if (text) {
        size_t bad;
        if (pn_utf8_feed(&p->utf8, (const char *)data, take, &bad) < 0) {
            return fail(p, 1007, "invalid UTF-8 in a text message", p->pos + hsize + bad);
        }
    }
    p->remaining -= take;
    flags |= p->frame_b0 & B0_FIN ? PN_WS_EV_FIN : 0;
    flags |= p->msg_deflate ? PN_WS_EV_COMPRESSED : 0;
    ev->data = (pn_slice_t){(const char *)data, take};
    ev->frame_len = p->frame_len;
    ev->close_code = 0;
    ev->opcode = p->frame_b0 & 0x0F;
    ev->message_opcode = p->msg_op;
    if (p->remaining == 0) {
        flags |= PN_WS_EV_FRAME_END;
        p->state = S_HEADER;
        if (p->frame_b0 & B0_FIN) {
            if (text && !pn_utf8_complete(&p->utf8)) {
                return fail(p, 1007, "text message ends inside a UTF-8 sequence",
                            p->pos + hsize + take);
            }
            flags |= PN_WS_EV_MESSAGE_END;
            p->msg_op = 0;
        }
    }
    ev->flags = (uint8_t)flags;
    p->pos += hsize + take;
    return (ssize_t)(hsize + take);
}

ssize_t pn_ws_parse(pn_ws_parser_t *p, char *buf, size_t len, pn_ws_event_t *ev)
{
    uint8_t *b = (uint8_t *)buf;
    switch (p->state) {
    case S_FAILED:
        return PN_EPROTO;
    case S_CLOSED:
        return PN_WS_CLOSED;
    case S_PAYLOAD:
        if (len == 0) {
            return PN_INCOMPLETE;
        }
        return payload_piece(p, b, 0, len, 0, ev);
    default:
        break;
    }
    header_t h;
    ssize_t r = read_header(p, b, len, &h);
    if (r < 0) {
        return r;
    }
    unsigned op = h.b0 & 0x0F, flags = PN_WS_EV_FRAME_START;
    if (op & 0x8) {
        return control_frame(p, b, len, &h, ev);
    }
    if (op != PN_WS_OP_CONT) {
        p->msg_op = (uint8_t)op;
        p->msg_deflate = (h.b0 & B0_RSV1) != 0;
        p->msg_len = 0;
        pn_utf8_init(&p->utf8);
        flags |= PN_WS_EV_MESSAGE_START;
    }
    p->msg_len += h.len;
    p->frame_b0 = h.b0;
    p->frame_len = h.len;
    p->remaining = h.len;
    memcpy(p->key, h.key, 4);
    p->phase = 0;
    p->state = S_PAYLOAD;
    return payload_piece(p, b + h.size, h.size, len - h.size, flags, ev);
}

/* ---------------- frame builder ---------------- */

size_t pn_ws_header_size(uint64_t len, int masked)
{
    return (len < 126 ? 2u : len <= 0xFFFF ? 4u : 10u) + (masked ? 4u : 0u);
}

size_t pn_ws_write_header(uint8_t *out, unsigned opcode, unsigned flags, uint64_t len,
                          const uint8_t *mask)
{
    uint8_t m = mask != NULL ? 0x80 : 0;
    size_t n;
    out[0] = (uint8_t)((flags & (PN_WS_FIN | PN_WS_RSV1)) | (opcode & 0x0F));
    if (len < 126) {
        out[1] = (uint8_t)(m | len);
        n = 2;
    } else if (len <= 0xFFFF) {
        out[1] = m | 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        n = 4;
    } else {
        out[1] = m | 127;
        for (int i = 0; i < 8; i++) {
            out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
        }
        n = 10;
    }
    if (mask != NULL) {
        memcpy(out + n, mask, 4);
        n += 4;
    }
    return n;
}

size_t pn_ws_write_frame(char *out, size_t cap, unsigned opcode, unsigned flags,
                         const void *payload, size_t len, const uint8_t *mask)
{
    size_t hs = pn_ws_header_size(len, mask != NULL);
    if (len > SIZE_MAX - hs) {
        return SIZE_MAX;
    }
    if (hs + len > cap) {
        return hs + len;
    }
    pn_ws_write_header((uint8_t *)out, opcode, flags, len, mask);
    if (len > 0) {
        memcpy(out + hs, payload, len);
        if (mask != NULL) {
            pn_ws_mask(out + hs, len, mask, 0);
        }
    }
    return hs + len;
}

static ssize_t write_control(uint8_t *out, unsigned opcode, const void *payload, size_t len,
                             const uint8_t *mask)
{
    if (len > PN_WS_MAX_CONTROL_PAYLOAD) {
        return PN_WS_EINVAL;
    }
    size_t n = pn_ws_write_frame((char *)out, PN_WS_MAX_CONTROL_FRAME, opcode, PN_WS_FIN, payload,
                                 len, mask);
    return (ssize_t)n;
}

ssize_t pn_ws_write_close(uint8_t *out, unsigned code, const char *reason, size_t reason_len,
                          const uint8_t *mask)
{
    uint8_t payload[PN_WS_MAX_CONTROL_PAYLOAD];
    size_t n = 0;
    if (code == 0) {
        if (reason_len > 0) {
            return PN_WS_EINVAL;
        }
    } else {
        if (!pn_ws_close_code_sendable(code)) {
            return PN_WS_EINVAL;
        }
        if (reason_len > 0 && !pn_utf8_valid(reason, reason_len)) {
            return PN_WS_EINVAL;
        }
        reason_len = pn_utf8_truncate(reason, reason_len, PN_WS_MAX_CLOSE_REASON);
        payload[0] = (uint8_t)(code >> 8);
        payload[1] = (uint8_t)code;
        if (reason_len > 0) {
            memcpy(payload + 2, reason, reason_len);
        }
        n = 2 + reason_len;
    }
    return write_control(out, PN_WS_OP_CLOSE, payload, n, mask);
}

ssize_t pn_ws_write_ping(uint8_t *out, const void *payload, size_t len, const uint8_t *mask)
{
    return write_control(out, PN_WS_OP_PING, payload, len, mask);
}

ssize_t pn_ws_write_pong(uint8_t *out, const void *payload, size_t len, const uint8_t *mask)
{
    return write_control(out, PN_WS_OP_PONG, payload, len, mask);
}
