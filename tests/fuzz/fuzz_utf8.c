/*
 * fuzz_utf8.c — libFuzzer target for utf8.c.
 *
 * Input: byte 0 derives two split points, the rest is the text.
 * Checked, aborting on violation (ASan/UBSan catch the rest):
 * - pn_utf8_feed gives the verdict of a plain reference decoder (Unicode
 *   Table 3-7 ranges): the same first bad byte, or "valid" with the same
 *   completeness; pn_utf8_valid agrees;
 * - feeding the text in three pieces or byte by byte gives the same verdict
 *   and offset; a failed state stays failed;
 * - pn_utf8_truncate of valid text returns a valid prefix within the bound,
 *   at most 3 bytes shorter than the bound.
 * Every piece is its own heap allocation of the exact size.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

#include "../c/utf8_ref.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            abort();                                                                               \
        }                                                                                          \
    } while (0)


/* Feeds s[from..to) as its own allocation. Returns 0 or the absolute bad offset + 1. */
static size_t feed(pn_utf8_t *u, const uint8_t *s, size_t from, size_t to)
{
    size_t len = to - from;
    char *copy = malloc(len ? len : 1);
    CHECK(copy != NULL);
    if (len) {
        memcpy(copy, s + from, len);
    }
    size_t bad = (size_t)-1;
    int rc = pn_utf8_feed(u, len ? copy : NULL, len, &bad);
    free(copy);
    if (rc == 0) {
        return 0;
    }
    CHECK(rc == PN_UTF8_INVALID && bad < len + (len == 0));
    return from + bad + 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    uint8_t ctl = data[0];
    const uint8_t *s = data + 1;
    size_t n = size - 1;
    int complete;
    size_t want = ref_scan(s, n, &complete);

    pn_utf8_t u;
    pn_utf8_init(&u);
    size_t got = feed(&u, s, 0, n);
    if (want < n) {
        CHECK(got == want + 1);
        CHECK(!pn_utf8_complete(&u));
        CHECK(feed(&u, s, 0, n) != 0 || n == 0); /* sticky */
    } else {
        CHECK(got == 0 && pn_utf8_complete(&u) == complete);
    }
    CHECK(pn_utf8_valid((const char *)s, n) == (want == n && complete));

    /* three pieces */
    size_t a = n ? (size_t)(ctl * 40503u) % (n + 1) : 0;
    size_t b = n ? (size_t)(ctl * 9973u) % (n + 1) : 0;
    if (a > b) {
        size_t t = a;
        a = b;
        b = t;
    }
    pn_utf8_init(&u);
    size_t r = feed(&u, s, 0, a);
    if (r == 0) {
        r = feed(&u, s, a, b);
    }
    if (r == 0) {
        r = feed(&u, s, b, n);
    }
    CHECK(r == got);
    CHECK(r != 0 || pn_utf8_complete(&u) == complete);

    /* byte by byte */
    pn_utf8_init(&u);
    r = 0;
    for (size_t i = 0; i < n && r == 0; i++) {
        r = feed(&u, s, i, i + 1);
    }
    CHECK(r == got);

    /* truncation of valid text */
    if (want == n && complete) {
        size_t max = n ? ctl % (n + 1) : 0;
        size_t t = pn_utf8_truncate((const char *)s, n, max);
        CHECK(t <= max && t + 3 >= max);
        CHECK(pn_utf8_valid((const char *)s, t));
    }
    return 0;
}
