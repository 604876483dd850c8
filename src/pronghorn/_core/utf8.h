/*
 * utf8.h — the project's one UTF-8 validator (RFC 3629). Pure C.
 *
 * Owns: deciding whether bytes are well-formed UTF-8: no overlong forms, no
 * surrogates (U+D800..U+DFFF), nothing above U+10FFFF, no stray continuation
 * bytes, no truncated sequence at the end of a complete text.
 * Invariants: incremental and fail-fast. The state carried between calls is
 * one byte, so text may be fed in any pieces (WebSocket text messages split
 * across frames and TCP reads) and the verdict is the same for every split.
 * A byte is rejected as soon as no continuation could make the text valid
 * (0xE0 0x80 fails at 0x80, 0xF4 0x90 at 0x90, 0xC0 at once), which is what
 * RFC 6455 §8.1 asks of an endpoint that fails fast. No allocation, no
 * global mutable state (one static const table).
 * Must not know about: WebSocket frames, Python strings, what the text means.
 */
#ifndef PN_UTF8_H
#define PN_UTF8_H

#include <stddef.h>
#include <stdint.h>

#define PN_UTF8_INVALID (-1)

/* Incremental state. Zero-initialised (or pn_utf8_init) = start of a text. */
typedef struct {
    uint8_t state; /* private */
} pn_utf8_t;

static inline void pn_utf8_init(pn_utf8_t *u)
{
    u->state = 0;
}

/*
 * Feed p[0..len) as the continuation of the text seen so far.
 * Returns 0 when every byte extends a prefix of some valid UTF-8 text (the
 * text may still end inside a sequence: see pn_utf8_complete), or
 * PN_UTF8_INVALID and, if bad is not NULL, *bad = offset in p of the first
 * byte that cannot belong to valid UTF-8 given everything before it. Once
 * invalid, the state stays invalid: every later call fails with *bad = 0.
 * p may be NULL when len is 0. Reads exactly p[0..len).
 */
int pn_utf8_feed(pn_utf8_t *u, const char *p, size_t len, size_t *bad);

/* True when the text fed so far is complete valid UTF-8 (not inside a sequence, not failed). */
static inline int pn_utf8_complete(const pn_utf8_t *u)
{
    return u->state == 0;
}

/* True when p[0..len) is, on its own, complete valid UTF-8. */
int pn_utf8_valid(const char *p, size_t len);

/*
 * Length of the longest prefix of p[0..len) that is at most max bytes and does
 * not end inside a multi-byte sequence, for truncating valid UTF-8 (a close
 * reason to 123 bytes, RFC 6455 §5.5.1). If p[0..len) is valid UTF-8 the
 * prefix is valid too. Returns len when len <= max.
 */
size_t pn_utf8_truncate(const char *p, size_t len, size_t max);

#endif
