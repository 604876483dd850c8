/*
 * guard.h — place test input right before an unreadable page (header only).
 *
 *   char *p = guard_copy(data, len);   // p[0..len) ends where PROT_NONE starts
 *
 * Any read or write past p[len - 1] faults at once, with or without ASan
 * (picohttpparser's test trick). The region is GUARD_MAX bytes; one region
 * per program, reused by every call, so a copy is valid until the next one.
 */
#ifndef PN_TEST_GUARD_H
#define PN_TEST_GUARD_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define GUARD_MAX (1u << 20)

static inline char *guard_end(void)
{
    static char *end;
    if (end == NULL) {
        size_t page = (size_t)sysconf(_SC_PAGESIZE);
        size_t span = (GUARD_MAX + page - 1) / page * page;
        char *base =
            mmap(NULL, span + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (base == MAP_FAILED || mprotect(base + span, page, PROT_NONE) != 0) {
            perror("mmap");
            exit(2);
        }
        end = base + span;
    }
    return end;
}

/* Copy data[0..len) (len <= GUARD_MAX) so that it ends at the guard page; returns the copy. */
static inline char *guard_copy(const void *data, size_t len)
{
    if (len > GUARD_MAX) {
        fprintf(stderr, "guard_copy: %zu bytes is too much\n", len);
        exit(2);
    }
    char *p = guard_end() - len;
    if (len > 0) {
        memcpy(p, data, len);
    }
    return p;
}

#endif
