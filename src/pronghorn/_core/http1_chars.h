/*
 * http1_chars.h — private to http1.c and chunked.c: the byte-class table of
 * the HTTP/1.1 grammar (RFC 9110 §5.5-5.6, RFC 9112, RFC 3986 §3.2).
 *
 * One 256-entry table of bit flags, defined once in http1.c. Lookups are a
 * load and a mask, so the scanning loops stay branch-light. Not part of the
 * public contract; nothing outside the parser should include this.
 */
#ifndef PN_HTTP1_CHARS_H
#define PN_HTTP1_CHARS_H

#include <stdint.h>

#define PN__C_TCHAR 0x01   /* token: ALPHA DIGIT !#$%&'*+-.^_`|~ */
#define PN__C_FVALUE 0x02  /* field value: HTAB SP VCHAR obs-text */
#define PN__C_TARGET 0x04  /* request-target: visible ASCII 0x21-0x7E */
#define PN__C_HEX 0x08     /* HEXDIG */
#define PN__C_REGNAME 0x10 /* reg-name: unreserved sub-delims "%" */
#define PN__C_SCHEME 0x20  /* scheme after the first ALPHA: ALPHA DIGIT + - . */
#define PN__C_DIGIT 0x40   /* DIGIT */
#define PN__C_QDTEXT 0x80  /* quoted-string text: HTAB SP ! #-[ ]-~ obs-text */

extern const uint8_t pn__http1_cls[256];

#define PN__CLS(c, bit) (pn__http1_cls[(uint8_t)(c)] & (bit))

/* ASCII lowercase without locale or branches. */
static inline uint8_t pn__lower(uint8_t c)
{
    return (uint8_t)(c + ((unsigned)(c - 'A') < 26u ? 32 : 0));
}

#endif
