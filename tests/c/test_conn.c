/*
 * test_conn.c — unit tests of the connection engine (conn.c): keep-alive,
 * pipelining order, body events, 100-continue, HEAD/204/304, HTTP/1.0,
 * chunked responses, draining vs closing, one error response then close,
 * response header validation. Inputs are also fed byte by byte.
 */
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "tap.h"

static pn_header_t scratch[PN_HTTP1_DEFAULT_MAX_HEADERS];

static pn_conn_config_t config(void)
{
    pn_conn_config_t cfg;
    cfg.limits.max_request_line = PN_HTTP1_DEFAULT_MAX_REQUEST_LINE;
    cfg.limits.max_head = PN_HTTP1_DEFAULT_MAX_HEAD;
    cfg.limits.max_headers = PN_HTTP1_DEFAULT_MAX_HEADERS;
    cfg.limits.max_body = 1000;
    cfg.max_drain = 100;
    cfg.date = "Sun, 06 Nov 1994 08:49:37 GMT";
    cfg.scratch = scratch;
    return cfg;
}

/* Output taken so far, as a NUL-terminated string (caller frees). */
static char *take(pn_conn_t *c)
{
    pn_slice_t o = pn_conn_output(c);
    char *s = malloc(o.len + 1);
    if (o.len) {
        memcpy(s, o.base, o.len);
    }
    s[o.len] = 0;
    pn_conn_output_done(c, o.len);
    return s;
}

static int contains(const char *hay, const char *needle)
{
    return strstr(hay, needle) != NULL;
}

/* Record of events: "R:GET /a|B:xyz|E|" etc. */
static void drain_events(pn_conn_t *c, char *log, size_t cap)
{
    pn_event_t ev;
    for (;;) {
        int t = pn_conn_next(c, &ev);
        size_t n = strlen(log);
        if (t == PN_EV_NONE) {
            return;
        }
        if (t == PN_EV_REQUEST) {
            snprintf(log + n, cap - n, "R:%.*s %.*s|", (int)ev.req->method.len,
                     ev.req->method.base, (int)ev.req->target.len, ev.req->target.base);
        } else if (t == PN_EV_BODY) {
            snprintf(log + n, cap - n, "B:%.*s|", (int)ev.data.len, ev.data.base);
        } else if (t == PN_EV_BODY_END) {
            snprintf(log + n, cap - n, "E|");
            return; /* the handler would now respond */
        } else if (t == PN_EV_ERROR) {
            snprintf(log + n, cap - n, "X:%d|", ev.error.status);
            return;
        }
    }
}

static const pn_header_t TEXT[] = {{{"content-type", 12}, {"text/plain", 10}}};

/* Feed `in` (whole or byte by byte), answering each request with "ok". */
static void serve(const char *in, size_t len, int bytewise, char *log, size_t cap, char **out)
{
    pn_conn_config_t cfg = config();
    pn_conn_t c;
    pn_conn_init(&c, &cfg);
    log[0] = 0;
    size_t step = bytewise ? 1 : len;
    for (size_t i = 0; i < len && !pn_conn_closing(&c); i += step) {
        size_t n = len - i < step ? len - i : step;
        pn_conn_feed(&c, in + i, n);
        for (;;) {
            drain_events(&c, log, cap);
            size_t l = strlen(log);
            if (l >= 2 && strcmp(log + l - 2, "E|") == 0 && c.state == PN_CONN_REQUEST &&
                !c.resp_started) {
                pn_conn_response_simple(&c, 200, TEXT, 1, "ok", 2);
                continue;
            }
            break;
        }
    }
    *out = take(&c);
    pn_conn_free(&c);
}

static void test_pipelining(void)
{
    static const char in[] = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
                             "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nxyz"
                             "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "2\r\nhi\r\n1\r\n!\r\n0\r\n\r\n"
                             "GET /d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    for (int bytewise = 0; bytewise < 2; bytewise++) {
        char log[1024], *out;
        serve(in, sizeof(in) - 1, bytewise, log, sizeof(log), &out);
        const char *want_whole = "R:GET /a|E|R:POST /b|B:xyz|E|R:POST /c|B:hi|B:!|E|R:GET /d|E|";
        if (bytewise) {
            ok(contains(log, "R:GET /a|E|R:POST /b|B:x|B:y|B:z|E|R:POST /c|B:h|B:i|B:!|E|R:GET /d|E|"),
               "pipelined requests in order, byte by byte: %s", log);
        } else {
            ok(strcmp(log, want_whole) == 0, "pipelined requests in order: %s", log);
        }
        int responses = 0;
        for (const char *p = out; (p = strstr(p, "HTTP/1.1 200 OK")); p++) {
            responses++;
        }
        is_int(responses, 4, "four responses (bytewise=%d)", bytewise);
        ok(contains(out, "connection: close\r\n"), "last response says close");
        free(out);
    }
}

static pn_conn_t *new_conn(pn_conn_config_t *cfg)
{
    pn_conn_t *c = malloc(sizeof(*c));
    pn_conn_init(c, cfg);
    return c;
}

static void feed(pn_conn_t *c, const char *s)
{
    pn_conn_feed(c, s, strlen(s));
}

static void del(pn_conn_t *c)
{
    pn_conn_free(c);
    free(c);
}

static void test_next_request_waits_for_response(void)
{
    pn_conn_config_t cfg = config();
    pn_conn_t *c = new_conn(&cfg);
    pn_event_t ev;
    feed(c, "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n");
    is_int(pn_conn_next(c, &ev), PN_EV_REQUEST, "first request");
    is_int(pn_conn_next(c, &ev), PN_EV_BODY_END, "no body");
    is_int(pn_conn_next(c, &ev), PN_EV_NONE, "second request not parsed before the response");
    pn_conn_response_simple(c, 200, TEXT, 1, "1", 1);
    is_int(pn_conn_next(c, &ev), PN_EV_REQUEST, "second request after the response");
    ok(ev.req->target.len == 2 && memcmp(ev.req->target.base, "/2", 2) == 0, "it is /2");
    del(c);
}

static void test_head_and_no_body_statuses(void)
{
    pn_conn_config_t cfg = config();
    pn_conn_t *c = new_conn(&cfg);
    pn_event_t ev;
    feed(c, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
    pn_conn_next(c, &ev);
    is_int(pn_conn_response_simple(c, 200, TEXT, 1, "hello", 5), 0, "HEAD response written");
    char *out = take(c);
    ok(contains(out, "content-length: 5\r\n"), "HEAD keeps content-length");
    ok(!contains(out, "hello"), "HEAD drops the body");
    free(out);

    feed(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    pn_conn_next(c, &ev);
    pn_conn_response_simple(c, 204, NULL, 0, "", 0);
    out = take(c);
    ok(contains(out, "HTTP/1.1 204 No Content\r\n"), "204 status line");
    ok(!contains(out, "content-length"), "204 has no content-length");
    free(out);

    feed(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    pn_conn_next(c, &ev);
    pn_conn_response_start(c, 304, NULL, 0, -1);
    pn_conn_response_body(c, "zzz", 3);
    pn_conn_response_end(c);
    out = take(c);
    ok(!contains(out, "zzz") && !contains(out, "transfer-encoding"), "304 carries no body");
    ok(!pn_conn_closing(c), "still keep-alive");
    free(out);
    del(c);
}

static void test_http10(void)
{
    pn_conn_config_t cfg = config();
    pn_conn_t *c = new_conn(&cfg);
    pn_event_t ev;
    feed(c, "GET / HTTP/1.0\r\n\r\n");
    is_int(pn_conn_next(c, &ev), PN_EV_REQUEST, "1.0 request without Host");
    pn_conn_response_simple(c, 200, TEXT, 1, "a", 1);
    ok(pn_conn_closing(c), "1.0 without keep-alive closes");
    char *out = take(c);
    ok(!contains(out, "connection: keep-alive"), "no keep-alive header");
    free(out);
    del(c);

    c = new_conn(&cfg);
    feed(c, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    pn_conn_next(c, &ev);
    pn_conn_response_simple(c, 200, TEXT, 1, "a", 1);
    out = take(c);
    ok(contains(out, "connection: keep-alive\r\n") && !pn_conn_closing(c), "1.0 keep-alive kept");
    free(out);
    feed(c, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    pn_conn_next(c, &ev);
    pn_conn_response_start(c, 200, TEXT, 1, -1);
    pn_conn_response_body(c, "stream", 6);
    pn_conn_response_end(c);
    out = take(c);
    ok(!contains(out, "transfer-encoding") && contains(out, "\r\n\r\nstream"),
       "1.0 unknown length: raw body");
    ok(pn_conn_closing(c), "1.0 unknown length: close-delimited");
    free(out);
    del(c);
}

static void test_chunked_response(void)
{
    pn_conn_config_t cfg = config();
    pn_conn_t *c = new_conn(&cfg);
    pn_event_t ev;
    feed(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    pn_conn_next(c, &ev);
    pn_conn_response_start(c, 200, TEXT, 1, -1);
    pn_conn_response_body(c, "hello", 5);
    pn_conn_response_body(c, "", 0);
    pn_conn_response_body(c, "0123456789abcdefg", 17);
    pn_conn_response_end(c);
    char *out = take(c);
    ok(contains(out, "transfer-encoding: chunked\r\n\r\n5\r\nhello\r\n11\r\n0123456789abcdefg\r\n0\r\n\r\n"),
       "chunked framing");
    ok(!pn_conn_closing(c), "keep-alive after a chunked response");
    free(out);
    del(c);
}

static void test_expect_continue(void)
{
    pn_conn_config_t cfg = config();
    pn_conn_t *c = new_conn(&cfg);
    pn_event_t ev;
    feed(c, "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
    is_int(pn_conn_next(c, &ev), PN_EV_REQUEST, "request");
    is_int(pn_buf_len(&c->out), 0, "no 100 before the body is wanted");
    pn_conn_want_body(c);
    char *out = take(c);
    ok(strcmp(out, "HTTP/1.1 100 Continue\r\n\r\n") == 0, "100 Continue when wanted");
    free(out);
    pn_conn_want_body(c);
    is_int(pn_buf_len(&c->out), 0, "100 sent once");
    feed(c, "ab");
    is_int(pn_conn_next(c, &ev), PN_EV_BODY, "body");
    del(c);

    c = new_conn(&cfg);
    feed(c, "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
    pn_conn_next(c, &ev);
    pn_conn_response_simple(c, 401, TEXT, 1, "no", 2);
    out = take(c);
    ok(!contains(out, "100 Continue") && contains(out, "connection: close"),
       "final response without reading: no 100, close");
    ok(pn_conn_closing(c), "closing");
    free(out);
    del(c);

    c = new_conn(&cfg);
    feed(c, "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n");
    is_int(pn_conn_next(c, &ev), PN_EV_ERROR, "Content-Length above the limit");
    is_int(ev.error.status, 413, "413");
    out = take(c);
    ok(contains(out, "HTTP/1.1 413 ") && !contains(out, "100 Continue"), "413 without 100");
    free(out);
    del(c);

    c = new_conn(&cfg);
    feed(c, "POST / HTTP/1.1\r\nHost: x\r\nExpect: something-else\r\nContent-Length: 2\r\n\r\n");
    is_int(pn_conn_next(c, &ev), PN_EV_ERROR, "unknown expectation");
    is_int(ev.error.status, 417, "417");
    out = take(c);
    ok(contains(out, "HTTP/1.1 417 Expectation Failed"), "417 written");
    free(out);
    del(c);
}

static void test_unread_body(void)
{
    pn_conn_config_t cfg = config();
    pn_conn_t *c = new_conn(&cfg);
    pn_event_t ev;
    /* small unread body: drained, the next request is parsed correctly */
    feed(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n");
    pn_conn_next(c, &ev);
    pn_conn_response_simple(c, 200, TEXT, 1, "ok", 2);
    ok(!pn_conn_closing(c), "small unread body: keep-alive");
    feed(c, "GET /e\r\n\r\n"); /* exactly the 10 body bytes, shaped like a request */
    is_int(pn_conn_next(c, &ev), PN_EV_NONE, "body bytes drained, not parsed as a request");
    feed(c, "GET /next HTTP/1.1\r\nHost: x\r\n\r\n");
    is_int(pn_conn_next(c, &ev), PN_EV_REQUEST, "next request after drain");
    ok(ev.req->target.len == 5 && memcmp(ev.req->target.base, "/next", 5) == 0, "it is /next");
    free(take(c));
    del(c);

    /* large unread body: the connection closes after the response */
    c = new_conn(&cfg);
    feed(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 900\r\n\r\n");
    pn_conn_next(c, &ev);
    pn_conn_response_simple(c, 200, TEXT, 1, "ok", 2);
    char *out = take(c);
    ok(contains(out, "connection: close") && pn_conn_closing(c), "large unread body: close");
    free(out);
    del(c);

    /* chunked unread body beyond the drain budget: close */
    c = new_conn(&cfg);
    feed(c, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    pn_conn_next(c, &ev);
    pn_conn_response_simple(c, 200, TEXT, 1, "ok", 2);
    feed(c, "c8\r\n");
    char big[200];
    memset(big, 'G', sizeof(big));
    pn_conn_feed(c, big, sizeof(big));
    pn_conn_next(c, &ev);
    ok(pn_conn_closing(c), "chunked drain over budget closes");
    free(take(c));
    del(c);
}

static void test_errors(void)
{
    pn_conn_config_t cfg = config();
    pn_conn_t *c = new_conn(&cfg);
    pn_event_t ev;
    feed(c, "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n");
    is_int(pn_conn_next(c, &ev), PN_EV_ERROR, "CL + TE rejected");
    is_int(ev.error.status, 400, "400");
    ok(pn_conn_closing(c), "closing after a protocol error");
    feed(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    is_int(pn_conn_next(c, &ev), PN_EV_NONE, "input ignored after the error");
    char *out = take(c);
    int n = 0;
    for (const char *p = out; (p = strstr(p, "HTTP/1.1 ")); p++) {
        n++;
    }
    is_int(n, 1, "exactly one error response");
    ok(contains(out, "connection: close") && contains(out, "Bad Request: "), "readable 400");
    free(out);
    del(c);

    /* malformed chunked body while the handler reads it */
    c = new_conn(&cfg);
    feed(c, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
    is_int(pn_conn_next(c, &ev), PN_EV_REQUEST, "request");
    is_int(pn_conn_next(c, &ev), PN_EV_ERROR, "bad chunk size");
    out = take(c);
    ok(contains(out, "HTTP/1.1 400 "), "400 for a bad chunk");
    is_int(pn_conn_response_simple(c, 200, TEXT, 1, "x", 1), PN_ECLOSED,
           "handler's later response is discarded");
    free(out);
    del(c);

    /* chunked body larger than max_body -> 413 */
    c = new_conn(&cfg);
    feed(c, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n7d0\r\n");
    pn_conn_next(c, &ev);
    int t;
    do {
        t = pn_conn_next(c, &ev);
        if (t == PN_EV_NONE) {
            char blob[512];
            memset(blob, 'a', sizeof(blob));
            pn_conn_feed(c, blob, sizeof(blob));
        }
    } while (t == PN_EV_BODY || t == PN_EV_NONE);
    is_int(t, PN_EV_ERROR, "chunked body over the limit");
    is_int(ev.error.status, 413, "413");
    free(take(c));
    del(c);
}

static void test_response_validation(void)
{
    pn_conn_config_t cfg = config();
    pn_conn_t *c = new_conn(&cfg);
    pn_event_t ev;
    feed(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    pn_conn_next(c, &ev);
    pn_header_t bad[] = {{{"x-a", 3}, {"a\r\nSet-Cookie: evil", 20}}};
    is_int(pn_conn_response_start(c, 200, bad, 1, 0), PN_EUSAGE, "CRLF in a value refused");
    is_int(pn_buf_len(&c->out), 0, "nothing written");
    pn_header_t bad2[] = {{{"x a", 3}, {"v", 1}}};
    is_int(pn_conn_response_start(c, 200, bad2, 1, 0), PN_EUSAGE, "space in a name refused");
    pn_header_t nul[] = {{{"x-a", 3}, {"a\0b", 3}}};
    is_int(pn_conn_response_start(c, 200, nul, 1, 0), PN_EUSAGE, "NUL in a value refused");
    is_int(pn_conn_response_start(c, 99, NULL, 0, 0), PN_EUSAGE, "status 99 refused");
    is_int(pn_conn_response_start(c, 200, NULL, 0, 3), 0, "valid start");
    is_int(pn_conn_response_start(c, 200, NULL, 0, 3), PN_EUSAGE, "double start refused");
    is_int(pn_conn_response_body(c, "abcd", 4), PN_EUSAGE, "body longer than content-length");
    ok(pn_conn_closing(c), "connection closes after an overlong body");
    del(c);

    c = new_conn(&cfg);
    feed(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    pn_conn_next(c, &ev);
    pn_conn_response_start(c, 200, NULL, 0, 3);
    pn_conn_response_body(c, "ab", 2);
    is_int(pn_conn_response_end(c), PN_EUSAGE, "body shorter than content-length");
    ok(pn_conn_closing(c), "connection closes after a short body");
    del(c);

    c = new_conn(&cfg);
    feed(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    pn_conn_next(c, &ev);
    pn_header_t cl[] = {{{"Content-Length", 14}, {"4", 1}}, {{"Connection", 10}, {"close", 5}}};
    is_int(pn_conn_response_start(c, 200, cl, 2, -1), 0, "app content-length accepted");
    pn_conn_response_body(c, "abcd", 4);
    pn_conn_response_end(c);
    char *out = take(c);
    ok(contains(out, "content-length: 4\r\n") && !contains(out, "chunked"),
       "declared length used");
    ok(contains(out, "connection: close") && pn_conn_closing(c), "app Connection: close honoured");
    free(out);
    del(c);
}

static void test_close_soon_and_eof(void)
{
    pn_conn_config_t cfg = config();
    pn_conn_t *c = new_conn(&cfg);
    pn_event_t ev;
    pn_conn_close_soon(c);
    ok(pn_conn_closing(c), "idle connection closes at once on shutdown");
    del(c);

    c = new_conn(&cfg);
    feed(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    pn_conn_next(c, &ev);
    pn_conn_close_soon(c);
    ok(!pn_conn_closing(c), "busy connection finishes its request");
    pn_conn_response_simple(c, 200, TEXT, 1, "x", 1);
    char *out = take(c);
    ok(contains(out, "connection: close") && pn_conn_closing(c), "then closes");
    free(out);
    del(c);

    c = new_conn(&cfg);
    feed(c, "GET / HTT");
    pn_conn_next(c, &ev);
    pn_conn_feed_eof(c);
    is_int(pn_conn_next(c, &ev), PN_EV_NONE, "no request from a partial head");
    ok(pn_conn_closing(c), "EOF in a partial head closes");
    del(c);

    c = new_conn(&cfg);
    feed(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    pn_conn_feed_eof(c);
    is_int(pn_conn_next(c, &ev), PN_EV_REQUEST, "complete request before EOF is served");
    pn_conn_response_simple(c, 200, TEXT, 1, "x", 1);
    ok(pn_conn_closing(c), "then the connection closes");
    free(take(c));
    del(c);
}

static void test_slowloris_guard(void)
{
    pn_conn_config_t cfg = config();
    pn_conn_t *c = new_conn(&cfg);
    pn_event_t ev;
    const char *req = "GET /slow HTTP/1.1\r\nHost: x\r\nX-A: b\r\n\r\n";
    int events = 0;
    for (const char *p = req; *p; p++) {
        pn_conn_feed(c, p, 1);
        if (pn_conn_next(c, &ev) == PN_EV_REQUEST) {
            events++;
        }
    }
    is_int(events, 1, "trickled head parsed exactly once when complete");
    del(c);
}

static void test_upgrade(void)
{
    pn_conn_config_t cfg = config();
    pn_conn_t *c = new_conn(&cfg);
    pn_event_t ev;
    feed(c, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
            "\x81\x85raw-frame-bytes");
    is_int(pn_conn_next(c, &ev), PN_EV_REQUEST, "upgrade request");
    ok(ev.req->flags & PN_REQ_UPGRADE, "reported as an upgrade");
    pn_header_t h[] = {{{"upgrade", 7}, {"websocket", 9}}};
    is_int(pn_conn_response_simple(c, 101, h, 1, "", 0), 0, "101 written");
    is_int(c->state, PN_CONN_UPGRADED, "connection upgraded");
    char *out = take(c);
    ok(contains(out, "HTTP/1.1 101 Switching Protocols\r\n") && contains(out, "connection: upgrade") &&
           !contains(out, "content-length"),
       "101 head");
    free(out);
    is_int(pn_conn_next(c, &ev), PN_EV_NONE, "no HTTP parsing after the upgrade");
    pn_slice_t in = pn_conn_input(c);
    ok(in.len == 17 && memcmp(in.base, "\x81\x85raw-frame-bytes", 17) == 0,
       "bytes after the head belong to the new protocol");
    del(c);

    c = new_conn(&cfg);
    feed(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    pn_conn_next(c, &ev);
    is_int(pn_conn_response_simple(c, 101, h, 1, "", 0), PN_EUSAGE, "101 refused without upgrade");
    del(c);
}

int main(void)
{
    test_upgrade();
    test_pipelining();
    test_next_request_waits_for_response();
    test_head_and_no_body_statuses();
    test_http10();
    test_chunked_response();
    test_expect_continue();
    test_unread_body();
    test_errors();
    test_response_validation();
    test_close_soon_and_eof();
    test_slowloris_guard();
    return tap_done();
}
