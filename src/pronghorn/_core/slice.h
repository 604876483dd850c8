/*
 * slice.h — the (pointer, length) view used by every pure-C module.
 * A slice never owns its bytes; whoever returns one states how long they live.
 */
#ifndef PN_SLICE_H
#define PN_SLICE_H

#include <stddef.h>

typedef struct {
    const char *base;
    size_t len;
} pn_slice_t;

#define PN_SLICE_LIT(s) ((pn_slice_t){(s), sizeof(s) - 1})

#endif
