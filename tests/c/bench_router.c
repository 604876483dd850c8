/*
 * bench_router.c — micro-benchmark of pn_router_match (not part of `make test`).
 *
 *   gcc -O3 -march=x86-64-v2 -Isrc/pronghorn/_core tests/c/bench_router.c \
 *       src/pronghorn/_core/router.c -o /tmp/bench_router && /tmp/bench_router
 *
 * Builds routers of ~10, ~1,000 and ~10,000 routes with the same mix (60%
 * static API paths, 20% one parameter, 10% two, 8% three, 2% catch-alls) and
 * reports nanoseconds per lookup for each kind of hit and for misses: first
 * with one path per case (everything cache-hot: the algorithmic cost), then
 * cycling through 512 different paths of each kind spread over all routes
 * (argument: how many), so that caches and branch prediction see a spread.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "router.h"

enum { NPATHS = 512, PATHLEN = 128 };

static const char *const words[] = {"users",    "orders", "items", "accounts", "products",
                                    "invoices", "events", "teams", "projects", "reports"};

typedef struct {
    size_t n_static, n_one, n_two, n_three, n_catch;
} mix_t;

static mix_t mix_for(size_t n)
{
    mix_t m = {n * 60 / 100, n * 20 / 100, n * 10 / 100, n * 8 / 100, n * 2 / 100};
    if (m.n_three == 0) {
        m.n_three = 1;
    }
    if (m.n_catch == 0) {
        m.n_catch = 1;
    }
    return m;
}

static void add(pn_router_t *r, const char *p, uint32_t id)
{
    pn_router_error_t err;
    if (pn_router_add(r, p, strlen(p), id, &err) != 0) {
        fprintf(stderr, "add %s: %s\n", p, err.reason);
        exit(1);
    }
}

static pn_router_t *build(size_t n, mix_t m)
{
    pn_router_t *r = pn_router_new();
    char p[PATHLEN];
    uint32_t id = 0;
    for (size_t i = 0; i < m.n_static; i++) {
        snprintf(p, sizeof p, "/api/v%zu/%s%zu/items", 1 + i % 3, words[i % 10], i);
        add(r, p, id++);
    }
    for (size_t i = 0; i < m.n_one; i++) {
        snprintf(p, sizeof p, "/api/v%zu/%s%zu/items/{item_id:int}", 1 + i % 3, words[i % 10], i);
        add(r, p, id++);
    }
    for (size_t i = 0; i < m.n_two; i++) {
        snprintf(p, sizeof p, "/api/v%zu/%s%zu/{org}/repos/{repo}", 1 + i % 3, words[i % 10], i);
        add(r, p, id++);
    }
    for (size_t i = 0; i < m.n_three; i++) {
        snprintf(p, sizeof p, "/api/v%zu/%s%zu/{a}/items/{b:int}/detail/{c}", 1 + i % 3,
                 words[i % 10], i);
        add(r, p, id++);
    }
    for (size_t i = 0; i < m.n_catch; i++) {
        snprintf(p, sizeof p, "/assets%zu/{path:path}", i);
        add(r, p, id++);
    }
    (void)n;
    return r;
}

typedef struct {
    char text[NPATHS][PATHLEN];
    size_t len[NPATHS];
} paths_t;

/* Paths hitting routes of one kind, spread over that kind's routes. */
static void make_paths(paths_t *ps, int kind, mix_t m)
{
    for (size_t k = 0; k < NPATHS; k++) {
        char *p = ps->text[k];
        size_t i;
        switch (kind) {
        case 0:
            i = k * 7919 % m.n_static;
            snprintf(p, PATHLEN, "/api/v%zu/%s%zu/items", 1 + i % 3, words[i % 10], i);
            break;
        case 1:
            i = k * 7919 % m.n_one;
            snprintf(p, PATHLEN, "/api/v%zu/%s%zu/items/%zu", 1 + i % 3, words[i % 10], i,
                     k * 31 + 1);
            break;
        case 2:
            i = k * 7919 % m.n_three;
            snprintf(p, PATHLEN, "/api/v%zu/%s%zu/acme%zu/items/%zu/detail/summary", 1 + i % 3,
                     words[i % 10], i, k, k * 13);
            break;
        case 3:
            i = k * 7919 % m.n_catch;
            snprintf(p, PATHLEN, "/assets%zu/css/site%zu.min.css", i, k);
            break;
        default:
            i = k * 7919 % m.n_static;
            if (k % 2) {
                snprintf(p, PATHLEN, "/api/v%zu/%s%zu/nothing/here", 1 + i % 3, words[i % 10], i);
            } else {
                snprintf(p, PATHLEN, "/favicon%zu.ico", k);
            }
            break;
        }
        ps->len[k] = strlen(p);
    }
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double ns_per_lookup(const pn_router_t *r, const paths_t *ps, size_t npaths, int expect_hit)
{
    pn_route_match_t m;
    for (size_t k = 0; k < npaths; k++) {
        int id = pn_router_match(r, ps->text[k], ps->len[k], &m);
        if ((id >= 0) != expect_hit) {
            fprintf(stderr, "unexpected result %d for %s\n", id, ps->text[k]);
            exit(1);
        }
    }
    const long rounds = 250000 / (long)npaths;
    double best = 1e30;
    for (int rep = 0; rep < 40; rep++) {
        long sink = 0;
        double t0 = now_ns();
        for (long i = 0; i < rounds; i++) {
            for (size_t k = 0; k < npaths; k++) {
                sink += pn_router_match(r, ps->text[k], ps->len[k], &m);
            }
        }
        double dt = (now_ns() - t0) / ((double)rounds * (double)npaths);
        if (sink == 42) {
            puts("");
        }
        if (dt < best) {
            best = dt;
        }
    }
    return best;
}

static void run(size_t npaths)
{
    static const size_t sizes[] = {10, 1000, 10000};
    static const char *const names[] = {"static", "1-param", "3-param", "catch-all", "miss"};
    static paths_t ps;
    printf("ns per lookup, best of 40 runs of 250,000 lookups, %zu distinct path%s per case\n",
           npaths, npaths == 1 ? " (always cache-hot)" : "s (spread over the routes)");
    printf("%8s", "routes");
    for (int c = 0; c < 5; c++) {
        printf(" %10s", names[c]);
    }
    printf("\n");
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        mix_t m = mix_for(sizes[s]);
        pn_router_t *r = build(sizes[s], m);
        printf("%8zu", pn_router_count(r));
        for (int c = 0; c < 5; c++) {
            make_paths(&ps, c, m);
            printf(" %10.1f", ns_per_lookup(r, &ps, npaths, c != 4));
            fflush(stdout);
        }
        printf("\n");
        pn_router_free(r);
    }
}

int main(int argc, char **argv)
{
    size_t spread = argc > 1 ? (size_t)atoi(argv[1]) : NPATHS;
    if (spread < 1 || spread > NPATHS) {
        fprintf(stderr, "usage: %s [distinct paths per case, 1..%d]\n", argv[0], NPATHS);
        return 2;
    }
    run(1);
    printf("\n");
    run(spread);
    return 0;
}
