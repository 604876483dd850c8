/*
 * test_ws.c — unit tests for ws.c and sha1.c: SHA-1 vectors, the accept key,
 * handshake validation (through the real HTTP/1.1 parser), subprotocol
 * lists, the 101 head, the frame parser (RFC 6455 §5.7 examples and every
 * §5 rule), the frame builder and masking, and a randomized round trip.
 *
 * Every parser case is replayed whole, byte by byte and at random split
 * points; each run must give the same transcript: frames with their payload,
 * then how the stream ended (more bytes needed, closed, or the close code,
 * stream offset and reason of the error). Each call sees only the bytes
 * "received" so far, copied right before an unreadable page; event flags are
 * checked for consistency on every piece.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard.h"
#include "http1.h"
#include "sha1.h"
#include "tap.h"
#include "ws.h"

static const uint8_t KEY[4] = {0x37, 0xfa, 0x21, 0x3d}; /* RFC 6455 §5.7 */

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;

static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

/* ---------------- SHA-1 and the accept key ---------------- */

static void hex(const uint8_t *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        sprintf(out + 2 * i, "%02x", d[i]);
    }
}

static void test_sha1(void)
{
    struct {
        const char *msg;
        const char *digest;
    } v[] = {
        {"", "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
        {"abc", "a9993e364706816aba3e25717850c26c9cd0d89d"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "84983e441c3bd26ebaae4aa1f95129e5e54670f1"},
        {"The quick brown fox jumps over the lazy dog", "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"},
    };
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        uint8_t d[20];
        char h[41];
        pn_sha1(v[i].msg, strlen(v[i].msg), d);
        hex(d, 20, h);
        ok(strcmp(h, v[i].digest) == 0, "sha1 '%.20s'", v[i].msg);
    }
    /* one million 'a', fed in pieces of odd sizes */
    static char a[1000];
    memset(a, 'a', sizeof a);
    pn_sha1_t c;
    pn_sha1_init(&c);
    size_t left = 1000000, step = 1;
    while (left > 0) {
        size_t k = step < left ? step : left;
        k = k > sizeof a ? sizeof a : k;
        pn_sha1_update(&c, a, k);
        left -= k;
        step = step * 7 % 997 + 1;
    }
    uint8_t d[20];
    char h[41];
    pn_sha1_final(&c, d);
    hex(d, 20, h);
    ok(strcmp(h, "34aa973cd4c4daa4f61eeb2bdbad27316534016f") == 0, "sha1 of a million 'a'");

    /* every length around the block and padding boundaries: one-shot == byte by byte */
    uint8_t buf[200];
    int good = 1;
    for (size_t i = 0; i < sizeof buf; i++) {
        buf[i] = (uint8_t)(i * 31 + 7);
    }
    for (size_t n = 0; n <= sizeof buf; n++) {
        uint8_t d1[20], d2[20];
        pn_sha1(buf, n, d1);
        pn_sha1_init(&c);
        for (size_t i = 0; i < n; i++) {
            pn_sha1_update(&c, buf + i, 1);
        }
        pn_sha1_final(&c, d2);
        good &= memcmp(d1, d2, 20) == 0;
    }
    ok(good, "sha1: one-shot equals byte-by-byte for lengths 0-200");
}

static void test_accept_key(void)
{
    char out[PN_WS_ACCEPT_LEN + 1];
    pn_ws_accept_key(PN_SLICE_LIT("dGhlIHNhbXBsZSBub25jZQ=="), out);
    ok(strcmp(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0, "RFC 6455 §1.3 accept key");
    pn_ws_accept_key(PN_SLICE_LIT("x3JJHMbDL1EzLkh9GBhXDw=="), out);
    ok(strcmp(out, "HSmrc0sMlYUkAGmm5OPpG2HaGWk=") == 0, "second accept key");
}

/* ---------------- handshake ---------------- */

typedef struct {
    pn_http1_request_t req;
    pn_header_t headers[64];
    ssize_t rc;
} parsed_t;

static void parse_request(const char *raw, parsed_t *p)
{
    memset(&p->req, 0, sizeof p->req);
    p->req.headers = p->headers;
    pn_http1_limits_t lim = {8190, 65536, 64, 1 << 20};
    pn_http1_error_t err;
    p->rc = pn_http1_parse_request(raw, strlen(raw), &lim, &p->req, &err);
}

static void expect_hs(const char *name, const char *raw, int status, const char *accept)
{
    parsed_t p;
    parse_request(raw, &p);
    if (p.rc <= 0) {
        ok(0, "handshake %s: the request did not parse (%zd)", name, p.rc);
        return;
    }
    pn_ws_handshake_t hs;
    int rc = pn_ws_handshake_check(p.req.method, p.req.minor_version, p.req.headers,
                                   p.req.num_headers, &hs);
    int good = status == 0 ? rc == 0 && hs.status == 0 && hs.reason == NULL &&
                                 strcmp(hs.accept, accept) == 0
                           : rc == PN_EPROTO && hs.status == status && hs.reason != NULL;
    if (!ok(good, "handshake %s -> %d", name, status)) {
        diag("  rc %d status %d reason %s accept %s", rc, hs.status, hs.reason ? hs.reason : "-",
             hs.accept);
    }
}

#define HS_HEAD "GET /chat HTTP/1.1\r\nHost: server.example.com\r\n"
#define HS_KEY "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
#define HS_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

static void test_handshake(void)
{
    expect_hs("RFC example",
              HS_HEAD "Upgrade: websocket\r\nConnection: Upgrade\r\n" HS_KEY
                      "Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n"
                      "Sec-WebSocket-Version: 13\r\n\r\n",
              0, HS_ACCEPT);
    expect_hs("case-insensitive names and tokens",
              HS_HEAD "UPGRADE: WebSocket\r\nconnection: keep-alive, UPGRADE\r\n"
                      "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      "SEC-WEBSOCKET-VERSION: 13\r\n\r\n",
              0, HS_ACCEPT);
    expect_hs("lists across repeated fields",
              HS_HEAD "Upgrade: h2c\r\nUpgrade: , websocket ,\r\nConnection: keep-alive\r\n"
                      "Connection: Upgrade\r\n" HS_KEY "Sec-WebSocket-Version: 13\r\n\r\n",
              0, HS_ACCEPT);
    expect_hs("non-canonical last base64 digit is accepted",
              HS_HEAD
              "Upgrade: websocket\r\nConnection: Upgrade\r\n"
              "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAB==\r\nSec-WebSocket-Version: 13\r\n\r\n",
              0, "NRJrplgTSmBqvVaQhF+6peBS1S8=");
    expect_hs("POST",
              "POST /chat HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nUpgrade: websocket\r\n"
              "Connection: Upgrade\r\n" HS_KEY "Sec-WebSocket-Version: 13\r\n\r\n",
              400, NULL);
    expect_hs("lowercase get",
              "get /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
              "Connection: Upgrade\r\n" HS_KEY "Sec-WebSocket-Version: 13\r\n\r\n",
              400, NULL);
    expect_hs("HTTP/1.0",
              "GET /chat HTTP/1.0\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" HS_KEY
              "Sec-WebSocket-Version: 13\r\n\r\n",
              400, NULL);
    expect_hs("no Upgrade",
              HS_HEAD "Connection: Upgrade\r\n" HS_KEY "Sec-WebSocket-Version: 13\r\n\r\n", 400,
              NULL);
    expect_hs("Upgrade without websocket",
              HS_HEAD "Upgrade: h2c, websocket2\r\nConnection: Upgrade\r\n" HS_KEY
                      "Sec-WebSocket-Version: 13\r\n\r\n",
              400, NULL);
    expect_hs("Upgrade: websocket/13 is not the token",
              HS_HEAD "Upgrade: websocket/13\r\nConnection: Upgrade\r\n" HS_KEY
                      "Sec-WebSocket-Version: 13\r\n\r\n",
              400, NULL);
    expect_hs("no Connection",
              HS_HEAD "Upgrade: websocket\r\n" HS_KEY "Sec-WebSocket-Version: 13\r\n\r\n", 400,
              NULL);
    expect_hs("Connection without upgrade",
              HS_HEAD "Upgrade: websocket\r\nConnection: keep-alive, upgraded\r\n" HS_KEY
                      "Sec-WebSocket-Version: 13\r\n\r\n",
              400, NULL);
    expect_hs("no version", HS_HEAD "Upgrade: websocket\r\nConnection: Upgrade\r\n" HS_KEY "\r\n",
              426, NULL);
    expect_hs("version 8",
              HS_HEAD "Upgrade: websocket\r\nConnection: Upgrade\r\n" HS_KEY
                      "Sec-WebSocket-Version: 8\r\n\r\n",
              426, NULL);
    expect_hs("version list",
              HS_HEAD "Upgrade: websocket\r\nConnection: Upgrade\r\n" HS_KEY
                      "Sec-WebSocket-Version: 13, 8\r\n\r\n",
              426, NULL);
    expect_hs("two versions",
              HS_HEAD "Upgrade: websocket\r\nConnection: Upgrade\r\n" HS_KEY
                      "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Version: 13\r\n\r\n",
              426, NULL);
    expect_hs("version checked before the key",
              HS_HEAD
              "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 7\r\n\r\n",
              426, NULL);
    expect_hs("no key",
              HS_HEAD
              "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n",
              400, NULL);
    const char *bad_keys[] = {
        "dGhlIHNhbXBsZSBub25jZQ=",     /* 23 */
        "dGhlIHNhbXBsZSBub25jZQ===",   /* 25 */
        "dGhlIHNhbXBsZSBub25jZQ",      /* no padding */
        "dGhlIHNhbXBsZSBub25jZ===",    /* 15 bytes */
        "dGhlIHNhbXBsZSBub25jZQ-=",    /* bad padding */
        "dGhlIHNhbXBsZSBub25j*Q==",    /* not base64 */
        "dGhlIHNhbXBsZSBub25jZQ+AAAA", /* 20 bytes */
        "",
    };
    for (size_t i = 0; i < sizeof bad_keys / sizeof *bad_keys; i++) {
        char raw[512];
        snprintf(raw, sizeof raw,
                 HS_HEAD "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                         "Sec-WebSocket-Version: 13\r\n\r\n",
                 bad_keys[i]);
        char name[64];
        snprintf(name, sizeof name, "bad key '%s'", bad_keys[i]);
        expect_hs(name, raw, 400, NULL);
    }
    expect_hs("two keys",
              HS_HEAD "Upgrade: websocket\r\nConnection: Upgrade\r\n" HS_KEY HS_KEY
                      "Sec-WebSocket-Version: 13\r\n\r\n",
              400, NULL);
    expect_hs("bad subprotocol list",
              HS_HEAD "Upgrade: websocket\r\nConnection: Upgrade\r\n" HS_KEY
                      "Sec-WebSocket-Protocol: chat, super chat\r\n"
                      "Sec-WebSocket-Version: 13\r\n\r\n",
              400, NULL);
}

static void test_subprotocols(void)
{
    pn_header_t h[] = {
        {PN_SLICE_LIT("Host"), PN_SLICE_LIT("a, b")},
        {PN_SLICE_LIT("Sec-WebSocket-Protocol"), PN_SLICE_LIT("chat, , superchat")},
        {PN_SLICE_LIT("sec-websocket-protocol"), PN_SLICE_LIT("v2.bookings.example.net")},
        {PN_SLICE_LIT("SEC-WEBSOCKET-PROTOCOL"), PN_SLICE_LIT("")},
    };
    pn_slice_t out[4];
    ssize_t n = pn_ws_subprotocols(h, 4, out, 4);
    int good = n == 3 && out[0].len == 4 && memcmp(out[0].base, "chat", 4) == 0 &&
               out[1].len == 9 && memcmp(out[1].base, "superchat", 9) == 0 &&
               pn_slice_ieq(out[2], "v2.bookings.example.net");
    ok(good, "subprotocols: lists across fields, empty elements skipped, in order");
    ok(out[0].base == h[1].value.base, "subprotocols are slices of the header values");
    pn_slice_t one[1];
    ok(pn_ws_subprotocols(h, 4, one, 1) == 3 && pn_slice_ieq(one[0], "chat"),
       "subprotocols: count beyond max, first max stored");
    ok(pn_ws_subprotocols(h, 1, NULL, 0) == 0, "no Sec-WebSocket-Protocol field: 0");
    pn_header_t bad[] = {{PN_SLICE_LIT("Sec-WebSocket-Protocol"), PN_SLICE_LIT("a, b/c")}};
    ok(pn_ws_subprotocols(bad, 1, out, 4) == PN_EPROTO, "subprotocols: non-token -> PN_EPROTO");
}

static void test_response(void)
{
    char out[512];
    const char *why = NULL;
    ssize_t n = pn_ws_write_response(out, sizeof out, HS_ACCEPT, PN_SLICE_LIT(""), PN_SLICE_LIT(""),
                                     NULL, 0, &why);
    const char *want1 = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nSec-WebSocket-Accept: " HS_ACCEPT "\r\n\r\n";
    ok(n == (ssize_t)strlen(want1) && memcmp(out, want1, (size_t)n) == 0, "101 head, minimal");

    pn_header_t extra[] = {{PN_SLICE_LIT("Set-Cookie"), PN_SLICE_LIT("a=b")},
                           {PN_SLICE_LIT("x-id"), PN_SLICE_LIT("7")}};
    n = pn_ws_write_response(out, sizeof out, HS_ACCEPT, PN_SLICE_LIT("chat"),
                             PN_SLICE_LIT("permessage-deflate"), extra, 2, &why);
    const char *want2 = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nSec-WebSocket-Accept: " HS_ACCEPT "\r\n"
                        "Sec-WebSocket-Protocol: chat\r\n"
                        "Sec-WebSocket-Extensions: permessage-deflate\r\n"
                        "Set-Cookie: a=b\r\nx-id: 7\r\n\r\n";
    ok(n == (ssize_t)strlen(want2) && memcmp(out, want2, (size_t)n) == 0,
       "101 head with subprotocol, extensions and extra fields");
    ssize_t need = pn_ws_write_response(NULL, 0, HS_ACCEPT, PN_SLICE_LIT("chat"),
                                        PN_SLICE_LIT("permessage-deflate"), extra, 2, &why);
    ok(need == n, "cap 0 measures the head");
    char *small = guard_copy("", 0) - (size_t)(n - 1);
    ok(pn_ws_write_response(small, (size_t)(n - 1), HS_ACCEPT, PN_SLICE_LIT("chat"),
                            PN_SLICE_LIT("permessage-deflate"), extra, 2, &why) == n,
       "one byte short: length returned, nothing written past cap");

    struct {
        pn_slice_t sub, ext;
        pn_header_t h;
        const char *name;
    } bad[] = {
        {PN_SLICE_LIT("a b"),
         PN_SLICE_LIT(""),
         {PN_SLICE_LIT("x"), PN_SLICE_LIT("y")},
         "subprotocol"},
        {PN_SLICE_LIT(""),
         PN_SLICE_LIT("a\r\nb"),
         {PN_SLICE_LIT("x"), PN_SLICE_LIT("y")},
         "ext CRLF"},
        {PN_SLICE_LIT(""), PN_SLICE_LIT(""), {PN_SLICE_LIT("x y"), PN_SLICE_LIT("y")}, "name"},
        {PN_SLICE_LIT(""), PN_SLICE_LIT(""), {PN_SLICE_LIT(""), PN_SLICE_LIT("y")}, "empty name"},
        {PN_SLICE_LIT(""), PN_SLICE_LIT(""), {PN_SLICE_LIT("x"), PN_SLICE_LIT("a\nb")}, "LF"},
        {PN_SLICE_LIT(""), PN_SLICE_LIT(""), {PN_SLICE_LIT("x"), {"a\0b", 3}}, "NUL"},
        {PN_SLICE_LIT(""), PN_SLICE_LIT(""), {PN_SLICE_LIT("x"), PN_SLICE_LIT("a\rb")}, "CR"},
        {PN_SLICE_LIT(""),
         PN_SLICE_LIT(""),
         {PN_SLICE_LIT("connection"), PN_SLICE_LIT("close")},
         "Connection"},
        {PN_SLICE_LIT(""),
         PN_SLICE_LIT(""),
         {PN_SLICE_LIT("Upgrade"), PN_SLICE_LIT("h2c")},
         "Upgrade"},
        {PN_SLICE_LIT(""),
         PN_SLICE_LIT(""),
         {PN_SLICE_LIT("Sec-WebSocket-Protocol"), PN_SLICE_LIT("x")},
         "Sec-WebSocket-Protocol"},
        {PN_SLICE_LIT(""),
         PN_SLICE_LIT(""),
         {PN_SLICE_LIT("Content-Length"), PN_SLICE_LIT("0")},
         "Content-Length"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        why = NULL;
        n = pn_ws_write_response(out, sizeof out, HS_ACCEPT, bad[i].sub, bad[i].ext, &bad[i].h, 1,
                                 &why);
        ok(n == PN_WS_EINVAL && why != NULL, "101 head refuses bad %s", bad[i].name);
    }

    pn_header_t f[4];
    size_t nf = pn_ws_response_fields(HS_ACCEPT, PN_SLICE_LIT("chat"), PN_SLICE_LIT(""), f);
    ok(nf == 3 && pn_slice_ieq(f[0].name, "upgrade") && pn_slice_ieq(f[0].value, "websocket") &&
           pn_slice_ieq(f[1].name, "sec-websocket-accept") && f[1].value.len == 28 &&
           pn_slice_ieq(f[2].name, "sec-websocket-protocol") && pn_slice_ieq(f[2].value, "chat"),
       "response fields for a writer that adds Connection itself");
}

/* ---------------- frame parser ---------------- */

typedef struct {
    uint8_t *b;
    size_t n, cap;
} bytes_t;

static void put(bytes_t *s, const void *p, size_t n)
{
    if (s->n + n > s->cap) {
        s->cap = (s->n + n) * 2 + 64;
        s->b = realloc(s->b, s->cap);
    }
    if (n > 0) {
        memcpy(s->b + s->n, p, n);
    }
    s->n += n;
}

static void putc8(bytes_t *s, unsigned c)
{
    uint8_t b = (uint8_t)c;
    put(s, &b, 1);
}

/*
 * A frame composed by hand (not with the builder): b0 is the whole first
 * byte; form 0 picks the minimal length encoding, 7/16/64 force one; key NULL
 * sends it unmasked.
 */
static void frame(bytes_t *s, unsigned b0, const void *payload, size_t len, int form,
                  const uint8_t *key)
{
    unsigned m = key ? 0x80 : 0;
    if (form == 0) {
        form = len < 126 ? 7 : len < 65536 ? 16 : 64;
    }
    putc8(s, b0);
    if (form == 7) {
        putc8(s, m | (unsigned)len);
    } else if (form == 16) {
        putc8(s, m | 126);
        putc8(s, (unsigned)(len >> 8));
        putc8(s, (unsigned)len);
    } else {
        putc8(s, m | 127);
        for (int i = 7; i >= 0; i--) {
            putc8(s, (unsigned)((uint64_t)len >> (8 * i)));
        }
    }
    if (key) {
        put(s, key, 4);
    }
    size_t at = s->n;
    put(s, payload, len);
    if (key) {
        for (size_t i = 0; i < len; i++) {
            s->b[at + i] ^= key[i & 3];
        }
    }
}

/* masked client frame with the RFC key */
static void cf(bytes_t *s, unsigned b0, const char *payload)
{
    frame(s, b0, payload, strlen(payload), 0, KEY);
}

typedef struct {
    char *log;
    size_t len, cap;
    int violations;
} run_t;

static void logf_(run_t *r, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (r->len + (size_t)n + 1 > r->cap) {
        r->cap = (r->len + (size_t)n + 1) * 2;
        r->log = realloc(r->log, r->cap);
    }
    memcpy(r->log + r->len, tmp, (size_t)n + 1);
    r->len += (size_t)n;
}

static const char *op_name(unsigned op)
{
    switch (op) {
    case PN_WS_OP_CONT:
        return "cont";
    case PN_WS_OP_TEXT:
        return "text";
    case PN_WS_OP_BINARY:
        return "bin";
    case PN_WS_OP_CLOSE:
        return "close";
    case PN_WS_OP_PING:
        return "ping";
    case PN_WS_OP_PONG:
        return "pong";
    default:
        return "?";
    }
}

static void log_payload(run_t *r, const uint8_t *p, size_t n)
{
    if (n > 40) {
        uint32_t h = 2166136261u;
        for (size_t i = 0; i < n; i++) {
            h = (h ^ p[i]) * 16777619u;
        }
        logf_(r, "#%zu/%08x", n, h);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7F && p[i] != '\\' && p[i] != ';') {
            logf_(r, "%c", p[i]);
        } else {
            logf_(r, "\\x%02x", p[i]);
        }
    }
}

/*
 * Runs in[0..n) through a parser, the bytes arriving in pieces that end at
 * cuts[0..ncuts) then n. Appends the transcript to r.
 */
static void run_stream(const uint8_t *in, size_t n, uint64_t max, unsigned flags,
                       const size_t *cuts, size_t ncuts, run_t *r)
{
    uint8_t *stream = malloc(n ? n : 1);
    uint8_t *frame_data = malloc(n ? n : 1);
    memcpy(stream, in, n);
    pn_ws_parser_t p;
    pn_ws_parser_init(&p, max, flags);
    size_t start = 0, avail = ncuts > 0 ? cuts[0] : n, next_cut = 1;
    int in_frame = 0, in_msg = 0;
    size_t got = 0;
    pn_ws_event_t first = {0};
    for (;;) {
        size_t wlen = avail - start;
        char *w = guard_copy(stream + start, wlen);
        pn_ws_event_t ev;
        memset(&ev, 0xAB, sizeof ev);
        ssize_t rc = pn_ws_parse(&p, w, wlen, &ev);
        if (rc == PN_INCOMPLETE) {
            if (avail == n) {
                logf_(r, "|more");
                break;
            }
            while (next_cut < ncuts && cuts[next_cut] <= avail) {
                next_cut++;
            }
            avail = next_cut < ncuts ? cuts[next_cut++] : n;
            continue;
        }
        if (rc == PN_EPROTO) {
            logf_(r, "|%u@%llu %s", p.error.close_code, (unsigned long long)p.error.offset,
                  p.error.reason);
            r->violations += pn_ws_parse(&p, w, wlen, &ev) != PN_EPROTO; /* sticky */
            break;
        }
        if (rc == PN_WS_CLOSED) {
            logf_(r, "|closed");
            break;
        }
        if (rc <= 0 || (size_t)rc > wlen) {
            logf_(r, "|bad rc %zd", rc);
            r->violations++;
            break;
        }
        /* the event's piece lies in the consumed range */
        const char *d = ev.data.base;
        if (ev.data.len > 0 && (d < w || d + ev.data.len > w + rc)) {
            r->violations++;
        }
        unsigned f = ev.flags;
        int control = (ev.opcode & 8) != 0;
        if (!!(f & PN_WS_EV_FRAME_START) == in_frame) {
            r->violations++;
        }
        if (f & PN_WS_EV_FRAME_START) {
            first = ev;
            got = 0;
            in_frame = 1;
        } else if (ev.opcode != first.opcode || ev.frame_len != first.frame_len ||
                   ev.message_opcode != first.message_opcode) {
            r->violations++;
        }
        if (!control) {
            if ((f & PN_WS_EV_MESSAGE_START) && (in_msg || !(f & PN_WS_EV_FRAME_START))) {
                r->violations++;
            }
            if (f & PN_WS_EV_MESSAGE_START) {
                in_msg = 1;
            }
            /* only the first piece may be empty (the header arrived alone) */
            if (ev.data.len == 0 && ev.frame_len != 0 && !(f & PN_WS_EV_FRAME_START)) {
                r->violations++;
            }
        }
        memcpy(frame_data + got, d, ev.data.len);
        got += ev.data.len;
        memcpy(stream + start, w, (size_t)rc); /* keep the unmasked bytes */
        start += (size_t)rc;
        if (f & PN_WS_EV_FRAME_END) {
            in_frame = 0;
            if (!control && got != ev.frame_len) {
                r->violations++;
            }
            if (f & PN_WS_EV_MESSAGE_END) {
                if (!(f & PN_WS_EV_FIN) || !in_msg) {
                    r->violations++;
                }
                in_msg = 0;
            }
            logf_(r, "%s%s%s%s%s:", op_name(ev.opcode), f & PN_WS_EV_FIN ? "F" : "",
                  f & PN_WS_EV_COMPRESSED ? "C" : "",
                  first.flags & PN_WS_EV_MESSAGE_START ? "S" : "",
                  f & PN_WS_EV_MESSAGE_END ? "E" : "");
            if (ev.opcode == PN_WS_OP_CLOSE) {
                logf_(r, "%u:", ev.close_code);
            }
            log_payload(r, frame_data, got);
            logf_(r, ";");
        } else if (got >= ev.frame_len && !control) {
            r->violations++;
        }
    }
    free(stream);
    free(frame_data);
}

static char *transcript(const bytes_t *s, uint64_t max, unsigned flags, const size_t *cuts,
                        size_t ncuts, int *violations)
{
    run_t r = {NULL, 0, 0, 0};
    logf_(&r, "%s", "");
    run_stream(s->b, s->n, max, flags, cuts, ncuts, &r);
    *violations += r.violations;
    return r.log;
}

/* Whole, byte by byte, and random pieces must all give `want`. */
static void expect_frames(const char *name, const bytes_t *s, uint64_t max, unsigned flags,
                          const char *want)
{
    int violations = 0;
    char *whole = transcript(s, max, flags, NULL, 0, &violations);
    int good = strcmp(whole, want) == 0;
    if (!ok(good, "%s", name)) {
        diag("  want %s", want);
        diag("  got  %s", whole);
    }
    size_t *cuts = malloc((s->n + 8) * sizeof *cuts);
    for (size_t i = 0; i < s->n; i++) {
        cuts[i] = i + 1;
    }
    char *bytewise = transcript(s, max, flags, cuts, s->n, &violations);
    int same = strcmp(bytewise, whole) == 0;
    for (int k = 0; k < 8 && same; k++) {
        size_t nc = s->n ? rnd() % 5 : 0;
        for (size_t i = 0; i < nc; i++) {
            cuts[i] = rnd() % (s->n + 1);
        }
        for (size_t i = 1; i < nc; i++) {
            for (size_t j = i; j > 0 && cuts[j - 1] > cuts[j]; j--) {
                size_t t = cuts[j];
                cuts[j] = cuts[j - 1];
                cuts[j - 1] = t;
            }
        }
        char *split = transcript(s, max, flags, cuts, nc, &violations);
        same = strcmp(split, whole) == 0;
        if (!same) {
            diag("  split: %s", split);
        }
        free(split);
    }
    if (!ok(same && violations == 0, "%s: same transcript at any split", name)) {
        diag("  bytewise %s (violations %d)", bytewise, violations);
    }
    free(whole);
    free(bytewise);
    free(cuts);
}

#define CASE_BEGIN bytes_t s = {NULL, 0, 0}
#define CASE_END free(s.b)

static void test_rfc_examples(void)
{
    {
        CASE_BEGIN;
        put(&s, "\x81\x05\x48\x65\x6c\x6c\x6f", 7);
        expect_frames("§5.7 unmasked Hello (client role)", &s, 0, PN_WS_F_CLIENT,
                      "textFSE:Hello;|more");
        expect_frames("§5.7 unmasked Hello (server role)", &s, 0, 0,
                      "|1002@0 unmasked client frame");
        CASE_END;
    }
    {
        CASE_BEGIN;
        put(&s, "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11);
        expect_frames("§5.7 masked Hello", &s, 0, 0, "textFSE:Hello;|more");
        expect_frames("§5.7 masked Hello (client role)", &s, 0, PN_WS_F_CLIENT,
                      "|1002@0 masked server frame");
        CASE_END;
    }
    {
        CASE_BEGIN;
        put(&s, "\x01\x03\x48\x65\x6c\x80\x02\x6c\x6f", 9);
        expect_frames("§5.7 fragmented Hel|lo", &s, 0, PN_WS_F_CLIENT, "textS:Hel;contFE:lo;|more");
        CASE_END;
    }
    {
        CASE_BEGIN;
        put(&s, "\x89\x05\x48\x65\x6c\x6c\x6f\x8a\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 7);
        expect_frames("§5.7 unmasked ping", &s, 0, PN_WS_F_CLIENT, "pingF:Hello;|more");
        CASE_END;
    }
    {
        CASE_BEGIN;
        put(&s, "\x8a\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11);
        expect_frames("§5.7 masked pong", &s, 0, 0, "pongF:Hello;|more");
        CASE_END;
    }
    {
        CASE_BEGIN;
        uint8_t data[65536];
        for (size_t i = 0; i < sizeof data; i++) {
            data[i] = (uint8_t)(i * 7);
        }
        put(&s, "\x82\x7E\x01\x00", 4);
        put(&s, data, 256);
        put(&s, "\x82\x7F\x00\x00\x00\x00\x00\x01\x00\x00", 10);
        put(&s, data, 65536);
        run_t ref = {NULL, 0, 0, 0};
        logf_(&ref, "binFSE:");
        log_payload(&ref, data, 256);
        logf_(&ref, ";binFSE:");
        log_payload(&ref, data, 65536);
        logf_(&ref, ";|more");
        expect_frames("§5.7 256-byte and 64 KiB binary frames", &s, 0, PN_WS_F_CLIENT, ref.log);
        free(ref.log);
        CASE_END;
    }
}

static void test_header_rules(void)
{
    static const struct {
        const char *name;
        unsigned b0;
        const char *want;
    } first_byte[] = {
        {"RSV2", 0x80 | 0x20 | 1, "|1002@0 RSV2 or RSV3 set"},
        {"RSV3", 0x80 | 0x10 | 1, "|1002@0 RSV2 or RSV3 set"},
        {"RSV1 without deflate", 0x80 | 0x40 | 1, "|1002@0 RSV1 set without permessage-deflate"},
        {"opcode 3", 0x83, "|1002@0 reserved opcode"},
        {"opcode 7", 0x87, "|1002@0 reserved opcode"},
        {"opcode 0xB", 0x8B, "|1002@0 reserved opcode"},
        {"opcode 0xF", 0x8F, "|1002@0 reserved opcode"},
        {"ping without FIN", 0x09, "|1002@0 fragmented control frame"},
        {"close without FIN", 0x08, "|1002@0 fragmented control frame"},
        {"continuation first", 0x80, "|1002@0 continuation frame without a fragmented message"},
    };
    for (size_t i = 0; i < sizeof first_byte / sizeof *first_byte; i++) {
        CASE_BEGIN;
        frame(&s, first_byte[i].b0, "x", 1, 0, KEY);
        expect_frames(first_byte[i].name, &s, 0, 0, first_byte[i].want);
        /* fail fast: the first byte alone is enough */
        s.n = 1;
        expect_frames(first_byte[i].name, &s, 0, 0, first_byte[i].want);
        CASE_END;
    }
    for (unsigned op = 0; op < 16; op++) {
        CASE_BEGIN;
        frame(&s, 0x80 | op, "", 0, 0, KEY);
        run_t r = {NULL, 0, 0, 0};
        logf_(&r, "%s", "");
        run_stream(s.b, s.n, 0, 0, NULL, 0, &r);
        int reserved = (op >= 3 && op <= 7) || op >= 0xB;
        int refused = strstr(r.log, "|1002@0") != NULL;
        ok(reserved == refused || op == 0, "opcode %u %s", op, reserved ? "refused" : "accepted");
        free(r.log);
        CASE_END;
    }
    {
        CASE_BEGIN;
        frame(&s, 0xC1, "\xf2\x48\xcd\xc9\xc9\x07\x00", 7, 0, KEY);
        expect_frames("RSV1 with deflate: compressed text, UTF-8 not checked here", &s, 0,
                      PN_WS_F_DEFLATE, "textFCSE:\\xf2H\\xcd\\xc9\\xc9\\x07\\x00;|more");
        CASE_END;
    }
    {
        CASE_BEGIN;
        frame(&s, 0x41, "ab", 2, 0, KEY);
        frame(&s, 0xC0, "cd", 2, 0, KEY);
        expect_frames("RSV1 on a continuation frame", &s, 0, PN_WS_F_DEFLATE,
                      "textCS:ab;|1002@8 RSV1 set on a continuation frame");
        CASE_END;
    }
    {
        CASE_BEGIN;
        frame(&s, 0xC9, "", 0, 0, KEY);
        expect_frames("RSV1 on a ping", &s, 0, PN_WS_F_DEFLATE,
                      "|1002@0 RSV1 set on a control frame");
        CASE_END;
    }
    {
        CASE_BEGIN;
        frame(&s, 0x41, "ab", 2, 0, KEY);
        frame(&s, 0x89, "p", 1, 0, KEY);
        frame(&s, 0x80, "cd", 2, 0, KEY);
        expect_frames("compressed message with a ping inside", &s, 0, PN_WS_F_DEFLATE,
                      "textCS:ab;pingF:p;contFCE:cd;|more");
        CASE_END;
    }
    {
        CASE_BEGIN;
        frame(&s, 0x82, "", 0, 0, NULL);
        expect_frames("unmasked binary", &s, 0, 0, "|1002@0 unmasked client frame");
        s.n = 2;
        expect_frames("unmasked: found from the first two bytes", &s, 0, 0,
                      "|1002@0 unmasked client frame");
        CASE_END;
    }
}

static void test_lengths(void)
{
    uint8_t big[70000];
    memset(big, 'z', sizeof big);
    {
        CASE_BEGIN;
        frame(&s, 0x82, big, 125, 16, KEY);
        expect_frames("125 in the 16-bit form", &s, 0, 0, "|1002@0 non-minimal frame length");
        s.n = 4;
        expect_frames("non-minimal 16-bit: found before the mask key", &s, 0, 0,
                      "|1002@0 non-minimal frame length");
        CASE_END;
    }
    {
        CASE_BEGIN;
        frame(&s, 0x82, big, 65535, 64, KEY);
        expect_frames("65535 in the 64-bit form", &s, 0, 0, "|1002@0 non-minimal frame length");
        CASE_END;
    }
    {
        CASE_BEGIN;
        frame(&s, 0x82, big, 0, 64, KEY);
        expect_frames("0 in the 64-bit form", &s, 0, 0, "|1002@0 non-minimal frame length");
        CASE_END;
    }
    {
        CASE_BEGIN;
        put(&s, "\x82\xFF\x80\x00\x00\x00\x00\x00\x00\x00", 10);
        expect_frames("64-bit length with the top bit set", &s, 0, 0,
                      "|1002@0 64-bit frame length with the top bit set");
        CASE_END;
    }
    {
        CASE_BEGIN;
        put(&s, "\x82\xFF\x7F\xFF\xFF\xFF\xFF\xFF\xFF\xFF", 10);
        expect_frames("2^63-1 bytes: too big for any limit", &s, UINT64_MAX, 0, "|more");
        expect_frames("2^63-1 bytes with the default limit", &s, 0, 0, "|1009@0 message too big");
        CASE_END;
    }
    size_t sizes[] = {0, 1, 125, 126, 127, 65535, 65536, 69999};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        CASE_BEGIN;
        frame(&s, 0x82, big, sizes[i], 0, KEY);
        frame(&s, 0x82, big, sizes[i], 0, KEY);
        run_t ref = {NULL, 0, 0, 0};
        for (int k = 0; k < 2; k++) {
            logf_(&ref, "binFSE:");
            log_payload(&ref, big, sizes[i]);
            logf_(&ref, ";");
        }
        logf_(&ref, "|more");
        char name[64];
        snprintf(name, sizeof name, "minimal length %zu", sizes[i]);
        expect_frames(name, &s, 0, 0, ref.log);
        free(ref.log);
        CASE_END;
    }
}

static void test_control_rules(void)
{
    char p125[126];
    memset(p125, 'p', 125);
    p125[125] = '\0';
    {
        CASE_BEGIN;
        cf(&s, 0x89, p125);
        run_t r = {NULL, 0, 0, 0};
        logf_(&r, "pingF:");
        log_payload(&r, (const uint8_t *)p125, 125);
        logf_(&r, ";|more");
        expect_frames("ping of 125 bytes", &s, 0, 0, r.log);
        free(r.log);
        CASE_END;
    }
    {
        CASE_BEGIN;
        frame(&s, 0x89, p125, 126, 0, KEY);
        expect_frames("ping of 126 bytes", &s, 0, 0,
                      "|1002@0 control frame payload over 125 bytes");
        CASE_END;
    }
    {
        CASE_BEGIN;
        cf(&s, 0x8A, "");
        cf(&s, 0x89, "");
        expect_frames("empty pong and ping", &s, 0, 0, "pongF:;pingF:;|more");
        CASE_END;
    }
    {
        CASE_BEGIN;
        cf(&s, 0x01, "frag");
        cf(&s, 0x89, "ping");
        cf(&s, 0x00, "ment");
        cf(&s, 0x8A, "pong");
        cf(&s, 0x80, "ed");
        expect_frames("control frames between fragments", &s, 0, 0,
                      "textS:frag;pingF:ping;cont:ment;pongF:pong;contFE:ed;|more");
        CASE_END;
    }
    {
        CASE_BEGIN;
        cf(&s, 0x01, "frag");
        cf(&s, 0x01, "again");
        expect_frames("new text inside a fragmented message", &s, 0, 0,
                      "textS:frag;|1002@10 new data frame inside a fragmented message");
        CASE_END;
    }
    {
        CASE_BEGIN;
        cf(&s, 0x02, "frag");
        cf(&s, 0x82, "again");
        expect_frames("new binary inside a fragmented message", &s, 0, 0,
                      "binS:frag;|1002@10 new data frame inside a fragmented message");
        CASE_END;
    }
    {
        CASE_BEGIN;
        cf(&s, 0x81, "done");
        cf(&s, 0x80, "more");
        expect_frames("continuation after a complete message", &s, 0, 0,
                      "textFSE:done;|1002@10 continuation frame without a fragmented message");
        CASE_END;
    }
    {
        CASE_BEGIN;
        cf(&s, 0x01, "");
        cf(&s, 0x00, "");
        cf(&s, 0x80, "");
        expect_frames("empty fragments", &s, 0, 0, "textS:;cont:;contFE:;|more");
        CASE_END;
    }
}

static void close_frame(bytes_t *s, unsigned code, const char *reason, size_t rlen)
{
    uint8_t p[200];
    p[0] = (uint8_t)(code >> 8);
    p[1] = (uint8_t)code;
    memcpy(p + 2, reason, rlen);
    frame(s, 0x88, p, 2 + rlen, 0, KEY);
}

static void test_close_rules(void)
{
    {
        CASE_BEGIN;
        cf(&s, 0x88, "");
        cf(&s, 0x81, "after");
        expect_frames("empty close: 1005, then nothing is parsed", &s, 0, 0,
                      "closeF:1005:;|closed");
        CASE_END;
    }
    {
        CASE_BEGIN;
        cf(&s, 0x88, "x");
        expect_frames("close with 1 byte", &s, 0, 0, "|1002@0 close frame payload of 1 byte");
        s.n = 2;
        expect_frames("close with 1 byte: found from the header", &s, 0, 0,
                      "|1002@0 close frame payload of 1 byte");
        CASE_END;
    }
    {
        CASE_BEGIN;
        close_frame(&s, 1000, "bye", 3);
        put(&s, "\xff\xff", 2);
        expect_frames("close 1000 with a reason; garbage after it is ignored", &s, 0, 0,
                      "closeF:1000:bye;|closed");
        CASE_END;
    }
    unsigned valid[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009,
                        1010, 1011, 3000, 3999, 4000, 4999};
    for (size_t i = 0; i < sizeof valid / sizeof *valid; i++) {
        CASE_BEGIN;
        close_frame(&s, valid[i], "", 0);
        char want[64], name[64];
        snprintf(want, sizeof want, "closeF:%u:;|closed", valid[i]);
        snprintf(name, sizeof name, "close code %u accepted", valid[i]);
        expect_frames(name, &s, 0, 0, want);
        CASE_END;
    }
    unsigned invalid[] = {0,    999,  1004, 1005, 1006, 1012, 1013, 1014,
                          1015, 1016, 1100, 2000, 2999, 5000, 65535};
    for (size_t i = 0; i < sizeof invalid / sizeof *invalid; i++) {
        CASE_BEGIN;
        close_frame(&s, invalid[i], "", 0);
        char name[64];
        snprintf(name, sizeof name, "close code %u refused", invalid[i]);
        expect_frames(name, &s, 0, 0, "|1002@0 invalid close code");
        CASE_END;
    }
    {
        CASE_BEGIN;
        close_frame(&s, 1000, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80", 14);
        expect_frames("close reason with a surrogate", &s, 0, 0,
                      "|1007@20 invalid UTF-8 in a close reason");
        CASE_END;
    }
    {
        CASE_BEGIN;
        close_frame(&s, 1000, "ok\xe2\x82", 4);
        expect_frames("close reason cut inside a character", &s, 0, 0,
                      "|1007@12 invalid UTF-8 in a close reason");
        CASE_END;
    }
    {
        CASE_BEGIN;
        cf(&s, 0x01, "frag");
        close_frame(&s, 1001, "going", 5);
        expect_frames("close inside a fragmented message", &s, 0, 0,
                      "textS:frag;closeF:1001:going;|closed");
        CASE_END;
    }
    {
        CASE_BEGIN;
        char reason[124];
        memset(reason, 'r', 123);
        close_frame(&s, 1000, reason, 123);
        run_t r = {NULL, 0, 0, 0};
        logf_(&r, "closeF:1000:");
        log_payload(&r, (const uint8_t *)reason, 123);
        logf_(&r, ";|closed");
        expect_frames("close with a 123-byte reason", &s, 0, 0, r.log);
        free(r.log);
        CASE_END;
    }
}

static void test_utf8_rules(void)
{
    {
        CASE_BEGIN;
        cf(&s, 0x81, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5");
        expect_frames("valid UTF-8 text", &s, 0, 0,
                      "textFSE:\\xce\\xba\\xe1\\xbd\\xb9\\xcf\\x83\\xce\\xbc\\xce\\xb5;|more");
        CASE_END;
    }
    {
        CASE_BEGIN;
        cf(&s, 0x81, "ab\xc0\xafzz");
        expect_frames("overlong in a text frame", &s, 0, 0,
                      "|1007@8 invalid UTF-8 in a text message");
        s.n = 9; /* header + "ab" + the bad byte: the rest never arrives */
        expect_frames("fail fast inside a frame", &s, 0, 0,
                      "|1007@8 invalid UTF-8 in a text message");
        CASE_END;
    }
    {
        CASE_BEGIN;
        cf(&s, 0x01, "\xe2");
        cf(&s, 0x00, "\x82");
        cf(&s, 0x80, "\xac!");
        expect_frames("a character split over three frames", &s, 0, 0,
                      "textS:\\xe2;cont:\\x82;contFE:\\xac!;|more");
        CASE_END;
    }
    {
        CASE_BEGIN;
        cf(&s, 0x01, "\xf4");
        cf(&s, 0x00, "\x90");
        expect_frames("invalid across frames fails at the second", &s, 0, 0,
                      "textS:\\xf4;|1007@13 invalid UTF-8 in a text message");
        CASE_END;
    }
    {
        CASE_BEGIN;
        cf(&s, 0x01, "ok");
        cf(&s, 0x80, "\xe2\x82");
        expect_frames("text ending inside a character", &s, 0, 0,
                      "textS:ok;|1007@16 text message ends inside a UTF-8 sequence");
        CASE_END;
    }
    {
        CASE_BEGIN;
        cf(&s, 0x82, "\xff\xfe");
        cf(&s, 0x02, "\xc0");
        cf(&s, 0x80, "\x80");
        expect_frames("binary is not UTF-8 checked", &s, 0, 0,
                      "binFSE:\\xff\\xfe;binS:\\xc0;contFE:\\x80;|more");
        CASE_END;
    }
    {
        CASE_BEGIN;
        cf(&s, 0x01, "\xe2");
        cf(&s, 0x89, "\xff");
        cf(&s, 0x80, "\x82\xac");
        expect_frames("a ping between the bytes of a character", &s, 0, 0,
                      "textS:\\xe2;pingF:\\xff;contFE:\\x82\\xac;|more");
        CASE_END;
    }
    {
        CASE_BEGIN;
        cf(&s, 0x81, "\xe2");
        cf(&s, 0x81, "\x82\xac");
        expect_frames("a new message does not continue the last one's character", &s, 0, 0,
                      "|1007@7 text message ends inside a UTF-8 sequence");
        CASE_END;
    }
}

static void test_size_limit(void)
{
    {
        CASE_BEGIN;
        cf(&s, 0x81, "0123456789");
        expect_frames("exactly max_message_size", &s, 10, 0, "textFSE:0123456789;|more");
        CASE_END;
    }
    {
        CASE_BEGIN;
        cf(&s, 0x81, "0123456789A");
        expect_frames("one over", &s, 10, 0, "|1009@0 message too big");
        s.n = 6; /* just the header */
        expect_frames("one over: decided from the header alone", &s, 10, 0,
                      "|1009@0 message too big");
        CASE_END;
    }
    {
        CASE_BEGIN;
        cf(&s, 0x02, "012345");
        cf(&s, 0x89, "ping does not count");
        cf(&s, 0x00, "6789");
        cf(&s, 0x80, "A");
        expect_frames("limit over fragments", &s, 10, 0,
                      "binS:012345;pingF:ping does not count;cont:6789;|1009@47 message too big");
        CASE_END;
    }
    {
        CASE_BEGIN;
        cf(&s, 0x82, "0123456789");
        cf(&s, 0x82, "0123456789");
        expect_frames("the count restarts with each message", &s, 10, 0,
                      "binFSE:0123456789;binFSE:0123456789;|more");
        CASE_END;
    }
    {
        CASE_BEGIN;
        char p[200];
        memset(p, 'c', sizeof p);
        frame(&s, 0xC2, p, 10 + 64, 0, KEY);
        frame(&s, 0xC2, p, 10 + 65, 0, KEY);
        run_t r = {NULL, 0, 0, 0};
        logf_(&r, "binFCSE:");
        log_payload(&r, (const uint8_t *)p, 74);
        logf_(&r, ";|1009@80 message too big");
        expect_frames("compressed messages get deflate's slack on the wire", &s, 10,
                      PN_WS_F_DEFLATE, r.log);
        free(r.log);
        CASE_END;
    }
    {
        CASE_BEGIN;
        put(&s, "\x82\xFF\x00\x00\x00\x01\x00\x00\x00\x00", 10);
        expect_frames("4 GiB frame against the default limit: refused from the header", &s, 0, 0,
                      "|1009@0 message too big");
        CASE_END;
    }
}

/* ---------------- builder ---------------- */

static void test_builder(void)
{
    uint8_t h[PN_WS_MAX_HEADER];
    struct {
        uint64_t len;
        const char *bytes;
        size_t n;
    } v[] = {
        {0, "\x82\x00", 2},
        {125, "\x82\x7d", 2},
        {126, "\x82\x7e\x00\x7e", 4},
        {65535, "\x82\x7e\xff\xff", 4},
        {65536, "\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 10},
        {1ull << 32, "\x82\x7f\x00\x00\x00\x01\x00\x00\x00\x00", 10},
    };
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        size_t n = pn_ws_write_header(h, PN_WS_OP_BINARY, PN_WS_FIN, v[i].len, NULL);
        ok(n == v[i].n && memcmp(h, v[i].bytes, n) == 0 && pn_ws_header_size(v[i].len, 0) == n,
           "header for length %llu", (unsigned long long)v[i].len);
    }
    size_t n = pn_ws_write_header(h, PN_WS_OP_TEXT, PN_WS_FIN | PN_WS_RSV1, 5, KEY);
    ok(n == 6 && memcmp(h, "\xc1\x85\x37\xfa\x21\x3d", 6) == 0 && pn_ws_header_size(5, 1) == 6,
       "masked header with RSV1");
    n = pn_ws_write_header(h, PN_WS_OP_CONT, 0, 3, NULL);
    ok(n == 2 && h[0] == 0x00 && h[1] == 0x03, "continuation without FIN");

    char out[64];
    size_t fl = pn_ws_write_frame(out, sizeof out, PN_WS_OP_TEXT, PN_WS_FIN, "Hello", 5, KEY);
    ok(fl == 11 && memcmp(out, "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11) == 0,
       "masked Hello as in §5.7");
    fl = pn_ws_write_frame(out, sizeof out, PN_WS_OP_TEXT, PN_WS_FIN, "Hello", 5, NULL);
    ok(fl == 7 && memcmp(out, "\x81\x05Hello", 7) == 0, "unmasked Hello");
    ok(pn_ws_write_frame(out, 6, PN_WS_OP_TEXT, PN_WS_FIN, "Hello", 5, NULL) == 7,
       "frame too big for cap: length returned");
    ok(pn_ws_write_frame(NULL, 0, PN_WS_OP_PING, PN_WS_FIN, NULL, 0, NULL) == 2,
       "measure an empty ping");

    uint8_t c[PN_WS_MAX_CONTROL_FRAME];
    ssize_t cl = pn_ws_write_close(c, 1000, "bye", 3, NULL);
    ok(cl == 7 && memcmp(c,
                         "\x88\x05\x03\xe8"
                         "bye",
                         7) == 0,
       "close 1000 bye");
    cl = pn_ws_write_close(c, 0, NULL, 0, NULL);
    ok(cl == 2 && memcmp(c, "\x88\x00", 2) == 0, "close without a code");
    ok(pn_ws_write_close(c, 0, "x", 1, NULL) == PN_WS_EINVAL, "no code but a reason: refused");
    ok(pn_ws_write_close(c, 1005, NULL, 0, NULL) == PN_WS_EINVAL, "1005 is never sent");
    ok(pn_ws_write_close(c, 1006, NULL, 0, NULL) == PN_WS_EINVAL, "1006 is never sent");
    ok(pn_ws_write_close(c, 1015, NULL, 0, NULL) == PN_WS_EINVAL, "1015 is never sent");
    ok(pn_ws_write_close(c, 999, NULL, 0, NULL) == PN_WS_EINVAL, "999 refused");
    ok(pn_ws_write_close(c, 1012, NULL, 0, NULL) == 4, "1012 (service restart) may be sent");
    ok(pn_ws_write_close(c, 4000, NULL, 0, NULL) == 4, "4000 may be sent");
    ok(pn_ws_write_close(c, 1000, "\xff", 1, NULL) == PN_WS_EINVAL, "invalid UTF-8 reason refused");

    /* a long reason of 2-byte characters is cut at a boundary within 123 bytes */
    char reason[300];
    for (int i = 0; i < 150; i++) {
        reason[2 * i] = (char)0xC3;
        reason[2 * i + 1] = (char)0xA9;
    }
    cl = pn_ws_write_close(c, 1000, reason, 300, KEY);
    uint8_t plain[PN_WS_MAX_CONTROL_FRAME];
    memcpy(plain, c, (size_t)cl);
    pn_ws_mask(plain + 6, (size_t)cl - 6, KEY, 0);
    ok(cl == 6 + 2 + 122 && c[1] == (0x80 | 124) && pn_utf8_valid((char *)plain + 8, 122),
       "reason of 300 bytes cut to 122 (a character boundary), masked");
    reason[0] = 'a';
    memset(reason + 1, 'b', 200);
    cl = pn_ws_write_close(c, 1000, reason, 200, NULL);
    ok(cl == 2 + 125, "ASCII reason cut to exactly 123 bytes");

    char p126[126] = {0};
    ok(pn_ws_write_ping(c, p126, 126, NULL) == PN_WS_EINVAL, "ping of 126 bytes refused");
    ok(pn_ws_write_ping(c, p126, 125, NULL) == 127, "ping of 125 bytes");
    cl = pn_ws_write_pong(c, "Hello", 5, NULL);
    ok(cl == 7 && memcmp(c, "\x8a\x05Hello", 7) == 0, "pong Hello");

    /* close codes */
    int good = 1;
    for (unsigned code = 0; code < 6000; code++) {
        int want = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
                   (code >= 3000 && code <= 4999);
        good &= pn_ws_close_code_valid(code) == want;
        good &= pn_ws_close_code_sendable(code) == (want || (code >= 1012 && code <= 1014));
    }
    ok(good, "close code tables for receiving and sending");
}

static void test_mask(void)
{
    uint8_t a[100], b[100];
    int good = 1;
    for (size_t off = 0; off < 8; off++) {
        for (size_t len = 0; len <= 80; len++) {
            for (size_t i = 0; i < len; i++) {
                a[i] = b[i] = (uint8_t)(i * 13 + off);
            }
            pn_ws_mask(a, len, KEY, off);
            for (size_t i = 0; i < len; i++) {
                b[i] ^= KEY[(off + i) & 3];
            }
            good &= memcmp(a, b, len) == 0;
        }
    }
    ok(good, "pn_ws_mask equals byte-wise XOR at every offset and length");
    uint8_t *g = (uint8_t *)guard_copy(a, 77);
    pn_ws_mask(g + 1, 76, KEY, 1);
    ok(1, "pn_ws_mask stays inside its range (guard page)");
}

/* Random messages built with the builder, parsed back at random splits. */
static void test_round_trip(void)
{
    int bad = 0;
    for (int round = 0; round < 300; round++) {
        bytes_t s = {NULL, 0, 0};
        run_t want = {NULL, 0, 0, 0};
        logf_(&want, "%s", "");
        int client_role = round & 1;
        const uint8_t *mask = client_role ? NULL : KEY;
        unsigned flags = client_role ? PN_WS_F_CLIENT : 0;
        int nmsg = 1 + (int)(rnd() % 4);
        for (int m = 0; m < nmsg; m++) {
            int text = rnd() % 2;
            size_t len = rnd() % 3 == 0 ? rnd() % 70000 : rnd() % 200;
            uint8_t *payload = malloc(len + 1);
            for (size_t i = 0; i < len; i++) {
                payload[i] = text ? (uint8_t)('a' + rnd() % 26) : (uint8_t)rnd();
            }
            int nfrag = 1 + (int)(rnd() % 3);
            size_t at = 0;
            for (int f = 0; f < nfrag; f++) {
                size_t piece = f == nfrag - 1 ? len - at : rnd() % (len - at + 1);
                unsigned op = f == 0 ? (text ? PN_WS_OP_TEXT : PN_WS_OP_BINARY) : PN_WS_OP_CONT;
                unsigned fin = f == nfrag - 1 ? PN_WS_FIN : 0;
                uint8_t h[PN_WS_MAX_HEADER];
                size_t hl = pn_ws_write_header(h, op, fin, piece, mask);
                put(&s, h, hl);
                size_t pos = s.n;
                put(&s, payload + at, piece);
                if (mask) {
                    pn_ws_mask(s.b + pos, piece, mask, 0);
                }
                logf_(&want, "%s%s%s%s:", op_name(op), fin ? "F" : "", f == 0 ? "S" : "",
                      fin ? "E" : "");
                log_payload(&want, payload + at, piece);
                logf_(&want, ";");
                at += piece;
                if (rnd() % 3 == 0) {
                    uint8_t c[PN_WS_MAX_CONTROL_FRAME];
                    ssize_t cl = pn_ws_write_ping(c, "hb", 2, mask);
                    put(&s, c, (size_t)cl);
                    logf_(&want, "pingF:hb;");
                }
            }
            free(payload);
        }
        uint8_t c[PN_WS_MAX_CONTROL_FRAME];
        ssize_t cl = pn_ws_write_close(c, 1000, "done", 4, mask);
        put(&s, c, (size_t)cl);
        logf_(&want, "closeF:1000:done;|closed");
        size_t cuts[6];
        size_t nc = rnd() % 6;
        for (size_t i = 0; i < nc; i++) {
            cuts[i] = rnd() % (s.n + 1);
        }
        for (size_t i = 1; i < nc; i++) {
            for (size_t j = i; j > 0 && cuts[j - 1] > cuts[j]; j--) {
                size_t t = cuts[j];
                cuts[j] = cuts[j - 1];
                cuts[j - 1] = t;
            }
        }
        int violations = 0;
        char *got = transcript(&s, 0, flags, cuts, nc, &violations);
        if (strcmp(got, want.log) != 0 || violations) {
            if (bad++ == 0) {
                diag("  want %s", want.log);
                diag("  got  %s", got);
            }
        }
        free(got);
        free(want.log);
        free(s.b);
    }
    is_int(bad, 0, "300 random conversations round-trip through builder and parser");
}

int main(void)
{
    test_sha1();
    test_accept_key();
    test_handshake();
    test_subprotocols();
    test_response();
    test_rfc_examples();
    test_header_rules();
    test_lengths();
    test_control_rules();
    test_close_rules();
    test_utf8_rules();
    test_size_limit();
    test_builder();
    test_mask();
    test_round_trip();
    return tap_done();
}
