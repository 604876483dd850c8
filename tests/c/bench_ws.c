/*
 * bench_ws.c — micro-benchmark of the WebSocket frame parser and the UTF-8
 * validator (not part of `make test`).
 *
 *   gcc -O3 -march=x86-64-v2 -Isrc/pronghorn/_core tests/c/bench_ws.c \
 *       src/pronghorn/_core/ws.c src/pronghorn/_core/utf8.c src/pronghorn/_core/sha1.c \
 *       src/pronghorn/_core/http1.c -o /tmp/bench_ws && /tmp/bench_ws
 *
 * Frames: a buffer of masked client frames is parsed the way a connection
 * would (pn_ws_parse in a loop over what is buffered), each pass unmasking
 * every payload in place. Binary frames of 16 B and 16 KiB; text frames of
 * 16 B and 16 KiB with UTF-8 validation (their mask key is zero so that every
 * pass sees the same text; the XOR runs all the same). UTF-8: pn_utf8_valid
 * over 1 MiB of ASCII, of 2-byte (Cyrillic), 3-byte (CJK) and 4-byte (emoji)
 * text, and of a mix. Each figure is the best of several runs.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "utf8.h"
#include "ws.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* n frames of payload p[0..len) with the given first byte and key, back to back. */
static char *build(unsigned b0, const char *p, size_t len, size_t n, const uint8_t *key,
                   size_t *total)
{
    size_t one = pn_ws_header_size(len, 1) + len;
    char *buf = malloc(one * n);
    for (size_t i = 0; i < n; i++) {
        char *f = buf + i * one;
        size_t h = pn_ws_write_header((uint8_t *)f, b0 & 0x0F, b0 & 0xF0, len, key);
        memcpy(f + h, p, len);
        pn_ws_mask(f + h, len, key, 0);
    }
    *total = one * n;
    return buf;
}

/* Parses buf[0..total) once; returns the number of frames. */
static size_t parse_all(char *buf, size_t total)
{
    pn_ws_parser_t p;
    pn_ws_parser_init(&p, 0, 0);
    pn_ws_event_t ev;
    size_t at = 0, frames = 0;
    while (at < total) {
        ssize_t r = pn_ws_parse(&p, buf + at, total - at, &ev);
        if (r <= 0) {
            fprintf(stderr, "parse error %zd: %s\n", r, p.error.reason ? p.error.reason : "");
            exit(1);
        }
        at += (size_t)r;
        frames += (ev.flags & PN_WS_EV_FRAME_END) != 0;
    }
    return frames;
}

static void bench_frames(const char *name, unsigned b0, const char *payload, size_t len, size_t n,
                         const uint8_t *key)
{
    size_t total;
    char *buf = build(b0, payload, len, n, key, &total);
    double best = 1e9;
    size_t frames = 0;
    int passes = len < 1024 ? 20 : 8;
    for (int run = 0; run < 7; run++) {
        double t0 = now();
        for (int k = 0; k < passes; k++) {
            frames = parse_all(buf, total);
        }
        double dt = (now() - t0) / passes;
        best = dt < best ? dt : best;
    }
    printf("%-34s %8.1f M frames/s  %7.1f ns/frame  %6.2f GB/s of payload\n", name,
           (double)frames / best / 1e6, best / (double)frames * 1e9,
           (double)frames * (double)len / best / 1e9);
    free(buf);
}

static void bench_utf8(const char *name, const char *unit, size_t unit_len)
{
    size_t size = 1u << 20, n = 0;
    char *buf = malloc(size);
    while (n + unit_len <= size) {
        memcpy(buf + n, unit, unit_len);
        n += unit_len;
    }
    if (!pn_utf8_valid(buf, n)) {
        fprintf(stderr, "%s: not valid\n", name);
        exit(1);
    }
    double best = 1e9;
    int reps = 200;
    volatile int sink = 0;
    for (int run = 0; run < 7; run++) {
        double t0 = now();
        for (int k = 0; k < reps; k++) {
            sink += pn_utf8_valid(buf, n);
        }
        double dt = (now() - t0) / reps;
        best = dt < best ? dt : best;
    }
    printf("utf8 %-29s %8.2f GB/s\n", name, (double)n / best / 1e9);
    free(buf);
}

int main(void)
{
    static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
    static const uint8_t zero[4] = {0, 0, 0, 0};
    char *bin = malloc(16384), *text = malloc(16384);
    for (size_t i = 0; i < 16384; i++) {
        bin[i] = (char)(i * 131);
        text[i] = (char)('a' + i % 26);
    }
    bench_frames("binary 16 B, masked", 0x82, bin, 16, 1u << 16, key);
    bench_frames("binary 16 KiB, masked", 0x82, bin, 16384, 1024, key);
    bench_frames("text 16 B, UTF-8 checked", 0x81, text, 16, 1u << 16, zero);
    bench_frames("text 16 KiB ASCII, UTF-8 checked", 0x81, text, 16384, 1024, zero);

    const char *cyr = "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 "; /* Привет */
    const char *cjk =
        "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe6\x96\x87"; /* 日本語の文 */
    const char *emoji = "\xf0\x9f\x98\x80\xf0\x9f\x9a\x80\xf0\x9f\x8e\x89";
    const char *mix = "{\"name\": \"K\xc3\xb6nig\", \"city\": \"\xe6\x9d\xb1\xe4\xba\xac\", "
                      "\"mood\": \"\xf0\x9f\x98\x80\", \"n\": 42}\n";
    bench_utf8("ASCII", "The quick brown fox jumps over the lazy dog. ", 45);
    bench_utf8("2-byte (Cyrillic)", cyr, strlen(cyr));
    bench_utf8("3-byte (CJK)", cjk, strlen(cjk));
    bench_utf8("4-byte (emoji)", emoji, strlen(emoji));
    bench_utf8("JSON mix", mix, strlen(mix));
    free(bin);
    free(text);
    return 0;
}
