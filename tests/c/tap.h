/*
 * tap.h — a tiny TAP producer for the C unit tests (header only).
 *
 *   ok(cond, "name %d", i);        -> "ok 1 - name 0" / "not ok 1 - name 0" + where
 *   is_int(got, want, "name");     -> ok() that prints both values on failure
 *   skip("reason", "name");        -> "ok 2 - name # SKIP reason"
 *   diag("note %s", s);            -> "# note ..."
 *   return tap_done();             -> "1..N", then "N passed, M failed"; 0 iff M == 0
 *
 * Skipped tests are counted apart (a "# skipped: K" line) and are neither
 * passed nor failed. State lives in one function-local static, so the header
 * can be included by any single test program without a .c file.
 */
#ifndef PN_TAP_H
#define PN_TAP_H

#include <stdarg.h>
#include <stdio.h>

typedef struct {
    int run;
    int passed;
    int failed;
    int skipped;
} tap_state_t;

static inline tap_state_t *tap_state(void)
{
    static tap_state_t st;
    return &st;
}

static inline void tap_vline(const char *status, const char *fmt, va_list ap)
{
    printf("%s %d - ", status, ++tap_state()->run);
    vprintf(fmt, ap);
}

__attribute__((format(printf, 4, 5))) static inline int tap_ok_at(const char *file, int line,
                                                                  int cond, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tap_vline(cond ? "ok" : "not ok", fmt, ap);
    va_end(ap);
    putchar('\n');
    if (cond) {
        tap_state()->passed++;
    } else {
        tap_state()->failed++;
        printf("#   failed at %s:%d\n", file, line);
    }
    fflush(stdout);
    return cond;
}

__attribute__((format(printf, 1, 2))) static inline void diag(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("# ", stdout);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

__attribute__((format(printf, 2, 3))) static inline void skip(const char *reason, const char *fmt,
                                                              ...)
{
    va_list ap;
    va_start(ap, fmt);
    tap_vline("ok", fmt, ap);
    va_end(ap);
    printf(" # SKIP %s\n", reason);
    tap_state()->skipped++;
}

/* Prints the plan and the closing "N passed, M failed" line; returns the exit status. */
static inline int tap_done(void)
{
    tap_state_t *st = tap_state();
    printf("1..%d\n", st->run);
    if (st->skipped > 0) {
        printf("# skipped: %d\n", st->skipped);
    }
    printf("%d passed, %d failed\n", st->passed, st->failed);
    fflush(stdout);
    return st->failed == 0 ? 0 : 1;
}

#define ok(cond, ...) tap_ok_at(__FILE__, __LINE__, (cond) ? 1 : 0, __VA_ARGS__)

#define is_int(got, want, ...)                                                                     \
    do {                                                                                           \
        long long got_ = (long long)(got), want_ = (long long)(want);                              \
        if (!tap_ok_at(__FILE__, __LINE__, got_ == want_, __VA_ARGS__)) {                          \
            diag("  got %lld, want %lld", got_, want_);                                            \
        }                                                                                          \
    } while (0)

#endif
