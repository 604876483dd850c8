/*
 * fuzz_router.c — libFuzzer target for router.c (pn_router_add, pn_router_match).
 *
 * Input: lines separated by '\n'. A line starting with '@' registers the rest
 * of the line as a pattern in a fresh router; any other line is a path. If the
 * first byte is '!', the second byte selects an allocation that fails (the
 * router must then refuse that one registration cleanly). Each path is matched
 * against that router and against a fixed router of realistic patterns, and
 * every answer is checked against the naive model in tests/c/router_ref.h:
 * same route, same parameter slices (inside the path, in order, of the right
 * kind). Registration must accept exactly the valid, non-duplicate patterns.
 * Paths and patterns are copied to exact-size heap buffers so ASan sees any
 * over-read. Every registered pattern is also instantiated into a path that
 * must match.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../c/router_ref.h"
#include "router.h"

#define MAX_ROUTES 64
#define MAX_PATHS 256

static const char *const fixed_patterns[] = {
    "/",
    "/health",
    "/items",
    "/items/",
    "/items/{id:int}",
    "/items/{id:float}",
    "/items/{id:uuid}",
    "/items/{name}",
    "/items/{name}/",
    "/items/{id:int}/reviews/{rid:int}",
    "/items/{name}/reviews/latest",
    "/users/me",
    "/users/me/settings",
    "/users/{user_id}",
    "/users/{user_id}/posts",
    "/users/{user_id}/posts/{post_id:int}",
    "/users/{user_id}/posts/{slug}/comments/{cid:uuid}",
    "/files/{path:path}",
    "/files/readme",
    "/static//double",
    "/a/{b}/c/{d}/e/{f}/g",
    "/a/{b:int}/c/{d:float}/e",
    "/a/b/c/{rest:path}",
    "/{catchall:path}",
    "/api/v1/{resource}/{id:int}",
    "/api/v1/{resource}/{id:int}/",
    "/api/v1/orders/{id:int}/items/{item:int}",
};
#define NFIXED (sizeof fixed_patterns / sizeof fixed_patterns[0])

typedef struct {
    long calls, fail_at;
} fail_alloc_t;

static void *fail_realloc(void *ctx, void *ptr, size_t size)
{
    fail_alloc_t *a = ctx;
    if (a->calls++ == a->fail_at) {
        return NULL;
    }
    return realloc(ptr, size);
}

static void fail_free(void *ctx, void *ptr)
{
    (void)ctx;
    free(ptr);
}

static char *dup_exact(const char *p, size_t n)
{
    char *c = malloc(n ? n : 1);
    if (c == NULL) {
        abort();
    }
    memcpy(c, p, n);
    return c;
}

/* Matches path (an exact-size buffer) and checks the answer against the model. */
static void check_path(const pn_router_t *r, const ref_route_t *routes, size_t n, const char *path,
                       size_t len)
{
    pn_route_match_t m;
    pn_slice_t vals[PN_ROUTER_MAX_PARAMS];
    unsigned nv;
    int tie;
    memset(&m, 0xa5, sizeof m);
    int got = pn_router_match(r, path, len, &m);
    int want = ref_match(routes, n, path, len, vals, &nv, &tie);
    if (tie || got != want) {
        fprintf(stderr, "path '%.*s': router %d, model %d (tie %d)\n", (int)len, path, got, want,
                tie);
        abort();
    }
    if (got < 0) {
        if (got != PN_ROUTER_NOMATCH || m.nparams != 0) {
            abort();
        }
        return;
    }
    const pn_router_route_t *rt = pn_router_route_by_id(r, (uint32_t)got);
    if (rt == NULL || m.nparams != rt->nparams || m.nparams != nv) {
        abort();
    }
    const char *prev_end = path;
    for (unsigned i = 0; i < m.nparams; i++) {
        const pn_route_param_t *p = &m.params[i];
        if (p->index != i || p->kind != rt->params[i].kind || p->value.base < prev_end ||
            p->value.base + p->value.len > path + len || p->value.base != vals[i].base ||
            p->value.len != vals[i].len) {
            fprintf(stderr, "path '%.*s': bad param %u\n", (int)len, path, i);
            abort();
        }
        pn_slice_t name = pn_router_param_name(r, (uint32_t)got, i);
        if (name.base != rt->params[i].name.base || name.len == 0) {
            abort();
        }
        prev_end = p->value.base + p->value.len;
    }
}

/* A path that the valid pattern p must match: each parameter replaced by a sample. */
static size_t instantiate(const char *p, size_t n, char *out)
{
    static const char *const samples[] = {"x", "7",  "2.5", "123e4567-e89b-12d3-a456-426614174000",
                                          "x", "p/q"};
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (p[i] == '{' && p[i - 1] == '/') {
            size_t j = i;
            while (p[j] != '}') {
                j++;
            }
            const char *s = samples[ref_param_rank(p + i, j - i + 1)];
            memcpy(out + o, s, strlen(s));
            o += strlen(s);
            i = j + 1;
            continue;
        }
        out[o++] = p[i++];
    }
    return o;
}

static const pn_router_t *fixed_router(ref_route_t *routes)
{
    static pn_router_t *r;
    for (size_t i = 0; i < NFIXED; i++) {
        routes[i] = (ref_route_t){fixed_patterns[i], strlen(fixed_patterns[i]), (int)(100 + i)};
    }
    if (r == NULL) {
        r = pn_router_new();
        for (size_t i = 0; i < NFIXED; i++) {
            if (r == NULL || pn_router_add(r, routes[i].pattern, routes[i].len, (uint32_t)(100 + i),
                                           NULL) != 0) {
                abort();
            }
        }
    }
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char shapes[MAX_ROUTES][PN_ROUTER_MAX_PATTERN + 1];
    static size_t shape_lens[MAX_ROUTES];
    static char buf[3 * PN_ROUTER_MAX_PATTERN];
    ref_route_t fixed[NFIXED], routes[MAX_ROUTES];
    char *owned[MAX_ROUTES];
    size_t n = 0, npaths = 0;
    const pn_router_t *fr = fixed_router(fixed);

    fail_alloc_t fa = {0, -1};
    pn_router_allocator_t al = {fail_realloc, fail_free, &fa};
    const char *in = (const char *)data;
    if (size >= 2 && in[0] == '!') {
        fa.fail_at = (uint8_t)in[1];
        in += 2;
        size -= 2;
    }
    pn_router_t *r = pn_router_new_with_allocator(&al);
    if (r == NULL) {
        return 0;
    }
    for (size_t pos = 0; pos < size;) {
        const char *nl = memchr(in + pos, '\n', size - pos);
        size_t len = nl ? (size_t)(nl - (in + pos)) : size - pos;
        const char *line = in + pos;
        pos += len + 1;
        if (len > 0 && line[0] == '@') {
            if (n == MAX_ROUTES) {
                continue;
            }
            char *pat = dup_exact(line + 1, len - 1);
            size_t plen = len - 1, before = pn_router_count(r);
            pn_router_error_t err;
            int rc = pn_router_add(r, pat, plen, (uint32_t)n, &err);
            int valid = ref_pattern_valid(pat, plen), dup = 0;
            if (valid) {
                shape_lens[n] = ref_shape(pat, plen, shapes[n]);
                for (size_t i = 0; i < n; i++) {
                    dup |= shape_lens[i] == shape_lens[n] &&
                           memcmp(shapes[i], shapes[n], shape_lens[n]) == 0;
                }
            }
            int expect = !valid ? PN_ROUTER_EINVAL : dup ? PN_ROUTER_EEXIST : 0;
            if (rc != expect && !(rc == PN_ENOMEM && expect == 0)) {
                fprintf(stderr, "pattern '%.*s': %d, expected %d (%s)\n", (int)plen, pat, rc,
                        expect, err.reason ? err.reason : "");
                abort();
            }
            if (rc != 0) {
                if (err.reason == NULL || err.offset > plen || pn_router_count(r) != before) {
                    abort();
                }
                free(pat);
                continue;
            }
            if (pn_router_count(r) != before + 1 ||
                pn_router_route_at(r, before)->route_id != (uint32_t)n) {
                abort();
            }
            owned[n] = pat;
            routes[n] = (ref_route_t){pat, plen, (int)n};
            n++;
            continue;
        }
        if (npaths++ == MAX_PATHS) {
            break;
        }
        char *path = dup_exact(line, len);
        check_path(r, routes, n, path, len);
        check_path(fr, fixed, NFIXED, path, len);
        free(path);
    }
    for (size_t i = 0; i < n; i++) {
        size_t len = instantiate(routes[i].pattern, routes[i].len, buf);
        char *path = dup_exact(buf, len);
        check_path(r, routes, n, path, len);
        pn_route_match_t m;
        if (pn_router_match(r, path, len, &m) < 0) {
            abort();
        }
        free(path);
    }
    pn_router_free(r);
    for (size_t i = 0; i < n; i++) {
        free(owned[i]);
    }
    return 0;
}
