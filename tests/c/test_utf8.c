/*
 * test_utf8.c — unit tests for utf8.c: the classic well-formedness cases
 * (overlong forms, surrogates, range, truncation, stray bytes), exhaustive
 * comparison with a code-point arithmetic oracle for every string of up to
 * three bytes and every four-byte sequence with continuation-range tails,
 * the fail-fast offset against a table-driven reference (Unicode Table 3-7),
 * split invariance (whole, byte by byte, random pieces), the word-at-a-time
 * ASCII paths at every alignment, and pn_utf8_truncate.
 * Inputs are validated from right before an unreadable page.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard.h"
#include "tap.h"
#include "utf8_ref.h"
#include "utf8.h"

/* Validity by decoding code points (independent of the automaton). */
static int oracle_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t len;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            len = 2, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if (n - i < len) {
            return 0;
        }
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) {
                return 0;
            }
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            return 0;
        }
        i += len;
    }
    return 1;
}

/* Result of validating s[0..n) fed in pieces ending at cuts[0..ncuts) (then n). */
typedef struct {
    int invalid;
    size_t bad; /* offset in s */
    int complete;
} verdict_t;

static verdict_t run_pieces(const uint8_t *s, size_t n, const size_t *cuts, size_t ncuts)
{
    verdict_t v = {0, 0, 0};
    pn_utf8_t u;
    pn_utf8_init(&u);
    size_t at = 0;
    for (size_t k = 0; k <= ncuts; k++) {
        size_t end = k < ncuts ? cuts[k] : n;
        if (end < at) {
            continue;
        }
        const char *p = guard_copy(s + at, end - at);
        size_t bad = 0;
        if (pn_utf8_feed(&u, p, end - at, &bad) != 0) {
            v.invalid = 1;
            v.bad = at + bad;
            return v;
        }
        at = end;
    }
    v.complete = pn_utf8_complete(&u);
    return v;
}

static verdict_t run_whole(const uint8_t *s, size_t n)
{
    return run_pieces(s, n, NULL, 0);
}

static int same_as_ref(const uint8_t *s, size_t n, verdict_t v)
{
    int complete;
    size_t bad = ref_scan(s, n, &complete);
    if (bad < n) {
        return v.invalid && v.bad == bad;
    }
    return !v.invalid && v.complete == complete;
}

typedef struct {
    const char *name;
    const char *bytes;
    size_t len;
    int valid; /* complete and valid */
    long bad;  /* offset of the first bad byte, -1 if none (maybe incomplete) */
} vector_t;

#define V(name, lit, valid, bad)                                                                   \
    {                                                                                              \
        name, lit, sizeof(lit) - 1, valid, bad                                                     \
    }

static const vector_t vectors[] = {
    V("empty", "", 1, -1),
    V("ascii", "hello, world", 1, -1),
    V("NUL is a character", "a\0b", 1, -1),
    V("2-byte U+00E9", "\xC3\xA9", 1, -1),
    V("3-byte U+20AC", "\xE2\x82\xAC", 1, -1),
    V("4-byte U+1F600", "\xF0\x9F\x98\x80", 1, -1),
    V("U+0080 smallest 2-byte", "\xC2\x80", 1, -1),
    V("U+07FF largest 2-byte", "\xDF\xBF", 1, -1),
    V("U+0800 smallest 3-byte", "\xE0\xA0\x80", 1, -1),
    V("U+D7FF before surrogates", "\xED\x9F\xBF", 1, -1),
    V("U+E000 after surrogates", "\xEE\x80\x80", 1, -1),
    V("U+FFFD", "\xEF\xBF\xBD", 1, -1),
    V("U+FFFF noncharacter is valid", "\xEF\xBF\xBF", 1, -1),
    V("U+10000 smallest 4-byte", "\xF0\x90\x80\x80", 1, -1),
    V("U+10FFFF largest", "\xF4\x8F\xBF\xBF", 1, -1),
    V("kosme", "\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5", 1, -1),
    V("overlong / C0 AF", "\xC0\xAF", 0, 0),
    V("overlong C1 BF", "\xC1\xBF", 0, 0),
    V("overlong E0 80 AF", "\xE0\x80\xAF", 0, 1),
    V("overlong E0 9F BF", "\xE0\x9F\xBF", 0, 1),
    V("overlong F0 80 80 AF", "\xF0\x80\x80\xAF", 0, 1),
    V("overlong F0 8F BF BF", "\xF0\x8F\xBF\xBF", 0, 1),
    V("surrogate D800", "\xED\xA0\x80", 0, 1),
    V("surrogate DFFF", "\xED\xBF\xBF", 0, 1),
    V("surrogate pair as CESU-8", "\xED\xA0\x80\xED\xB0\x80", 0, 1),
    V("U+110000", "\xF4\x90\x80\x80", 0, 1),
    V("F5 lead", "\xF5\x80\x80\x80", 0, 0),
    V("F8 5-byte lead", "\xF8\x88\x80\x80\x80", 0, 0),
    V("FE", "\xFE", 0, 0),
    V("FF", "\xFF", 0, 0),
    V("lone continuation", "\x80", 0, 0),
    V("continuation after ASCII", "ab\xBF", 0, 2),
    V("too many continuations", "\xC3\xA9\xA9", 0, 2),
    V("2-byte lead then ASCII",
      "\xC3"
      "a",
      0, 1),
    V("3-byte lead cut by ASCII",
      "\xE2\x82"
      "a",
      0, 2),
    V("4-byte lead cut by a lead", "\xF0\x9F\x98\xC3\xA9", 0, 3),
    V("truncated 2-byte at end", "ab\xC3", 0, -1),
    V("truncated 3-byte at end", "\xE2\x82", 0, -1),
    V("truncated 4-byte at end", "\xF0\x9F\x98", 0, -1),
    V("Autobahn 6.3.1 (ED A0 80 inside)",
      "\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5\xED\xA0\x80\x65\x64\x69\x74\x65\x64", 0, 12),
    V("bad byte after 40 ASCII", "0123456789012345678901234567890123456789\xFF", 0, 40),
};

static void test_vectors(void)
{
    for (size_t i = 0; i < sizeof vectors / sizeof *vectors; i++) {
        const vector_t *t = &vectors[i];
        const uint8_t *s = (const uint8_t *)t->bytes;
        verdict_t v = run_whole(s, t->len);
        int good = (t->valid == (!v.invalid && v.complete)) &&
                   (t->bad < 0 ? !v.invalid : (v.invalid && v.bad == (size_t)t->bad));
        good = good && pn_utf8_valid(guard_copy(s, t->len), t->len) == t->valid;
        good = good && oracle_valid(s, t->len) == t->valid && same_as_ref(s, t->len, v);
        if (!ok(good, "vector: %s", t->name)) {
            diag("  invalid=%d bad=%zu complete=%d", v.invalid, v.bad, v.complete);
        }
    }
}

/* Every string of 1, 2 and 3 bytes. */
static void test_exhaustive_short(void)
{
    long mismatches = 0, offsets = 0;
    uint8_t s[3];
    for (uint32_t x = 0; x < (1u << 24); x++) {
        s[0] = (uint8_t)(x >> 16);
        s[1] = (uint8_t)(x >> 8);
        s[2] = (uint8_t)x;
        for (size_t n = 1; n <= 3; n++) {
            /* shorter strings only once: when the unused low bytes are zero */
            if (n < 3 && (x & ((1u << (8 * (3 - n))) - 1)) != 0) {
                continue;
            }
            verdict_t v = run_whole(s, n);
            if ((!v.invalid && v.complete) != oracle_valid(s, n)) {
                mismatches++;
            }
            if (!same_as_ref(s, n, v)) {
                offsets++;
            }
        }
    }
    is_int(mismatches, 0, "all strings of 1-3 bytes: validity matches the code-point oracle");
    is_int(offsets, 0, "all strings of 1-3 bytes: first bad byte matches the reference");
}

/* Every 4-byte sequence with a lead F0..F7 and tails in 80..BF, and leads with one odd tail. */
static void test_exhaustive_four(void)
{
    long mismatches = 0, offsets = 0;
    uint8_t s[4];
    for (unsigned lead = 0xF0; lead <= 0xF7; lead++) {
        for (uint32_t x = 0; x < (1u << 18); x++) {
            s[0] = (uint8_t)lead;
            s[1] = (uint8_t)(0x80 | (x >> 12));
            s[2] = (uint8_t)(0x80 | ((x >> 6) & 0x3F));
            s[3] = (uint8_t)(0x80 | (x & 0x3F));
            verdict_t v = run_whole(s, 4);
            mismatches += (!v.invalid && v.complete) != oracle_valid(s, 4);
            offsets += !same_as_ref(s, 4, v);
        }
    }
    for (unsigned lead = 0xF0; lead <= 0xF4; lead++) {
        for (unsigned pos = 1; pos < 4; pos++) {
            for (unsigned b = 0; b < 256; b++) {
                s[0] = (uint8_t)lead;
                s[1] = lead == 0xF0 ? 0x90 : 0x80;
                s[2] = s[3] = 0x80;
                s[pos] = (uint8_t)b;
                verdict_t v = run_whole(s, 4);
                mismatches += (!v.invalid && v.complete) != oracle_valid(s, 4);
                offsets += !same_as_ref(s, 4, v);
            }
        }
    }
    is_int(mismatches, 0, "4-byte sequences: validity matches the code-point oracle");
    is_int(offsets, 0, "4-byte sequences: first bad byte matches the reference");
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

/* Appends one random valid character of len (1-4) bytes. */
static size_t put_len(uint8_t *out, unsigned len)
{
    uint32_t cp;
    switch (len - 1) {
    case 0:
        out[0] = (uint8_t)(rnd() % 0x80);
        return 1;
    case 1:
        cp = 0x80 + rnd() % (0x800 - 0x80);
        out[0] = (uint8_t)(0xC0 | cp >> 6);
        out[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    case 2:
        do {
            cp = 0x800 + rnd() % (0x10000 - 0x800);
        } while (cp >= 0xD800 && cp <= 0xDFFF);
        out[0] = (uint8_t)(0xE0 | cp >> 12);
        out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    default:
        cp = 0x10000 + rnd() % (0x110000 - 0x10000);
        out[0] = (uint8_t)(0xF0 | cp >> 18);
        out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
        out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        out[3] = (uint8_t)(0x80 | (cp & 0x3F));
        return 4;
    }
}

/* Appends one random valid character of 1-4 bytes. */
static size_t put_char(uint8_t *out)
{
    return put_len(out, 1 + rnd() % 4);
}

static int same_verdict(verdict_t a, verdict_t b)
{
    return a.invalid == b.invalid && (a.invalid ? a.bad == b.bad : a.complete == b.complete);
}

/* Random texts, some corrupted: whole == byte by byte == random pieces == reference. */
static void test_random_splits(void)
{
    enum { ROUNDS = 20000, MAXLEN = 300 };
    uint8_t s[MAXLEN + 8];
    size_t cuts[MAXLEN + 8];
    long bad_ref = 0, bad_split = 0, bad_valid = 0;
    for (int r = 0; r < ROUNDS; r++) {
        size_t n = 0, target = rnd() % MAXLEN;
        while (n < target) {
            n += put_char(s + n);
        }
        int corrupt = rnd() % 3;
        for (int k = 0; k < corrupt && n > 0; k++) {
            s[rnd() % n] = (uint8_t)rnd();
        }
        if (rnd() % 4 == 0 && n > 0) {
            n -= 1 + rnd() % (n < 3 ? n : 3); /* maybe cut inside a character */
        }
        verdict_t whole = run_whole(s, n);
        bad_ref += !same_as_ref(s, n, whole);
        bad_valid += pn_utf8_valid((const char *)s, n) != oracle_valid(s, n);
        for (size_t i = 0; i < n; i++) {
            cuts[i] = i;
        }
        bad_split += !same_verdict(whole, run_pieces(s, n, cuts, n));
        size_t nc = n ? rnd() % 6 : 0;
        for (size_t i = 0; i < nc; i++) {
            cuts[i] = rnd() % (n + 1);
        }
        for (size_t i = 1; i < nc; i++) { /* sort */
            for (size_t j = i; j > 0 && cuts[j - 1] > cuts[j]; j--) {
                size_t t = cuts[j];
                cuts[j] = cuts[j - 1];
                cuts[j - 1] = t;
            }
        }
        bad_split += !same_verdict(whole, run_pieces(s, n, cuts, nc));
    }
    is_int(bad_ref, 0, "random texts: verdict and offset match the reference");
    is_int(bad_valid, 0, "random texts: pn_utf8_valid matches the oracle");
    is_int(bad_split, 0, "random texts: byte-by-byte and random pieces give the same verdict");
}

/* Long texts go through the four-lane path (blocks of 256 bytes): same verdicts. */
static void test_long_texts(void)
{
    enum { ROUNDS = 3000, MAXLEN = 3000 };
    static uint8_t s[MAXLEN + 8];
    static size_t cuts[8];
    long bad_ref = 0, bad_split = 0;
    for (int r = 0; r < ROUNDS; r++) {
        size_t n = 0, target = 256 + rnd() % (MAXLEN - 256);
        int kind = rnd() % 4; /* 0 mixed, 1 mostly 2-byte, 2 mostly 3-byte, 3 mostly 4-byte */
        while (n < target) {
            unsigned len = kind == 0 || rnd() % 8 == 0 ? 1 + rnd() % 4 : (unsigned)kind + 1;
            n += put_len(s + n, len);
        }
        int corrupt = rnd() % 3;
        for (int k = 0; k < corrupt; k++) {
            size_t at = rnd() % n;
            switch (rnd() % 3) {
            case 0:
                s[at] = (uint8_t)rnd();
                break;
            case 1:
                s[at] = (uint8_t)(0x80 | (rnd() & 0x3F)); /* a stray continuation byte */
                break;
            default:
                s[at] = 0xED, s[at + 1 < n ? at + 1 : at] = 0xA0; /* a surrogate */
                break;
            }
        }
        if (rnd() % 4 == 0) {
            n -= 1 + rnd() % 3;
        }
        verdict_t whole = run_whole(s, n);
        bad_ref += !same_as_ref(s, n, whole);
        size_t nc = 1 + rnd() % 4;
        for (size_t i = 0; i < nc; i++) {
            cuts[i] = rnd() % (n + 1);
        }
        for (size_t i = 1; i < nc; i++) {
            for (size_t j = i; j > 0 && cuts[j - 1] > cuts[j]; j--) {
                size_t t = cuts[j];
                cuts[j] = cuts[j - 1];
                cuts[j - 1] = t;
            }
        }
        bad_split += !same_verdict(whole, run_pieces(s, n, cuts, nc));
    }
    is_int(bad_ref, 0, "long texts (256-3000 bytes): verdict and offset match the reference");
    is_int(bad_split, 0, "long texts: random pieces give the same verdict");

    /* a lane cannot start: four or more continuation bytes around each lane start */
    uint8_t t[600];
    memset(t, 'a', sizeof t);
    for (size_t at = 60; at < 70; at++) {
        t[at] = 0x80;
    }
    verdict_t v = run_whole(t, sizeof t);
    ok(v.invalid && v.bad == 60, "continuation run at a lane boundary: error at its first byte");
    /* a character straddling each lane start */
    size_t n = 0;
    while (n + 3 <= sizeof t) {
        t[n++] = 0xE2, t[n++] = 0x82, t[n++] = 0xAC;
    }
    int good = 1;
    for (size_t shift = 0; shift < 3; shift++) {
        v = run_whole(t + shift, n - shift);
        good &= shift == 0 ? !v.invalid && v.complete : v.invalid && v.bad == 0;
        v = run_whole(t, n - shift);
        good &= shift == 0 ? !v.invalid && v.complete : !v.invalid && !v.complete;
    }
    ok(good, "3-byte characters across lane starts, at every alignment");
}

/* The 16- and 8-byte ASCII skips: a bad byte or a character at every offset. */
static void test_block_paths(void)
{
    uint8_t s[80];
    int good = 1;
    for (size_t n = 0; n <= 70; n++) {
        for (size_t at = 0; at < n; at++) {
            memset(s, 'a', n);
            s[at] = 0xFF;
            verdict_t v = run_whole(s, n);
            good &= v.invalid && v.bad == at;
            if (at + 2 <= n) {
                memset(s, 'a', n);
                s[at] = 0xC3;
                s[at + 1] = 0xA9;
                v = run_whole(s, n);
                good &= !v.invalid && v.complete;
                /* a continuation of a character that is not there */
                s[at] = 'a';
                v = run_whole(s, n);
                good &= v.invalid && v.bad == at + 1;
            }
        }
        memset(s, 'a', n);
        verdict_t v = run_whole(s, n);
        good &= !v.invalid && v.complete;
    }
    ok(good, "ASCII runs of 0-70 bytes: bad byte and characters found at every offset");

    /* long non-ASCII runs go through the 16-byte automaton blocks */
    uint8_t t[200];
    size_t n = 0;
    while (n + 3 <= sizeof t) {
        t[n++] = 0xE2, t[n++] = 0x82, t[n++] = 0xAC;
    }
    good = 1;
    for (size_t at = 0; at < n; at++) {
        uint8_t keep = t[at];
        t[at] = 0xC0;
        verdict_t v = run_whole(t, n);
        good &= v.invalid && v.bad == at;
        t[at] = keep;
    }
    ok(good, "a bad byte anywhere in a run of 3-byte characters is found at its offset");
}

static void test_sticky_and_empty(void)
{
    pn_utf8_t u;
    pn_utf8_init(&u);
    size_t bad = 99;
    ok(pn_utf8_feed(&u, NULL, 0, &bad) == 0 && pn_utf8_complete(&u), "empty feed (NULL) is fine");
    ok(pn_utf8_feed(&u, "\xE2\x82", 2, &bad) == 0 && !pn_utf8_complete(&u),
       "inside a character: not complete");
    ok(pn_utf8_feed(&u, "\xAC", 1, &bad) == 0 && pn_utf8_complete(&u),
       "completed by the next piece");
    ok(pn_utf8_feed(&u, "a\x80", 2, &bad) == PN_UTF8_INVALID && bad == 1, "stray byte rejected");
    bad = 99;
    ok(pn_utf8_feed(&u, "abc", 3, &bad) == PN_UTF8_INVALID && bad == 0, "failure is sticky");
    ok(!pn_utf8_complete(&u), "failed text is not complete");
    ok(pn_utf8_feed(&u, "abc", 3, NULL) == PN_UTF8_INVALID, "bad may be NULL");
}

static void test_truncate(void)
{
    const char *s = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"; /* a é € 😀: 1+2+3+4 */
    size_t n = strlen(s);
    size_t want[] = {0, 1, 1, 3, 3, 3, 6, 6, 6, 6, 10, 10, 10};
    int good = 1;
    for (size_t max = 0; max <= 12; max++) {
        size_t got = pn_utf8_truncate(s, n, max);
        good &= got == want[max] && pn_utf8_valid(s, got);
    }
    ok(good, "truncate backs off to the last character boundary that fits");
    ok(pn_utf8_truncate("abc", 3, 123) == 3, "short text is kept whole");
    ok(pn_utf8_truncate(NULL, 0, 0) == 0, "empty text");
}

int main(void)
{
    test_vectors();
    test_sticky_and_empty();
    test_block_paths();
    test_truncate();
    test_random_splits();
    test_long_texts();
    test_exhaustive_four();
    test_exhaustive_short();
    return tap_done();
}
