/*
 * bench_http1.c — time pn_http1_parse_request on a Chrome-like request head.
 * Not part of `make ctest`. Build and run from the repo root:
 *
 *   cc -O3 -DNDEBUG -Isrc/pronghorn/_core -o /tmp/bench_http1 tests/c/bench_http1.c \
 *      src/pronghorn/_core/http1.c src/pronghorn/_core/chunked.c && /tmp/bench_http1
 *
 * Prints, per request, its size and the best-of-5 ns per parse.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "http1.h"

/* A Chrome top-level navigation (~500 bytes) and a Chrome fetch() with a cookie. */
static const char navigate[] =
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

static const char xhr[] =
    "GET /api/v1/users/12345/orders?page=2&sort=desc HTTP/1.1\r\n"
    "Host: shop.example.com\r\n"
    "Connection: keep-alive\r\n"
    "sec-ch-ua: \"Chromium\";v=\"124\", \"Google Chrome\";v=\"124\", \"Not-A.Brand\";v=\"99\"\r\n"
    "sec-ch-ua-mobile: ?0\r\n"
    "sec-ch-ua-platform: \"Linux\"\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36\r\n"
    "Accept: application/json, text/plain, */*\r\n"
    "Sec-Fetch-Site: same-origin\r\n"
    "Sec-Fetch-Mode: cors\r\n"
    "Sec-Fetch-Dest: empty\r\n"
    "Referer: https://shop.example.com/account\r\n"
    "Accept-Encoding: gzip, deflate, br, zstd\r\n"
    "Accept-Language: en-US,en;q=0.9\r\n"
    "Cookie: session=7f3a9c2e41b8; theme=dark\r\n"
    "\r\n";

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Best-of-5 ns per parse of request[0..len); returns -1 if it does not parse. */
static double bench(const char *request, size_t len, size_t *fields)
{
    pn_header_t headers[PN_HTTP1_DEFAULT_MAX_HEADERS];
    pn_http1_limits_t lim = {PN_HTTP1_DEFAULT_MAX_REQUEST_LINE, PN_HTTP1_DEFAULT_MAX_HEAD,
                             PN_HTTP1_DEFAULT_MAX_HEADERS, PN_HTTP1_DEFAULT_MAX_BODY};
    pn_http1_error_t err;
    pn_http1_request_t req = {.headers = headers};
    if (pn_http1_parse_request(request, len, &lim, &req, &err) != (ssize_t)len) {
        return -1;
    }
    *fields = req.num_headers;
    const int iters = 2000000;
    double best = 1e30;
    volatile size_t sink = 0;
    for (int round = 0; round < 5; round++) {
        double t0 = now_ns();
        for (int i = 0; i < iters; i++) {
            pn_http1_request_t r = {.headers = headers};
            /* the barrier keeps the compiler from hoisting the parse out of the loop */
            __asm__ volatile("" : : "r"(request) : "memory");
            sink += (size_t)pn_http1_parse_request(request, len, &lim, &r, &err) + r.num_headers;
        }
        double per = (now_ns() - t0) / iters;
        best = per < best ? per : best;
    }
    return best;
}

int main(void)
{
    static const struct {
        const char *name, *data;
        size_t len;
    } cases[] = {{"chrome navigation", navigate, sizeof navigate - 1},
                 {"chrome fetch + cookie", xhr, sizeof xhr - 1}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t fields = 0;
        double ns = bench(cases[i].data, cases[i].len, &fields);
        if (ns < 0) {
            fprintf(stderr, "%s: does not parse\n", cases[i].name);
            return 1;
        }
        printf("%-22s %4zu bytes, %2zu fields: %6.1f ns/request, %.2f GB/s\n", cases[i].name,
               cases[i].len, fields, ns, cases[i].len / ns);
    }
    return 0;
}
