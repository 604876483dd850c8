/*
 * http1_scan.h — private to http1.c: the parser's byte scanners.
 *
 * Each scan returns the first byte in [p, end) outside a byte class of the
 * HTTP/1.1 grammar. With SSE2 (part of x86-64: no runtime dispatch) they
 * test 16 bytes per step; built with -DPN_NO_SIMD, only the portable scalar
 * loops remain (the C tests run both builds; fuzz_http1 compares them on
 * every input). Not part of the public contract.
 */
#ifndef PN_HTTP1_SCAN_H
#define PN_HTTP1_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "http1_chars.h"

#define CLS_IS(c, bit) PN__CLS(c, bit)

#if defined(__SSE2__) && !defined(PN_NO_SIMD)
#define PN_HTTP1_SIMD 1
#include <emmintrin.h>
#endif


/*
 * The scans below return the first byte in [p, end) outside a byte class.
 * With SSE2 they test 16 bytes per step while a whole block lies inside
 * [p, end) (never a byte beyond end, which may be the end of the caller's
 * buffer), then finish byte by byte with the class table. Some vector tests
 * are narrower than their class, to be cheap on the bytes real requests are
 * made of; a byte they stop at is then decided by the table (or by an exact
 * test for the rest of the run).
 */

#if PN_HTTP1_SIMD
/*
 * A 16-byte block at p lies inside [p, end). Compared as addresses against
 * end - 16 so that the loops below test one register per block; no object
 * sits in the first 16 bytes of the address space, so end - 16 cannot wrap.
 */
#define BLOCK_FITS(p, end) ((uintptr_t)(p) <= (uintptr_t)(end) - 16)

/* Lanes of v in [lo, hi]: v - lo as a signed byte biased by 0x80 is below hi - lo + 1 - 128. */
#define IN_RANGE(v, lo, hi)                                                                        \
    _mm_cmplt_epi8(_mm_add_epi8((v), _mm_set1_epi8((char)(0x80 - (lo)))),                         \
                   _mm_set1_epi8((char)((hi) - (lo) + 1 - 128)))

static inline __m128i load16(const uint8_t *p)
{
    return _mm_loadu_si128((const __m128i *)p);
}

/*
 * The class tests return a 16-bit mask with bit i set when byte i of the
 * block is in the class; a block is all in when the mask is 0xFFFF.
 */

/* request-target text: 0x21-0x7E. */
static inline unsigned in_target(__m128i v)
{
    return (unsigned)_mm_movemask_epi8(IN_RANGE(v, 0x21, 0x7e));
}

/* field-value text: anything but a control byte (HTAB included) or DEL. */
static inline unsigned in_value(__m128i v)
{
    __m128i ctl = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v);
    ctl = _mm_or_si128(ctl, _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f)));
    return (unsigned)_mm_movemask_epi8(ctl) ^ 0xffffu;
}

/*
 * in_value() without obs-text (0x80-0xFF), in fewer instructions: SP-0x7E are
 * the bytes for which v + 1 as a signed byte is above 0x20.
 */
static inline unsigned in_value_ascii(__m128i v)
{
    __m128i t = _mm_add_epi8(v, _mm_set1_epi8(1));
    return (unsigned)_mm_movemask_epi8(_mm_cmpgt_epi8(t, _mm_set1_epi8(0x20)));
}

/* letters and '-': what field names are made of. */
static inline unsigned in_alpha_dash(__m128i v)
{
    __m128i letter = IN_RANGE(_mm_or_si128(v, _mm_set1_epi8(0x20)), 'a', 'z');
    return (unsigned)_mm_movemask_epi8(_mm_or_si128(letter, _mm_cmpeq_epi8(v, _mm_set1_epi8('-'))));
}

/* letters, digits, '-' and '.': what host names and IPv4 addresses are made of. */
static inline unsigned in_host_name(__m128i v)
{
    __m128i in = IN_RANGE(_mm_or_si128(v, _mm_set1_epi8(0x20)), 'a', 'z');
    in = _mm_or_si128(in, IN_RANGE(v, '0', '9'));
    in = _mm_or_si128(in, IN_RANGE(v, '-', '.'));
    return (unsigned)_mm_movemask_epi8(in);
}

/* Index of the first byte outside the class; 16 when the whole block is in it. */
static inline size_t first_out(unsigned in)
{
    return (unsigned)__builtin_ctz(~in);
}
#endif

/* request-target text: visible ASCII 0x21-0x7E. */
static inline const uint8_t *scan_target(const uint8_t *p, const uint8_t *end)
{
#if PN_HTTP1_SIMD
    for (; BLOCK_FITS(p, end); p += 16) {
        unsigned in = in_target(load16(p));
        if (in != 0xffff) {
            return p + first_out(in);
        }
    }
#endif
    while (p < end && CLS_IS(*p, PN__C_TARGET)) {
        p++;
    }
    return p;
}

/* field-value text: HTAB SP VCHAR obs-text. The vector test stops at HTAB too. */
static const uint8_t *scan_value_exact(const uint8_t *p, const uint8_t *end)
{
#if PN_HTTP1_SIMD
    while (BLOCK_FITS(p, end)) {
        unsigned in = in_value(load16(p));
        if (in == 0xffff) {
            p += 16;
            continue;
        }
        p += first_out(in);
        if (*p != '\t') {
            return p;
        }
        p++;
    }
#endif
    while (p < end && CLS_IS(*p, PN__C_FVALUE)) {
        p++;
    }
    return p;
}

/*
 * The same, with the cheaper vector test that stops at obs-text too. Values
 * are nearly always ASCII without HTAB; from the first HTAB or obs-text byte
 * on, scan_value_exact() reads the rest.
 */
static inline const uint8_t *scan_value(const uint8_t *p, const uint8_t *end)
{
#if PN_HTTP1_SIMD
    for (; BLOCK_FITS(p, end); p += 16) {
        unsigned in = in_value_ascii(load16(p));
        if (in != 0xffff) {
            p += first_out(in);
            return CLS_IS(*p, PN__C_FVALUE) ? scan_value_exact(p + 1, end) : p;
        }
    }
#endif
    return scan_value_exact(p, end);
}

/*
 * token: ALPHA DIGIT and !#$%&'*+-.^_`|~. Four table lookups per step: the
 * usual field name is read by scan_usual_line(), and methods are short.
 */
static inline const uint8_t *scan_token(const uint8_t *p, const uint8_t *end)
{
    const uint8_t *cls = pn__http1_cls;
    while (end - p >= 4 && (cls[p[0]] & cls[p[1]] & cls[p[2]] & cls[p[3]] & PN__C_TCHAR)) {
        p += 4;
    }
    while (p < end && (cls[*p] & PN__C_TCHAR)) {
        p++;
    }
    return p;
}

/*
 * The usual field line, read in whole blocks: a name of letters and '-', its
 * ':', then the value from the block that holds the ':' on, so that a short
 * line costs one block. Returns where scan_value() would stop after the ':'
 * and sets *colon; returns NULL when the line does not start that way within
 * whole blocks, and the caller reads it with the general scans instead.
 */
static inline const uint8_t *scan_usual_line(const uint8_t *p, const uint8_t *end,
                                             const uint8_t **colon)
{
#if PN_HTTP1_SIMD
    if (!BLOCK_FITS(p, end)) {
        return NULL;
    }
    const uint8_t *b = p;
    __m128i v = load16(b);
    unsigned in = in_alpha_dash(v);
    while (in == 0xffff) {
        b += 16;
        if (!BLOCK_FITS(b, end)) {
            return NULL;
        }
        v = load16(b);
        in = in_alpha_dash(v);
    }
    const uint8_t *q = b + first_out(in);
    if (*q != ':' || q == p) {
        return NULL;
    }
    *colon = q;
    /* b[0..q] are letters, '-' and the ':', so the first byte out of the value is past the ':' */
    in = in_value_ascii(v);
    if (in == 0xffff) {
        return scan_value(b + 16, end);
    }
    q = b + first_out(in);
    return CLS_IS(*q, PN__C_FVALUE) ? scan_value_exact(q + 1, end) : q; /* HTAB or obs-text */
#else
    (void)p, (void)end, (void)colon;
    return NULL;
#endif
}

/*
 * reg-name text other than '%' in [p, end). The vector test covers letters,
 * digits, '-' and '.', and may load up to `readable` (>= end).
 */
static inline const uint8_t *scan_reg_name(const uint8_t *p, const uint8_t *end,
                                           const uint8_t *readable)
{
#if PN_HTTP1_SIMD
    for (; BLOCK_FITS(p, readable); p += 16) {
        size_t k = first_out(in_host_name(load16(p)));
        if (k >= (size_t)(end - p)) {
            return end;
        }
        if (k < 16) {
            p += k;
            break;
        }
    }
#else
    (void)readable;
#endif
    while (p < end && *p != '%' && CLS_IS(*p, PN__C_REGNAME)) {
        p++;
    }
    return p;
}

#endif
