/*
 * callgrind_core.c — repeatable instruction counts for the parser and the router.
 *
 * Run under `valgrind --tool=callgrind --collect-atstart=no`: each case toggles
 * collection around exactly `iters` calls, so the profile's total Ir divided by
 * `iters` is instructions per call, identical from run to run (timings are not).
 *
 *   callgrind_core http1 chrome|fetch ITERS
 *   callgrind_core router static|1-param|3-param|catch-all ITERS
 *
 * The router holds 1,000 routes with the mix of tests/c/bench_router.c (60% static,
 * 20% one parameter, 10% two, 8% three, 2% catch-all). Built by benchmarks/micro.py
 * with the extension's optimisation flags.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <valgrind/callgrind.h>

#include "http1.h"
#include "router.h"

static const char chrome[] =
    "GET /products/42?ref=home HTTP/1.1\r\n"
    "Host: shop.example.com\r\n"
    "Connection: keep-alive\r\n"
    "sec-ch-ua: \"Chromium\";v=\"124\", \"Google Chrome\";v=\"124\", \"Not-A.Brand\";v=\"99\"\r\n"
    "sec-ch-ua-mobile: ?0\r\n"
    "sec-ch-ua-platform: \"Linux\"\r\n"
    "Upgrade-Insecure-Requests: 1\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    "Sec-Fetch-Site: none\r\n"
    "Sec-Fetch-Mode: navigate\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Accept-Language: en-US,en;q=0.9\r\n"
    "\r\n";

/* What wrk sends: the smallest valid HTTP/1.1 request. */
static const char minimal[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";

static int run_http1(const char *which, long iters)
{
    const char *req = strcmp(which, "chrome") == 0 ? chrome : minimal;
    size_t len = strlen(req);
    pn_header_t headers[PN_HTTP1_DEFAULT_MAX_HEADERS];
    pn_http1_error_t err;
    long sink = 0;
    CALLGRIND_TOGGLE_COLLECT;
    for (long i = 0; i < iters; i++) {
        pn_http1_request_t r = {.headers = headers};
        sink += (long)pn_http1_parse_request(req, len, NULL, &r, &err);
    }
    CALLGRIND_TOGGLE_COLLECT;
    return sink == (long)len * iters ? 0 : 1;
}

static const char *const words[] = {"users",    "orders", "items", "accounts", "products",
                                    "invoices", "events", "teams", "projects", "reports"};

static void add(pn_router_t *r, const char *p, uint32_t id)
{
    if (pn_router_add(r, p, strlen(p), id, NULL) != 0) {
        fprintf(stderr, "cannot add %s\n", p);
        exit(2);
    }
}

static int run_router(const char *which, long iters)
{
    enum { N = 1000 };
    const size_t n_static = N * 60 / 100, n_one = N * 20 / 100, n_two = N * 10 / 100,
                 n_three = N * 8 / 100, n_catch = N * 2 / 100;
    pn_router_t *r = pn_router_new();
    char p[160];
    uint32_t id = 0;
    for (size_t i = 0; i < n_static; i++) {
        snprintf(p, sizeof p, "/api/v%zu/%s%zu/items", 1 + i % 3, words[i % 10], i);
        add(r, p, id++);
    }
    for (size_t i = 0; i < n_one; i++) {
        snprintf(p, sizeof p, "/api/v%zu/%s%zu/items/{item_id:int}", 1 + i % 3, words[i % 10], i);
        add(r, p, id++);
    }
    for (size_t i = 0; i < n_two; i++) {
        snprintf(p, sizeof p, "/api/v%zu/%s%zu/{org}/repos/{repo}", 1 + i % 3, words[i % 10], i);
        add(r, p, id++);
    }
    for (size_t i = 0; i < n_three; i++) {
        snprintf(p, sizeof p, "/api/v%zu/%s%zu/{a}/items/{b:int}/detail/{c}", 1 + i % 3,
                 words[i % 10], i);
        add(r, p, id++);
    }
    for (size_t i = 0; i < n_catch; i++) {
        snprintf(p, sizeof p, "/assets%zu/{path:path}", i);
        add(r, p, id++);
    }
    const char *path;
    if (strcmp(which, "static") == 0) {
        path = "/api/v2/orders301/items";
    } else if (strcmp(which, "1-param") == 0) {
        path = "/api/v3/orders101/items/4242";
    } else if (strcmp(which, "3-param") == 0) {
        path = "/api/v2/orders31/acme/items/77/detail/summary";
    } else {
        path = "/assets7/css/site.min.css";
    }
    size_t len = strlen(path);
    pn_route_match_t m;
    if (pn_router_match(r, path, len, &m) < 0) {
        fprintf(stderr, "%s does not match\n", path);
        return 2;
    }
    long sink = 0;
    CALLGRIND_TOGGLE_COLLECT;
    for (long i = 0; i < iters; i++) {
        __asm__ volatile("" : : "r"(path) : "memory");
        sink += pn_router_match(r, path, len, &m);
    }
    CALLGRIND_TOGGLE_COLLECT;
    pn_router_free(r);
    return sink < 0;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s http1|router CASE ITERS\n", argv[0]);
        return 2;
    }
    long iters = atol(argv[3]);
    if (strcmp(argv[1], "http1") == 0) {
        return run_http1(argv[2], iters);
    }
    return run_router(argv[2], iters);
}
