/*
 * conn.c — the HTTP/1.1 connection engine (see conn.h). Pure C, no Python.
 *
 * Invariants:
 * - At most one request is in progress; the next head is parsed only once the
 *   current response ended and its request body was consumed (or drained), so
 *   pipelined responses go out strictly in request order and a body the
 *   handler left unread is never parsed as the next request.
 * - After a protocol error the state is CLOSING: at most one error response
 *   is queued and no further input is looked at.
 * - All response bytes are produced by the writer functions at the bottom.
 */
#include "conn.h"

#include <stdio.h>
#include <string.h>

#define CHUNK_LINE_MAX 4096

static const char CONTINUE_100[] = "HTTP/1.1 100 Continue\r\n\r\n";

void pn_conn_init(pn_conn_t *c, const pn_conn_config_t *cfg)
{
    memset(c, 0, sizeof(*c));
    c->cfg = cfg;
    c->state = PN_CONN_HEAD;
    c->resp_left = -1;
}

void pn_conn_free(pn_conn_t *c)
{
    pn_buf_free(&c->in);
    pn_buf_free(&c->out);
}

int pn_conn_feed(pn_conn_t *c, const char *data, size_t len)
{
    if (c->state == PN_CONN_CLOSING) {
        return 0;
    }
    return pn_buf_append(&c->in, data, len);
}

void pn_conn_feed_eof(pn_conn_t *c)
{
    c->want_close = 1;
    c->eof = 1;
    if ((c->state == PN_CONN_HEAD && pn_buf_len(&c->in) == 0) || c->state == PN_CONN_DRAIN) {
        c->state = PN_CONN_CLOSING;
    }
}

void pn_conn_close_soon(pn_conn_t *c)
{
    c->want_close = 1;
    if (c->state == PN_CONN_HEAD || c->state == PN_CONN_DRAIN) {
        c->state = PN_CONN_CLOSING;
    }
}

void pn_conn_abort(pn_conn_t *c)
{
    c->state = PN_CONN_CLOSING;
}

/* ---- protocol errors: one response, then close ---- */

static int fail(pn_conn_t *c, pn_event_t *ev, const pn_http1_error_t *err)
{
    ev->type = PN_EV_ERROR;
    ev->error = *err;
    if (c->state == PN_CONN_CLOSING) {
        return PN_EV_ERROR;
    }
    int answer = !(c->state == PN_CONN_REQUEST && c->resp_started) && c->state != PN_CONN_DRAIN;
    if (answer) {
        char body[256];
        int n = snprintf(body, sizeof(body), "%s: %s\n", pn_status_reason(err->status),
                         err->reason ? err->reason : "malformed request");
        if (n < 0 || (size_t)n >= sizeof(body)) {
            n = (int)sizeof(body) - 1;
        }
        static const pn_header_t h[] = {
            {{"content-type", 12}, {"text/plain; charset=utf-8", 25}},
        };
        c->state = PN_CONN_REQUEST;
        c->resp_started = c->resp_ended = 0;
        c->want_close = 1;
        c->is_head = 0;
        c->req.minor_version = 1;
        c->req.flags = 0;
        c->body_done = 1;
        c->expect_continue = 0;
        (void)pn_conn_response_simple(c, err->status, h, 1, body, (size_t)n);
    }
    c->state = PN_CONN_CLOSING;
    return PN_EV_ERROR;
}

void pn_conn_fail(pn_conn_t *c, int status, const char *reason)
{
    pn_event_t ev;
    pn_http1_error_t e = {status, reason, 0};
    (void)fail(c, &ev, &e);
}

/* ---- request side ---- */

static int start_request(pn_conn_t *c, pn_event_t *ev, ssize_t head_len)
{
    const pn_http1_request_t *r = &c->req;
    ev->type = PN_EV_REQUEST;
    ev->req = r;
    ev->head = (pn_slice_t){pn_buf_ptr(&c->in), (size_t)head_len};
    pn_buf_consume(&c->in, (size_t)head_len);
    c->scanned = 0;

    c->state = PN_CONN_REQUEST;
    c->is_head = r->method.len == 4 && memcmp(r->method.base, "HEAD", 4) == 0;
    c->body_kind = r->body_kind;
    c->body_left = r->body_kind == PN_BODY_LENGTH ? r->content_length : 0;
    c->body_done = r->body_kind == PN_BODY_NONE ||
                   (r->body_kind == PN_BODY_LENGTH && r->content_length == 0);
    c->body_end_sent = 0;
    if (r->body_kind == PN_BODY_CHUNKED) {
        pn_chunked_init(&c->chunked, c->cfg->limits.max_body, CHUNK_LINE_MAX,
                        c->cfg->limits.max_head);
    }
    c->expect_continue = (r->flags & PN_REQ_EXPECT_CONTINUE) && !c->body_done;
    c->continue_sent = 0;
    c->resp_started = c->resp_ended = c->resp_chunked = c->resp_no_body = 0;
    c->resp_left = -1;
    c->keep_alive = 0;
    c->status = 0;
    c->body_sent = 0;
    c->usage_error = NULL;
    if (r->flags & PN_REQ_EXPECT_OTHER) {
        pn_http1_error_t e = {417, "unsupported expectation", 0};
        return fail(c, ev, &e);
    }
    return PN_EV_REQUEST;
}

/* Take the next run of decoded body bytes from the input buffer.
 * Returns 1 with *data set, 0 when nothing is buffered, PN_EPROTO on error. */
static int take_body(pn_conn_t *c, pn_slice_t *data, pn_http1_error_t *err)
{
    data->base = NULL;
    data->len = 0;
    while (!c->body_done && pn_buf_len(&c->in) > 0) {
        const char *p = pn_buf_ptr(&c->in);
        size_t len = pn_buf_len(&c->in);
        if (c->body_kind == PN_BODY_LENGTH) {
            size_t n = len < c->body_left ? len : (size_t)c->body_left;
            *data = (pn_slice_t){p, n};
            pn_buf_consume(&c->in, n);
            c->body_left -= n;
            c->body_done = c->body_left == 0;
            return 1;
        }
        ssize_t r = pn_chunked_feed(&c->chunked, p, len, data, err);
        if (r < 0) {
            return PN_EPROTO;
        }
        pn_buf_consume(&c->in, (size_t)r);
        c->body_done = pn_chunked_done(&c->chunked);
        if (data->len > 0) {
            return 1;
        }
        if (r == 0) {
            break;
        }
    }
    return 0;
}

static void finish_exchange(pn_conn_t *c);

int pn_conn_next(pn_conn_t *c, pn_event_t *ev)
{
    pn_http1_error_t err = {0, NULL, 0};
    ev->type = PN_EV_NONE;
    for (;;) {
        switch (c->state) {
        case PN_CONN_HEAD: {
            size_t len = pn_buf_len(&c->in);
            if (len == 0) {
                return PN_EV_NONE;
            }
            const char *p = pn_buf_ptr(&c->in);
            const pn_http1_limits_t *lim = &c->cfg->limits;
            /* A trickled head is re-parsed only when a line may have completed
             * or a limit may have been crossed. */
            if (c->scanned > 0 && c->scanned < len && len <= lim->max_request_line &&
                len <= lim->max_head && !c->eof &&
                memchr(p + c->scanned, '\n', len - c->scanned) == NULL) {
                c->scanned = len;
                return PN_EV_NONE;
            }
            c->req.headers = c->cfg->scratch;
            ssize_t r = pn_http1_parse_request(p, len, lim, &c->req, &err);
            if (r == PN_INCOMPLETE) {
                c->scanned = len;
                if (c->eof) {
                    c->state = PN_CONN_CLOSING; /* the peer stopped mid-head */
                }
                return PN_EV_NONE;
            }
            if (r < 0) {
                return fail(c, ev, &err);
            }
            return start_request(c, ev, r);
        }
        case PN_CONN_REQUEST: {
            int r = take_body(c, &ev->data, &err);
            if (r < 0) {
                return fail(c, ev, &err);
            }
            if (r > 0) {
                ev->type = PN_EV_BODY;
                return PN_EV_BODY;
            }
            if (c->body_done && !c->body_end_sent) {
                c->body_end_sent = 1;
                ev->type = PN_EV_BODY_END;
                return PN_EV_BODY_END;
            }
            return PN_EV_NONE;
        }
        case PN_CONN_DRAIN: {
            pn_slice_t d;
            int r = take_body(c, &d, &err);
            if (r < 0) {
                return fail(c, ev, &err);
            }
            if (r > 0) {
                if (d.len > c->drain_budget) {
                    c->state = PN_CONN_CLOSING;
                    return PN_EV_NONE;
                }
                c->drain_budget -= d.len;
                continue;
            }
            if (!c->body_done) {
                return PN_EV_NONE;
            }
            finish_exchange(c);
            continue;
        }
        default:
            return PN_EV_NONE;
        }
    }
}

void pn_conn_want_body(pn_conn_t *c)
{
    if (c->expect_continue && !c->continue_sent && !c->resp_started &&
        c->state == PN_CONN_REQUEST) {
        c->continue_sent = 1;
        (void)pn_buf_append(&c->out, CONTINUE_100, sizeof(CONTINUE_100) - 1);
    }
}

/* ---- response writer ---- */

static const unsigned char TOKEN_CHARS[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
    ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1, ['~'] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1,
    ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1,
    ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
    ['y'] = 1, ['z'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1,
    ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1,
    ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
    ['Y'] = 1, ['Z'] = 1,
};

static int valid_name(pn_slice_t s)
{
    if (s.len == 0) {
        return 0;
    }
    for (size_t i = 0; i < s.len; i++) {
        if (!TOKEN_CHARS[(unsigned char)s.base[i]]) {
            return 0;
        }
    }
    return 1;
}

static int valid_value(pn_slice_t s)
{
    for (size_t i = 0; i < s.len; i++) {
        unsigned char ch = (unsigned char)s.base[i];
        if (ch == '\r' || ch == '\n' || ch == '\0') {
            return 0;
        }
    }
    return 1;
}

static int parse_length(pn_slice_t s, int64_t *out)
{
    int64_t v = 0;
    if (s.len == 0 || s.len > 18) {
        return -1;
    }
    for (size_t i = 0; i < s.len; i++) {
        if (s.base[i] < '0' || s.base[i] > '9') {
            return -1;
        }
        v = v * 10 + (s.base[i] - '0');
    }
    *out = v;
    return 0;
}

static int has_close_token(pn_slice_t s)
{
    size_t i = 0;
    while (i < s.len) {
        while (i < s.len && (s.base[i] == ' ' || s.base[i] == '\t' || s.base[i] == ',')) {
            i++;
        }
        size_t start = i;
        while (i < s.len && s.base[i] != ',' && s.base[i] != ' ' && s.base[i] != '\t') {
            i++;
        }
        if (pn_slice_ieq((pn_slice_t){s.base + start, i - start}, "close")) {
            return 1;
        }
    }
    return 0;
}

static int usage(pn_conn_t *c, const char *why)
{
    c->usage_error = why;
    return PN_EUSAGE;
}

#define PUT(b, lit) pn_buf_append((b), (lit), sizeof(lit) - 1)

static int put_u64(pn_buf_t *b, uint64_t v, int hex)
{
    char tmp[24];
    int n = 0;
    do {
        unsigned d = (unsigned)(hex ? v % 16 : v % 10);
        tmp[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        v = hex ? v / 16 : v / 10;
    } while (v);
    char out[24];
    for (int i = 0; i < n; i++) {
        out[i] = tmp[n - 1 - i];
    }
    return pn_buf_append(b, out, (size_t)n);
}

/* Which of the fields the writer owns a header name is (0 for none). */
enum { FIELD_OTHER, FIELD_LENGTH, FIELD_CONNECTION, FIELD_DATE, FIELD_TE };

static int field_kind(pn_slice_t name)
{
    switch (name.len) {
    case 4:
        return pn_slice_ieq(name, "date") ? FIELD_DATE : FIELD_OTHER;
    case 10:
        return pn_slice_ieq(name, "connection") ? FIELD_CONNECTION : FIELD_OTHER;
    case 14:
        return pn_slice_ieq(name, "content-length") ? FIELD_LENGTH : FIELD_OTHER;
    case 17:
        return pn_slice_ieq(name, "transfer-encoding") ? FIELD_TE : FIELD_OTHER;
    default:
        return FIELD_OTHER;
    }
}

/* Writers into reserved space: each returns the position after what it wrote. */
static char *put_bytes(char *p, const void *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

#define PUT_LIT(p, lit) put_bytes((p), (lit), sizeof(lit) - 1)

static char *put_dec(char *p, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n > 0) {
        *p++ = tmp[--n];
    }
    return p;
}

static char *put_field(char *p, pn_slice_t name, pn_slice_t value)
{
    p = put_bytes(p, name.base, name.len);
    *p++ = ':';
    *p++ = ' ';
    p = put_bytes(p, value.base, value.len);
    *p++ = '\r';
    *p++ = '\n';
    return p;
}

/* Room for what the writer adds to the app's fields: status line (without the reason),
 * date, content-length, transfer-encoding, connection, and the blank line. */
#define HEAD_OVERHEAD 160

int pn_conn_response_start(pn_conn_t *c, int status, const pn_header_t *headers, size_t n,
                           int64_t content_length)
{
    if (c->state == PN_CONN_CLOSING) {
        return PN_ECLOSED;
    }
    if (c->state != PN_CONN_REQUEST || c->resp_started) {
        return usage(c, "response already started");
    }
    if (status < 100 || status > 999 || (status < 200 && status != 101)) {
        return usage(c, "invalid status code");
    }
    if (status == 101 && (!(c->req.flags & PN_REQ_UPGRADE) || !c->body_done)) {
        return usage(c, "101 Switching Protocols needs an upgrade request without a body");
    }
    int app_close = 0, app_date = 0;
    int64_t declared = -1;
    size_t fields_len = 0;
    for (size_t i = 0; i < n; i++) {
        if (!valid_name(headers[i].name)) {
            return usage(c, "invalid header name");
        }
        if (!valid_value(headers[i].value)) {
            return usage(c, "invalid header value (CR, LF or NUL)");
        }
        fields_len += headers[i].name.len + headers[i].value.len + 4;
        switch (field_kind(headers[i].name)) {
        case FIELD_LENGTH: {
            int64_t v;
            if (parse_length(headers[i].value, &v) < 0 || (declared >= 0 && v != declared)) {
                return usage(c, "invalid content-length header");
            }
            declared = v;
            break;
        }
        case FIELD_CONNECTION:
            app_close |= has_close_token(headers[i].value);
            break;
        case FIELD_DATE:
            app_date = 1;
            break;
        default:
            break;
        }
    }
    if (content_length >= 0 && declared >= 0 && content_length != declared) {
        return usage(c, "content-length header does not match the body");
    }
    int64_t length = content_length >= 0 ? content_length : declared;
    int no_body = c->is_head || status == 204 || status == 304 || status < 200;
    int minor = c->req.minor_version;
    int keep = (c->req.flags & PN_REQ_KEEP_ALIVE) && !c->want_close && !app_close;
    if (!c->body_done) {
        if (c->expect_continue && !c->continue_sent) {
            keep = 0; /* the client may or may not send the body now */
        } else if (c->body_kind == PN_BODY_LENGTH && c->body_left > c->cfg->max_drain) {
            keep = 0;
        }
    }
    int chunked = 0;
    if (length < 0 && !no_body) {
        if (minor == 1) {
            chunked = 1;
        } else {
            keep = 0; /* HTTP/1.0: the body ends when the connection closes */
        }
    }

    pn_buf_t *b = &c->out;
    const char *reason = pn_status_reason(status);
    size_t reason_len = strlen(reason);
    if (pn_buf_reserve(b, fields_len + reason_len + HEAD_OVERHEAD) < 0) {
        return PN_ENOMEM;
    }
    char *p = b->data + b->end;
    p = PUT_LIT(p, "HTTP/1.1 ");
    p = put_dec(p, (uint64_t)status);
    *p++ = ' ';
    p = put_bytes(p, reason, reason_len);
    p = PUT_LIT(p, "\r\n");
    for (size_t i = 0; i < n; i++) {
        int kind = field_kind(headers[i].name);
        if (kind != FIELD_LENGTH && kind != FIELD_TE && kind != FIELD_CONNECTION) {
            p = put_field(p, headers[i].name, headers[i].value);
        }
    }
    if (!app_date && c->cfg->date) {
        p = PUT_LIT(p, "date: ");
        p = put_bytes(p, c->cfg->date, 29);
        p = PUT_LIT(p, "\r\n");
    }
    /* RFC 9110 §8.6: no Content-Length in a 204; in a 304 only the one the app declared
     * (the size a 200 would have), never the empty body's 0. */
    if (status == 304) {
        length = declared;
    }
    if (length >= 0 && status >= 200 && status != 204) {
        p = PUT_LIT(p, "content-length: ");
        p = put_dec(p, (uint64_t)length);
        p = PUT_LIT(p, "\r\n");
    }
    if (chunked) {
        p = PUT_LIT(p, "transfer-encoding: chunked\r\n");
    }
    if (status == 101) {
        p = PUT_LIT(p, "connection: upgrade\r\n");
    } else if (!keep && minor == 1) {
        p = PUT_LIT(p, "connection: close\r\n");
    } else if (keep && minor == 0) {
        p = PUT_LIT(p, "connection: keep-alive\r\n");
    }
    p = PUT_LIT(p, "\r\n");
    b->end = (size_t)(p - b->data);
    c->resp_started = 1;
    c->resp_chunked = chunked;
    c->resp_no_body = no_body;
    c->resp_left = length;
    c->keep_alive = keep;
    c->status = status;
    return 0;
}

int pn_conn_response_body(pn_conn_t *c, const char *data, size_t len)
{
    if (c->state == PN_CONN_CLOSING) {
        return PN_ECLOSED;
    }
    if (!c->resp_started || c->resp_ended) {
        return usage(c, c->resp_ended ? "response already ended" : "response not started");
    }
    if (len == 0) {
        return 0;
    }
    if (c->resp_left >= 0) {
        if ((uint64_t)len > (uint64_t)c->resp_left) {
            c->state = PN_CONN_CLOSING;
            return usage(c, "response body longer than its content-length");
        }
        c->resp_left -= (int64_t)len;
    }
    c->body_sent += len;
    if (c->resp_no_body) {
        return 0;
    }
    int rc = 0;
    if (c->resp_chunked) {
        rc |= put_u64(&c->out, len, 1);
        rc |= PUT(&c->out, "\r\n");
        rc |= pn_buf_append(&c->out, data, len);
        rc |= PUT(&c->out, "\r\n");
    } else {
        rc |= pn_buf_append(&c->out, data, len);
    }
    return rc ? PN_ENOMEM : 0;
}

int pn_conn_response_external(pn_conn_t *c, uint64_t len)
{
    if (c->state == PN_CONN_CLOSING) {
        return PN_ECLOSED;
    }
    if (!c->resp_started || c->resp_ended) {
        return usage(c, c->resp_ended ? "response already ended" : "response not started");
    }
    if (c->resp_chunked || c->resp_left < 0) {
        return usage(c, "a file body needs a known content-length");
    }
    if (len > (uint64_t)c->resp_left) {
        c->state = PN_CONN_CLOSING;
        return usage(c, "response body longer than its content-length");
    }
    c->resp_left -= (int64_t)len;
    c->body_sent += len;
    return c->resp_no_body ? 0 : 1;
}

/* The exchange is over: move on to the next request (or close). */
static void finish_exchange(pn_conn_t *c)
{
    c->state = PN_CONN_HEAD;
    c->resp_started = c->resp_ended = 0;
    c->body_done = 0;
    c->expect_continue = 0;
    if (c->want_close) {
        c->state = PN_CONN_CLOSING;
    }
}

int pn_conn_response_end(pn_conn_t *c)
{
    if (c->state == PN_CONN_CLOSING) {
        return PN_ECLOSED;
    }
    if (!c->resp_started || c->resp_ended) {
        return usage(c, c->resp_ended ? "response already ended" : "response not started");
    }
    c->resp_ended = 1;
    if (c->resp_left > 0 && !c->resp_no_body) {
        c->state = PN_CONN_CLOSING;
        return usage(c, "response body shorter than its content-length");
    }
    if (c->resp_chunked && PUT(&c->out, "0\r\n\r\n") < 0) {
        c->state = PN_CONN_CLOSING;
        return PN_ENOMEM;
    }
    if (c->status == 101) {
        c->state = PN_CONN_UPGRADED; /* the request had no body to drain (checked at start) */
    } else if (!c->keep_alive) {
        c->state = PN_CONN_CLOSING;
    } else if (c->body_done) {
        finish_exchange(c);
    } else {
        c->state = PN_CONN_DRAIN;
        c->drain_budget = c->cfg->max_drain;
    }
    return 0;
}

int pn_conn_response_simple(pn_conn_t *c, int status, const pn_header_t *headers, size_t n,
                            const char *body, size_t len)
{
    int rc = pn_conn_response_start(c, status, headers, n, (int64_t)len);
    if (rc == 0) {
        rc = pn_conn_response_body(c, body, len);
    }
    if (rc == 0) {
        rc = pn_conn_response_end(c);
    }
    return rc;
}

const char *pn_status_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 203: return "Non-Authoritative Information";
    case 204: return "No Content";
    case 205: return "Reset Content";
    case 206: return "Partial Content";
    case 207: return "Multi-Status";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 418: return "I'm a teapot";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Content";
    case 423: return "Locked";
    case 424: return "Failed Dependency";
    case 425: return "Too Early";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 451: return "Unavailable For Legal Reasons";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    case 506: return "Variant Also Negotiates";
    case 507: return "Insufficient Storage";
    case 508: return "Loop Detected";
    case 510: return "Not Extended";
    case 511: return "Network Authentication Required";
    default: return "";
    }
}
