/*
 * url.h — percent-decoding of request-target components. Pure C.
 * The one percent-decoder of the project (server, test client and ASGI scope).
 */
#ifndef PN_URL_H
#define PN_URL_H

#include <stddef.h>

#include "slice.h"

/*
 * Decode %XX escapes of in[0..len) into out (which must hold len bytes; out
 * may equal in). Malformed escapes ("%zz", a trailing "%") are kept as is,
 * like urllib.parse.unquote. Returns the decoded length.
 */
size_t pn_url_unquote(const char *in, size_t len, char *out);

/* As pn_url_unquote, and '+' decodes to a space (application/x-www-form-urlencoded). */
size_t pn_url_unquote_plus(const char *in, size_t len, char *out);

/*
 * Iterate the fields of a query string / urlencoded form: "a=1&b&c=".
 * Starting at *pos, finds the next non-empty field, sets name and value
 * (raw, still encoded; value empty if there is no '='), advances *pos past
 * it and returns 1; returns 0 when there are no more fields.
 */
int pn_url_next_field(const char *q, size_t len, size_t *pos, pn_slice_t *name, pn_slice_t *value);

/*
 * Iterate the pairs of a Cookie header (RFC 6265 §5.4, tolerant like
 * browsers): "a=1; b=2; junk; c=\"q\"". Whitespace around names and values is
 * trimmed, one pair of surrounding double quotes is removed from values, a
 * chunk without '=' is a value with an empty name. Empty chunks are skipped.
 */
int pn_cookie_next(const char *s, size_t len, size_t *pos, pn_slice_t *name, pn_slice_t *value);

/* Index of the first '?' in the target, or len if none. */
size_t pn_url_query_start(const char *target, size_t len);

#endif
