/*
 * buf.h — growable byte buffer with a consumed prefix. Pure C.
 * Bytes live in data[start..end). Appending may move the storage (so slices
 * into a buffer are valid only until the next append/reserve).
 */
#ifndef PN_BUF_H
#define PN_BUF_H

#include <stddef.h>

#define PN_ENOMEM (-12)

typedef struct {
    char *data;
    size_t start, end, cap;
} pn_buf_t;

static inline size_t pn_buf_len(const pn_buf_t *b) { return b->end - b->start; }
static inline const char *pn_buf_ptr(const pn_buf_t *b) { return b->data + b->start; }

/* Ensure room for `extra` bytes after end (compacting first). 0 or PN_ENOMEM. */
int pn_buf_reserve(pn_buf_t *b, size_t extra);
/* Append bytes. 0 or PN_ENOMEM (buffer unchanged on failure). */
int pn_buf_append(pn_buf_t *b, const void *p, size_t n);
/* Drop n bytes from the front (n <= len). Resets to empty when all consumed. */
void pn_buf_consume(pn_buf_t *b, size_t n);
/* Free storage; the buffer becomes empty and reusable. */
void pn_buf_free(pn_buf_t *b);

#endif
