/*
 * test_wsdeflate.c — unit tests for wsdeflate.c: negotiation of offers
 * (parameters, declines, syntax errors, several offers and fields), the
 * client-side response check, the RFC 7692 §7.2.3 examples, round trips in
 * both roles with every window size and takeover mode (pieces at random
 * splits), the window actually used by our compressor, output readable by
 * plain zlib, the inflated-size limit (exact boundary and a compression
 * bomb), invalid data, final blocks, sticky errors, and allocation failure
 * at every allocation.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "tap.h"
#include "wsdeflate.h"

static uint64_t rng_state = 0x853C49E6748FEA9Bull;

static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

/* ---------------- negotiation ---------------- */

typedef struct {
    const char *name;
    const char *fields[3]; /* Sec-WebSocket-Extensions values, NULL-terminated */
    pn_wsdeflate_config_t cfg;
    int rc;
    const char *response;
    pn_wsdeflate_params_t params;
} neg_case_t;

static const neg_case_t neg_cases[] = {
    {"no header", {NULL}, {0}, 0, NULL, {0}},
    {"other extension only", {"x-webkit-deflate-frame", NULL}, {0}, 0, NULL, {0}},
    {"browser offer",
     {"permessage-deflate; client_max_window_bits", NULL},
     {0},
     1,
     "permessage-deflate",
     {0, 0, 15, 15}},
    {"bare offer", {"permessage-deflate", NULL}, {0}, 1, "permessage-deflate", {0, 0, 15, 15}},
    {"case-insensitive names",
     {"PerMessage-Deflate; Client_Max_Window_Bits", NULL},
     {0},
     1,
     "permessage-deflate",
     {0, 0, 15, 15}},
    {"ask the client for a smaller window",
     {"permessage-deflate; client_max_window_bits", NULL},
     {0, 0, 0, 12},
     1,
     "permessage-deflate; client_max_window_bits=12",
     {0, 0, 15, 12}},
    {"client hint smaller than ours",
     {"permessage-deflate; client_max_window_bits=10", NULL},
     {0, 0, 0, 12},
     1,
     "permessage-deflate; client_max_window_bits=10",
     {0, 0, 15, 10}},
    {"client hint used even unasked",
     {"permessage-deflate; client_max_window_bits=11", NULL},
     {0},
     1,
     "permessage-deflate; client_max_window_bits=11",
     {0, 0, 15, 11}},
    {"client hint of 8 is fine for our inflater",
     {"permessage-deflate; client_max_window_bits=8", NULL},
     {0},
     1,
     "permessage-deflate; client_max_window_bits=8",
     {0, 0, 15, 8}},
    {"cannot ask without the client's parameter",
     {"permessage-deflate", NULL},
     {0, 0, 0, 12},
     1,
     "permessage-deflate",
     {0, 0, 15, 15}},
    {"server window requested",
     {"permessage-deflate; server_max_window_bits=10", NULL},
     {0},
     1,
     "permessage-deflate; server_max_window_bits=10",
     {0, 0, 10, 15}},
    {"server window: ours is smaller",
     {"permessage-deflate; server_max_window_bits=12", NULL},
     {0, 0, 11, 0},
     1,
     "permessage-deflate; server_max_window_bits=11",
     {0, 0, 11, 15}},
    {"server window unasked: used silently",
     {"permessage-deflate", NULL},
     {0, 0, 11, 0},
     1,
     "permessage-deflate",
     {0, 0, 11, 15}},
    {"server window 8 declined",
     {"permessage-deflate; server_max_window_bits=8", NULL},
     {0},
     0,
     NULL,
     {0}},
    {"second offer after a declined one",
     {"permessage-deflate; server_max_window_bits=8, permessage-deflate; client_max_window_bits",
      NULL},
     {0},
     1,
     "permessage-deflate",
     {0, 0, 15, 15}},
    {"no context takeover offered",
     {"permessage-deflate; server_no_context_takeover; client_no_context_takeover", NULL},
     {0},
     1,
     "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
     {1, 1, 15, 15}},
    {"no context takeover configured",
     {"permessage-deflate", NULL},
     {1, 1, 0, 0},
     1,
     "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
     {1, 1, 15, 15}},
    {"everything",
     {"permessage-deflate; client_no_context_takeover; server_no_context_takeover; "
      "server_max_window_bits=9; client_max_window_bits=15",
      NULL},
     {0, 0, 0, 9},
     1,
     "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
     "server_max_window_bits=9; client_max_window_bits=9",
     {1, 1, 9, 9}},
    {"quoted value",
     {"permessage-deflate; server_max_window_bits=\"10\"", NULL},
     {0},
     1,
     "permessage-deflate; server_max_window_bits=10",
     {0, 0, 10, 15}},
    {"quoted value with an escape",
     {"permessage-deflate; server_max_window_bits=\"1\\0\"", NULL},
     {0},
     1,
     "permessage-deflate; server_max_window_bits=10",
     {0, 0, 10, 15}},
    {"OWS around = and ;",
     {"permessage-deflate ;server_max_window_bits = 10 , foo", NULL},
     {0},
     1,
     "permessage-deflate; server_max_window_bits=10",
     {0, 0, 10, 15}},
    {"unknown parameter declined", {"permessage-deflate; foo", NULL}, {0}, 0, NULL, {0}},
    {"repeated parameter declined",
     {"permessage-deflate; server_no_context_takeover; server_no_context_takeover", NULL},
     {0},
     0,
     NULL,
     {0}},
    {"takeover parameter with a value declined",
     {"permessage-deflate; client_no_context_takeover=1", NULL},
     {0},
     0,
     NULL,
     {0}},
    {"server window without value declined",
     {"permessage-deflate; server_max_window_bits", NULL},
     {0},
     0,
     NULL,
     {0}},
    {"window 16 declined",
     {"permessage-deflate; client_max_window_bits=16", NULL},
     {0},
     0,
     NULL,
     {0}},
    {"window 7 declined",
     {"permessage-deflate; client_max_window_bits=7", NULL},
     {0},
     0,
     NULL,
     {0}},
    {"leading zero declined",
     {"permessage-deflate; server_max_window_bits=010", NULL},
     {0},
     0,
     NULL,
     {0}},
    {"long quoted value declined",
     {"permessage-deflate; server_max_window_bits=\"100000000000\"", NULL},
     {0},
     0,
     NULL,
     {0}},
    {"quoted commas in another extension",
     {"foo; bar=\"a,b;c\", permessage-deflate", NULL},
     {0},
     1,
     "permessage-deflate",
     {0, 0, 15, 15}},
    {"fields combine",
     {"foo", "permessage-deflate; server_no_context_takeover", NULL},
     {0},
     1,
     "permessage-deflate; server_no_context_takeover",
     {1, 0, 15, 15}},
    {"first acceptable offer across fields",
     {"permessage-deflate; bogus", "permessage-deflate; client_no_context_takeover", NULL},
     {0},
     1,
     "permessage-deflate; client_no_context_takeover",
     {0, 1, 15, 15}},
    {"empty elements",
     {" , ,permessage-deflate,, ", NULL},
     {0},
     1,
     "permessage-deflate",
     {0, 0, 15, 15}},
    {"syntax: trailing ;", {"permessage-deflate;", NULL}, {0}, PN_EPROTO, NULL, {0}},
    {"syntax: missing name", {"permessage-deflate; =1", NULL}, {0}, PN_EPROTO, NULL, {0}},
    {"syntax: unterminated quote", {"permessage-deflate; a=\"10", NULL}, {0}, PN_EPROTO, NULL, {0}},
    {"syntax: space in a name", {"permessage deflate", NULL}, {0}, PN_EPROTO, NULL, {0}},
    {"syntax: empty value", {"permessage-deflate; a=", NULL}, {0}, PN_EPROTO, NULL, {0}},
    {"syntax: control character in quotes",
     {"permessage-deflate; a=\"\x01\"", NULL},
     {0},
     PN_EPROTO,
     NULL,
     {0}},
    {"syntax error after an accepted offer",
     {"permessage-deflate, ;", NULL},
     {0},
     PN_EPROTO,
     NULL,
     {0}},
};

static void test_negotiate(void)
{
    for (size_t i = 0; i < sizeof neg_cases / sizeof *neg_cases; i++) {
        const neg_case_t *t = &neg_cases[i];
        pn_header_t h[4];
        size_t n = 0;
        h[n++] = (pn_header_t){PN_SLICE_LIT("Host"), PN_SLICE_LIT("example.com")};
        for (size_t k = 0; t->fields[k] != NULL; k++) {
            h[n++] = (pn_header_t){PN_SLICE_LIT("Sec-WebSocket-Extensions"),
                                   {t->fields[k], strlen(t->fields[k])}};
        }
        char resp[PN_WSDEFLATE_RESPONSE_MAX];
        size_t rlen = 0;
        pn_wsdeflate_params_t p = {0};
        int rc = pn_wsdeflate_negotiate(&t->cfg, h, n, &p, resp, &rlen);
        int good = rc == t->rc;
        if (good && rc == 1) {
            good = rlen == strlen(t->response) && strcmp(resp, t->response) == 0 &&
                   memcmp(&p, &t->params, sizeof p) == 0;
        }
        if (!ok(good, "negotiate: %s", t->name)) {
            diag("  rc %d, response '%s', params %d %d %d %d", rc, rc == 1 ? resp : "",
                 p.server_no_context_takeover, p.client_no_context_takeover,
                 p.server_max_window_bits, p.client_max_window_bits);
        }
    }
}

static void test_check_response(void)
{
    struct {
        const char *value;
        int rc;
        pn_wsdeflate_params_t p;
    } v[] = {
        {"permessage-deflate", 0, {0, 0, 15, 15}},
        {"permessage-deflate; client_max_window_bits=10", 0, {0, 0, 15, 10}},
        {"permessage-deflate; server_max_window_bits=8; server_no_context_takeover",
         0,
         {1, 0, 8, 15}},
        {"permessage-deflate; client_no_context_takeover ", 0, {0, 1, 15, 15}},
        {"permessage-deflate; client_max_window_bits", PN_EPROTO, {0}},
        {"permessage-deflate; client_max_window_bits=8", PN_EPROTO, {0}},
        {"permessage-deflate; foo", PN_EPROTO, {0}},
        {"permessage-deflate, permessage-deflate", PN_EPROTO, {0}},
        {"x-other", PN_EPROTO, {0}},
        {"", PN_EPROTO, {0}},
    };
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        pn_wsdeflate_params_t p = {0};
        int rc = pn_wsdeflate_check_response(v[i].value, strlen(v[i].value), &p);
        ok(rc == v[i].rc && (rc != 0 || memcmp(&p, &v[i].p, sizeof p) == 0), "check response '%s'",
           v[i].value);
    }
}

/* ---------------- codec ---------------- */

static const pn_wsdeflate_params_t DEFAULTS = {0, 0, 15, 15};

static int inflate_all(pn_wsdeflate_t *d, const void *in, size_t len, pn_buf_t *out)
{
    return pn_wsdeflate_decompress(d, in, len, 1, out, NULL);
}

static int buf_is(const pn_buf_t *b, const void *p, size_t n)
{
    return pn_buf_len(b) == n && (n == 0 || memcmp(pn_buf_ptr(b), p, n) == 0);
}

static void test_rfc_examples(void)
{
    pn_wsdeflate_t *d = pn_wsdeflate_new(&DEFAULTS, PN_WSDEFLATE_SERVER, NULL);
    pn_buf_t out = {0};
    ok(inflate_all(d, "\xf2\x48\xcd\xc9\xc9\x07\x00", 7, &out) == 0 && buf_is(&out, "Hello", 5),
       "§7.2.3.1 a message compressed");
    pn_buf_consume(&out, pn_buf_len(&out));
    ok(inflate_all(d, "\xf2\x00\x11\x00\x00", 5, &out) == 0 && buf_is(&out, "Hello", 5),
       "§7.2.3.2 the same message again, using the shared window");
    pn_buf_consume(&out, pn_buf_len(&out));
    ok(pn_wsdeflate_decompress(d, "\xf2\x48\xcd", 3, 0, &out, NULL) == 0 &&
           pn_wsdeflate_decompress(d, "\xc9\xc9\x07\x00", 4, 1, &out, NULL) == 0 &&
           buf_is(&out, "Hello", 5),
       "§7.2.3.1 fragmented: inflated piece by piece");
    pn_buf_consume(&out, pn_buf_len(&out));
    ok(inflate_all(d, "\x00\x05\x00\xfa\xff\x48\x65\x6c\x6c\x6f\x00", 11, &out) == 0 &&
           buf_is(&out, "Hello", 5),
       "§7.2.3.3 a stored block");
    pn_buf_consume(&out, pn_buf_len(&out));
    ok(inflate_all(d, "\xf3\x48\xcd\xc9\xc9\x07\x00\x00", 8, &out) == 0 && buf_is(&out, "Hello", 5),
       "§7.2.3.4 a final block (BFINAL)");
    pn_buf_consume(&out, pn_buf_len(&out));
    ok(inflate_all(d, "\xf2\x48\x05\x00\x00\x00\xff\xff\xca\xc9\xc9\x07\x00", 13, &out) == 0 &&
           buf_is(&out, "Hello", 5),
       "§7.2.3.5 two blocks in one message");
    pn_buf_consume(&out, pn_buf_len(&out));
    ok(inflate_all(d, "\x00", 1, &out) == 0 && pn_buf_len(&out) == 0, "§7.2.3.6 an empty message");
    ok(inflate_all(d, NULL, 0, &out) == 0 && pn_buf_len(&out) == 0, "an empty payload");
    pn_wsdeflate_free(d);
    pn_buf_free(&out);
}

static void test_compress_basics(void)
{
    pn_wsdeflate_t *s = pn_wsdeflate_new(&DEFAULTS, PN_WSDEFLATE_SERVER, NULL);
    pn_buf_t out = {0};
    ok(pn_wsdeflate_compress(s, "Hello", 5, &out) == 0 &&
           buf_is(&out, "\xf2\x48\xcd\xc9\xc9\x07\x00", 7),
       "compress Hello as in §7.2.3.1");
    pn_buf_consume(&out, pn_buf_len(&out));
    ok(pn_wsdeflate_compress(s, "Hello", 5, &out) == 0 && buf_is(&out, "\xf2\x00\x11\x00\x00", 5),
       "again: back-reference into the previous message (§7.2.3.2)");
    pn_buf_consume(&out, pn_buf_len(&out));
    ok(pn_wsdeflate_compress(s, "", 0, &out) == 0 && buf_is(&out, "\x00", 1),
       "empty message compresses to one 0x00 byte (§7.2.3.6)");
    pn_buf_consume(&out, pn_buf_len(&out));
    ok(pn_wsdeflate_compress(s, "", 0, &out) == 0 && buf_is(&out, "\x00", 1),
       "two empty messages in a row");
    pn_buf_consume(&out, pn_buf_len(&out));
    ok(pn_wsdeflate_compress(s, "Hello", 5, &out) == 0 && pn_buf_len(&out) < 7,
       "the window survives empty messages");
    pn_wsdeflate_t *c = pn_wsdeflate_new(&DEFAULTS, PN_WSDEFLATE_CLIENT, NULL);
    pn_buf_t plain = {0};
    int good = 1;
    const char *seq[] = {"\xf2\x48\xcd\xc9\xc9\x07\x00", "\xf2\x00\x11\x00\x00", "\x00", "\x00"};
    size_t seqlen[] = {7, 5, 1, 1};
    for (int i = 0; i < 4; i++) {
        good &= inflate_all(c, seq[i], seqlen[i], &plain) == 0;
    }
    good &= inflate_all(c, pn_buf_ptr(&out), pn_buf_len(&out), &plain) == 0;
    ok(good && buf_is(&plain, "HelloHelloHello", 15), "the peer reads that sequence back");
    pn_buf_free(&plain);
    pn_wsdeflate_free(c);
    pn_wsdeflate_free(s);

    pn_wsdeflate_params_t nct = {1, 0, 15, 15};
    s = pn_wsdeflate_new(&nct, PN_WSDEFLATE_SERVER, NULL);
    pn_buf_consume(&out, pn_buf_len(&out));
    good = 1;
    for (int i = 0; i < 3; i++) {
        good &= pn_wsdeflate_compress(s, "Hello", 5, &out) == 0 &&
                buf_is(&out, "\xf2\x48\xcd\xc9\xc9\x07\x00", 7);
        pn_buf_consume(&out, pn_buf_len(&out));
    }
    ok(good, "server_no_context_takeover: every message compressed alone");
    /* appending keeps what was in the buffer */
    pn_buf_append(&out, "HDR", 3);
    ok(pn_wsdeflate_compress(s, "Hello", 5, &out) == 0 &&
           buf_is(&out, "HDR\xf2\x48\xcd\xc9\xc9\x07\x00", 10),
       "compress appends after existing bytes");
    pn_wsdeflate_free(s);
    pn_buf_free(&out);
}

/* Random message: text-like with repeats, some at long distance; or random bytes. */
static size_t make_message(uint8_t *m, size_t cap)
{
    static const char *words[] = {
        "alpha ", "beta ", "gamma ", "delta ", "{\"id\": ", "42, ", "\"name\": \"pronghorn\"",
        "}\n"};
    size_t n = rnd() % 4 == 0 ? rnd() % cap : rnd() % 300;
    int kind = rnd() % 3;
    for (size_t i = 0; i < n;) {
        if (kind == 0) {
            m[i++] = (uint8_t)rnd();
        } else if (kind == 1 || i < 2000) {
            const char *w = words[rnd() % 8];
            for (; *w && i < n; w++) {
                m[i++] = (uint8_t)*w;
            }
        } else {
            /* copy from 1000-2000 bytes back: needs a window over 512 bytes */
            size_t back = 1000 + rnd() % 1000, run = 10 + rnd() % 50;
            for (size_t k = 0; k < run && i < n; k++, i++) {
                m[i] = m[i - back];
            }
        }
    }
    return n;
}

/* Messages from a sender codec to a receiver codec, inflated in random pieces. */
static int round_trip(const pn_wsdeflate_params_t *p, int sender_role, int messages)
{
    int receiver_role =
        sender_role == PN_WSDEFLATE_SERVER ? PN_WSDEFLATE_CLIENT : PN_WSDEFLATE_SERVER;
    pn_wsdeflate_t *tx = pn_wsdeflate_new(p, sender_role, NULL);
    pn_wsdeflate_t *rx = pn_wsdeflate_new(p, receiver_role, NULL);
    enum { CAP = 40000 };
    uint8_t *msg = malloc(CAP);
    pn_buf_t wire = {0}, out = {0};
    int bad = 0;
    for (int m = 0; m < messages && !bad; m++) {
        size_t n = make_message(msg, CAP);
        pn_buf_consume(&wire, pn_buf_len(&wire));
        pn_buf_consume(&out, pn_buf_len(&out));
        if (pn_wsdeflate_compress(tx, msg, n, &wire) != 0) {
            bad = 1;
            break;
        }
        const char *w = pn_buf_ptr(&wire);
        size_t wl = pn_buf_len(&wire), at = 0;
        while (at < wl) {
            size_t piece = rnd() % 3 == 0 ? wl - at : rnd() % (wl - at + 1);
            if (pn_wsdeflate_decompress(rx, w + at, piece, 0, &out, NULL) != 0) {
                bad = 2;
                break;
            }
            at += piece;
        }
        if (!bad && pn_wsdeflate_decompress(rx, NULL, 0, 1, &out, NULL) != 0) {
            bad = 3;
        }
        if (!bad && !buf_is(&out, msg, n)) {
            bad = 4;
        }
    }
    if (bad) {
        diag("  round trip failed at step %d: %s", bad,
             bad == 4 ? "different message" : pn_wsdeflate_error(rx)->reason);
    }
    free(msg);
    pn_buf_free(&wire);
    pn_buf_free(&out);
    pn_wsdeflate_free(tx);
    pn_wsdeflate_free(rx);
    return !bad;
}

static void test_round_trips(void)
{
    for (int bits = 9; bits <= 15; bits++) {
        for (int nct = 0; nct < 4; nct++) {
            pn_wsdeflate_params_t p = {(uint8_t)(nct & 1), (uint8_t)(nct >> 1), (uint8_t)bits,
                                       (uint8_t)(24 - bits)};
            int a = round_trip(&p, PN_WSDEFLATE_SERVER, 25);
            int b = round_trip(&p, PN_WSDEFLATE_CLIENT, 25);
            ok(a && b, "round trips both ways: windows %d/%d, no_context_takeover s%d c%d", bits,
               24 - bits, nct & 1, nct >> 1);
        }
    }
}

/* Our compressor must keep to the agreed window: a raw zlib inflater of that size reads it. */
static void test_window_kept(void)
{
    for (int bits = 9; bits <= 15; bits += 3) {
        pn_wsdeflate_params_t p = {0, 0, (uint8_t)bits, 15};
        pn_wsdeflate_t *s = pn_wsdeflate_new(&p, PN_WSDEFLATE_SERVER, NULL);
        pn_buf_t wire = {0};
        uint8_t msg[40000];
        int good = 1;
        z_stream z;
        memset(&z, 0, sizeof z);
        good &= inflateInit2(&z, -bits) == Z_OK;
        uint8_t *plain = malloc(sizeof msg + 16);
        for (int m = 0; m < 20 && good; m++) {
            size_t n = 0;
            while (n < 30000) {
                n += make_message(msg + n, sizeof msg - n);
            }
            pn_buf_consume(&wire, pn_buf_len(&wire));
            good &= pn_wsdeflate_compress(s, msg, n, &wire) == 0;
            pn_buf_append(&wire, "\x00\x00\xff\xff", 4);
            z.next_in = (Bytef *)pn_buf_ptr(&wire);
            z.avail_in = (uInt)pn_buf_len(&wire);
            z.next_out = plain;
            z.avail_out = (uInt)(sizeof msg + 16);
            int rc = inflate(&z, Z_SYNC_FLUSH);
            good &= rc == Z_OK && z.avail_in == 0 && (size_t)(z.next_out - plain) == n &&
                    memcmp(plain, msg, n) == 0;
        }
        inflateEnd(&z);
        ok(good, "plain zlib with a %d-bit window inflates our %d-bit output", bits, bits);
        free(plain);
        pn_buf_free(&wire);
        pn_wsdeflate_free(s);
    }
}

static void test_limits(void)
{
    pn_wsdeflate_options_t o = {0, 0, 1000, NULL};
    pn_wsdeflate_t *tx = pn_wsdeflate_new(&DEFAULTS, PN_WSDEFLATE_CLIENT, NULL);
    pn_wsdeflate_t *rx = pn_wsdeflate_new(&DEFAULTS, PN_WSDEFLATE_SERVER, &o);
    uint8_t msg[1001];
    memset(msg, 'x', sizeof msg);
    pn_buf_t wire = {0}, out = {0};
    pn_wsdeflate_compress(tx, msg, 1000, &wire);
    ok(inflate_all(rx, pn_buf_ptr(&wire), pn_buf_len(&wire), &out) == 0 && pn_buf_len(&out) == 1000,
       "exactly max_message_size inflates");
    pn_buf_consume(&wire, pn_buf_len(&wire));
    pn_buf_consume(&out, pn_buf_len(&out));
    pn_wsdeflate_compress(tx, msg, 1001, &wire);
    int rc = inflate_all(rx, pn_buf_ptr(&wire), pn_buf_len(&wire), &out);
    const pn_ws_error_t *e = pn_wsdeflate_error(rx);
    ok(rc == PN_EPROTO && e->close_code == 1009 && pn_buf_len(&out) == 1001 && e->offset == 1001,
       "one byte over -> 1009 with one byte too many appended");
    ok(pn_wsdeflate_decompress(rx, "\x00", 1, 1, &out, NULL) == PN_EPROTO, "errors are sticky");
    pn_wsdeflate_free(rx);
    pn_wsdeflate_free(tx);

    /* a bomb: 64 MiB of zeros is ~64 KiB deflated; the limit is 1 MiB */
    size_t big = 64u << 20;
    uint8_t *zeros = calloc(1, big);
    z_stream z;
    memset(&z, 0, sizeof z);
    deflateInit2(&z, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY);
    size_t zcap = deflateBound(&z, big) + 16;
    uint8_t *bomb = malloc(zcap);
    z.next_in = zeros;
    z.avail_in = (uInt)big;
    z.next_out = bomb;
    z.avail_out = (uInt)zcap;
    deflate(&z, Z_SYNC_FLUSH);
    size_t blen = zcap - z.avail_out - 4;
    deflateEnd(&z);
    free(zeros);
    pn_wsdeflate_options_t lim = {0, 0, 1u << 20, NULL};
    rx = pn_wsdeflate_new(&DEFAULTS, PN_WSDEFLATE_SERVER, &lim);
    pn_buf_free(&out);
    rc = 0;
    size_t at = 0;
    while (rc == 0 && at < blen) {
        size_t piece = blen - at < 4096 ? blen - at : 4096;
        rc = pn_wsdeflate_decompress(rx, bomb + at, piece, at + piece == blen, &out, NULL);
        at += piece;
    }
    e = pn_wsdeflate_error(rx);
    ok(rc == PN_EPROTO && e->close_code == 1009 && pn_buf_len(&out) == (1u << 20) + 1,
       "64 MiB bomb (%zu bytes deflated) stops at 1 MiB + 1 byte with 1009", blen);
    ok(out.cap <= (4u << 20), "output buffer stayed small (%zu bytes)", out.cap);
    ok(at < blen, "stopped after %zu of %zu input bytes", at, blen);
    pn_wsdeflate_free(rx);

    /* the same bomb, one call: the limit holds inside a single inflate loop */
    rx = pn_wsdeflate_new(&DEFAULTS, PN_WSDEFLATE_SERVER, &lim);
    pn_buf_free(&out);
    rc = inflate_all(rx, bomb, blen, &out);
    ok(rc == PN_EPROTO && pn_wsdeflate_error(rx)->close_code == 1009 &&
           pn_buf_len(&out) == (1u << 20) + 1,
       "bomb in one call stops at the limit");
    pn_wsdeflate_free(rx);
    free(bomb);
    pn_buf_free(&out);
    pn_buf_free(&wire);
}

static void test_bad_data(void)
{
    pn_wsdeflate_t *rx = pn_wsdeflate_new(&DEFAULTS, PN_WSDEFLATE_SERVER, NULL);
    pn_buf_t out = {0};
    int rc = inflate_all(rx, "\xff\xff\xff\xff", 4, &out);
    ok(rc == PN_EPROTO && pn_wsdeflate_error(rx)->close_code == 1007, "invalid block type -> 1007");
    ok(pn_wsdeflate_compress(rx, "x", 1, &out) == PN_EPROTO, "a failed codec stays failed");
    pn_wsdeflate_free(rx);

    /* a final block, data after it, then a new message with an empty window */
    rx = pn_wsdeflate_new(&DEFAULTS, PN_WSDEFLATE_SERVER, NULL);
    pn_buf_free(&out);
    rc = inflate_all(rx, "\xf3\x48\xcd\xc9\xc9\x07\x00garbage", 14, &out);
    ok(rc == 0 && buf_is(&out, "Hello", 5), "bytes after a final block are ignored");
    pn_buf_consume(&out, pn_buf_len(&out));
    rc = inflate_all(rx, "\xf2\x48\xcd\xc9\xc9\x07\x00", 7, &out);
    ok(rc == 0 && buf_is(&out, "Hello", 5), "the next message starts a new stream");
    pn_wsdeflate_free(rx);
    pn_buf_free(&out);
}

/* Deflates in[0..len) with plain zlib (level 9) as one message payload; caller frees. */
static uint8_t *zlib_message(const void *in, size_t len, size_t *out_len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    deflateInit2(&z, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY);
    size_t cap = deflateBound(&z, len) + 16;
    uint8_t *out = malloc(cap);
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    deflate(&z, Z_SYNC_FLUSH);
    *out_len = cap - z.avail_out - 4;
    deflateEnd(&z);
    return out;
}

static int inflate_text(pn_wsdeflate_t *d, const uint8_t *in, size_t len, size_t piece,
                        pn_buf_t *out)
{
    pn_utf8_t u;
    pn_utf8_init(&u);
    size_t at = 0;
    int rc = 0;
    do {
        size_t k = len - at < piece ? len - at : piece;
        rc = pn_wsdeflate_decompress(d, in + at, k, at + k == len, out, &u);
        at += k;
    } while (rc == 0 && at < len);
    return rc;
}

static void test_text(void)
{
    const char *text = "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5 \xe2\x82\xac ok";
    size_t wl;
    uint8_t *wire = zlib_message(text, strlen(text), &wl);
    int good = 1;
    for (size_t piece = 1; piece <= wl; piece++) {
        pn_wsdeflate_t *d = pn_wsdeflate_new(&DEFAULTS, PN_WSDEFLATE_SERVER, NULL);
        pn_buf_t out = {0};
        good &= inflate_text(d, wire, wl, piece, &out) == 0 && buf_is(&out, text, strlen(text));
        pn_buf_free(&out);
        pn_wsdeflate_free(d);
    }
    ok(good, "valid compressed text inflates and passes at every piece size");
    free(wire);

    struct {
        const char *name, *text, *reason;
        size_t len;
    } bad[] = {
        {"overlong",
         "ab\xc0\xaf"
         "cd",
         "invalid UTF-8 in a text message", 6},
        {"surrogate", "\xed\xa0\x80", "invalid UTF-8 in a text message", 3},
        {"cut character", "ok\xe2\x82", "text message ends inside a UTF-8 sequence", 4},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        wire = zlib_message(bad[i].text, bad[i].len, &wl);
        good = 1;
        for (size_t piece = 1; piece <= wl; piece++) {
            pn_wsdeflate_t *d = pn_wsdeflate_new(&DEFAULTS, PN_WSDEFLATE_SERVER, NULL);
            pn_buf_t out = {0};
            good &= inflate_text(d, wire, wl, piece, &out) == PN_EPROTO &&
                    pn_wsdeflate_error(d)->close_code == 1007 &&
                    strcmp(pn_wsdeflate_error(d)->reason, bad[i].reason) == 0;
            pn_buf_free(&out);
            pn_wsdeflate_free(d);
        }
        ok(good, "compressed text with %s -> 1007 at every piece size", bad[i].name);
        pn_buf_t out = {0};
        pn_wsdeflate_t *d = pn_wsdeflate_new(&DEFAULTS, PN_WSDEFLATE_SERVER, NULL);
        ok(pn_wsdeflate_decompress(d, wire, wl, 1, &out, NULL) == 0, "the same as binary is fine");
        pn_buf_free(&out);
        pn_wsdeflate_free(d);
        free(wire);
    }

    /* fail fast: a bad byte first, then 64 MiB of zeros, limit 16 MiB */
    size_t big = 64u << 20;
    uint8_t *m = calloc(1, big);
    m[0] = 0xFF;
    wire = zlib_message(m, big, &wl);
    free(m);
    pn_wsdeflate_t *d = pn_wsdeflate_new(&DEFAULTS, PN_WSDEFLATE_SERVER, NULL);
    pn_buf_t out = {0};
    int rc = inflate_text(d, wire, wl, wl, &out);
    ok(rc == PN_EPROTO && pn_wsdeflate_error(d)->close_code == 1007 &&
           pn_buf_len(&out) < (1u << 20),
       "invalid text fails before the rest is inflated (%zu bytes out)", pn_buf_len(&out));
    pn_buf_free(&out);
    pn_wsdeflate_free(d);
    free(wire);
}

/* ---------------- allocation failures ---------------- */

typedef struct {
    long left; /* allocations that succeed before one fails (-1: never fail) */
    long live;
} alloc_state_t;

static void *fail_alloc(void *ctx, size_t size)
{
    alloc_state_t *a = ctx;
    if (a->left == 0) {
        return NULL;
    }
    if (a->left > 0) {
        a->left--;
    }
    a->live++;
    return malloc(size);
}

static void fail_free(void *ctx, void *ptr)
{
    alloc_state_t *a = ctx;
    if (ptr != NULL) {
        a->live--;
    }
    free(ptr);
}

static void test_alloc_failures(void)
{
    int outcomes_ok = 1, leaks = 0, succeeded = 0;
    for (long k = 0; k < 40 && !succeeded; k++) {
        alloc_state_t st = {k, 0};
        pn_wsdeflate_allocator_t a = {fail_alloc, fail_free, &st};
        pn_wsdeflate_options_t o = {0, 0, 0, &a};
        pn_wsdeflate_t *d = pn_wsdeflate_new(&DEFAULTS, PN_WSDEFLATE_SERVER, &o);
        if (d == NULL) {
            leaks += st.live != 0;
            continue;
        }
        pn_buf_t wire = {0}, out = {0};
        int rc1 = pn_wsdeflate_compress(d, "Hello Hello Hello", 17, &wire);
        int rc2 = pn_wsdeflate_decompress(d, "\xf2\x48\xcd\xc9\xc9\x07\x00", 7, 1, &out, NULL);
        outcomes_ok &= rc1 == 0 || rc1 == PN_ENOMEM;
        outcomes_ok &= rc1 != 0 ? rc2 == PN_ENOMEM : (rc2 == 0 || rc2 == PN_ENOMEM);
        outcomes_ok &= rc1 != 0 || pn_buf_len(&wire) > 0;
        outcomes_ok &= rc2 != 0 || buf_is(&out, "Hello", 5);
        succeeded = rc1 == 0 && rc2 == 0;
        pn_wsdeflate_free(d);
        leaks += st.live != 0;
        pn_buf_free(&wire);
        pn_buf_free(&out);
    }
    ok(outcomes_ok, "every allocation failure is PN_ENOMEM (or NULL from new), never a crash");
    ok(succeeded, "with enough allocations everything succeeds");
    is_int(leaks, 0, "no allocation outlives pn_wsdeflate_free");
}

int main(void)
{
    test_negotiate();
    test_check_response();
    test_rfc_examples();
    test_compress_basics();
    test_round_trips();
    test_window_kept();
    test_limits();
    test_bad_data();
    test_text();
    test_alloc_failures();
    return tap_done();
}
