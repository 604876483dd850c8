/*
 * utf8.c — incremental, fail-fast UTF-8 validation (see utf8.h).
 *
 * Owns: the byte-level automaton of well-formed UTF-8 (RFC 3629 §4, the
 * Unicode "well-formed byte sequences" table).
 * Invariants: one table lookup and one shift per non-ASCII byte; runs of
 * ASCII in the accepting state are skipped eight or sixteen bytes at a time;
 * long non-ASCII runs go through four automata in parallel (run_lanes), and
 * any block they cannot vouch for is run again byte by byte, which alone
 * decides where an error is.
 * The carried state is the automaton state, so splits never change results.
 * Must not know about: where the bytes come from.
 *
 * The automaton is a "shift DFA": each state is a bit offset (a multiple of
 * 6) and the table entry of a byte packs, for every state s, the next state
 * at bit offset s. The transition is then next = row[byte] >> state, and the
 * low 6 bits are the new state. Nine states fit in 54 bits:
 *
 *   ACC  between characters (start, and accept)
 *   REJ  invalid, absorbing
 *   C1   one continuation byte (80..BF) left
 *   C2   two left
 *   C3   three left
 *   E0   after E0: the next byte must be A0..BF (no overlong 3-byte forms)
 *   ED   after ED: the next byte must be 80..9F (no surrogates)
 *   F0   after F0: the next byte must be 90..BF (no overlong 4-byte forms)
 *   F4   after F4: the next byte must be 80..8F (nothing above U+10FFFF)
 */
#include "utf8.h"

#include <string.h>

enum { ACC = 0, REJ = 6, C1 = 12, C2 = 18, C3 = 24, E0 = 30, ED = 36, F0 = 42, F4 = 48 };

#define T(from, to) ((uint64_t)(to) << (from))

/* Every state but ACC goes to REJ: what a lead or ASCII byte does mid-sequence. */
#define MID_REJ                                                                                    \
    (T(REJ, REJ) | T(C1, REJ) | T(C2, REJ) | T(C3, REJ) | T(E0, REJ) | T(ED, REJ) | T(F0, REJ) |   \
     T(F4, REJ))
#define LEAD(to) (T(ACC, to) | MID_REJ)

/* Continuation bytes, by the three ranges the special states care about. */
#define CONT_COMMON (T(ACC, REJ) | T(REJ, REJ) | T(C1, ACC) | T(C2, C1) | T(C3, C2))
#define CONT_8X (CONT_COMMON | T(E0, REJ) | T(ED, C1) | T(F0, REJ) | T(F4, C2))
#define CONT_9X (CONT_COMMON | T(E0, REJ) | T(ED, C1) | T(F0, C2) | T(F4, REJ))
#define CONT_AB (CONT_COMMON | T(E0, C1) | T(ED, REJ) | T(F0, C2) | T(F4, REJ))

#define X2(v) v, v
#define X4(v) X2(v), X2(v)
#define X8(v) X4(v), X4(v)
#define X16(v) X8(v), X8(v)
#define X32(v) X16(v), X16(v)
#define X64(v) X32(v), X32(v)

/* clang-format off */
static const uint64_t rows[256] = {
    X64(LEAD(ACC)), X64(LEAD(ACC)),                  /* 00..7F ASCII */
    X16(CONT_8X),                                    /* 80..8F */
    X16(CONT_9X),                                    /* 90..9F */
    X32(CONT_AB),                                    /* A0..BF */
    X2(LEAD(REJ)),                                   /* C0 C1: overlong 2-byte forms */
    X16(LEAD(C1)), X8(LEAD(C1)), X4(LEAD(C1)), X2(LEAD(C1)), /* C2..DF */
    LEAD(E0),                                        /* E0 */
    X8(LEAD(C2)), X4(LEAD(C2)),                      /* E1..EC */
    LEAD(ED),                                        /* ED */
    X2(LEAD(C2)),                                    /* EE EF */
    LEAD(F0),                                        /* F0 */
    X2(LEAD(C3)), LEAD(C3),                          /* F1..F3 */
    LEAD(F4),                                        /* F4 */
    X8(LEAD(REJ)), X2(LEAD(REJ)), LEAD(REJ),         /* F5..FF */
};
/* clang-format on */

#define HIGH_BITS 0x8080808080808080ull

/* First index >= i with a non-ASCII byte, or len. */
static size_t skip_ascii(const unsigned char *s, size_t i, size_t len)
{
    while (len - i >= 16) {
        uint64_t a, b;
        memcpy(&a, s + i, 8);
        memcpy(&b, s + i + 8, 8);
        if ((a | b) & HIGH_BITS) {
            break;
        }
        i += 16;
    }
    if (len - i >= 8) {
        uint64_t a;
        memcpy(&a, s + i, 8);
        if (!(a & HIGH_BITS)) {
            i += 8;
        }
    }
    while (i < len && s[i] < 0x80) {
        i++;
    }
    return i;
}

/* Runs s[from..to) from *st; returns the offset of the byte that rejects, or to. */
static size_t run_dfa(const unsigned char *s, size_t from, size_t to, uint64_t *st)
{
    uint64_t x = *st;
    for (size_t i = from; i < to; i++) {
        x = rows[s[i]] >> (x & 63);
        if ((x & 63) == REJ) {
            *st = REJ;
            return i;
        }
    }
    *st = x & 63;
    return to;
}

#define LANE_BLOCK 256

/*
 * s[0..LANE_BLOCK) as four interleaved automata, for instruction-level
 * parallelism: one transition per byte is a chain of dependent shifts, four
 * chains run side by side. Lanes 1-3 start at a byte that is not a
 * continuation byte, where valid text is always between characters (ACC),
 * so they start from ACC; lanes 0-2 must then end in ACC (the next lane's
 * first byte cannot continue a character). Returns 1 with *st updated when
 * the block is valid so far, 0 when it must be run sequentially (an error
 * somewhere in it, or four continuation bytes where a lane should start).
 */
static int run_lanes(const unsigned char *s, uint64_t *st)
{
    size_t q[5] = {0, 0, 0, 0, LANE_BLOCK};
    for (size_t k = 1; k < 4; k++) {
        size_t b = k * (LANE_BLOCK / 4), stop = b + 3;
        while (b < stop && (s[b] & 0xC0) == 0x80) {
            b++;
        }
        if ((s[b] & 0xC0) == 0x80) {
            return 0;
        }
        q[k] = b;
    }
    size_t m = LANE_BLOCK;
    for (size_t k = 0; k < 4; k++) {
        m = q[k + 1] - q[k] < m ? q[k + 1] - q[k] : m;
    }
    const unsigned char *l0 = s, *l1 = s + q[1], *l2 = s + q[2], *l3 = s + q[3];
    uint64_t a = *st, b = ACC, c = ACC, d = ACC;
    for (size_t j = 0; j < m; j++) {
        a = rows[l0[j]] >> (a & 63);
        b = rows[l1[j]] >> (b & 63);
        c = rows[l2[j]] >> (c & 63);
        d = rows[l3[j]] >> (d & 63);
    }
    for (size_t j = q[0] + m; j < q[1]; j++) {
        a = rows[s[j]] >> (a & 63);
    }
    for (size_t j = q[1] + m; j < q[2]; j++) {
        b = rows[s[j]] >> (b & 63);
    }
    for (size_t j = q[2] + m; j < q[3]; j++) {
        c = rows[s[j]] >> (c & 63);
    }
    for (size_t j = q[3] + m; j < q[4]; j++) {
        d = rows[s[j]] >> (d & 63);
    }
    if ((a & 63) != ACC || (b & 63) != ACC || (c & 63) != ACC || (d & 63) == REJ) {
        return 0;
    }
    *st = d & 63;
    return 1;
}

int pn_utf8_feed(pn_utf8_t *u, const char *p, size_t len, size_t *bad)
{
    const unsigned char *s = (const unsigned char *)p;
    uint64_t st = u->state;
    size_t i = 0;
    if (st == REJ) {
        if (bad != NULL) {
            *bad = 0;
        }
        return PN_UTF8_INVALID;
    }
    while (i < len) {
        if (st == ACC) {
            i = skip_ascii(s, i, len);
            if (i == len) {
                break;
            }
        }
        if (len - i >= LANE_BLOCK && run_lanes(s + i, &st)) {
            i += LANE_BLOCK;
            continue;
        }
        size_t end = len - i > LANE_BLOCK ? i + LANE_BLOCK : len;
        i = run_dfa(s, i, end, &st);
        if (st == REJ) {
            u->state = REJ;
            if (bad != NULL) {
                *bad = i;
            }
            return PN_UTF8_INVALID;
        }
    }
    u->state = (uint8_t)st;
    return 0;
}

int pn_utf8_valid(const char *p, size_t len)
{
    pn_utf8_t u = {0};
    return pn_utf8_feed(&u, p, len, NULL) == 0 && pn_utf8_complete(&u);
}

size_t pn_utf8_truncate(const char *p, size_t len, size_t max)
{
    if (len <= max) {
        return len;
    }
    size_t n = max;
    while (n > 0 && ((unsigned char)p[n] & 0xC0) == 0x80) {
        n--;
    }
    return n;
}
