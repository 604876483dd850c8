/*
 * utf8_ref.h — a deliberately plain model of UTF-8 validity (Unicode Table
 * 3-7, one lead byte at a time), shared by test_utf8.c and fuzz_utf8.c as the
 * oracle for utf8.c. Header only; shares no code with utf8.c.
 */
#ifndef PN_TEST_UTF8_REF_H
#define PN_TEST_UTF8_REF_H

#include <stddef.h>
#include <stdint.h>

/*
 * Returns the offset of the first byte that cannot continue a valid prefix,
 * or n; *complete says whether a valid text ends at n.
 */
static size_t ref_scan(const uint8_t *s, size_t n, int *complete)
{
    size_t i = 0;
    *complete = 0;
    while (i < n) {
        uint8_t c = s[i], lo = 0x80, hi = 0xBF;
        size_t need;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
        } else if (c == 0xE0) {
            need = 2, lo = 0xA0;
        } else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) {
            need = 2;
        } else if (c == 0xED) {
            need = 2, hi = 0x9F;
        } else if (c == 0xF0) {
            need = 3, lo = 0x90;
        } else if (c >= 0xF1 && c <= 0xF3) {
            need = 3;
        } else if (c == 0xF4) {
            need = 3, hi = 0x8F;
        } else {
            return i;
        }
        for (size_t k = 1; k <= need; k++) {
            if (i + k >= n) {
                return n;
            }
            uint8_t b = s[i + k];
            if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) {
                return i + k;
            }
        }
        i += need + 1;
    }
    *complete = 1;
    return n;
}

#endif
