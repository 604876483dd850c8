/*
 * conn.h — the HTTP/1.1 connection engine. Pure C, transport-agnostic.
 *
 * Owns: one connection's protocol state — bytes in, request/body events out,
 * response bytes to write. Keep-alive, pipelining (one request at a time,
 * responses strictly in order: the next head is parsed only after the current
 * response ended), 100-continue, HEAD/204/304 body suppression, chunked
 * responses when the length is unknown, HTTP/1.0 persistence rules, draining
 * or closing when a handler leaves the request body unread, and exactly one
 * error response then close after a protocol error.
 *
 * Must not know about: sockets, clocks, Python. The caller (server, test
 * client, fuzzer) feeds received bytes, pulls events, writes out what
 * pn_conn_output() returns, and enforces timeouts.
 *
 * Slices in events point into the input buffer and are valid only until the
 * next pn_conn_feed() (which may move the buffer).
 */
#ifndef PN_CONN_H
#define PN_CONN_H

#include <stdint.h>

#include "buf.h"
#include "http1.h"

#define PN_ECLOSED (-32) /* the connection is closing/closed: output discarded */
#define PN_EUSAGE (-22)  /* the caller broke the response protocol (see pn_conn_t.usage_error) */

/* Shared, read-only configuration (one per server; outlives its connections). */
typedef struct {
    pn_http1_limits_t limits;
    size_t max_drain;        /* unread request body bytes we read & discard to keep alive */
    const char *date;        /* IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT" (29 chars) or NULL */
    pn_header_t *scratch;    /* >= limits.max_headers entries; reused by every connection */
} pn_conn_config_t;

enum pn_event_type {
    PN_EV_NONE = 0,  /* nothing to do until more input arrives or the response ends */
    PN_EV_REQUEST,   /* ev.req describes a new request head */
    PN_EV_BODY,      /* ev.data: next request body bytes (decoded) */
    PN_EV_BODY_END,  /* request body complete (also sent once for requests without body) */
    PN_EV_ERROR,     /* protocol error; an error response was queued if possible; closing */
};

typedef struct {
    int type;
    const pn_http1_request_t *req; /* PN_EV_REQUEST: valid until the next feed */
    pn_slice_t head;               /* PN_EV_REQUEST: the raw head bytes (req slices point into it) */
    pn_slice_t data;               /* PN_EV_BODY */
    pn_http1_error_t error;        /* PN_EV_ERROR */
} pn_event_t;

enum pn_conn_state {
    PN_CONN_HEAD = 0, /* waiting for the next request head */
    PN_CONN_REQUEST,  /* a request is in progress */
    PN_CONN_DRAIN,    /* response done; discarding the rest of the request body */
    PN_CONN_CLOSING,  /* no more input is processed; flush output, then close */
    PN_CONN_UPGRADED, /* a 101 response ended: bytes in/out belong to the new protocol */
};

typedef struct {
    const pn_conn_config_t *cfg;
    pn_buf_t in;
    pn_buf_t out;
    int state;
    size_t scanned; /* bytes of `in` already seen without a complete head (slowloris guard) */

    /* current request */
    pn_http1_request_t req;
    int is_head;            /* method is HEAD */
    int body_kind;          /* PN_BODY_* */
    uint64_t body_left;     /* PN_BODY_LENGTH: bytes still to read */
    int body_done;          /* the whole request body has been consumed */
    int body_end_sent;      /* PN_EV_BODY_END returned */
    pn_chunked_t chunked;
    int expect_continue;    /* client waits for 100 Continue */
    int continue_sent;
    uint64_t drain_budget;

    /* current response */
    int resp_started;
    int resp_ended;
    int resp_chunked;
    int resp_no_body;
    int64_t resp_left;      /* declared Content-Length bytes still to send, -1 unknown */
    int keep_alive;         /* decided at response start */
    int status;             /* last response status (for logs) */
    uint64_t body_sent;     /* body bytes of the current response (for logs) */
    const char *usage_error;/* set with PN_EUSAGE */
    int want_close;         /* no keep-alive after the current response */
    int eof;                /* the peer will send nothing more */
} pn_conn_t;

void pn_conn_init(pn_conn_t *c, const pn_conn_config_t *cfg);
/* Free buffers. The struct may be re-initialised afterwards. */
void pn_conn_free(pn_conn_t *c);

/* Append received bytes. 0 or PN_ENOMEM. Ignored (0) once closing. */
int pn_conn_feed(pn_conn_t *c, const char *data, size_t len);
/* The peer closed its sending side: an incomplete request becomes an error/close. */
void pn_conn_feed_eof(pn_conn_t *c);

/* Pull the next event. Returns ev->type. */
int pn_conn_next(pn_conn_t *c, pn_event_t *ev);

/* The handler wants the request body: queues "100 Continue" if the client waits for it. */
void pn_conn_want_body(pn_conn_t *c);

/*
 * Response writer — the one place response bytes are produced.
 * headers: app headers (names are validated as tokens, values must not hold
 * CR, LF or NUL -> PN_EUSAGE). content-length / transfer-encoding /
 * connection headers from the app are interpreted, not copied: a
 * content-length header is the declared length when content_length < 0.
 * content_length: body length if known, else -1 (chunked on HTTP/1.1,
 * close-delimited on HTTP/1.0).
 * 1xx statuses other than 101 are refused (PN_EUSAGE).
 */
int pn_conn_response_start(pn_conn_t *c, int status, const pn_header_t *headers, size_t n,
                           int64_t content_length);
/* Append body bytes (dropped for HEAD/204/304; PN_EUSAGE if past Content-Length). */
int pn_conn_response_body(pn_conn_t *c, const char *data, size_t len);
/*
 * Account for len body bytes the caller sends itself after the queued output
 * (sendfile). Needs a known Content-Length. Returns 1 if the bytes must be
 * sent, 0 if they must not (HEAD/204/304), or a negative error.
 */
int pn_conn_response_external(pn_conn_t *c, uint64_t len);
/* Finish the response (PN_EUSAGE if fewer bytes than Content-Length were sent: closes). */
int pn_conn_response_end(pn_conn_t *c);
/* start + body + end in one call for a complete in-memory body. */
int pn_conn_response_simple(pn_conn_t *c, int status, const pn_header_t *headers, size_t n,
                            const char *body, size_t len);
/* Abort: drop nothing already queued, accept no more, close after flushing. */
void pn_conn_abort(pn_conn_t *c);

/* Server-side error (e.g. 408 on a head timeout): answer it if no response
 * started yet, then close. */
void pn_conn_fail(pn_conn_t *c, int status, const char *reason);

/* Request a close after the current response (graceful shutdown). Idle -> closing now. */
void pn_conn_close_soon(pn_conn_t *c);

/* Upgraded connections: the raw bytes received so far (valid until the next
 * feed), and how many of them the new protocol consumed. */
static inline pn_slice_t pn_conn_input(const pn_conn_t *c)
{
    return (pn_slice_t){pn_buf_ptr(&c->in), pn_buf_len(&c->in)};
}
static inline void pn_conn_input_done(pn_conn_t *c, size_t n) { pn_buf_consume(&c->in, n); }

/* Bytes waiting to be written, and report how many were written. */
static inline pn_slice_t pn_conn_output(const pn_conn_t *c)
{
    return (pn_slice_t){pn_buf_ptr(&c->out), pn_buf_len(&c->out)};
}
static inline void pn_conn_output_done(pn_conn_t *c, size_t n) { pn_buf_consume(&c->out, n); }

/* True when the connection should be closed once output is flushed. */
static inline int pn_conn_closing(const pn_conn_t *c) { return c->state == PN_CONN_CLOSING; }
/* True between requests with nothing buffered (keep-alive timer applies). */
static inline int pn_conn_idle(const pn_conn_t *c)
{
    return c->state == PN_CONN_HEAD && pn_buf_len(&c->in) == 0;
}
/* True while a request is being handled (response not yet ended). */
static inline int pn_conn_busy(const pn_conn_t *c)
{
    return c->state == PN_CONN_REQUEST && !c->resp_ended;
}

/* Default reason phrase for a status code ("" if unknown). */
const char *pn_status_reason(int status);

#endif
