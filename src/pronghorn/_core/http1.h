/*
 * http1.h — strict, incremental HTTP/1.1 request parser (RFC 9112). Pure C.
 *
 * Owns: syntax and framing of one request head, and the chunked body decoder.
 * Invariants: no allocation, no global state, no callbacks; all output slices
 * point into the caller's input buffer and live as long as that buffer does.
 * Must not know about: sockets, Python, responses, routing.
 *
 * Incremental use: pn_http1_parse_request() is stateless. Call it again on the
 * whole buffered prefix when more bytes arrive; it returns PN_INCOMPLETE until
 * the head is complete. Any split of the same bytes gives the same result,
 * including the same error (errors are found left to right, limits are
 * applied as a scan bound, so a prefix never reports an error that the whole
 * input would not).
 */
#ifndef PN_HTTP1_H
#define PN_HTTP1_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "slice.h"

/* Return codes shared by the pure-C modules. */
#define PN_INCOMPLETE (-2) /* need more bytes */
#define PN_EPROTO (-1)     /* malformed / refused input; see pn_http1_error_t */

/* Hard upper bound on header fields per request (callers size arrays by it). */
#define PN_HTTP1_MAX_HEADERS_CAP 256

typedef struct {
    pn_slice_t name;  /* as received (not lowercased) */
    pn_slice_t value; /* leading/trailing OWS trimmed */
} pn_header_t;

typedef struct {
    size_t max_request_line; /* bytes of request-line excl. CRLF; beyond -> 414 */
    size_t max_head;         /* bytes of the whole head incl. final CRLFCRLF; beyond -> 431 */
    size_t max_headers;      /* header field count; beyond -> 431 (<= PN_HTTP1_MAX_HEADERS_CAP) */
    uint64_t max_body;       /* Content-Length / decoded chunked total; beyond -> 413 */
} pn_http1_limits_t;

/* Defaults used by the server unless configured (documented in README). */
#define PN_HTTP1_DEFAULT_MAX_REQUEST_LINE 8190
#define PN_HTTP1_DEFAULT_MAX_HEAD (64 * 1024)
#define PN_HTTP1_DEFAULT_MAX_HEADERS 100
#define PN_HTTP1_DEFAULT_MAX_BODY (16ull * 1024 * 1024)

typedef struct {
    int status;         /* status hint for the response: 400, 413, 414, 417, 431, 501, 505 */
    const char *reason; /* static string, human readable, e.g. "invalid header name" */
    size_t offset;      /* offset of the offending byte: in buf for the head parser; from the
                           first byte fed for the chunked decoder */
} pn_http1_error_t;

enum pn_body_kind {
    PN_BODY_NONE = 0,    /* no body (no CL/TE, or Content-Length: 0) */
    PN_BODY_LENGTH = 1,  /* content_length bytes follow the head */
    PN_BODY_CHUNKED = 2, /* chunked coding follows; decode with pn_chunked_* */
};

/* Request flags (pn_http1_request_t.flags). */
#define PN_REQ_KEEP_ALIVE 0x01      /* persistent per RFC 9112 §9.3 (1.1 w/o close, 1.0 w/ keep-alive) */
#define PN_REQ_UPGRADE 0x02         /* Connection contains "upgrade" and an Upgrade header is present */
#define PN_REQ_EXPECT_CONTINUE 0x04 /* HTTP/1.1 and Expect: 100-continue */
#define PN_REQ_EXPECT_OTHER 0x08    /* HTTP/1.1 and an Expect value other than 100-continue (-> 417) */
#define PN_REQ_CONN_CLOSE 0x10      /* Connection contains "close" */
#define PN_REQ_CONN_KEEP_ALIVE 0x20 /* Connection contains "keep-alive" */

typedef struct {
    /* Caller sets before parsing: */
    pn_header_t *headers;   /* array of at least limits->max_headers entries */
    /* Parser fills: */
    pn_slice_t method;      /* token */
    pn_slice_t target;      /* request-target, validated, as received */
    int minor_version;      /* 0 or 1 (HTTP/1.x only) */
    size_t num_headers;
    pn_slice_t host;        /* Host field value; empty (len 0, base non-NULL) when absent,
                               which is accepted for HTTP/1.0 only */
    int body_kind;          /* enum pn_body_kind */
    uint64_t content_length;/* valid when body_kind == PN_BODY_LENGTH */
    unsigned flags;         /* PN_REQ_* */
    size_t head_len;        /* bytes consumed by the head (incl. leading empty lines) */
} pn_http1_request_t;

/*
 * Parse one request head from buf[0..len).
 * Returns head length in bytes (> 0) on success, PN_INCOMPLETE if more bytes
 * are needed, PN_EPROTO with *err filled on error (err may not be NULL).
 * Leading CRLFs before the request-line are skipped (RFC 9112 §2.2) and
 * counted in the returned length.
 *
 * Rejected (status): bad method token (400), bad target (400), target form not
 * allowed for method (400), bad/unsupported version (400/505), bare CR or bare
 * LF line ending (400), obs-fold (400), whitespace before colon (400), invalid
 * header name (400), control chars in values (400), Content-Length malformed
 * or duplicated (400) or too large (413), Transfer-Encoding with
 * Content-Length (400), a transfer coding other than a single final chunked
 * (501 unknown coding, 400 chunked not last), TE in HTTP/1.0 (400), missing or
 * duplicate Host in HTTP/1.1 (400), request-line too long (414), head too
 * large or too many fields (431).
 * Also rejected (400): request-target form not allowed for the method
 * (authority-form needs CONNECT, "*" needs OPTIONS), an invalid Host value, an
 * empty Host with an absolute- or authority-form target, more than 8 empty
 * lines before the request-line, a CONNECT request with content.
 * limits may be NULL (the PN_HTTP1_DEFAULT_* values). req->headers receives
 * the field lines in order (including Host, Content-Length, ...). On error the
 * fields of *req are unspecified.
 */
ssize_t pn_http1_parse_request(const char *buf, size_t len, const pn_http1_limits_t *limits,
                               pn_http1_request_t *req, pn_http1_error_t *err);

/* ---- chunked transfer coding (RFC 9112 §7.1) ---- */

typedef struct {
    int state;           /* private */
    uint64_t remaining;  /* private: bytes left in the current chunk */
    uint64_t total;      /* decoded body bytes so far */
    uint64_t max_body;   /* total beyond -> 413 */
    size_t line_len;     /* private: bytes of the current size/ext/trailer line */
    size_t trailer_len;  /* private: bytes of trailer section so far */
    size_t max_line;     /* chunk-size line (with extensions) and trailer line bound */
    size_t max_trailer;  /* trailer section bound (-> 431) */
    unsigned flags;      /* private (unused) */
    size_t pos;          /* private: offset counter for error reporting */
    unsigned char tname[20]; /* private: lowercased start of the current trailer name */
} pn_chunked_t;

/* max_trailer: bound on the whole trailer section (-> 431); max_line: bound on one
 * chunk-size line (-> 400) or trailer field line (-> 431). 0 selects the default
 * (PN_CHUNKED_DEFAULT_MAX_LINE / PN_CHUNKED_DEFAULT_MAX_TRAILER). */
#define PN_CHUNKED_DEFAULT_MAX_LINE 4096
#define PN_CHUNKED_DEFAULT_MAX_TRAILER (16 * 1024)
void pn_chunked_init(pn_chunked_t *c, uint64_t max_body, size_t max_line, size_t max_trailer);

/*
 * Feed bytes in[0..len). Returns the number of bytes consumed (0..len), or
 * PN_EPROTO with *err filled. *data is set to the body bytes found in the
 * consumed range (a slice into `in`, possibly empty). Each call returns at
 * most one contiguous data run, and returns right after it: call again with
 * the rest. Framing is consumed byte by byte, so any split gives the same
 * decoded body, and the same data is delivered before an error whatever the
 * split. Returns 0 only when len is 0 or the message is complete; stops
 * consuming (returns fewer than len) once it is. err->offset counts from the
 * first byte fed since pn_chunked_init(); after an error every call fails.
 * Trailer fields are validated like header fields and discarded; trailers that
 * must not be sent as trailers (Content-Length, Transfer-Encoding, Host, ...)
 * are rejected (400).
 */
ssize_t pn_chunked_feed(pn_chunked_t *c, const char *in, size_t len, pn_slice_t *data,
                        pn_http1_error_t *err);

/* True once the last-chunk, trailers and final CRLF have been consumed. */
int pn_chunked_done(const pn_chunked_t *c);

/* Case-insensitive ASCII comparison of a slice with a NUL-terminated lowercase literal. */
int pn_slice_ieq(pn_slice_t s, const char *lower);

#endif
