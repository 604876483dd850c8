/*
 * url.h — percent-decoding of request-target components. Pure C.
 * The one percent-decoder of the project (server, test client and ASGI scope).
 */
#ifndef PN_URL_H
#define PN_URL_H

#include <stddef.h>

/*
 * Decode %XX escapes of in[0..len) into out (which must hold len bytes; out
 * may equal in). Malformed escapes ("%zz", a trailing "%") are kept as is,
 * like urllib.parse.unquote. Returns the decoded length.
 */
size_t pn_url_unquote(const char *in, size_t len, char *out);

/* Index of the first '?' in the target, or len if none. */
size_t pn_url_query_start(const char *target, size_t len);

#endif
