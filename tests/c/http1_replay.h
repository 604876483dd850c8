/*
 * http1_replay.h — test support for the HTTP/1.1 parser tests (header only).
 *
 * replay() is a model of the connection engine: it feeds a byte stream to
 * pn_http1_parse_request in pieces, re-running it on the growing buffer,
 * decodes Content-Length and chunked bodies (pn_chunked_feed), and follows
 * pipelining, keep-alive, upgrades and CONNECT. split_invariant() replays an
 * input whole, byte by byte and at random split points (fixed seed) and
 * checks that all give the same outcome. Every buffer handed to the parser or
 * decoder ends right before an unreadable page (guarded()), so a one-byte
 * over-read faults. Call arena_init() once before using it.
 */
#ifndef PN_HTTP1_REPLAY_H
#define PN_HTTP1_REPLAY_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "http1.h"
#include "tap.h"

/* ---- small utilities ---------------------------------------------------- */

typedef struct {
    char *p;
    size_t n, cap;
} bbuf_t;

static inline void bb_put(bbuf_t *b, const void *d, size_t n)
{
    if (n == 0) {
        return;
    }
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n + 1) {
            cap *= 2;
        }
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            abort();
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static inline void bb_puts(bbuf_t *b, const char *s)
{
    bb_put(b, s, strlen(s));
}

static inline void bb_free(bbuf_t *b)
{
    free(b->p);
    *b = (bbuf_t){0};
}

static inline int bb_eq(const bbuf_t *a, const bbuf_t *b)
{
    return a->n == b->n && (a->n == 0 || memcmp(a->p, b->p, a->n) == 0);
}

static inline int mem_eq(const void *a, size_t an, const void *b, size_t bn)
{
    return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

static inline char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    bbuf_t b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        bb_put(&b, chunk, n);
    }
    fclose(f);
    if (b.p == NULL) {
        b.p = calloc(1, 1); /* an empty file is an empty string, not a failure */
    }
    *len = b.n;
    return b.p;
}

/* xorshift64*: deterministic split points. */
static inline uint64_t rng_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

/* Printable rendering of a byte string for diagnostics (truncated). */
static inline const char *show(const void *d, size_t n)
{
    static char out[4][200];
    static int k;
    char *o = out[k++ & 3];
    size_t j = 0;
    for (size_t i = 0; i < n && j < sizeof out[0] - 8; i++) {
        unsigned char c = ((const unsigned char *)d)[i];
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            o[j++] = (char)c;
        } else {
            j += (size_t)snprintf(o + j, 8, "\\x%02x", c);
        }
    }
    o[j] = '\0';
    return o;
}

/* ---- guard page ------------------------------------------------------------ */

#define ARENA_SIZE (4u << 20)
static char *arena_end; /* first byte of the PROT_NONE page */

static inline void arena_init(void)
{
    long pg = sysconf(_SC_PAGESIZE);
    char *m = mmap(NULL, ARENA_SIZE + (size_t)pg, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED || mprotect(m + ARENA_SIZE, (size_t)pg, PROT_NONE) != 0) {
        perror("mmap guard page");
        exit(2);
    }
    arena_end = m + ARENA_SIZE;
}

/* A copy of d[0..n) whose last byte sits right before the guard page. */
static inline const char *guarded(const void *d, size_t n)
{
    if (n > ARENA_SIZE) {
        abort();
    }
    char *p = arena_end - n;
    if (n > 0) {
        memmove(p, d, n);
    }
    return p;
}

/* ---- replay: a model of the connection engine ------------------------------ */

enum { END_CLEAN, END_INCOMPLETE, END_ERROR, END_CLOSE_DATA, END_UPGRADE };
static const char *const end_names[] = {"clean end", "incomplete", "error", "data after close",
                                        "upgrade/tunnel"};

#define MAX_MSGS 8

typedef struct {
    bbuf_t method, target, body;
    bbuf_t hname[PN_HTTP1_MAX_HEADERS_CAP], hvalue[PN_HTTP1_MAX_HEADERS_CAP];
    size_t nh;
    int minor, body_kind, complete;
    unsigned flags;
    uint64_t content_length;
    size_t head_len;
    bbuf_t host;
} tmsg_t;

typedef struct {
    tmsg_t msg[MAX_MSGS];
    int nmsg;
    int end;
    int status;
    const char *reason;
    size_t offset;     /* absolute offset of the error */
    size_t fail_start; /* where the failing message started */
} outcome_t;

static inline void outcome_free(outcome_t *o)
{
    for (int i = 0; i < MAX_MSGS; i++) {
        tmsg_t *m = &o->msg[i];
        bb_free(&m->method);
        bb_free(&m->target);
        bb_free(&m->body);
        bb_free(&m->host);
        for (size_t h = 0; h < m->nh; h++) {
            bb_free(&m->hname[h]);
            bb_free(&m->hvalue[h]);
        }
    }
    memset(o, 0, sizeof *o);
}

static inline outcome_t *outcome_new(void)
{
    outcome_t *o = calloc(1, sizeof *o);
    if (o == NULL) {
        abort();
    }
    return o;
}

static inline void outcome_delete(outcome_t *o)
{
    outcome_free(o);
    free(o);
}

static inline void record_head(tmsg_t *m, const pn_http1_request_t *req)
{
    bb_put(&m->method, req->method.base, req->method.len);
    bb_put(&m->target, req->target.base, req->target.len);
    bb_put(&m->host, req->host.base, req->host.len);
    for (size_t i = 0; i < req->num_headers; i++) {
        bb_put(&m->hname[i], req->headers[i].name.base, req->headers[i].name.len);
        bb_put(&m->hvalue[i], req->headers[i].value.base, req->headers[i].value.len);
    }
    m->nh = req->num_headers;
    m->minor = req->minor_version;
    m->body_kind = req->body_kind;
    m->flags = req->flags;
    m->content_length = req->content_length;
    m->head_len = req->head_len;
}

static inline void set_error(outcome_t *o, int status, const char *reason, size_t offset,
                             size_t start)
{
    o->end = END_ERROR;
    o->status = status;
    o->reason = reason;
    o->offset = offset;
    o->fail_start = start;
}

enum { PH_HEAD, PH_LENGTH, PH_CHUNKED };

typedef struct {
    const char *in;
    size_t len;
    const pn_http1_limits_t *lim;
    outcome_t *o;
    size_t pos;
    int phase;
    uint64_t remaining;
    size_t msg_start, body_start;
    pn_chunked_t ck;
    tmsg_t *m;
} replay_t;

/* The current message is complete; returns 1 when the connection stops here. */
static inline int message_done(replay_t *r)
{
    r->m->complete = 1;
    r->phase = PH_HEAD;
    if (r->m->flags & PN_REQ_UPGRADE) {
        r->o->end = END_UPGRADE;
        return 1;
    }
    if (!(r->m->flags & PN_REQ_KEEP_ALIVE)) {
        r->o->end = r->pos < r->len ? END_CLOSE_DATA : END_CLEAN;
        return 1;
    }
    return 0;
}

/* Processes what the bytes in[0..avail) allow. Returns 1 when the replay is over. */
static inline int replay_step(replay_t *r, size_t avail)
{
    pn_header_t hdrs[PN_HTTP1_MAX_HEADERS_CAP];
    for (;;) {
        if (r->phase == PH_HEAD) {
            if (r->pos == avail) {
                return 0;
            }
            pn_http1_request_t req = {.headers = hdrs};
            pn_http1_error_t err = {0};
            size_t n = avail - r->pos;
            ssize_t k = pn_http1_parse_request(guarded(r->in + r->pos, n), n, r->lim, &req, &err);
            if (k == PN_INCOMPLETE) {
                return 0;
            }
            if (k < 0) {
                set_error(r->o, err.status, err.reason, r->pos + err.offset, r->pos);
                return 1;
            }
            if (k == 0 || (size_t)k > n || req.head_len != (size_t)k || r->o->nmsg == MAX_MSGS) {
                set_error(r->o, -1, "test: bad return value or too many messages", r->pos, r->pos);
                return 1;
            }
            r->m = &r->o->msg[r->o->nmsg++];
            record_head(r->m, &req);
            r->msg_start = r->pos;
            r->pos += (size_t)k;
            if (req.method.len == 7 && memcmp(req.method.base, "CONNECT", 7) == 0) {
                r->m->complete = 1;
                r->o->end = END_UPGRADE;
                return 1;
            }
            if (req.body_kind == PN_BODY_LENGTH) {
                r->phase = PH_LENGTH;
                r->remaining = req.content_length;
            } else if (req.body_kind == PN_BODY_CHUNKED) {
                r->phase = PH_CHUNKED;
                r->body_start = r->pos;
                pn_chunked_init(&r->ck, r->lim->max_body, 0, 0);
            } else if (message_done(r)) {
                return 1;
            }
        } else if (r->phase == PH_LENGTH) {
            size_t n = avail - r->pos;
            if (n > r->remaining) {
                n = (size_t)r->remaining;
            }
            bb_put(&r->m->body, r->in + r->pos, n);
            r->pos += n;
            r->remaining -= n;
            if (r->remaining > 0) {
                return 0;
            }
            if (message_done(r)) {
                return 1;
            }
        } else {
            if (r->pos == avail) {
                return 0;
            }
            size_t n = avail - r->pos;
            pn_slice_t d;
            pn_http1_error_t err = {0};
            const char *g = guarded(r->in + r->pos, n);
            ssize_t k = pn_chunked_feed(&r->ck, g, n, &d, &err);
            if (k < 0) {
                set_error(r->o, err.status, err.reason, r->body_start + err.offset, r->msg_start);
                return 1;
            }
            if ((size_t)k > n || d.base < g || d.base + d.len > g + k) {
                set_error(r->o, -1, "test: data slice outside the consumed range", r->pos, 0);
                return 1;
            }
            bb_put(&r->m->body, d.base, d.len);
            r->pos += (size_t)k;
            if (pn_chunked_done(&r->ck)) {
                if (message_done(r)) {
                    return 1;
                }
            } else if (k == 0) {
                set_error(r->o, -1, "test: chunked decoder made no progress", r->pos, 0);
                return 1;
            }
        }
    }
}

/* Replays in[0..len) delivered in pieces ending at cuts[0] < cuts[1] < ... = len. */
static inline void replay(const char *in, size_t len, const pn_http1_limits_t *lim,
                          const size_t *cuts, size_t ncuts, outcome_t *o)
{
    outcome_free(o);
    replay_t r = {.in = in, .len = len, .lim = lim, .o = o};
    for (size_t i = 0; i < ncuts; i++) {
        if (replay_step(&r, cuts[i])) {
            return;
        }
    }
    /* empty lines left after the last request are no request (RFC 9112 §2.2) */
    while (r.phase == PH_HEAD && len - r.pos >= 2 && in[r.pos] == '\r' && in[r.pos + 1] == '\n') {
        r.pos += 2;
    }
    o->end = (r.phase == PH_HEAD && r.pos == len) ? END_CLEAN : END_INCOMPLETE;
}

static inline void replay_whole(const char *in, size_t len, const pn_http1_limits_t *lim,
                                outcome_t *o)
{
    replay(in, len, lim, &len, 1, o);
}

static inline int msg_eq(const tmsg_t *a, const tmsg_t *b)
{
    if (!bb_eq(&a->method, &b->method) || !bb_eq(&a->target, &b->target) ||
        !bb_eq(&a->body, &b->body) || !bb_eq(&a->host, &b->host) || a->nh != b->nh ||
        a->minor != b->minor || a->body_kind != b->body_kind || a->complete != b->complete ||
        a->flags != b->flags || a->content_length != b->content_length ||
        a->head_len != b->head_len) {
        return 0;
    }
    for (size_t i = 0; i < a->nh; i++) {
        if (!bb_eq(&a->hname[i], &b->hname[i]) || !bb_eq(&a->hvalue[i], &b->hvalue[i])) {
            return 0;
        }
    }
    return 1;
}

static inline int outcome_eq(const outcome_t *a, const outcome_t *b)
{
    if (a->nmsg != b->nmsg || a->end != b->end) {
        return 0;
    }
    if (a->end == END_ERROR &&
        (a->status != b->status || strcmp(a->reason, b->reason) != 0 || a->offset != b->offset)) {
        return 0;
    }
    for (int i = 0; i < a->nmsg; i++) {
        if (!msg_eq(&a->msg[i], &b->msg[i])) {
            return 0;
        }
    }
    return 1;
}

static inline void describe(const char *label, const outcome_t *o)
{
    if (o->end == END_ERROR) {
        diag("  %s: %d message(s), error %d \"%s\" at %zu", label, o->nmsg, o->status, o->reason,
             o->offset);
    } else {
        diag("  %s: %d message(s), %s", label, o->nmsg, end_names[o->end]);
    }
}

static uint64_t g_seed = 0x9E3779B97F4A7C15ULL;

/*
 * Replays the input whole (into *whole), byte by byte and at random split
 * points; returns 1 if every replay gave the same outcome.
 */
static inline int split_invariant(const char *in, size_t len, const pn_http1_limits_t *lim,
                                  outcome_t *whole)
{
    replay_whole(in, len, lim, whole);
    outcome_t *o = outcome_new();
    size_t *cuts = calloc(len + 1, sizeof *cuts);
    int same = 1;
    for (size_t i = 0; i < len; i++) {
        cuts[i] = i + 1;
    }
    replay(in, len, lim, cuts, len, o);
    if (!outcome_eq(whole, o)) {
        describe("whole", whole);
        describe("byte by byte", o);
        same = 0;
    }
    for (int round = 0; round < 6 && same && len > 1; round++) {
        size_t n = 0, k = 1 + rng_next(&g_seed) % 5;
        for (size_t j = 0; j < k; j++) {
            cuts[n++] = 1 + rng_next(&g_seed) % (len - 1);
        }
        /* sort, dedupe, terminate with len */
        for (size_t a = 1; a < n; a++) {
            for (size_t b = a; b > 0 && cuts[b - 1] > cuts[b]; b--) {
                size_t t = cuts[b];
                cuts[b] = cuts[b - 1];
                cuts[b - 1] = t;
            }
        }
        size_t m = 0;
        for (size_t a = 0; a < n; a++) {
            if (m == 0 || cuts[m - 1] != cuts[a]) {
                cuts[m++] = cuts[a];
            }
        }
        cuts[m++] = len;
        replay(in, len, lim, cuts, m, o);
        if (!outcome_eq(whole, o)) {
            describe("whole", whole);
            describe("random split", o);
            same = 0;
        }
    }
    free(cuts);
    outcome_delete(o);
    return same;
}

static const pn_http1_limits_t default_limits = {
    PN_HTTP1_DEFAULT_MAX_REQUEST_LINE, PN_HTTP1_DEFAULT_MAX_HEAD, PN_HTTP1_DEFAULT_MAX_HEADERS,
    PN_HTTP1_DEFAULT_MAX_BODY};

#endif
