/*
 * test_router.c — unit tests for router.c: pattern validation, converters,
 * priority and backtracking, slices, allocation failures, and a randomized
 * differential test against the naive model in router_ref.h.
 * Every path is matched from the end of a page followed by an unreadable
 * page, so an over-read faults even without ASan.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "router.h"
#include "router_ref.h"
#include "tap.h"

#define GUARD_SPAN (2 * PN_ROUTER_MAX_PATTERN)

static char *guard_end; /* first byte of the unreadable page */

static void guard_setup(void)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t span = (GUARD_SPAN + page - 1) / page * page;
    char *base =
        mmap(NULL, span + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED || mprotect(base + span, page, PROT_NONE) != 0) {
        perror("mmap");
        exit(2);
    }
    guard_end = base + span;
}

/* Copies path to just before the guard page and matches it there. *at receives the copy. */
static int match_at_guard(const pn_router_t *r, const char *path, size_t len, pn_route_match_t *m,
                          const char **at)
{
    char *p = guard_end - len;
    memcpy(p, path, len);
    *at = p;
    return pn_router_match(r, p, len, m);
}

static int add(pn_router_t *r, const char *pattern, uint32_t id)
{
    pn_router_error_t err;
    return pn_router_add(r, pattern, strlen(pattern), id, &err);
}

/* Adds all patterns with ids 0..n-1; every add must succeed. */
static pn_router_t *router_of(const char *const *patterns, size_t n)
{
    pn_router_t *r = pn_router_new();
    for (size_t i = 0; i < n; i++) {
        pn_router_error_t err;
        int rc = pn_router_add(r, patterns[i], strlen(patterns[i]), (uint32_t)i, &err);
        if (rc != 0) {
            diag("add %s failed: %s", patterns[i], err.reason);
        }
    }
    return r;
}

/* Checks match(path) == want and the captured values (NULL-terminated varargs). */
static void expect(const pn_router_t *r, const char *path, int want, ...)
{
    pn_route_match_t m;
    const char *at;
    size_t len = strlen(path);
    int got = match_at_guard(r, path, len, &m, &at);
    int good = got == want;
    va_list ap;
    va_start(ap, want);
    unsigned i = 0;
    for (const char *v; (v = va_arg(ap, const char *)) != NULL; i++) {
        if (i >= m.nparams) {
            good = 0;
            break;
        }
        const pn_route_param_t *p = &m.params[i];
        int inside = p->value.base >= at && p->value.base + p->value.len <= at + len;
        if (!inside || p->index != i || p->value.len != strlen(v) ||
            memcmp(p->value.base, v, p->value.len) != 0) {
            good = 0;
        }
    }
    va_end(ap);
    good = good && i == m.nparams;
    if (!ok(good, "%s -> %d", path, want)) {
        diag("  got %d with %u params", got, m.nparams);
        for (unsigned k = 0; k < m.nparams; k++) {
            diag("  [%u] '%.*s'", k, (int)m.params[k].value.len, m.params[k].value.base);
        }
    }
}

static void expect_error(const char *pattern, int code, const char *reason, size_t offset)
{
    pn_router_t *r = pn_router_new();
    pn_router_error_t err;
    int rc = pn_router_add(r, pattern, strlen(pattern), 1, &err);
    int good = rc == code && err.reason != NULL && strcmp(err.reason, reason) == 0 &&
               err.offset == offset && pn_router_count(r) == 0;
    if (!ok(good, "reject %s: %s", pattern, reason)) {
        diag("  got %d '%s' at %zu", rc, err.reason ? err.reason : "(null)", err.offset);
    }
    pn_router_free(r);
}

static void test_errors(void)
{
    expect_error("", PN_ROUTER_EINVAL, "pattern must start with '/'", 0);
    expect_error("items", PN_ROUTER_EINVAL, "pattern must start with '/'", 0);
    expect_error("/files/{name}.txt", PN_ROUTER_EINVAL, "parameter must span a whole segment", 7);
    expect_error("/files/x{name}", PN_ROUTER_EINVAL, "parameter must span a whole segment", 8);
    expect_error("/a/{x}{y}", PN_ROUTER_EINVAL, "parameter must span a whole segment", 5);
    expect_error("/a/{x", PN_ROUTER_EINVAL, "parameter must span a whole segment", 3);
    expect_error("/a/x}", PN_ROUTER_EINVAL, "parameter must span a whole segment", 4);
    expect_error("/a/{", PN_ROUTER_EINVAL, "parameter must span a whole segment", 3);
    expect_error("/a/{{x}}", PN_ROUTER_EINVAL, "parameter must span a whole segment", 4);
    expect_error("/a/{}", PN_ROUTER_EINVAL, "invalid parameter name", 4);
    expect_error("/a/{1x}", PN_ROUTER_EINVAL, "invalid parameter name", 4);
    expect_error("/a/{x-y}", PN_ROUTER_EINVAL, "invalid parameter name", 5);
    expect_error("/a/{:int}", PN_ROUTER_EINVAL, "invalid parameter name", 4);
    expect_error("/a/{x:}", PN_ROUTER_EINVAL, "invalid converter", 6);
    expect_error("/a/{x:integer}", PN_ROUTER_EINVAL, "invalid converter", 6);
    expect_error("/a/{x:INT}", PN_ROUTER_EINVAL, "invalid converter", 6);
    expect_error("/a/{x:int:y}", PN_ROUTER_EINVAL, "invalid converter", 6);
    expect_error("/a/{x}/{x:int}", PN_ROUTER_EINVAL, "duplicate parameter name", 8);
    expect_error("/a/{p:path}/b", PN_ROUTER_EINVAL, "path parameter must be the last segment", 3);
    expect_error("/a/{p:path}/", PN_ROUTER_EINVAL, "path parameter must be the last segment", 3);

    char big[64 * PN_ROUTER_MAX_PARAMS];
    size_t n = 0;
    for (int i = 0; i <= PN_ROUTER_MAX_PARAMS; i++) {
        n += (size_t)sprintf(big + n, "/{p%d}", i);
    }
    expect_error(big, PN_ROUTER_EINVAL, "too many parameters", n - 5);

    pn_router_t *r = pn_router_new();
    big[n - 6] = '\0'; /* exactly PN_ROUTER_MAX_PARAMS parameters */
    is_int(add(r, big, 1), 0, "%d parameters accepted", PN_ROUTER_MAX_PARAMS);
    char path[64];
    memset(path, 0, sizeof path);
    for (int i = 0; i < PN_ROUTER_MAX_PARAMS; i++) {
        strcat(path, "/v");
    }
    pn_route_match_t m;
    is_int(pn_router_match(r, path, strlen(path), &m), 1, "%d parameters matched",
           PN_ROUTER_MAX_PARAMS);
    is_int(m.nparams, PN_ROUTER_MAX_PARAMS, "all parameters captured");
    pn_router_free(r);

    char *longp = malloc(PN_ROUTER_MAX_PATTERN + 2);
    memset(longp, 'a', PN_ROUTER_MAX_PATTERN + 1);
    longp[0] = '/';
    r = pn_router_new();
    pn_router_error_t err;
    is_int(pn_router_add(r, longp, PN_ROUTER_MAX_PATTERN, 1, &err), 0, "longest pattern accepted");
    is_int(pn_router_add(r, longp, PN_ROUTER_MAX_PATTERN + 1, 2, &err), PN_ROUTER_EINVAL,
           "pattern too long");
    is_int(pn_router_match(r, longp, PN_ROUTER_MAX_PATTERN, &m), 1, "longest pattern matches");
    free(longp);

    is_int(pn_router_add(r, "/x", 2, (uint32_t)INT32_MAX + 1, &err), PN_ROUTER_EINVAL,
           "route id above INT32_MAX refused");
    ok(strcmp(err.reason, "route id out of range") == 0, "route id reason");
    is_int(pn_router_add(r, "/x", 2, INT32_MAX, &err), 0, "route id INT32_MAX accepted");
    is_int(pn_router_match(r, "/x", 2, &m), INT32_MAX, "route id INT32_MAX returned");
    is_int(pn_router_add(r, "/y", 2, INT32_MAX, &err), PN_ROUTER_EEXIST, "route id reused");
    ok(strcmp(err.reason, "duplicate route id") == 0, "route id reuse reason");
    is_int(pn_router_add(r, "/y", 2, 7, NULL), 0, "err may be NULL");
    pn_router_free(r);
}

static void test_duplicates(void)
{
    pn_router_t *r = pn_router_new();
    pn_router_error_t err;
    is_int(add(r, "/a/{x}", 1), 0, "first /a/{x}");
    is_int(pn_router_add(r, "/a/{y}", 6, 2, &err), PN_ROUTER_EEXIST, "/a/{y} conflicts");
    ok(err.reason && strcmp(err.reason, "duplicate route") == 0, "reason: duplicate route");
    is_int(add(r, "/a/{x:str}", 3), PN_ROUTER_EEXIST, "explicit :str conflicts with default");
    is_int(add(r, "/a/{x:int}", 4), 0, "other converter is another route");
    is_int(add(r, "/a/{z:int}", 5), PN_ROUTER_EEXIST, "same converter, other name conflicts");
    is_int(add(r, "/a/{x}/", 6), 0, "trailing slash is another route");
    is_int(add(r, "/a/{x}/", 7), PN_ROUTER_EEXIST, "trailing slash twice");
    is_int(add(r, "/s", 8), 0, "static");
    is_int(add(r, "/s", 9), PN_ROUTER_EEXIST, "static twice");
    is_int(add(r, "/a/{p:path}", 10), 0, "catch-all");
    is_int(add(r, "/a/{q:path}", 11), PN_ROUTER_EEXIST, "catch-all twice");
    is_int(pn_router_count(r), 5, "count after refusals");
    expect(r, "/a/v", 1, "v", NULL);
    expect(r, "/a/9", 4, "9", NULL);
    expect(r, "/s", 8, NULL);
    pn_router_free(r);
}

static void test_static_and_slashes(void)
{
    static const char *const pats[] = {
        "/",     "/items", "/items/",      "/items/all",
        "/a//b", "//",     "/caf\xc3\xa9", "/x.y/z-w~!$&'()*+,;=:@",
    };
    pn_router_t *r = router_of(pats, sizeof pats / sizeof pats[0]);
    expect(r, "/", 0, NULL);
    expect(r, "/items", 1, NULL);
    expect(r, "/items/", 2, NULL);
    expect(r, "/items/all", 3, NULL);
    expect(r, "/items/all/", PN_ROUTER_NOMATCH, NULL);
    expect(r, "/items//", PN_ROUTER_NOMATCH, NULL);
    expect(r, "/item", PN_ROUTER_NOMATCH, NULL);
    expect(r, "/itemsx", PN_ROUTER_NOMATCH, NULL);
    expect(r, "/a//b", 4, NULL);
    expect(r, "/a/b", PN_ROUTER_NOMATCH, NULL);
    expect(r, "//", 5, NULL);
    expect(r, "///", PN_ROUTER_NOMATCH, NULL);
    expect(r, "/caf\xc3\xa9", 6, NULL);
    expect(r, "/x.y/z-w~!$&'()*+,;=:@", 7, NULL);
    expect(r, "items", PN_ROUTER_NOMATCH, NULL);
    pn_route_match_t m;
    is_int(pn_router_match(r, "", 0, &m), PN_ROUTER_NOMATCH, "empty path");

    /* Literal bytes are compared as bytes, NUL included. */
    pn_router_error_t err;
    is_int(pn_router_add(r, "/n\0ul", 5, 40, &err), 0, "pattern with NUL byte");
    is_int(pn_router_match(r, "/n\0ul", 5, &m), 40, "path with NUL byte");
    is_int(pn_router_match(r, "/n", 2, &m), PN_ROUTER_NOMATCH, "prefix before NUL");
    pn_router_free(r);

    pn_router_t *e = pn_router_new();
    is_int(pn_router_match(e, "/", 1, &m), PN_ROUTER_NOMATCH, "empty router");
    is_int(pn_router_count(e), 0, "empty count");
    ok(pn_router_route_at(e, 0) == NULL, "empty route_at");
    ok(pn_router_route_by_id(e, 0) == NULL, "empty route_by_id");
    pn_router_free(e);
    pn_router_free(NULL);
}

static void test_converters(void)
{
    static const char *const pats[] = {
        "/i/{v:int}", "/f/{v:float}", "/u/{v:uuid}", "/s/{v}", "/t/{v:str}/x", "/p/{v:path}",
    };
    pn_router_t *r = router_of(pats, sizeof pats / sizeof pats[0]);
    expect(r, "/i/0", 0, "0", NULL);
    expect(r, "/i/007", 0, "007", NULL);
    expect(r, "/i/12345678901234567890123", 0, "12345678901234567890123", NULL);
    expect(r, "/i/-1", PN_ROUTER_NOMATCH, NULL);
    expect(r, "/i/+1", PN_ROUTER_NOMATCH, NULL);
    expect(r, "/i/1a", PN_ROUTER_NOMATCH, NULL);
    expect(r, "/i/", PN_ROUTER_NOMATCH, NULL);
    expect(r, "/i", PN_ROUTER_NOMATCH, NULL);
    expect(r, "/i/1/", PN_ROUTER_NOMATCH, NULL);
    expect(r, "/f/1", 1, "1", NULL);
    expect(r, "/f/1.5", 1, "1.5", NULL);
    expect(r, "/f/01.50", 1, "01.50", NULL);
    expect(r, "/f/1.", PN_ROUTER_NOMATCH, NULL);
    expect(r, "/f/.5", PN_ROUTER_NOMATCH, NULL);
    expect(r, "/f/1.2.3", PN_ROUTER_NOMATCH, NULL);
    expect(r, "/f/1e5", PN_ROUTER_NOMATCH, NULL);
    expect(r, "/f/-1.5", PN_ROUTER_NOMATCH, NULL);
    expect(r, "/u/123e4567-e89b-12d3-a456-426614174000", 2, "123e4567-e89b-12d3-a456-426614174000",
           NULL);
    expect(r, "/u/123E4567-E89B-12D3-A456-42661417400F", 2, "123E4567-E89B-12D3-A456-42661417400F",
           NULL);
    expect(r, "/u/123e4567e89b12d3a456426614174000", PN_ROUTER_NOMATCH, NULL);
    expect(r, "/u/123e4567-e89b-12d3-a456-42661417400", PN_ROUTER_NOMATCH, NULL);
    expect(r, "/u/123e4567-e89b-12d3-a456-4266141740000", PN_ROUTER_NOMATCH, NULL);
    expect(r, "/u/123e4567-e89b-12d3-a456_426614174000", PN_ROUTER_NOMATCH, NULL);
    expect(r, "/u/g23e4567-e89b-12d3-a456-426614174000", PN_ROUTER_NOMATCH, NULL);
    expect(r, "/s/anything goes.here", 3, "anything goes.here", NULL);
    expect(r, "/s/", PN_ROUTER_NOMATCH, NULL);
    expect(r, "/s/a/b", PN_ROUTER_NOMATCH, NULL);
    expect(r, "/t/v/x", 4, "v", NULL);
    expect(r, "/t//x", PN_ROUTER_NOMATCH, NULL);
    expect(r, "/p/", 5, "", NULL);
    expect(r, "/p/a", 5, "a", NULL);
    expect(r, "/p/a/b/", 5, "a/b/", NULL);
    expect(r, "/p//", 5, "/", NULL);
    expect(r, "/p", PN_ROUTER_NOMATCH, NULL);
    expect(r, "/px", PN_ROUTER_NOMATCH, NULL);

    /* Kinds and names reach the caller without copies. */
    pn_route_match_t m;
    is_int(pn_router_match(r, "/f/2.5", 6, &m), 1, "float route");
    is_int(m.params[0].kind, PN_ROUTER_CONV_FLOAT, "float kind");
    pn_slice_t name = pn_router_param_name(r, 1, 0);
    ok(name.len == 1 && name.base[0] == 'v', "param name by id");
    ok(pn_router_param_name(r, 1, 1).base == NULL, "no second param");
    ok(pn_router_param_name(r, 99, 0).base == NULL, "unknown route id");
    const pn_router_route_t *rt = pn_router_route_by_id(r, 5);
    ok(rt != NULL && rt->nparams == 1 && rt->params[0].kind == PN_ROUTER_CONV_PATH &&
           strcmp(rt->pattern.base, "/p/{v:path}") == 0,
       "route record by id");
    pn_router_free(r);
}

static void test_priority(void)
{
    static const char *const pats[] = {
        "/v/7", "/v/{a:int}", "/v/{a:float}", "/v/{a:uuid}", "/v/{a}", "/v/{a:path}",
    };
    static const struct {
        const char *path;
        int want;
        const char *value;
    } cases[] = {
        {"/v/7", 0, NULL},
        {"/v/8", 1, "8"},
        {"/v/8.5", 2, "8.5"},
        {"/v/00000000-0000-0000-0000-000000000000", 3, "00000000-0000-0000-0000-000000000000"},
        {"/v/zz", 4, "zz"},
        {"/v/7/", 5, "7/"},
        {"/v/zz/y", 5, "zz/y"},
        {"/v/", 5, ""},
        {"/v", PN_ROUTER_NOMATCH, NULL},
    };
    /* Every registration order (6! = 720) gives the same answers. */
    int order[6] = {0, 1, 2, 3, 4, 5}, bad = 0, perms = 0;
    for (;;) {
        pn_router_t *r = pn_router_new();
        for (int i = 0; i < 6; i++) {
            bad += add(r, pats[order[i]], (uint32_t)order[i]) != 0;
        }
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            pn_route_match_t m;
            int got = pn_router_match(r, cases[c].path, strlen(cases[c].path), &m);
            if (got != cases[c].want ||
                (cases[c].value != NULL &&
                 (m.nparams != 1 || m.params[0].value.len != strlen(cases[c].value) ||
                  memcmp(m.params[0].value.base, cases[c].value, m.params[0].value.len) != 0))) {
                if (bad++ < 5) {
                    diag("order %d%d%d%d%d%d: %s -> %d", order[0], order[1], order[2], order[3],
                         order[4], order[5], cases[c].path, got);
                }
            }
        }
        pn_router_free(r);
        perms++;
        int i = 4; /* next permutation */
        while (i >= 0 && order[i] > order[i + 1]) {
            i--;
        }
        if (i < 0) {
            break;
        }
        int j = 5;
        while (order[j] < order[i]) {
            j--;
        }
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
        for (int a = i + 1, b = 5; a < b; a++, b--) {
            t = order[a];
            order[a] = order[b];
            order[b] = t;
        }
    }
    ok(bad == 0 && perms == 720,
       "priority static > int > float > uuid > str > path in all %d orders", perms);

    static const char *const items[] = {"/items/{id:int}", "/items/{name}"};
    pn_router_t *r = router_of(items, 2);
    expect(r, "/items/42", 0, "42", NULL);
    expect(r, "/items/abc", 1, "abc", NULL);
    expect(r, "/items/4.2", 1, "4.2", NULL);
    pn_router_free(r);
}

static void test_backtracking(void)
{
    static const char *const pats[] = {
        "/users/me",            /* 0 */
        "/users/{id}/posts",    /* 1 */
        "/users/meta",          /* 2 */
        "/a/{x:int}/b/c",       /* 3 */
        "/a/{x}/b/d",           /* 4 */
        "/s/{x}/end",           /* 5 */
        "/s/{rest:path}",       /* 6 */
        "/d/{a:int}/{b:int}/z", /* 7 */
        "/d/{a:int}/{b}/y",     /* 8 */
        "/d/{a}/{b}/{c}",       /* 9 */
        "/d/1/2/w",             /* 10 */
        "/{p:path}",            /* 11 */
    };
    pn_router_t *r = router_of(pats, sizeof pats / sizeof pats[0]);
    expect(r, "/users/me", 0, NULL);
    expect(r, "/users/me/posts", 1, "me", NULL);
    expect(r, "/users/meta", 2, NULL);
    expect(r, "/users/metadata/posts", 1, "metadata", NULL);
    expect(r, "/users/m/posts", 1, "m", NULL);
    expect(r, "/users/mefoo", 11, "users/mefoo", NULL);
    expect(r, "/users/42/posts", 1, "42", NULL);
    expect(r, "/users/42", 11, "users/42", NULL);
    expect(r, "/a/1/b/c", 3, "1", NULL);
    expect(r, "/a/1/b/d", 4, "1", NULL);
    expect(r, "/a/x/b/c", 11, "a/x/b/c", NULL);
    expect(r, "/s/q/end", 5, "q", NULL);
    expect(r, "/s/q/notend", 6, "q/notend", NULL);
    expect(r, "/s/end", 6, "end", NULL);
    expect(r, "/d/1/2/z", 7, "1", "2", NULL);
    expect(r, "/d/1/2/y", 8, "1", "2", NULL);
    expect(r, "/d/1/2/x", 9, "1", "2", "x", NULL);
    expect(r, "/d/1/2/w", 10, NULL);
    expect(r, "/d/1/b/z", 9, "1", "b", "z", NULL);
    expect(r, "/d/a/2/z", 9, "a", "2", "z", NULL);
    expect(r, "/d/1/2/z/", 11, "d/1/2/z/", NULL);
    expect(r, "/", 11, "", NULL);
    expect(r, "//", 11, "/", NULL);
    pn_router_free(r);
}

static void test_splits(void)
{
    /* Edges split at every point, in several insertion orders. */
    static const char *const pats[] = {"/abc", "/abd", "/ab", "/a", "/abcd", "/ab/{x}", "/abc/"};
    static const int orders[][7] = {
        {0, 1, 2, 3, 4, 5, 6},
        {6, 5, 4, 3, 2, 1, 0},
        {4, 3, 5, 0, 6, 1, 2},
        {5, 6, 2, 4, 1, 3, 0},
    };
    for (size_t o = 0; o < sizeof orders / sizeof orders[0]; o++) {
        pn_router_t *r = pn_router_new();
        int bad = 0;
        for (int i = 0; i < 7; i++) {
            bad += add(r, pats[orders[o][i]], (uint32_t)orders[o][i]) != 0;
        }
        for (int i = 0; i < 7; i++) {
            pn_route_match_t m;
            const char *p = i == 5 ? "/ab/q" : pats[i];
            bad += pn_router_match(r, p, strlen(p), &m) != i;
        }
        pn_route_match_t m;
        bad += pn_router_match(r, "/abce", 5, &m) != PN_ROUTER_NOMATCH;
        bad += pn_router_match(r, "/ab/", 4, &m) != PN_ROUTER_NOMATCH;
        bad += pn_router_match(r, "/b", 2, &m) != PN_ROUTER_NOMATCH;
        ok(bad == 0, "split order %zu", o);
        pn_router_free(r);
    }
}

static void test_wide_nodes(void)
{
    /* A node with a child for every possible byte (every chunk key under one parent). */
    pn_router_t *r = pn_router_new();
    int bad = 0;
    for (int b = 1; b < 256; b++) {
        char p[8] = {'/', 'k', '/', (char)b, 'x'};
        if (b == '/' || b == '{' || b == '}') {
            continue;
        }
        bad += pn_router_add(r, p, 5, (uint32_t)b, NULL) != 0;
        p[4] = '/';
        memcpy(p + 5, "{x}", 3);
        bad += pn_router_add(r, p, 8, (uint32_t)(1000 + b), NULL) != 0;
    }
    bad += add(r, "/k/{x}", 5000) != 0;
    for (int b = 1; b < 256; b++) {
        if (b == '/' || b == '{' || b == '}') {
            continue;
        }
        char p[8] = {'/', 'k', '/', (char)b, 'x'};
        pn_route_match_t m;
        bad += pn_router_match(r, p, 5, &m) != b;
        p[4] = '/';
        p[5] = 'q';
        bad += pn_router_match(r, p, 6, &m) != 1000 + b;
        bad += pn_router_match(r, p, 4, &m) != 5000;
    }
    ok(bad == 0, "253 children under one node");
    pn_router_free(r);
}

static void test_deep_runs(void)
{
    /* Runs with more than 63 slashes share the last bit of a node's slash mask. */
    char pat[1024], path[1024];
    size_t n = 0;
    for (int i = 0; i < 70; i++) {
        n += (size_t)sprintf(pat + n, "/s%d", i % 10);
    }
    memcpy(path, pat, n);
    strcpy(pat + n, "/{x}");
    strcpy(path + n, "/v");
    pn_router_t *r = pn_router_new();
    is_int(add(r, pat, 1), 0, "70-segment literal run before a parameter");
    pat[n + 1] = '\0';
    is_int(add(r, pat, 2), 0, "static sibling: same 70 segments and a trailing slash");
    strcpy(pat + 3 * 64, "/{y}/{z:path}");
    is_int(add(r, pat, 3), 0, "64-segment run, parameter, catch-all");
    expect(r, path, 1, "v", NULL);
    path[n + 1] = '\0';
    expect(r, path, 2, NULL);
    strcpy(path + 3 * 64, "/zz/q/r");
    expect(r, path, 3, "zz", "q/r", NULL);
    path[3 * 64 + 1] = '\0';
    expect(r, path, PN_ROUTER_NOMATCH, NULL);
    pn_router_free(r);

    /* Slashes at every offset around the 8-byte words used for scanning. */
    r = pn_router_new();
    is_int(add(r, "/{a}/{b}/{c}/{d}", 1), 0, "four parameters");
    int bad = 0;
    for (int a = 1; a < 12; a++) {
        for (int b = 1; b < 12; b++) {
            char q[64];
            snprintf(q, sizeof q, "/%.*s/%.*s/c/%.*s", a, "aaaaaaaaaaaa", b, "bbbbbbbbbbbb", a,
                     "dddddddddddd");
            pn_route_match_t m;
            const char *at;
            int id = match_at_guard(r, q, strlen(q), &m, &at);
            bad += id != 1 || m.params[0].value.len != (size_t)a ||
                   m.params[1].value.len != (size_t)b || m.params[2].value.len != 1 ||
                   m.params[3].value.len != (size_t)a ||
                   m.params[3].value.base + a != at + strlen(q);
        }
    }
    ok(bad == 0, "segment ends found at every word offset");
    pn_router_free(r);
}

static void test_literal_filter(void)
{
    /* Literal routes that share their length, first and last 8 bytes (what the
     * literal filter hashes), and a parameter route with the same shape. */
    pn_router_t *r = pn_router_new();
    char p[64];
    int bad = 0;
    for (int i = 0; i < 500; i++) {
        snprintf(p, sizeof p, "/literal/%04d/same-end", i);
        bad += add(r, p, (uint32_t)i) != 0;
    }
    bad += add(r, "/literal/{n}/same-end", 1000) != 0;
    for (int i = 0; i < 600; i++) {
        pn_route_match_t m;
        snprintf(p, sizeof p, "/literal/%04d/same-end", i);
        int got = pn_router_match(r, p, strlen(p), &m);
        bad += got != (i < 500 ? i : 1000) || m.nparams != (i < 500 ? 0u : 1u);
    }
    ok(bad == 0, "literal routes alike to the filter, and a parameter route among them");
    pn_router_free(r);
}

static void test_many_routes(void)
{
    enum { N = 10000 };
    pn_router_t *r = pn_router_new();
    char p[96];
    int bad = 0;
    for (int i = 0; i < N; i++) {
        switch (i % 4) {
        case 0:
            snprintf(p, sizeof p, "/api/v1/resource%d/items", i);
            break;
        case 1:
            snprintf(p, sizeof p, "/api/v1/resource%d/{id:int}", i);
            break;
        case 2:
            snprintf(p, sizeof p, "/api/v2/r%d/{a}/sub/{b:int}/{c}", i);
            break;
        default:
            snprintf(p, sizeof p, "/files%d/{p:path}", i);
            break;
        }
        bad += add(r, p, (uint32_t)i) != 0;
    }
    is_int(pn_router_count(r), N, "count of %d routes", N);
    for (int i = 0; i < N; i++) {
        pn_route_match_t m;
        switch (i % 4) {
        case 0:
            snprintf(p, sizeof p, "/api/v1/resource%d/items", i);
            break;
        case 1:
            snprintf(p, sizeof p, "/api/v1/resource%d/%d", i, i * 7);
            break;
        case 2:
            snprintf(p, sizeof p, "/api/v2/r%d/x/sub/5/y", i);
            break;
        default:
            snprintf(p, sizeof p, "/files%d/a/b.txt", i);
            break;
        }
        bad += pn_router_match(r, p, strlen(p), &m) != i;
        bad += pn_router_route_at(r, (size_t)i)->route_id != (uint32_t)i;
        bad += pn_router_route_by_id(r, (uint32_t)i) != pn_router_route_at(r, (size_t)i);
    }
    ok(bad == 0, "%d routes each match their own path", N);
    pn_router_free(r);
}

/* ---- allocation failures ---- */

typedef struct {
    long calls, fail_at; /* fail the fail_at-th allocation (0-based), -1: never */
    long live;
} failing_alloc_t;

static void *failing_realloc(void *ctx, void *ptr, size_t size)
{
    failing_alloc_t *a = ctx;
    if (a->calls++ == a->fail_at) {
        return NULL;
    }
    void *p = realloc(ptr, size);
    if (p != NULL && ptr == NULL) {
        a->live++;
    }
    return p;
}

static void failing_free(void *ctx, void *ptr)
{
    failing_alloc_t *a = ctx;
    if (ptr != NULL) {
        a->live--;
        free(ptr);
    }
}

static const char *const oom_patterns[] = {
    "/",
    "/users",
    "/users/{id:int}",
    "/users/{id}/posts",
    "/users/me",
    "/u",
    "/usr/{p:path}",
    "/a/b/c/d",
    "/a/b/c/e",
    "/a/{x}/c",
    "/a/b",
    "/k/1",
    "/k/2",
    "/k/3",
    "/k/4",
    "/k/5",
    "/k/6",
    "/k/7",
    "/k/8",
    "/k/9",
    "/k/0",
    "/k/a",
    "/k/{n:float}",
    "/k/{n:uuid}/x",
};
static const char *const oom_paths[] = {
    "/",         "/users",
    "/users/1",  "/users/x/posts",
    "/users/me", "/users/me/posts",
    "/u",        "/usr/",
    "/usr/a/b",  "/a/b/c/d",
    "/a/b/c/e",  "/a/z/c",
    "/a/b",      "/k/1",
    "/k/9",      "/k/a",
    "/k/1.5",    "/k/00000000-0000-0000-0000-000000000000/x",
    "/nothing",  "/k/b",
};
#define OOM_NPAT (sizeof oom_patterns / sizeof oom_patterns[0])
#define OOM_NPATH (sizeof oom_paths / sizeof oom_paths[0])

/* Router answers equal the model's over the routes that were accepted. */
static int agrees_with_model(const pn_router_t *r, const ref_route_t *routes, size_t n)
{
    for (size_t i = 0; i < OOM_NPATH; i++) {
        pn_route_match_t m;
        pn_slice_t vals[PN_ROUTER_MAX_PARAMS];
        unsigned nv;
        int tie;
        size_t len = strlen(oom_paths[i]);
        if (pn_router_match(r, oom_paths[i], len, &m) !=
            ref_match(routes, n, oom_paths[i], len, vals, &nv, &tie)) {
            return 0;
        }
    }
    return 1;
}

static void test_allocation_failures(void)
{
    long total = 0;
    int bad = 0;
    for (long k = 0;; k++) {
        failing_alloc_t a = {0, k, 0};
        pn_router_allocator_t al = {failing_realloc, failing_free, &a};
        pn_router_t *r = pn_router_new_with_allocator(&al);
        if (r == NULL) {
            bad += a.live != 0;
            continue;
        }
        ref_route_t accepted[OOM_NPAT];
        size_t n = 0, failures = 0;
        for (size_t i = 0; i < OOM_NPAT; i++) {
            pn_router_error_t err;
            int rc = pn_router_add(r, oom_patterns[i], strlen(oom_patterns[i]), (uint32_t)i, &err);
            if (rc == 0) {
                accepted[n++] = (ref_route_t){oom_patterns[i], strlen(oom_patterns[i]), (int)i};
            } else if (rc == PN_ENOMEM && strcmp(err.reason, "out of memory") == 0) {
                failures++;
                bad += !agrees_with_model(r, accepted, n);
            } else {
                bad++;
            }
        }
        bad += pn_router_count(r) != n || !agrees_with_model(r, accepted, n);
        /* Retry the refused ones with memory available again. */
        for (size_t i = 0; i < OOM_NPAT; i++) {
            if (pn_router_route_by_id(r, (uint32_t)i) == NULL) {
                bad += add(r, oom_patterns[i], (uint32_t)i) != 0;
                accepted[n++] = (ref_route_t){oom_patterns[i], strlen(oom_patterns[i]), (int)i};
            }
        }
        bad += !agrees_with_model(r, accepted, n);
        pn_router_free(r);
        bad += a.live != 0;
        if (failures == 0) {
            total = k;
            break;
        }
    }
    ok(bad == 0 && total > 20, "every one of %ld allocation points fails cleanly", total);
}

/* ---- randomized differential test against router_ref.h ---- */

static uint64_t rng_state = 0x853c49e6748fea9bull;

static unsigned rnd(unsigned n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (unsigned)(rng_state % n);
}

static const char *const convs[] = {"", ":int", ":float", ":uuid", ":str", ":path"};

/* Short segments: runs end inside one 8-byte word. */
static const char *const short_lits[] = {"a", "b", "ab", "1", "42", "x.y", "", "me"};
static const char *const short_segs[] = {
    "a",   "b", "ab", "1", "42",    "1.5",
    "x.y", "",  "me", "A", "0.0.0", "12345678-9abc-DEF0-1234-56789abcdef0",
};

/* Longer segments: runs cross 8-byte words at every offset and share prefixes. */
static const char *const long_lits[] = {
    "items", "abcdefg", "abcdefgh", "abcdefghi", "abcdefghijklmnop", "abc", "7", ""};
static const char *const long_segs[] = {
    "items",    "abcdefg", "abcdefgh", "abcdefghi", "abcdefghijklmnop",  "abc", "7",
    "12345678", "",        "abcdefgx", "1.5",       "abcdefghijklmnopq",
};

/* Shape of a pattern: the pattern with parameter names removed. */
static void shape_of(const char *p, char *out)
{
    while (*p) {
        if (*p == '{') {
            while (*p != ':' && *p != '}') {
                p++;
            }
            *out++ = '{';
            if (*p == ':' && strncmp(p, ":str}", 5) == 0) {
                p += 4;
            }
            continue;
        }
        *out++ = *p++;
    }
    *out = '\0';
}

/* Random routers of random patterns built from lits (8 of them), matched against
 * random paths built from segs (12 of them), compared with the model. */
static void differential(const char *what, const char *const *lits, const char *const *segs)
{
    enum { ROUNDS = 300, PATTERNS = 40, PATHS = 400 };
    int bad = 0, matched = 0, total = 0;
    for (int round = 0; round < ROUNDS; round++) {
        pn_router_t *r = pn_router_new();
        static char pats[PATTERNS][128], shapes[PATTERNS][128];
        ref_route_t routes[PATTERNS];
        size_t n = 0;
        for (int i = 0; i < PATTERNS; i++) {
            char *p = pats[i];
            int nseg = 1 + (int)rnd(4), np = 0;
            p[0] = '\0';
            for (int s = 0; s < nseg; s++) {
                if (rnd(3) == 0) {
                    unsigned c = rnd(s == nseg - 1 ? 6 : 5);
                    sprintf(p + strlen(p), "/{p%d%s}", np++, convs[c]);
                } else {
                    sprintf(p + strlen(p), "/%s", lits[rnd(8)]);
                }
            }
            if (rnd(5) == 0 && strstr(p, ":path") == NULL) {
                strcat(p, "/");
            }
            shape_of(p, shapes[i]);
            int dup = 0;
            for (int j = 0; j < i; j++) {
                dup |= strcmp(shapes[i], shapes[j]) == 0 &&
                       pn_router_route_by_id(r, (uint32_t)j) != NULL;
            }
            int rc = add(r, p, (uint32_t)i);
            if (rc != (dup ? PN_ROUTER_EEXIST : 0)) {
                if (bad++ < 5) {
                    diag("add %s -> %d (dup %d)", p, rc, dup);
                }
            }
            if (rc == 0) {
                routes[n++] = (ref_route_t){p, strlen(p), i};
            }
        }
        for (int k = 0; k < PATHS; k++) {
            char path[256] = "";
            int nseg = 1 + (int)rnd(5);
            for (int s = 0; s < nseg; s++) {
                sprintf(path + strlen(path), "/%s", segs[rnd(12)]);
            }
            size_t len = strlen(path);
            pn_route_match_t m;
            pn_slice_t vals[PN_ROUTER_MAX_PARAMS];
            unsigned nv;
            int tie;
            const char *at;
            int got = match_at_guard(r, path, len, &m, &at);
            int want = ref_match(routes, n, path, len, vals, &nv, &tie);
            int same = got == want && !tie && (got < 0 || m.nparams == nv);
            for (unsigned i = 0; same && got >= 0 && i < nv; i++) {
                same = m.params[i].value.base == at + (vals[i].base - path) &&
                       m.params[i].value.len == vals[i].len;
            }
            if (!same && bad++ < 5) {
                diag("round %d: %s -> %d, model %d (tie %d)", round, path, got, want, tie);
            }
            matched += got >= 0;
            total++;
        }
        pn_router_free(r);
    }
    ok(bad == 0, "router agrees with the model on %d random paths (%d matched), %s segments", total,
       matched, what);
}

static void test_differential(void)
{
    differential("short", short_lits, short_segs);
    differential("long", long_lits, long_segs);
}

int main(void)
{
    guard_setup();
    test_errors();
    test_duplicates();
    test_static_and_slashes();
    test_converters();
    test_priority();
    test_backtracking();
    test_splits();
    test_wide_nodes();
    test_deep_runs();
    test_literal_filter();
    test_many_routes();
    test_allocation_failures();
    test_differential();
    return tap_done();
}
