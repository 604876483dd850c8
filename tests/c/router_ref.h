/*
 * router_ref.h — a slow, deliberately naive model of pn_router_match (header only).
 *
 * Used as the oracle by tests/c/test_router.c and tests/fuzz/fuzz_router.c.
 * It shares no code with router.c: each pattern is tried on its own, segment
 * by segment, and the matching pattern with the lexicographically smallest
 * per-segment ranks wins (literal 0, int 1, float 2, uuid 3, str 4, path 5).
 * Patterns given to it must be ones pn_router_add accepted.
 */
#ifndef PN_ROUTER_REF_H
#define PN_ROUTER_REF_H

#include <stddef.h>
#include <string.h>

#include "router.h"

typedef struct {
    const char *pattern;
    size_t len;
    int route_id;
} ref_route_t;

enum { REF_LIT = 0, REF_INT = 1, REF_FLOAT = 2, REF_UUID = 3, REF_STR = 4, REF_PATH = 5 };

/* Rank of a "{...}" segment. */
static inline int ref_param_rank(const char *seg, size_t n)
{
    const char *colon = memchr(seg, ':', n);
    if (colon == NULL) {
        return REF_STR;
    }
    size_t cl = (size_t)(seg + n - 1 - (colon + 1));
    static const struct {
        const char *name;
        int rank;
    } convs[] = {{"str", REF_STR},
                 {"int", REF_INT},
                 {"float", REF_FLOAT},
                 {"uuid", REF_UUID},
                 {"path", REF_PATH}};
    for (size_t i = 0; i < sizeof convs / sizeof convs[0]; i++) {
        if (strlen(convs[i].name) == cl && memcmp(convs[i].name, colon + 1, cl) == 0) {
            return convs[i].rank;
        }
    }
    return -1;
}

static inline size_t ref_span(const char *s, size_t n, const char *set)
{
    size_t i = 0;
    while (i < n && s[i] != '\0' && strchr(set, s[i]) != NULL) {
        i++;
    }
    return i;
}

/* Does the segment s[0..n) fit the converter of rank `rank` (not path)? */
static inline int ref_segment_fits(int rank, const char *s, size_t n)
{
    static const char digits[] = "0123456789";
    if (n == 0) {
        return 0;
    }
    if (rank == REF_STR) {
        return 1;
    }
    if (rank == REF_INT) {
        return ref_span(s, n, digits) == n;
    }
    if (rank == REF_FLOAT) {
        size_t a = ref_span(s, n, digits);
        if (a == n) {
            return 1;
        }
        size_t b = n - a - 1;
        return a > 0 && s[a] == '.' && b > 0 && ref_span(s + a + 1, b, digits) == b;
    }
    if (rank == REF_UUID) {
        static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
        if (n != sizeof shape - 1) {
            return 0;
        }
        for (size_t i = 0; i < n; i++) {
            if (shape[i] == '-' ? s[i] != '-' : ref_span(s + i, 1, "0123456789abcdefABCDEF") != 1) {
                return 0;
            }
        }
        return 1;
    }
    return 0;
}

/* Matches one pattern. On success returns 1 and fills ranks[0..*nranks) and
 * vals[0..*nvals) (slices of path). ranks must hold PN_ROUTER_MAX_PATTERN entries. */
static inline int ref_match_one(const char *pat, size_t plen, const char *path, size_t len,
                                unsigned char *ranks, size_t *nranks, pn_slice_t *vals,
                                unsigned *nvals)
{
    size_t pi = 1, xi = 1, nr = 0;
    unsigned nv = 0;
    if (len == 0 || path[0] != '/') {
        return 0;
    }
    for (;;) {
        size_t pe = pi, xe = xi;
        while (pe < plen && pat[pe] != '/') {
            pe++;
        }
        while (xe < len && path[xe] != '/') {
            xe++;
        }
        if (pe > pi && pat[pi] == '{') {
            int rank = ref_param_rank(pat + pi, pe - pi);
            if (rank == REF_PATH) {
                vals[nv++] = (pn_slice_t){path + xi, len - xi};
                ranks[nr++] = REF_PATH;
                break;
            }
            if (!ref_segment_fits(rank, path + xi, xe - xi)) {
                return 0;
            }
            vals[nv++] = (pn_slice_t){path + xi, xe - xi};
            ranks[nr++] = (unsigned char)rank;
        } else {
            if (pe - pi != xe - xi || memcmp(pat + pi, path + xi, pe - pi) != 0) {
                return 0;
            }
            ranks[nr++] = REF_LIT;
        }
        if (pe == plen || xe == len) {
            if (pe != plen || xe != len) {
                return 0;
            }
            break;
        }
        pi = pe + 1;
        xi = xe + 1;
    }
    *nranks = nr;
    *nvals = nv;
    return 1;
}

/* Would pn_router_add accept pattern p[0..n) (ignoring duplicates)? Written
 * apart from router.c's parser: split on '/', then check each segment whole. */
static inline int ref_pattern_valid(const char *p, size_t n)
{
    static const char alpha[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_";
    static const char digit[] = "0123456789";
    const char *names[PN_ROUTER_MAX_PARAMS + 1];
    size_t name_lens[PN_ROUTER_MAX_PARAMS + 1];
    unsigned np = 0;
    if (n == 0 || n > PN_ROUTER_MAX_PATTERN || p[0] != '/') {
        return 0;
    }
    for (size_t s = 1; s <= n;) {
        const char *seg = p + s;
        const char *slash = memchr(seg, '/', n - s);
        size_t sl = slash ? (size_t)(slash - seg) : n - s;
        if (memchr(seg, '{', sl) == NULL && memchr(seg, '}', sl) == NULL) {
            s += sl + 1;
            continue;
        }
        if (sl < 3 || seg[0] != '{' || seg[sl - 1] != '}') {
            return 0;
        }
        size_t id = 1;
        while (id < sl - 1 && (strchr(alpha, seg[id]) != NULL || strchr(digit, seg[id]) != NULL) &&
               seg[id] != '\0') {
            id++;
        }
        if (id == 1 || strchr(digit, seg[1]) != NULL) {
            return 0;
        }
        if (id < sl - 1) {
            if (seg[id] != ':' || ref_param_rank(seg, sl) < 0) {
                return 0;
            }
            if (ref_param_rank(seg, sl) == REF_PATH && slash != NULL) {
                return 0;
            }
        }
        for (unsigned i = 0; i < np; i++) {
            if (name_lens[i] == id - 1 && memcmp(names[i], seg + 1, id - 1) == 0) {
                return 0;
            }
        }
        if (np == PN_ROUTER_MAX_PARAMS) {
            return 0;
        }
        names[np] = seg + 1;
        name_lens[np++] = id - 1;
        s += sl + 1;
    }
    return 1;
}

/* Shape of a valid pattern (names dropped, ":str" dropped) into out (n + 1 bytes). */
static inline size_t ref_shape(const char *p, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (p[i] == '{' && (i == 0 || p[i - 1] == '/')) {
            size_t j = i;
            while (p[j] != '}') {
                j++;
            }
            int rank = ref_param_rank(p + i, j - i + 1);
            out[o++] = '{';
            out[o++] = (char)('0' + rank);
            i = j + 1;
            continue;
        }
        out[o++] = p[i++];
    }
    return o;
}

/* The route that should win for path, or PN_ROUTER_NOMATCH; vals/nvals as above.
 * Sets *tie when two routes rank equally (which the router must have refused). */
static inline int ref_match(const ref_route_t *routes, size_t n, const char *path, size_t len,
                            pn_slice_t *vals, unsigned *nvals, int *tie)
{
    unsigned char best[PN_ROUTER_MAX_PATTERN], cur[PN_ROUTER_MAX_PATTERN];
    pn_slice_t cur_vals[PN_ROUTER_MAX_PARAMS];
    size_t nbest = 0, ncur;
    unsigned ncv;
    int winner = PN_ROUTER_NOMATCH;
    *nvals = 0;
    *tie = 0;
    for (size_t i = 0; i < n; i++) {
        if (!ref_match_one(routes[i].pattern, routes[i].len, path, len, cur, &ncur, cur_vals,
                           &ncv)) {
            continue;
        }
        int cmp = -1;
        if (winner != PN_ROUTER_NOMATCH) {
            size_t k = 0;
            while (k < ncur && k < nbest && cur[k] == best[k]) {
                k++;
            }
            cmp = k < ncur && k < nbest ? (cur[k] < best[k] ? -1 : 1) : 0;
            if (cmp == 0) {
                *tie = 1;
            }
        }
        if (cmp < 0) {
            winner = routes[i].route_id;
            memcpy(best, cur, ncur);
            nbest = ncur;
            memcpy(vals, cur_vals, ncv * sizeof *vals);
            *nvals = ncv;
        }
    }
    return winner;
}

#endif
