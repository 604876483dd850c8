/*
 * buf.c — growable byte buffer (see buf.h). Pure C, no Python.
 * Growth doubles capacity from 1 KiB; compaction happens lazily on reserve.
 */
#include "buf.h"

#include <stdlib.h>
#include <string.h>

int pn_buf_reserve(pn_buf_t *b, size_t extra)
{
    if (b->cap - b->end >= extra) {
        return 0;
    }
    size_t len = b->end - b->start;
    if (b->start > 0 && b->cap - len >= extra) {
        memmove(b->data, b->data + b->start, len);
        b->start = 0;
        b->end = len;
        return 0;
    }
    size_t need = len + extra;
    if (need < len) {
        return PN_ENOMEM;
    }
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < need) {
        if (cap > ((size_t)-1) / 2) {
            return PN_ENOMEM;
        }
        cap *= 2;
    }
    char *p = malloc(cap);
    if (p == NULL) {
        return PN_ENOMEM;
    }
    if (len) {
        memcpy(p, b->data + b->start, len);
    }
    free(b->data);
    b->data = p;
    b->start = 0;
    b->end = len;
    b->cap = cap;
    return 0;
}

int pn_buf_append(pn_buf_t *b, const void *p, size_t n)
{
    if (n == 0) {
        return 0;
    }
    if (pn_buf_reserve(b, n) < 0) {
        return PN_ENOMEM;
    }
    memcpy(b->data + b->end, p, n);
    b->end += n;
    return 0;
}

void pn_buf_consume(pn_buf_t *b, size_t n)
{
    b->start += n;
    if (b->start >= b->end) {
        b->start = b->end = 0;
    }
}

void pn_buf_free(pn_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->start = b->end = b->cap = 0;
}
