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

static size_t unquote(const char *in, size_t len, char *out, int plus)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (plus && in[i] == '+') {
            out[o++] = ' ';
            continue;
        }
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

size_t pn_url_unquote(const char *in, size_t len, char *out)
{
    return unquote(in, len, out, 0);
}

size_t pn_url_unquote_plus(const char *in, size_t len, char *out)
{
    return unquote(in, len, out, 1);
}

int pn_url_next_field(const char *q, size_t len, size_t *pos, pn_slice_t *name, pn_slice_t *value)
{
    size_t i = *pos;
    while (i < len) {
        size_t start = i;
        while (i < len && q[i] != '&') {
            i++;
        }
        size_t end = i;
        if (i < len) {
            i++; /* skip '&' */
        }
        if (end == start) {
            continue;
        }
        const char *eq = memchr(q + start, '=', end - start);
        if (eq == NULL) {
            *name = (pn_slice_t){q + start, end - start};
            *value = (pn_slice_t){q + end, 0};
        } else {
            *name = (pn_slice_t){q + start, (size_t)(eq - (q + start))};
            *value = (pn_slice_t){eq + 1, (size_t)(q + end - (eq + 1))};
        }
        *pos = i;
        return 1;
    }
    *pos = len;
    return 0;
}

static pn_slice_t trim(const char *p, size_t n)
{
    while (n > 0 && (*p == ' ' || *p == '\t')) {
        p++;
        n--;
    }
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t')) {
        n--;
    }
    return (pn_slice_t){p, n};
}

int pn_cookie_next(const char *s, size_t len, size_t *pos, pn_slice_t *name, pn_slice_t *value)
{
    size_t i = *pos;
    while (i < len) {
        size_t start = i;
        while (i < len && s[i] != ';') {
            i++;
        }
        size_t end = i;
        if (i < len) {
            i++;
        }
        const char *eq = memchr(s + start, '=', end - start);
        if (eq == NULL) {
            *name = (pn_slice_t){s + start, 0};
            *value = trim(s + start, end - start);
        } else {
            *name = trim(s + start, (size_t)(eq - (s + start)));
            *value = trim(eq + 1, (size_t)(s + end - (eq + 1)));
        }
        if (value->len >= 2 && value->base[0] == '"' && value->base[value->len - 1] == '"') {
            value->base++;
            value->len -= 2;
        }
        if (name->len == 0 && value->len == 0) {
            continue;
        }
        *pos = i;
        return 1;
    }
    *pos = len;
    return 0;
}

size_t pn_url_query_start(const char *target, size_t len)
{
    const char *q = memchr(target, '?', len);
    return q ? (size_t)(q - target) : len;
}
