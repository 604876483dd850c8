/*
 * http1.c — the HTTP/1.1 request-head parser (RFC 9112 §2-§7, RFC 9110 §5).
 *
 * Owns: request-line and field-line syntax, the framing headers
 * (Content-Length, Transfer-Encoding), Host, Connection and Expect.
 * Does not own: the body (chunked.c decodes chunked; the caller counts
 * Content-Length bytes), routing, percent-decoding, responses.
 *
 * Invariants:
 * - Stateless and re-entrant: every call scans buf from byte 0. No allocation,
 *   no mutable globals, never reads past buf[len - 1].
 * - Left to right: the outcome at byte i depends only on buf[0..i]. Limits are
 *   scan bounds (the scan simply stops at max_head / the request-line bound),
 *   so a prefix of the input either returns PN_INCOMPLETE or the exact result
 *   (status, reason, offset) of the whole input. The connection engine relies
 *   on this to re-run the parser on a growing buffer.
 * - Strict: anything RFC 9112 lets a server reject is rejected, with a status
 *   hint and a short reason. Where we are stricter than the RFC or than other
 *   servers, a comment says so.
 */
#include "http1.h"

#include <string.h>

#include "http1_chars.h"
#include "http1_scan.h"

/* Empty lines (CRLF) tolerated before a request-line (RFC 9112 §2.2). */
#define MAX_LEADING_EMPTY_LINES 8

/* ---- byte classes ------------------------------------------------------- */

#define IS_ALPHA(c) (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z'))
#define IS_DIGIT(c) ((c) >= '0' && (c) <= '9')
#define IS_HEX(c) (IS_DIGIT(c) || ((c) >= 'a' && (c) <= 'f') || ((c) >= 'A' && (c) <= 'F'))
#define IS_TSPECIAL(c)                                                                             \
    ((c) == '!' || (c) == '#' || (c) == '$' || (c) == '%' || (c) == '&' || (c) == '\'' ||          \
     (c) == '*' || (c) == '+' || (c) == '-' || (c) == '.' || (c) == '^' || (c) == '_' ||           \
     (c) == '`' || (c) == '|' || (c) == '~')
#define IS_UNRESERVED(c)                                                                           \
    (IS_ALPHA(c) || IS_DIGIT(c) || (c) == '-' || (c) == '.' || (c) == '_' || (c) == '~')
#define IS_SUBDELIM(c)                                                                             \
    ((c) == '!' || (c) == '$' || (c) == '&' || (c) == '\'' || (c) == '(' || (c) == ')' ||          \
     (c) == '*' || (c) == '+' || (c) == ',' || (c) == ';' || (c) == '=')

#define CLS(c)                                                                                     \
    ((IS_ALPHA(c) || IS_DIGIT(c) || IS_TSPECIAL(c) ? PN__C_TCHAR : 0) |                            \
     ((c) == '\t' || ((c) >= 0x20 && (c) != 0x7f) ? PN__C_FVALUE : 0) |                            \
     ((c) > 0x20 && (c) < 0x7f ? PN__C_TARGET : 0) | (IS_HEX(c) ? PN__C_HEX : 0) |                 \
     (IS_UNRESERVED(c) || IS_SUBDELIM(c) || (c) == '%' ? PN__C_REGNAME : 0) |                      \
     (IS_ALPHA(c) || IS_DIGIT(c) || (c) == '+' || (c) == '-' || (c) == '.' ? PN__C_SCHEME : 0) |   \
     (IS_DIGIT(c) ? PN__C_DIGIT : 0) |                                                             \
     ((c) == '\t' || ((c) >= 0x20 && (c) != 0x7f && (c) != '"' && (c) != '\\') ? PN__C_QDTEXT      \
                                                                               : 0))
#define R4(c) CLS(c), CLS((c) + 1), CLS((c) + 2), CLS((c) + 3)
#define R16(c) R4(c), R4((c) + 4), R4((c) + 8), R4((c) + 12)
#define R64(c) R16(c), R16((c) + 16), R16((c) + 32), R16((c) + 48)

const uint8_t pn__http1_cls[256] = {R64(0), R64(64), R64(128), R64(192)};


/* ---- helpers ------------------------------------------------------------ */

static ssize_t fail(pn_http1_error_t *err, int status, const char *reason, size_t offset)
{
    err->status = status;
    err->reason = reason;
    err->offset = offset;
    return PN_EPROTO;
}

/*
 * The scan stopped at off without finding what it needs. If the buffer simply
 * ends there, wait for more; otherwise a bound stopped it and that bound's
 * error is final (any longer input reaches the same bound at the same byte).
 */
static ssize_t ran_out(size_t off, size_t len, size_t rl_bound, pn_http1_error_t *err)
{
    if (off >= len) {
        return PN_INCOMPLETE;
    }
    if (off >= rl_bound) {
        return fail(err, 414, "request-line too long", off);
    }
    return fail(err, 431, "request head too large", off);
}

/*
 * a[0..n) equals lit ignoring ASCII case, where lit holds only lowercase
 * letters, digits and '-'. OR-ing 0x20 maps exactly the case pair of a letter
 * onto it; for a digit or '-' it also admits a control byte (0x10-0x19,
 * 0x0D), which validated names and values never contain. Eight bytes at a time.
 */
static inline int ieq_lit(const uint8_t *a, const char *lit, size_t n)
{
    uint64_t x, y;
    uint32_t u, v;
    if (n > 8 && n <= 16) {
        /* two overlapping words */
        memcpy(&x, a, 8);
        memcpy(&y, lit, 8);
        if ((x | 0x2020202020202020ull) != y) {
            return 0;
        }
        memcpy(&x, a + n - 8, 8);
        memcpy(&y, lit + n - 8, 8);
        return (x | 0x2020202020202020ull) == y;
    }
    for (; n >= 8; n -= 8, a += 8, lit += 8) {
        memcpy(&x, a, 8);
        memcpy(&y, lit, 8);
        if ((x | 0x2020202020202020ull) != y) {
            return 0;
        }
    }
    if (n >= 4) {
        memcpy(&u, a, 4);
        memcpy(&v, lit, 4);
        if ((u | 0x20202020u) != v) {
            return 0;
        }
        n -= 4, a += 4, lit += 4;
    }
    for (; n > 0; n--, a++, lit++) {
        if ((*a | 0x20) != (uint8_t)*lit) {
            return 0;
        }
    }
    return 1;
}

int pn_slice_ieq(pn_slice_t s, const char *lower)
{
    size_t n = strlen(lower);
    if (s.len != n) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (pn__lower((uint8_t)s.base[i]) != (uint8_t)lower[i]) {
            return 0;
        }
    }
    return 1;
}

/*
 * host [ ":" port ] (RFC 3986 §3.2.2-3.2.3) in [p, end); bytes up to readable
 * may be loaded. host is an IP-literal in brackets or a reg-name (which covers
 * IPv4address). Characters only: we do not check that an IP-literal is a
 * well-formed IPv6 address or that a port is < 65536.
 */
enum { HOST_NEED_PORT = 1 };

static int valid_host_port(const uint8_t *p, const uint8_t *end, const uint8_t *readable, int opts)
{
    const uint8_t *h = p;
    if (p < end && *p == '[') {
        p++;
        while (p < end && *p != ']' && (CLS_IS(*p, PN__C_REGNAME) || *p == ':') && *p != '%') {
            p++;
        }
        if (p == end || *p != ']' || p == h + 1) {
            return 0;
        }
        p++;
    } else {
        for (;;) {
            p = scan_reg_name(p, end, readable);
            if (p == end || *p != '%') {
                break;
            }
            if (end - p < 3 || !CLS_IS(p[1], PN__C_HEX) || !CLS_IS(p[2], PN__C_HEX)) {
                return 0;
            }
            p += 3;
        }
        if (p == h) {
            return 0; /* RFC 9110 §4.2.1: a recipient must reject an empty host */
        }
    }
    if (p == end) {
        return !(opts & HOST_NEED_PORT);
    }
    if (*p != ':') {
        return 0;
    }
    const uint8_t *port = ++p;
    while (p < end && CLS_IS(*p, PN__C_DIGIT)) {
        p++;
    }
    return p == end && (p > port || !(opts & HOST_NEED_PORT));
}

/* absolute-form: scheme "://" [ userinfo "@" ] host [ ":" port ] [ path-abempty ["?" query] ] */
static int valid_absolute_form(const uint8_t *t, const uint8_t *end, const uint8_t *readable)
{
    const uint8_t *p = t + 1; /* t[0] is ALPHA (checked by the caller) */
    while (p < end && CLS_IS(*p, PN__C_SCHEME)) {
        p++;
    }
    if (end - p < 3 || p[0] != ':' || p[1] != '/' || p[2] != '/') {
        return 0;
    }
    /* An absolute-URI has no fragment (RFC 9112 §3.2.2, RFC 3986 §4.3): a '#' would
     * otherwise end the authority early ("http://a#@b/" is not host a). */
    if (memchr(p, '#', (size_t)(end - p)) != NULL) {
        return 0;
    }
    const uint8_t *a = p + 3, *ae = a;
    while (ae < end && *ae != '/' && *ae != '?' && *ae != '#') {
        ae++;
    }
    const uint8_t *at = memchr(a, '@', (size_t)(ae - a));
    if (at != NULL) {
        for (p = a; p < at; p++) {
            if (!CLS_IS(*p, PN__C_REGNAME) && *p != ':') {
                return 0;
            }
        }
        a = at + 1;
    }
    return valid_host_port(a, ae, readable, 0);
}

/* ---- request-line (RFC 9112 §3) ----------------------------------------- */

typedef struct {
    const uint8_t *s; /* buffer start (offsets are relative to it) */
    size_t len;       /* bytes available */
    size_t hend;      /* min(len, max_head): the head scan bound */
    pn_http1_request_t *req;
    pn_http1_error_t *err;
    uint64_t max_body;
    uint8_t is_connect;
    uint8_t target_authority; /* absolute- or authority-form */
    uint8_t has_cl;
    uint8_t has_te;
    uint8_t chunked;
    uint8_t has_host;
    uint8_t has_upgrade;  /* a non-empty Upgrade field */
    uint8_t conn_upgrade; /* "upgrade" among the Connection options */
} ctx_t;

#define OFF(c, ptr) ((size_t)((ptr) - (c)->s))

/* RFC 9112 §3.2: which request-target form is allowed for which method. */
static ssize_t check_target_form(ctx_t *c, const uint8_t *t, const uint8_t *te)
{
    const uint8_t *readable = c->s + c->hend;
    pn_slice_t m = c->req->method;
    c->is_connect = m.len == 7 && memcmp(m.base, "CONNECT", 7) == 0;
    if (c->is_connect) {
        c->target_authority = 1;
        if (!valid_host_port(t, te, readable, HOST_NEED_PORT)) {
            return fail(c->err, 400, "CONNECT needs an authority-form target (host:port)",
                        OFF(c, t));
        }
    } else if (*t == '/') {
        /* origin-form; its characters were checked while scanning */
    } else if (*t == '*' && te - t == 1) {
        if (!(m.len == 7 && memcmp(m.base, "OPTIONS", 7) == 0)) {
            return fail(c->err, 400, "asterisk-form target is only allowed with OPTIONS",
                        OFF(c, t));
        }
    } else if (IS_ALPHA(*t) && valid_absolute_form(t, te, readable)) {
        c->target_authority = 1;
    } else {
        return fail(c->err, 400, "invalid request-target", OFF(c, t));
    }
    return 0;
}

/* Parses from *pp (first byte of the request-line); on success *pp is past its CRLF. */
static ssize_t parse_request_line(ctx_t *c, const uint8_t **pp, size_t max_line)
{
    const uint8_t *s = c->s, *p = *pp;
    size_t start = OFF(c, p);
    size_t rl_bound = max_line < SIZE_MAX - start ? start + max_line : SIZE_MAX;
    const uint8_t *end = s + (c->hend < rl_bound ? c->hend : rl_bound);

    /* method = token, then exactly one SP */
    const uint8_t *m = p;
    if (end - p > 3 && memcmp(p, "GET ", 4) == 0) {
        p += 3; /* the common case, byte for byte what the scan accepts */
    } else {
        p = scan_token(p, end);
    }
    if (p == end) {
        return ran_out(OFF(c, p), c->len, rl_bound, c->err);
    }
    if (*p != ' ') {
        return fail(c->err, 400, "invalid character in method", OFF(c, p));
    }
    if (p == m) {
        return fail(c->err, 400, "missing method", OFF(c, p));
    }
    c->req->method = (pn_slice_t){(const char *)m, (size_t)(p - m)};

    /* request-target: visible ASCII, then exactly one SP */
    const uint8_t *t = ++p;
    p = scan_target(p, end);
    if (p == end) {
        return ran_out(OFF(c, p), c->len, rl_bound, c->err);
    }
    if (*p != ' ' || p == t) {
        if (p == t) {
            return fail(c->err, 400,
                        *p == ' ' ? "extra whitespace in request-line" : "missing request-target",
                        OFF(c, p));
        }
        if (*p == '\r' || *p == '\n') {
            return fail(c->err, 400, "missing HTTP version", OFF(c, p));
        }
        return fail(c->err, 400, "invalid character in request-target", OFF(c, p));
    }
    c->req->target = (pn_slice_t){(const char *)t, (size_t)(p - t)};
    ssize_t r = check_target_form(c, t, p);
    if (r < 0) {
        return r;
    }

    /* HTTP-version = "HTTP/" DIGIT "." DIGIT, then CRLF */
    const uint8_t *v = ++p;
    if (end - p >= 8 && s + c->hend - p >= 10 && memcmp(p, "HTTP/1.1\r\n", 10) == 0) {
        c->req->minor_version = 1; /* the common case, with the outcome of the general path */
        *pp = p + 10;
        return 0;
    }
    static const char pattern[] = "HTTP/0.0";
    for (int i = 0; i < 8; i++, p++) {
        if (p == end) {
            return ran_out(OFF(c, p), c->len, rl_bound, c->err);
        }
        int ok = (i == 5 || i == 7) ? IS_DIGIT(*p) : *p == (uint8_t)pattern[i];
        if (!ok) {
            return fail(c->err, 400,
                        *p == ' ' && i == 0 ? "extra whitespace in request-line"
                                            : "invalid HTTP version",
                        OFF(c, p));
        }
    }
    if (p == s + c->hend) {
        return ran_out(OFF(c, p), c->len, rl_bound, c->err);
    }
    if (*p != '\r') {
        return fail(c->err, 400, *p == '\n' ? "bare LF in request-line" : "invalid HTTP version",
                    OFF(c, p));
    }
    /* well-formed (its CR seen, so not "HTTP/1.10") but not one we speak */
    if (v[5] != '1' || (v[7] != '0' && v[7] != '1')) {
        return fail(c->err, 505, "HTTP version not supported", OFF(c, v));
    }
    c->req->minor_version = v[7] - '0';
    if (p + 1 == s + c->hend) {
        return ran_out(OFF(c, p + 1), c->len, SIZE_MAX, c->err);
    }
    if (p[1] != '\n') {
        return fail(c->err, 400, "bare CR in request-line", OFF(c, p));
    }
    *pp = p + 2;
    return 0;
}

/* ---- field semantics ------------------------------------------------------ */

/* Runs body on each non-empty element of a comma list, OWS trimmed (RFC 9110 §5.6.1). */
#define FOR_EACH_ELEMENT(val, vlen, el, el_len, body)                                              \
    do {                                                                                           \
        const uint8_t *p_ = (val), *end_ = (val) + (vlen);                                         \
        while (p_ < end_) {                                                                        \
            const uint8_t *e_ = memchr(p_, ',', (size_t)(end_ - p_));                              \
            const uint8_t *el = p_, *t_ = e_ ? e_ : end_;                                          \
            while (el < t_ && (*el == ' ' || *el == '\t')) {                                       \
                el++;                                                                              \
            }                                                                                      \
            while (t_ > el && (t_[-1] == ' ' || t_[-1] == '\t')) {                                 \
                t_--;                                                                              \
            }                                                                                      \
            size_t el_len = (size_t)(t_ - el);                                                     \
            if (el_len > 0) {                                                                      \
                body                                                                               \
            }                                                                                      \
            p_ = e_ ? e_ + 1 : end_;                                                               \
        }                                                                                          \
    } while (0)

/*
 * Content-Length = 1*DIGIT (RFC 9112 §6.3). Deliberately stricter than RFC
 * 9110 §8.6 and h11: a second Content-Length field line is rejected even when
 * it repeats the same value, and so is the list form "5, 5". Accepting either
 * buys nothing for real clients and is a classic request-smuggling vector.
 */
static ssize_t on_content_length(ctx_t *c, const uint8_t *v, size_t n, size_t off)
{
    if (c->has_te) {
        return fail(c->err, 400, "both Transfer-Encoding and Content-Length", off);
    }
    if (c->has_cl) {
        return fail(c->err, 400, "duplicate Content-Length", off);
    }
    c->has_cl = 1;
    if (n == 0) {
        return fail(c->err, 400, "empty Content-Length", off);
    }
    uint64_t x = 0;
    int too_big = 0;
    for (size_t i = 0; i < n; i++) {
        if (!IS_DIGIT(v[i])) {
            return fail(c->err, 400, "invalid Content-Length", off);
        }
        unsigned d = v[i] - '0';
        if (too_big || x > (UINT64_MAX - d) / 10 || (x = x * 10 + d) > c->max_body) {
            too_big = 1;
        }
    }
    if (too_big) {
        return fail(c->err, 413, "Content-Length exceeds the body size limit", off);
    }
    c->req->content_length = x;
    return 0;
}

/*
 * Transfer-Encoding (RFC 9112 §6.1): the codings of all field lines form one
 * list. We decode chunked only, so the list must be exactly "chunked":
 * another coding before it is unsupported (501), anything after it or a
 * second chunked leaves the length undeterminable (400).
 */
static ssize_t on_transfer_encoding(ctx_t *c, const uint8_t *v, size_t n, size_t off)
{
    if (c->req->minor_version == 0) {
        return fail(c->err, 400, "Transfer-Encoding in an HTTP/1.0 request", off);
    }
    if (c->has_cl) {
        return fail(c->err, 400, "both Transfer-Encoding and Content-Length", off);
    }
    c->has_te = 1;
    int any = 0;
    FOR_EACH_ELEMENT(v, n, el, el_len, {
        any = 1;
        for (size_t i = 0; i < el_len; i++) {
            if (!CLS_IS(el[i], PN__C_TCHAR)) {
                return fail(c->err, 400, "invalid Transfer-Encoding", off);
            }
        }
        if (el_len == 7 && ieq_lit(el, "chunked", 7)) {
            if (c->chunked) {
                return fail(c->err, 400, "chunked transfer-coding applied twice", off);
            }
            c->chunked = 1;
        } else if (c->chunked) {
            return fail(c->err, 400, "chunked must be the final transfer-coding", off);
        } else {
            return fail(c->err, 501, "unsupported transfer-coding", off);
        }
    });
    if (!any) {
        return fail(c->err, 400, "empty Transfer-Encoding", off);
    }
    return 0;
}

/*
 * Host (RFC 9112 §3.2): at most one field line, value host[:port]. An empty
 * value is what a client sends when the target URI has no authority, so it is
 * accepted with origin-form and asterisk-form targets only.
 */
static ssize_t on_host(ctx_t *c, const uint8_t *v, size_t n, size_t off)
{
    if (c->has_host) {
        return fail(c->err, 400, "duplicate Host", off);
    }
    c->has_host = 1;
    if (n == 0 ? c->target_authority : !valid_host_port(v, v + n, c->s + c->hend, 0)) {
        return fail(c->err, 400, "invalid Host", off);
    }
    c->req->host = (pn_slice_t){(const char *)v, n};
    return 0;
}

static void on_connection(ctx_t *c, const uint8_t *v, size_t n)
{
    /* the usual value is one option alone */
    if (n == 10 && ieq_lit(v, "keep-alive", 10)) {
        c->req->flags |= PN_REQ_CONN_KEEP_ALIVE;
        return;
    }
    if (n == 5 && ieq_lit(v, "close", 5)) {
        c->req->flags |= PN_REQ_CONN_CLOSE;
        return;
    }
    FOR_EACH_ELEMENT(v, n, el, el_len, {
        if (el_len == 5 && ieq_lit(el, "close", 5)) {
            c->req->flags |= PN_REQ_CONN_CLOSE;
        } else if (el_len == 10 && ieq_lit(el, "keep-alive", 10)) {
            c->req->flags |= PN_REQ_CONN_KEEP_ALIVE;
        } else if (el_len == 7 && ieq_lit(el, "upgrade", 7)) {
            c->conn_upgrade = 1;
        }
    });
}

/* Dispatches on the few fields whose meaning belongs to the protocol layer. */
static ssize_t on_field(ctx_t *c, const uint8_t *name, size_t nlen, const uint8_t *v, size_t n,
                        size_t off)
{
    switch (nlen) {
    case 4:
        return ieq_lit(name, "host", 4) ? on_host(c, v, n, off) : 0;
    case 6:
        /* RFC 9110 §10.1.1: only 100-continue is defined; HTTP/1.0 ignores Expect. */
        if (ieq_lit(name, "expect", 6) && c->req->minor_version == 1) {
            c->req->flags |= (n == 12 && ieq_lit(v, "100-continue", 12)) ? PN_REQ_EXPECT_CONTINUE
                                                                         : PN_REQ_EXPECT_OTHER;
        }
        return 0;
    case 7:
        if (n > 0 && ieq_lit(name, "upgrade", 7)) {
            c->has_upgrade = 1;
        }
        return 0;
    case 10:
        if (ieq_lit(name, "connection", 10)) {
            on_connection(c, v, n);
        }
        return 0;
    case 14:
        return ieq_lit(name, "content-length", 14) ? on_content_length(c, v, n, off) : 0;
    case 17:
        return ieq_lit(name, "transfer-encoding", 17) ? on_transfer_encoding(c, v, n, off) : 0;
    default:
        return 0;
    }
}

/* After the empty line: framing, keep-alive and the request-level rules. */
static ssize_t finish_head(ctx_t *c, size_t off)
{
    pn_http1_request_t *req = c->req;
    if (!c->has_host && req->minor_version == 1) {
        return fail(c->err, 400, "missing Host", off);
    }
    if (c->chunked) {
        req->body_kind = PN_BODY_CHUNKED;
    } else if (c->has_cl && req->content_length > 0) {
        req->body_kind = PN_BODY_LENGTH;
    }
    /* RFC 9110 §9.3.6: CONNECT has no content; framing headers on it are ambiguous. */
    if (c->is_connect && req->body_kind != PN_BODY_NONE) {
        return fail(c->err, 400, "CONNECT request with content", off);
    }
    unsigned f = req->flags;
    if (!(f & PN_REQ_CONN_CLOSE) && (req->minor_version == 1 || (f & PN_REQ_CONN_KEEP_ALIVE))) {
        f |= PN_REQ_KEEP_ALIVE;
    }
    if (c->conn_upgrade && c->has_upgrade && req->minor_version == 1) {
        f |= PN_REQ_UPGRADE; /* RFC 9110 §7.8: Upgrade in an HTTP/1.0 request is ignored */
    }
    req->flags = f;
    return 0;
}

/* ---- field lines (RFC 9112 §5) ------------------------------------------ */

/* p[0..2) is CRLF; one 16-bit comparison. */
static inline int is_crlf(const uint8_t *p)
{
    uint16_t x, crlf;
    memcpy(&x, p, 2);
    memcpy(&crlf, "\r\n", 2);
    return x == crlf;
}

/*
 * The names on_field() acts on (host, expect, upgrade, connection,
 * content-length, transfer-encoding) by length and first letter, so that other
 * names skip the dispatch. Other lengths hold 0, which no token byte | 0x20 is.
 */
static const uint8_t on_field_initial[18] = {[4] = 'h',  [6] = 'e',  [7] = 'u',
                                             [10] = 'c', [14] = 'c', [17] = 't'};

/*
 * A line that is not the empty line did not start as name ":" (p is where the
 * name scan from `name` stopped), or the header array is full. Returns
 * PN_INCOMPLETE or the error, checked in the order a byte-wise reading of the
 * line meets them.
 */
static ssize_t field_start_slow(ctx_t *c, const uint8_t *name, const uint8_t *p,
                                const uint8_t *end, int full)
{
    if (p == name) {
        if (p == end) {
            return ran_out(OFF(c, p), c->len, SIZE_MAX, c->err);
        }
        if (*p == ' ' || *p == '\t') {
            return fail(c->err, 400, "obs-fold or whitespace before a field line", OFF(c, p));
        }
    }
    if (full) {
        return fail(c->err, 431, "too many header fields", OFF(c, name));
    }
    if (p == end) {
        return ran_out(OFF(c, p), c->len, SIZE_MAX, c->err);
    }
    const char *why = *p == ':'                   ? "empty header name"
                      : (*p == ' ' || *p == '\t') ? "whitespace before colon"
                      : *p == '\n'                ? "bare LF in header section"
                                                  : "invalid character in header name";
    return fail(c->err, 400, why, OFF(c, p));
}

/* A field value did not end in CRLF: p is where the value scan stopped. */
static ssize_t field_end_slow(ctx_t *c, const uint8_t *p, const uint8_t *end)
{
    if (p == end) {
        return ran_out(OFF(c, p), c->len, SIZE_MAX, c->err);
    }
    if (*p != '\r') {
        return fail(c->err, 400,
                    *p == '\n' ? "bare LF in header section" : "invalid character in header value",
                    OFF(c, p));
    }
    if (p + 1 == end) {
        return ran_out(OFF(c, p + 1), c->len, SIZE_MAX, c->err);
    }
    return fail(c->err, 400, "bare CR in header section", OFF(c, p));
}

static ssize_t parse_fields(ctx_t *c, const uint8_t **pp, size_t max_headers)
{
    const uint8_t *p = *pp, *end = c->s + c->hend;
    pn_header_t *out = c->req->headers, *o = out, *full = out + max_headers;
    for (;; o++) {
        /* field-name ":" OWS field-value OWS CRLF; OWS is value text, so one scan finds the CR */
        const uint8_t *name = p, *name_end = NULL;
        p = scan_usual_line(name, end, &name_end);
        if (p == NULL || o == full) {
            if (name < end && *name == '\r') {
                p = name;
                break; /* the empty line that ends the head */
            }
            p = scan_token(name, end);
            if (p == end || *p != ':' || p == name || o == full) {
                return field_start_slow(c, name, p, end, o == full);
            }
            name_end = p;
            p = scan_value(p + 1, end);
        }
        const uint8_t *val = name_end + 1;
        if (p >= end - 1 || !is_crlf(p)) {
            return field_end_slow(c, p, end);
        }
        /* trim OWS: in scanned value text the bytes <= 0x20 are SP and HTAB; the byte tested
         * first is always readable (the CR, or the ':'), so a value with no OWS costs one test */
        val += *val == ' '; /* the usual single SP */
        if (*val <= ' ') {
            while (val < p && *val <= ' ') {
                val++;
            }
        }
        const uint8_t *val_end = p;
        while (val_end[-1] <= ' ' && val_end > val) {
            val_end--;
        }
        p += 2;
        size_t nlen = (size_t)(name_end - name), vlen = (size_t)(val_end - val);
        o->name = (pn_slice_t){(const char *)name, nlen};
        o->value = (pn_slice_t){(const char *)val, vlen};
        if (nlen < sizeof on_field_initial && (*name | 0x20) == on_field_initial[nlen]) {
            ssize_t r = on_field(c, name, nlen, val, vlen, OFF(c, name));
            if (r < 0) {
                return r;
            }
        }
    }
    /* *p == '\r': the empty line that ends the head */
    c->req->num_headers = (size_t)(o - out);
    if (p + 1 == end) {
        return ran_out(OFF(c, p + 1), c->len, SIZE_MAX, c->err);
    }
    if (p[1] != '\n') {
        return fail(c->err, 400, "bare CR in header section", OFF(c, p));
    }
    *pp = p + 2;
    return 0;
}

/* ---- entry point -------------------------------------------------------- */

ssize_t pn_http1_parse_request(const char *buf, size_t len, const pn_http1_limits_t *limits,
                               pn_http1_request_t *req, pn_http1_error_t *err)
{
    static const pn_http1_limits_t defaults = {
        PN_HTTP1_DEFAULT_MAX_REQUEST_LINE, PN_HTTP1_DEFAULT_MAX_HEAD, PN_HTTP1_DEFAULT_MAX_HEADERS,
        PN_HTTP1_DEFAULT_MAX_BODY};
    if (limits == NULL) {
        limits = &defaults;
    }
    size_t max_headers = limits->max_headers;
    if (max_headers > PN_HTTP1_MAX_HEADERS_CAP) {
        max_headers = PN_HTTP1_MAX_HEADERS_CAP;
    }
    const uint8_t *s = (const uint8_t *)buf;
    ctx_t c = {.s = s, .len = len, .req = req, .err = err, .max_body = limits->max_body};
    c.hend = len < limits->max_head ? len : limits->max_head;

    req->method = req->target = (pn_slice_t){buf, 0};
    req->host = (pn_slice_t){buf, 0};
    req->minor_version = 1;
    req->num_headers = 0;
    req->body_kind = PN_BODY_NONE;
    req->content_length = 0;
    req->flags = 0;
    req->head_len = 0;

    /* RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request-line. */
    const uint8_t *p = s, *end = s + c.hend;
    for (int i = 0;; i++, p += 2) {
        if (p == end) {
            return ran_out(OFF(&c, p), len, SIZE_MAX, err);
        }
        if (*p != '\r') {
            if (*p == '\n') {
                return fail(err, 400, "bare LF before request-line", OFF(&c, p));
            }
            break;
        }
        if (i == MAX_LEADING_EMPTY_LINES) {
            return fail(err, 400, "too many empty lines before request-line", OFF(&c, p));
        }
        if (p + 1 == end) {
            return ran_out(OFF(&c, p + 1), len, SIZE_MAX, err);
        }
        if (p[1] != '\n') {
            return fail(err, 400, "bare CR before request-line", OFF(&c, p));
        }
    }
    ssize_t r = parse_request_line(&c, &p, limits->max_request_line);
    if (r < 0) {
        return r;
    }
    r = parse_fields(&c, &p, max_headers);
    if (r < 0) {
        return r;
    }
    r = finish_head(&c, OFF(&c, p) - 2);
    if (r < 0) {
        return r;
    }
    req->head_len = OFF(&c, p);
    return (ssize_t)req->head_len;
}
