/*
 * url.c — percent-decoding (see url.h). Pure C, no Python.
 */
#include "url.h"

#include <string.h>

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c |= 0x20;
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

size_t pn_url_unquote(const char *in, size_t len, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (in[i] == '%' && i + 2 < len) {
            int h = hexval((unsigned char)in[i + 1]);
            int l = hexval((unsigned char)in[i + 2]);
            if (h >= 0 && l >= 0) {
                out[o++] = (char)(h * 16 + l);
                i += 2;
                continue;
            }
        }
        out[o++] = in[i];
    }
    return o;
}

size_t pn_url_query_start(const char *target, size_t len)
{
    const char *q = memchr(target, '?', len);
    return q ? (size_t)(q - target) : len;
}
