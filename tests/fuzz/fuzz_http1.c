/*
 * fuzz_http1.c — libFuzzer target for pn_http1_parse_request and pn_chunked_*.
 *
 * Input layout: byte 0 is a control byte, the rest is the stream.
 *   bits 0-2  pick a limits profile (defaults, or tiny limits that make the
 *             414 / 431 / 413 paths reachable with short inputs)
 *   whole byte  derives the split points
 * Checked, aborting on violation (ASan/UBSan catch the rest):
 * - a prefix of the head never gives a result different from the whole input
 *   (it is PN_INCOMPLETE or exactly the same: status, reason, offset, fields);
 * - results are well-formed: slices inside the input, status in the set
 *   documented in http1.h, offsets inside the input;
 * - the chunked decoder gives the same body, error and consumed count whole
 *   and split, hands out data only from the consumed range, and stops at the
 *   end of the message;
 * - after a complete body (Content-Length or chunked) of a persistent request,
 *   the bytes that follow are checked as the next pipelined request (up to 4);
 * - the portable scalar scans (http1.c built again below with PN_NO_SIMD)
 *   give exactly the result of the SSE2 scans linked in: status, reason,
 *   offset, every slice.
 * Every buffer is its own heap allocation of the exact size, so an over-read
 * by one byte is reported.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"

/* The scalar build of the parser, under other names, next to the linked one. */
ssize_t scalar_parse_request(const char *buf, size_t len, const pn_http1_limits_t *limits,
                             pn_http1_request_t *req, pn_http1_error_t *err);
int scalar_slice_ieq(pn_slice_t s, const char *lower);
#define PN_NO_SIMD
#define pn_http1_parse_request scalar_parse_request
#define pn_slice_ieq scalar_slice_ieq
#define pn__http1_cls scalar_http1_cls
#include "http1.c"
#undef pn_http1_parse_request
#undef pn_slice_ieq
#undef pn__http1_cls

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

typedef struct {
    ssize_t r;
    pn_http1_request_t req;
    pn_http1_error_t err;
    pn_header_t headers[PN_HTTP1_MAX_HEADERS_CAP];
} head_t;

static pn_http1_limits_t profile(uint8_t ctl)
{
    pn_http1_limits_t lim = {PN_HTTP1_DEFAULT_MAX_REQUEST_LINE, PN_HTTP1_DEFAULT_MAX_HEAD,
                             PN_HTTP1_DEFAULT_MAX_HEADERS, PN_HTTP1_DEFAULT_MAX_BODY};
    switch (ctl & 7) {
    case 1:
        lim.max_request_line = 24;
        break;
    case 2:
        lim.max_head = 64;
        break;
    case 3:
        lim.max_headers = 2;
        break;
    case 4:
        lim.max_body = 16;
        break;
    case 5:
        lim.max_request_line = 16;
        lim.max_head = 40;
        lim.max_headers = 3;
        lim.max_body = 5;
        break;
    case 6:
        lim.max_headers = PN_HTTP1_MAX_HEADERS_CAP + 1; /* clamped */
        lim.max_body = UINT64_MAX;
        break;
    default:
        break;
    }
    return lim;
}

static int slice_eq(pn_slice_t a, pn_slice_t b)
{
    return a.base == b.base && a.len == b.len;
}

/* The scalar build parses buf[0..n) exactly as the SSE2 build did into *h. */
static void check_scalar(const char *buf, size_t n, const pn_http1_limits_t *lim, const head_t *h)
{
    static head_t sc;
    memset(&sc.req, 0, sizeof sc.req);
    sc.req.headers = sc.headers;
    sc.r = scalar_parse_request(buf, n, lim, &sc.req, &sc.err);
    CHECK(sc.r == h->r);
    if (h->r == PN_EPROTO) {
        CHECK(sc.err.status == h->err.status && sc.err.offset == h->err.offset);
        CHECK(strcmp(sc.err.reason, h->err.reason) == 0);
    }
    if (h->r <= 0) {
        return;
    }
    const pn_http1_request_t *a = &h->req, *b = &sc.req;
    CHECK(slice_eq(a->method, b->method) && slice_eq(a->target, b->target));
    CHECK(slice_eq(a->host, b->host) && a->minor_version == b->minor_version);
    CHECK(a->num_headers == b->num_headers && a->flags == b->flags);
    CHECK(a->body_kind == b->body_kind && a->content_length == b->content_length);
    CHECK(a->head_len == b->head_len);
    for (size_t i = 0; i < a->num_headers; i++) {
        CHECK(slice_eq(h->headers[i].name, sc.headers[i].name));
        CHECK(slice_eq(h->headers[i].value, sc.headers[i].value));
    }
}

/* Parses a private exact-size copy of buf[0..n). */
static void parse(const uint8_t *buf, size_t n, const pn_http1_limits_t *lim, head_t *h,
                  const char **base)
{
    char *copy = malloc(n ? n : 1);
    CHECK(copy != NULL);
    if (n > 0) {
        memcpy(copy, buf, n);
    }
    memset(&h->req, 0, sizeof h->req);
    h->req.headers = h->headers;
    h->r = pn_http1_parse_request(copy, n, lim, &h->req, &h->err);
    check_scalar(copy, n, lim, h);
    /* re-point slices at the caller's buffer so that the copy can go */
    if (h->r > 0) {
        pn_slice_t *s[] = {&h->req.method, &h->req.target, &h->req.host};
        for (size_t i = 0; i < 3; i++) {
            CHECK(s[i]->base >= copy && s[i]->base + s[i]->len <= copy + n);
            s[i]->base = (const char *)buf + (s[i]->base - copy);
        }
        for (size_t i = 0; i < h->req.num_headers; i++) {
            pn_header_t *f = &h->headers[i];
            CHECK(f->name.base >= copy && f->name.base + f->name.len <= copy + (size_t)h->r);
            CHECK(f->value.base >= copy && f->value.base + f->value.len <= copy + (size_t)h->r);
            f->name.base = (const char *)buf + (f->name.base - copy);
            f->value.base = (const char *)buf + (f->value.base - copy);
        }
    }
    *base = (const char *)buf;
    free(copy);
}

static void check_wellformed(const head_t *h, size_t n, const pn_http1_limits_t *lim)
{
    if (h->r == PN_INCOMPLETE) {
        return;
    }
    if (h->r == PN_EPROTO) {
        int s = h->err.status;
        CHECK(s == 400 || s == 413 || s == 414 || s == 431 || s == 501 || s == 505);
        CHECK(h->err.reason != NULL && h->err.reason[0] != '\0');
        CHECK(h->err.offset < n);
        return;
    }
    const pn_http1_request_t *q = &h->req;
    size_t max_headers =
        lim->max_headers < PN_HTTP1_MAX_HEADERS_CAP ? lim->max_headers : PN_HTTP1_MAX_HEADERS_CAP;
    CHECK(h->r > 0 && (size_t)h->r <= n && q->head_len == (size_t)h->r);
    CHECK(q->head_len <= lim->max_head);
    CHECK(q->method.len > 0 && q->target.len > 0);
    CHECK(q->minor_version == 0 || q->minor_version == 1);
    CHECK(q->num_headers <= max_headers);
    CHECK(q->body_kind == PN_BODY_NONE || q->body_kind == PN_BODY_LENGTH ||
          q->body_kind == PN_BODY_CHUNKED);
    CHECK(q->body_kind != PN_BODY_LENGTH ||
          (q->content_length > 0 && q->content_length <= lim->max_body));
    CHECK(q->body_kind != PN_BODY_CHUNKED || q->minor_version == 1);
    CHECK(!(q->flags & PN_REQ_KEEP_ALIVE) || !(q->flags & PN_REQ_CONN_CLOSE));
    CHECK(q->minor_version == 1 || !(q->flags & (PN_REQ_EXPECT_CONTINUE | PN_REQ_EXPECT_OTHER)));
    CHECK(q->minor_version == 0 || q->host.base != NULL);
}

/* A prefix result must be PN_INCOMPLETE or the whole input's result. */
static void check_prefix(const head_t *whole, const head_t *part)
{
    if (part->r == PN_INCOMPLETE) {
        return;
    }
    CHECK(part->r == whole->r);
    if (part->r == PN_EPROTO) {
        CHECK(part->err.status == whole->err.status);
        CHECK(strcmp(part->err.reason, whole->err.reason) == 0);
        CHECK(part->err.offset == whole->err.offset);
        return;
    }
    const pn_http1_request_t *a = &whole->req, *b = &part->req;
    CHECK(slice_eq(a->method, b->method) && slice_eq(a->target, b->target));
    CHECK(slice_eq(a->host, b->host) && a->minor_version == b->minor_version);
    CHECK(a->num_headers == b->num_headers && a->flags == b->flags);
    CHECK(a->body_kind == b->body_kind && a->content_length == b->content_length);
    for (size_t i = 0; i < a->num_headers; i++) {
        CHECK(slice_eq(whole->headers[i].name, part->headers[i].name));
        CHECK(slice_eq(whole->headers[i].value, part->headers[i].value));
    }
}

typedef struct {
    int status; /* 0 done, PN_INCOMPLETE, or the error status */
    const char *reason;
    size_t offset, consumed, body_len;
    uint8_t *body;
} chunk_out_t;

typedef struct {
    uint64_t max_body;
    size_t max_line, max_trailer;
} chunk_limits_t;

/* Decodes in[0..n) delivered as in[0..cut) then in[cut..n). */
static void decode(const uint8_t *in, size_t n, size_t cut, const chunk_limits_t *lim,
                   chunk_out_t *o)
{
    pn_chunked_t c;
    pn_chunked_init(&c, lim->max_body, lim->max_line, lim->max_trailer);
    o->status = PN_INCOMPLETE;
    o->reason = NULL;
    o->consumed = o->body_len = o->offset = 0;
    o->body = malloc(n ? n : 1);
    CHECK(o->body != NULL);
    size_t ends[2] = {cut, n};
    for (int piece = 0; piece < 2 && !pn_chunked_done(&c); piece++) {
        while (o->consumed < ends[piece] && !pn_chunked_done(&c)) {
            size_t len = ends[piece] - o->consumed;
            char *copy = malloc(len);
            CHECK(copy != NULL);
            memcpy(copy, in + o->consumed, len);
            pn_slice_t d;
            pn_http1_error_t err;
            ssize_t k = pn_chunked_feed(&c, copy, len, &d, &err);
            if (k < 0) {
                CHECK(k == PN_EPROTO && err.reason != NULL);
                CHECK(err.status == 400 || err.status == 413 || err.status == 431);
                CHECK(err.offset >= o->consumed && err.offset < n);
                o->status = err.status;
                o->reason = err.reason;
                o->offset = err.offset;
                free(copy);
                return;
            }
            CHECK((size_t)k <= len);
            CHECK(d.len == 0 || (d.base >= copy && d.base + d.len <= copy + k));
            CHECK(k > 0 || pn_chunked_done(&c));
            if (d.len > 0) {
                memcpy(o->body + o->body_len, d.base, d.len);
                o->body_len += d.len;
            }
            o->consumed += (size_t)k;
            free(copy);
        }
    }
    CHECK(o->body_len <= lim->max_body);
    if (pn_chunked_done(&c)) {
        o->status = 0;
    }
}

/* Decodes a chunked body whole and split; returns its length once complete, else -1. */
static ssize_t check_chunked(const uint8_t *in, size_t n, uint8_t ctl, uint64_t max_body)
{
    chunk_limits_t lim = {max_body, (ctl & 8) ? 16 : 0, (ctl & 16) ? 24 : 0};
    chunk_out_t a, b;
    decode(in, n, n, &lim, &a);
    decode(in, n, n ? (size_t)(ctl * 2654435761u) % (n + 1) : 0, &lim, &b);
    CHECK(a.status == b.status);
    CHECK(a.body_len == b.body_len && (a.body_len == 0 || memcmp(a.body, b.body, a.body_len) == 0));
    if (a.status > 0) {
        CHECK(strcmp(a.reason, b.reason) == 0 && a.offset == b.offset);
    } else {
        CHECK(a.consumed == b.consumed);
    }
    free(a.body);
    free(b.body);
    return a.status == 0 ? (ssize_t)a.consumed : -1;
}

/* One request at in[0..n): the head checks, then its body. Returns the bytes it used, or -1. */
static ssize_t one_message(const uint8_t *in, size_t n, uint8_t ctl, const pn_http1_limits_t *lim,
                           unsigned *flags)
{
    static head_t whole, part;
    const char *base;
    parse(in, n, lim, &whole, &base);
    check_wellformed(&whole, n, lim);
    /* two prefixes derived from the control byte, plus the one-byte-short prefix */
    size_t cuts[3] = {n ? (size_t)(ctl * 40503u) % n : 0, n ? (size_t)(ctl * 9973u) % n : 0,
                      n ? n - 1 : 0};
    for (int i = 0; i < 3; i++) {
        parse(in, cuts[i], lim, &part, &base);
        check_wellformed(&part, cuts[i], lim);
        check_prefix(&whole, &part);
    }
    if (whole.r <= 0) {
        return -1;
    }
    size_t head = (size_t)whole.r, rest = n - head;
    *flags = whole.req.flags;
    if (whole.req.method.len == 7 && memcmp(whole.req.method.base, "CONNECT", 7) == 0) {
        *flags &= ~(unsigned)PN_REQ_KEEP_ALIVE; /* a tunnel: no next request */
    }
    if (whole.req.body_kind == PN_BODY_LENGTH) {
        return whole.req.content_length <= rest ? (ssize_t)(head + whole.req.content_length) : -1;
    }
    if (whole.req.body_kind == PN_BODY_CHUNKED) {
        ssize_t body = check_chunked(in + head, rest, ctl, lim->max_body);
        return body < 0 ? -1 : (ssize_t)head + body;
    }
    return (ssize_t)head;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    uint8_t ctl = data[0];
    pn_http1_limits_t lim = profile(ctl);
    size_t pos = 1;
    /* pipelined requests, as the connection engine would see them */
    for (int i = 0; i < 4 && pos < size; i++) {
        unsigned flags = 0;
        ssize_t used = one_message(data + pos, size - pos, (uint8_t)(ctl + i), &lim, &flags);
        if (used < 0 || !(flags & PN_REQ_KEEP_ALIVE) || (flags & PN_REQ_UPGRADE)) {
            break;
        }
        pos += (size_t)used;
    }
    return 0;
}
