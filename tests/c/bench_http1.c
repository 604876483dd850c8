/*
 * bench_http1.c — time pn_http1_parse_request on a Chrome-like request head.
 * Not part of `make ctest`. Build and run from the repo root:
 *
 *   cc -O3 -DNDEBUG -Isrc/pronghorn/_core -o /tmp/bench_http1 tests/c/bench_http1.c \
 *      src/pronghorn/_core/http1.c src/pronghorn/_core/chunked.c && /tmp/bench_http1
 *
 * Prints the request size and the best-of-5 ns per parse.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "http1.h"

static const char request[] =
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

int main(void)
{
    pn_header_t headers[PN_HTTP1_DEFAULT_MAX_HEADERS];
    pn_http1_limits_t lim = {PN_HTTP1_DEFAULT_MAX_REQUEST_LINE, PN_HTTP1_DEFAULT_MAX_HEAD,
                             PN_HTTP1_DEFAULT_MAX_HEADERS, PN_HTTP1_DEFAULT_MAX_BODY};
    pn_http1_error_t err;
    size_t len = sizeof request - 1;
    const int iters = 2000000;
    double best = 1e30;
    volatile size_t sink = 0;
    for (int round = 0; round < 5; round++) {
        double t0 = now_ns();
        for (int i = 0; i < iters; i++) {
            pn_http1_request_t req = {.headers = headers};
            /* the barrier keeps the compiler from hoisting the parse out of the loop */
            __asm__ volatile("" : : "r"(request) : "memory");
            ssize_t r = pn_http1_parse_request(request, len, &lim, &req, &err);
            sink += (size_t)r + req.num_headers;
        }
        double per = (now_ns() - t0) / iters;
        best = per < best ? per : best;
    }
    pn_http1_request_t req = {.headers = headers};
    ssize_t r = pn_http1_parse_request(request, len, &lim, &req, &err);
    if (r != (ssize_t)len) {
        fprintf(stderr, "parse failed: %zd (%s)\n", r, r < 0 ? err.reason : "");
        return 1;
    }
    printf("request: %zu bytes, %zu fields\n", len, req.num_headers);
    printf("parse: %.1f ns/request (best of 5 x %d), %.2f GB/s\n", best, iters, len / best);
    return sink == 0;
}
