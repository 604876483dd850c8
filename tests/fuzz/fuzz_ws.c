/*
 * fuzz_ws.c — libFuzzer target for ws.c and wsdeflate.c: the frame parser
 * with the deflate and UTF-8 path of a connection, the handshake, the
 * extension negotiation, and the builders.
 *
 * Input: byte 0 = flags, byte 1 = mode and split seed, the rest is the data.
 *   byte 0 bit 0  PN_WS_F_DEFLATE        bits 2-3  max message size profile
 *          bit 1  PN_WS_F_CLIENT         bits 4-5  no_context_takeover (server, client)
 *          bits 6-7  window bits profile for the codec
 *   byte 1 bits 0-1  mode: 0-1 frame stream, 2 HTTP upgrade request, 3 builders
 *          bits 2-7  seed of the split points
 * Checked, aborting on violation (ASan/UBSan catch the rest):
 * - frame stream: parsed whole, at two seeded split points and byte by byte
 *   (short inputs), the frames (opcode, flags, lengths, close code, payload
 *   hash), the inflated messages (length, hash, error) and the end (error
 *   code, reason, offset, or needing more, or closed) are identical; event
 *   flags are consistent on every piece; errors are 1002/1007/1009 at an
 *   offset inside the stream. Compressed messages are inflated piece by
 *   piece as a connection would, and inflated text is UTF-8 checked.
 * - upgrade request: if it parses as HTTP/1.1, the handshake verdict is
 *   well-formed, the subprotocols are tokens inside the header values, an
 *   accepted extension offer produces a response a client accepts with the
 *   same parameters, and the 101 head is well-formed (or refused).
 * - builders: frames and close frames built from the data parse back to the
 *   same payload, code and (truncated) reason; compress/inflate round trips
 *   in both roles.
 * Every buffer handed to the parser is its own exact-size heap allocation.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"
#include "utf8.h"
#include "ws.h"
#include "wsdeflate.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define MAX_FRAMES 128
#define END_INFLATE (-100) /* the run stopped on an inflate or inflated-UTF-8 error */

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ b[i]) * 1099511628211ull;
    }
    return h;
}

typedef struct {
    uint8_t opcode, message_opcode, first_flags, last_flags;
    uint16_t close_code;
    uint64_t frame_len, got, hash;
    /* compressed messages, at MESSAGE_END */
    uint64_t inflated, inflated_hash;
} frame_rec_t;

typedef struct {
    frame_rec_t frames[MAX_FRAMES];
    size_t nframes;
    int end;
    pn_ws_error_t err;
    size_t consumed;
} summary_t;

typedef struct {
    unsigned flags;
    uint64_t max;
    pn_wsdeflate_params_t params;
} config_t;

static config_t config_of(uint8_t ctl)
{
    static const uint64_t maxes[4] = {0, 16, 300, 70000};
    static const uint8_t windows[4] = {15, 9, 12, 10};
    config_t c;
    c.flags = ctl & 3;
    c.max = maxes[(ctl >> 2) & 3];
    c.params.server_no_context_takeover = (ctl >> 4) & 1;
    c.params.client_no_context_takeover = (ctl >> 5) & 1;
    c.params.server_max_window_bits = windows[(ctl >> 6) & 3];
    c.params.client_max_window_bits = windows[(ctl >> 6) & 3];
    return c;
}

/* Inflates one compressed piece (text is checked by the codec). 0, or END_INFLATE. */
static int inflate_piece(pn_wsdeflate_t *d, const pn_ws_event_t *ev, pn_buf_t *msg, pn_utf8_t *u,
                         summary_t *s)
{
    int fin = (ev->flags & PN_WS_EV_MESSAGE_END) != 0;
    pn_utf8_t *text = ev->message_opcode == PN_WS_OP_TEXT ? u : NULL;
    int rc = pn_wsdeflate_decompress(d, ev->data.base, ev->data.len, fin, msg, text);
    if (rc != 0) {
        CHECK(rc == PN_EPROTO);
        const pn_ws_error_t *e = pn_wsdeflate_error(d);
        CHECK(e->close_code == 1007 || e->close_code == 1009);
        s->err = *e;
        return END_INFLATE;
    }
    return 0;
}

/* Checks one event against the frame being assembled; records the frame at its end. */
static void take_event(const pn_ws_event_t *ev, const char *w, ssize_t rc, summary_t *s,
                       frame_rec_t *cur, int *in_frame, int *in_msg)
{
    unsigned f = ev->flags;
    int control = (ev->opcode & 8) != 0;
    CHECK(ev->data.len == 0 || (ev->data.base >= w && ev->data.base + ev->data.len <= w + rc));
    CHECK(!!(f & PN_WS_EV_FRAME_START) != *in_frame);
    if (f & PN_WS_EV_FRAME_START) {
        memset(cur, 0, sizeof *cur);
        cur->opcode = ev->opcode;
        cur->message_opcode = ev->message_opcode;
        cur->frame_len = ev->frame_len;
        cur->first_flags =
            (uint8_t)(f & (PN_WS_EV_MESSAGE_START | PN_WS_EV_FIN | PN_WS_EV_COMPRESSED));
        cur->hash = 1469598103934665603ull;
        *in_frame = 1;
    } else {
        CHECK(ev->opcode == cur->opcode && ev->frame_len == cur->frame_len);
        CHECK(ev->data.len > 0);
    }
    if (control) {
        CHECK(f & PN_WS_EV_FRAME_END);
        CHECK(ev->frame_len <= 125 && ev->message_opcode == ev->opcode);
        CHECK(ev->opcode != PN_WS_OP_CLOSE || ev->close_code == 1005 ||
              pn_ws_close_code_valid(ev->close_code));
        CHECK(ev->opcode != PN_WS_OP_CLOSE || pn_utf8_valid(ev->data.base, ev->data.len));
    } else {
        CHECK(ev->message_opcode == PN_WS_OP_TEXT || ev->message_opcode == PN_WS_OP_BINARY);
        CHECK(!(f & PN_WS_EV_MESSAGE_START) || ((f & PN_WS_EV_FRAME_START) && !*in_msg));
        if (f & PN_WS_EV_MESSAGE_START) {
            *in_msg = 1;
        }
        CHECK(*in_msg);
    }
    cur->got += ev->data.len;
    cur->hash = fnv(cur->hash, ev->data.base, ev->data.len);
    if (f & PN_WS_EV_FRAME_END) {
        *in_frame = 0;
        CHECK(control ? cur->got == ev->frame_len || ev->opcode == PN_WS_OP_CLOSE
                      : cur->got == ev->frame_len);
        if (f & PN_WS_EV_MESSAGE_END) {
            CHECK(f & PN_WS_EV_FIN);
            *in_msg = 0;
        }
        cur->last_flags = (uint8_t)(f & (PN_WS_EV_FRAME_END | PN_WS_EV_MESSAGE_END | PN_WS_EV_FIN |
                                         PN_WS_EV_COMPRESSED));
        cur->close_code = ev->close_code;
    } else {
        CHECK(!control && cur->got < ev->frame_len);
    }
}

/*
 * Runs in[0..n) through a parser (and an inflater for compressed messages),
 * the bytes arriving in pieces that end at cuts[0..ncuts) then n.
 */
static void run(const uint8_t *in, size_t n, const config_t *cfg, const size_t *cuts, size_t ncuts,
                summary_t *s)
{
    memset(s, 0, sizeof *s);
    uint8_t *stream = malloc(n ? n : 1);
    CHECK(stream != NULL);
    if (n) {
        memcpy(stream, in, n);
    }
    pn_ws_parser_t p;
    pn_ws_parser_init(&p, cfg->max, cfg->flags);
    pn_wsdeflate_options_t opts = {1, 1, cfg->max && cfg->max < (1u << 20) ? cfg->max : 1u << 20,
                                   NULL};
    int role = cfg->flags & PN_WS_F_CLIENT ? PN_WSDEFLATE_CLIENT : PN_WSDEFLATE_SERVER;
    pn_wsdeflate_t *d = NULL;
    pn_buf_t msg = {0};
    pn_utf8_t u;
    pn_utf8_init(&u);
    frame_rec_t cur;
    int in_frame = 0, in_msg = 0;
    size_t start = 0, avail = ncuts ? cuts[0] : n, next = 1;
    for (;;) {
        size_t wlen = avail - start;
        char *w = malloc(wlen ? wlen : 1);
        CHECK(w != NULL);
        if (wlen) {
            memcpy(w, stream + start, wlen);
        }
        pn_ws_event_t ev;
        ssize_t rc = pn_ws_parse(&p, wlen ? w : NULL, wlen, &ev);
        if (rc == PN_INCOMPLETE) {
            free(w);
            if (avail == n) {
                s->end = PN_INCOMPLETE;
                break;
            }
            while (next < ncuts && cuts[next] <= avail) {
                next++;
            }
            avail = next < ncuts ? cuts[next++] : n;
            continue;
        }
        if (rc == PN_EPROTO || rc == PN_WS_CLOSED) {
            free(w);
            s->end = (int)rc;
            if (rc == PN_EPROTO) {
                s->err = p.error;
                CHECK(p.error.close_code == 1002 || p.error.close_code == 1007 ||
                      p.error.close_code == 1009);
                CHECK(p.error.reason != NULL && p.error.offset <= n);
            }
            break;
        }
        CHECK(rc > 0 && (size_t)rc <= wlen);
        take_event(&ev, w, rc, s, &cur, &in_frame, &in_msg);
        if (ev.flags & PN_WS_EV_COMPRESSED) {
            CHECK(cfg->flags & PN_WS_F_DEFLATE);
            if (d == NULL) {
                d = pn_wsdeflate_new(&cfg->params, role, &opts);
                CHECK(d != NULL);
            }
            if (ev.flags & PN_WS_EV_MESSAGE_START) {
                pn_buf_consume(&msg, pn_buf_len(&msg));
                pn_utf8_init(&u);
            }
            if (inflate_piece(d, &ev, &msg, &u, s) != 0) {
                /* the connection fails here; the frame is not recorded, as it may be
                   incomplete in one run and whole in another */
                s->end = END_INFLATE;
                free(w);
                start += (size_t)rc;
                break;
            }
            if (ev.flags & PN_WS_EV_MESSAGE_END) {
                cur.inflated = pn_buf_len(&msg);
                cur.inflated_hash = fnv(1, cur.inflated ? pn_buf_ptr(&msg) : "", cur.inflated);
            }
        }
        if ((ev.flags & PN_WS_EV_FRAME_END) && s->nframes < MAX_FRAMES) {
            s->frames[s->nframes++] = cur;
        }
        memcpy(stream + start, w, (size_t)rc);
        free(w);
        start += (size_t)rc;
    }
    s->consumed = start;
    pn_wsdeflate_free(d);
    pn_buf_free(&msg);
    free(stream);
}

static void same(const summary_t *a, const summary_t *b)
{
    CHECK(a->end == b->end && a->nframes == b->nframes);
    for (size_t i = 0; i < a->nframes; i++) {
        const frame_rec_t *x = &a->frames[i], *y = &b->frames[i];
        CHECK(x->opcode == y->opcode && x->message_opcode == y->message_opcode);
        CHECK(x->first_flags == y->first_flags && x->last_flags == y->last_flags);
        CHECK(x->close_code == y->close_code && x->frame_len == y->frame_len);
        CHECK(x->got == y->got && x->hash == y->hash);
        CHECK(x->inflated == y->inflated && x->inflated_hash == y->inflated_hash);
    }
    if (a->end == PN_EPROTO || a->end == END_INFLATE) {
        CHECK(a->err.close_code == b->err.close_code);
        CHECK(strcmp(a->err.reason, b->err.reason) == 0);
        CHECK(a->end == END_INFLATE || a->err.offset == b->err.offset);
    }
    if (a->end == PN_WS_CLOSED) {
        CHECK(a->consumed == b->consumed); /* exactly up to the close frame's end */
    }
}

static void fuzz_stream(const uint8_t *in, size_t n, uint8_t ctl, uint8_t seed)
{
    config_t cfg = config_of(ctl);
    static summary_t whole, part;
    run(in, n, &cfg, NULL, 0, &whole);
    size_t cuts[2] = {n ? (size_t)(seed * 40503u) % (n + 1) : 0,
                      n ? (size_t)(seed * 9973u + 7) % (n + 1) : 0};
    if (cuts[0] > cuts[1]) {
        size_t t = cuts[0];
        cuts[0] = cuts[1];
        cuts[1] = t;
    }
    run(in, n, &cfg, cuts, 2, &part);
    same(&whole, &part);
    if (n <= 1024) {
        size_t *all = malloc((n + 1) * sizeof *all);
        CHECK(all != NULL);
        for (size_t i = 0; i < n; i++) {
            all[i] = i + 1;
        }
        run(in, n, &cfg, all, n, &part);
        same(&whole, &part);
        free(all);
    }
}

/* ---------------- upgrade request ---------------- */

static int inside(pn_slice_t s, const pn_header_t *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s.base >= h[i].value.base && s.base + s.len <= h[i].value.base + h[i].value.len) {
            return 1;
        }
    }
    return 0;
}

static void fuzz_upgrade(const uint8_t *in, size_t n, uint8_t ctl)
{
    char *req_bytes = malloc(n ? n : 1);
    CHECK(req_bytes != NULL);
    if (n) {
        memcpy(req_bytes, in, n);
    }
    static pn_header_t headers[PN_HTTP1_MAX_HEADERS_CAP];
    pn_http1_request_t req;
    memset(&req, 0, sizeof req);
    req.headers = headers;
    pn_http1_error_t herr;
    if (pn_http1_parse_request(req_bytes, n, NULL, &req, &herr) <= 0) {
        free(req_bytes);
        return;
    }
    pn_ws_handshake_t hs;
    int rc = pn_ws_handshake_check(req.method, req.minor_version, headers, req.num_headers, &hs);
    if (rc == 0) {
        CHECK(hs.status == 0 && hs.reason == NULL && strlen(hs.accept) == PN_WS_ACCEPT_LEN);
    } else {
        CHECK(rc == PN_EPROTO && (hs.status == 400 || hs.status == 426) && hs.reason != NULL);
    }
    pn_slice_t protos[4];
    ssize_t np = pn_ws_subprotocols(headers, req.num_headers, protos, 4);
    CHECK(np >= 0 || np == PN_EPROTO);
    CHECK(rc != 0 || np >= 0);
    for (ssize_t i = 0; i < np && i < 4; i++) {
        CHECK(protos[i].len > 0 && inside(protos[i], headers, req.num_headers));
    }

    pn_wsdeflate_config_t dc = {ctl & 1, (ctl >> 1) & 1, (ctl >> 2) & 15, (ctl >> 4) & 15};
    pn_wsdeflate_params_t agreed;
    char ext[PN_WSDEFLATE_RESPONSE_MAX];
    size_t ext_len = 0;
    int neg = pn_wsdeflate_negotiate(&dc, headers, req.num_headers, &agreed, ext, &ext_len);
    CHECK(neg == 0 || neg == 1 || neg == PN_EPROTO);
    if (neg == 1) {
        CHECK(ext_len < PN_WSDEFLATE_RESPONSE_MAX && ext[ext_len] == '\0');
        pn_wsdeflate_params_t seen;
        int crc = pn_wsdeflate_check_response(ext, ext_len, &seen);
        if (agreed.client_max_window_bits == 8) {
            /* the client offered 8 itself; a zlib-based client (ours) cannot keep to it */
            CHECK(crc == PN_EPROTO);
            seen = agreed;
        } else {
            CHECK(crc == 0);
        }
        CHECK(seen.server_no_context_takeover == agreed.server_no_context_takeover);
        CHECK(seen.client_no_context_takeover == agreed.client_no_context_takeover);
        CHECK(seen.client_max_window_bits == agreed.client_max_window_bits);
        CHECK(seen.server_max_window_bits >= agreed.server_max_window_bits);
        CHECK(agreed.server_max_window_bits >= 9 && agreed.server_max_window_bits <= 15);
        CHECK(agreed.client_max_window_bits >= 8 && agreed.client_max_window_bits <= 15);
    } else {
        ext_len = 0;
    }

    if (rc == 0) {
        pn_slice_t sub = np > 0 ? protos[0] : (pn_slice_t){"", 0};
        const char *why = NULL;
        size_t nextra = req.num_headers < 4 ? req.num_headers : 4;
        ssize_t len = pn_ws_write_response(NULL, 0, hs.accept, sub, (pn_slice_t){ext, ext_len},
                                           headers, nextra, &why);
        if (len == PN_WS_EINVAL) {
            CHECK(why != NULL);
        } else {
            CHECK(len > 0);
            char *out = malloc((size_t)len);
            CHECK(out != NULL);
            CHECK(pn_ws_write_response(out, (size_t)len, hs.accept, sub, (pn_slice_t){ext, ext_len},
                                       headers, nextra, &why) == len);
            CHECK(memcmp(out, "HTTP/1.1 101 ", 13) == 0);
            CHECK(len >= 4 && memcmp(out + len - 4, "\r\n\r\n", 4) == 0);
            for (ssize_t i = 0; i < len - 4; i++) { /* CR and LF only as line ends */
                CHECK(out[i] != '\0');
                CHECK(out[i] != '\r' || out[i + 1] == '\n');
                CHECK(out[i] != '\n' || (i > 0 && out[i - 1] == '\r'));
            }
            free(out);
        }
    }
    free(req_bytes);
}

/* ---------------- builders ---------------- */

static void fuzz_builders(const uint8_t *in, size_t n, uint8_t ctl)
{
    static const uint8_t key[4] = {0xde, 0xad, 0xbe, 0xef};
    /* a data frame built masked, parsed by a server */
    unsigned op = ctl & 1 ? PN_WS_OP_TEXT : PN_WS_OP_BINARY;
    size_t flen = pn_ws_write_frame(NULL, 0, op, PN_WS_FIN, in, n, key);
    char *f = malloc(flen);
    CHECK(f != NULL && pn_ws_write_frame(f, flen, op, PN_WS_FIN, in, n, key) == flen);
    pn_ws_parser_t p;
    pn_ws_parser_init(&p, 0, 0);
    pn_ws_event_t ev;
    ssize_t rc = pn_ws_parse(&p, f, flen, &ev);
    if (op == PN_WS_OP_TEXT && !pn_utf8_valid((const char *)in, n)) {
        CHECK(rc == PN_EPROTO && p.error.close_code == 1007);
    } else {
        CHECK(rc == (ssize_t)flen && ev.data.len == n &&
              (n == 0 || memcmp(ev.data.base, in, n) == 0));
        CHECK(ev.flags & PN_WS_EV_MESSAGE_END);
    }
    free(f);

    /* a close frame: code from the first two bytes, the rest as the reason */
    if (n >= 2) {
        unsigned code = (unsigned)in[0] << 8 | in[1];
        uint8_t c[PN_WS_MAX_CONTROL_FRAME];
        const char *reason = (const char *)in + 2;
        size_t rlen = n - 2;
        ssize_t cl = pn_ws_write_close(c, code, reason, rlen, NULL);
        int allowed =
            code == 0 ? rlen == 0 : pn_ws_close_code_sendable(code) && pn_utf8_valid(reason, rlen);
        CHECK((cl > 0) == allowed);
        if (cl > 0) {
            pn_ws_parser_init(&p, 0, PN_WS_F_CLIENT);
            rc = pn_ws_parse(&p, (char *)c, (size_t)cl, &ev);
            if (code == 0) {
                CHECK(rc == cl && ev.close_code == 1005 && ev.data.len == 0);
            } else if (pn_ws_close_code_valid(code)) {
                size_t keep = pn_utf8_truncate(reason, rlen, PN_WS_MAX_CLOSE_REASON);
                CHECK(rc == cl && ev.close_code == code && ev.data.len == keep);
                CHECK(keep == 0 || memcmp(ev.data.base, reason, keep) == 0);
            } else {
                CHECK(rc == PN_EPROTO && p.error.close_code == 1002); /* 1012-1014 */
            }
        }
    }

    /* compress / inflate both ways */
    config_t cfg = config_of(ctl);
    for (int role = 0; role < 2; role++) {
        pn_wsdeflate_t *tx = pn_wsdeflate_new(&cfg.params, role, NULL);
        pn_wsdeflate_t *rx = pn_wsdeflate_new(&cfg.params, !role, NULL);
        CHECK(tx != NULL && rx != NULL);
        pn_buf_t wire = {0}, out = {0};
        for (int k = 0; k < 2; k++) { /* twice: the second message may use the first's window */
            pn_buf_consume(&wire, pn_buf_len(&wire));
            pn_buf_consume(&out, pn_buf_len(&out));
            CHECK(pn_wsdeflate_compress(tx, in, n, &wire) == 0);
            size_t wl = pn_buf_len(&wire), cut = wl ? ctl % (wl + 1) : 0;
            CHECK(pn_wsdeflate_decompress(rx, pn_buf_ptr(&wire), cut, 0, &out, NULL) == 0);
            CHECK(pn_wsdeflate_decompress(rx, pn_buf_ptr(&wire) + cut, wl - cut, 1, &out, NULL) ==
                  0);
            CHECK(pn_buf_len(&out) == n && (n == 0 || memcmp(pn_buf_ptr(&out), in, n) == 0));
        }
        pn_buf_free(&wire);
        pn_buf_free(&out);
        pn_wsdeflate_free(tx);
        pn_wsdeflate_free(rx);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) {
        return 0;
    }
    uint8_t ctl = data[0], mode = data[1] & 3, seed = data[1] >> 2;
    const uint8_t *in = data + 2;
    size_t n = size - 2;
    switch (mode) {
    case 2:
        fuzz_upgrade(in, n, ctl);
        break;
    case 3:
        fuzz_builders(in, n, ctl);
        break;
    default:
        fuzz_stream(in, n, ctl, (uint8_t)(seed * 4 + mode));
        break;
    }
    return 0;
}
