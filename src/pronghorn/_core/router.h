/*
 * router.h — maps a request path to a route id using Starlette path patterns. Pure C.
 *
 * Owns: pattern syntax and validation, match priority, parameter capture.
 * Invariants: lookup never allocates, never writes to the router and returns
 * slices into the caller's path; registration allocates and either fully
 * succeeds or leaves the router answering exactly as before. No global state.
 * Must not know about: HTTP methods, percent-decoding, query strings, Python,
 * converting parameter text to values (the caller does that, by kind).
 *
 * Pattern syntax (a pattern starts with "/"; segments are split on "/"):
 *   literal segment     any bytes except '{' and '}', possibly empty ("//")
 *   {name} {name:str}   one non-empty segment (no "/")
 *   {name:int}          [0-9]+
 *   {name:float}        [0-9]+(\.[0-9]+)?
 *   {name:uuid}         8-4-4-4-12 hex digits, either case
 *   {name:path}         the rest of the path, "/" included, possibly empty;
 *                       only as the last segment ("/files/{p:path}" matches
 *                       "/files/" and "/files/a/b", not "/files")
 * name is [A-Za-z_][A-Za-z0-9_]*, unique within the pattern. A parameter must
 * span a whole segment: "/files/{name}.txt" is rejected (current limitation),
 * as is any other '{' or '}'. A trailing slash is significant.
 *
 * Priority (independent of registration order): at each segment a literal
 * beats int > float > uuid > str > path, and when the preferred branch fails
 * deeper down the next candidate is tried. Equivalently the matching route
 * whose per-segment ranks are lexicographically smallest wins. Two patterns
 * with the same literals and the same converters at the same positions are
 * the same route ("/a/{x}" and "/a/{y}" conflict).
 */
#ifndef PN_ROUTER_H
#define PN_ROUTER_H

#include <stddef.h>
#include <stdint.h>

#include "slice.h"

#define PN_ROUTER_MAX_PARAMS 16    /* per pattern */
#define PN_ROUTER_MAX_PATTERN 4096 /* bytes per pattern */
#define PN_ROUTER_MAX_ROUTE_ID INT32_MAX

/* Return codes. */
#define PN_ROUTER_NOMATCH (-1) /* pn_router_match: no route matches the path */
#define PN_ROUTER_EINVAL (-22) /* pn_router_add: malformed pattern or route id out of range */
#define PN_ROUTER_EEXIST (-17) /* pn_router_add: that route shape or route id exists */
#ifndef PN_ENOMEM
#define PN_ENOMEM (-12)
#endif

typedef enum {
    PN_ROUTER_CONV_STR = 0,
    PN_ROUTER_CONV_INT = 1,
    PN_ROUTER_CONV_FLOAT = 2,
    PN_ROUTER_CONV_UUID = 3,
    PN_ROUTER_CONV_PATH = 4,
} pn_router_conv_t;
#define PN_ROUTER_CONV_COUNT 5

typedef struct pn_router pn_router_t;

typedef struct {
    const char *reason; /* static string, e.g. "duplicate route"; NULL on success */
    size_t offset;      /* byte offset in the pattern of the offending part (0 if none) */
} pn_router_error_t;

typedef struct {
    pn_slice_t value; /* slice of the path given to pn_router_match (never a copy) */
    uint16_t index;   /* position of the parameter in its pattern, from 0 */
    uint8_t kind;     /* pn_router_conv_t */
} pn_route_param_t;

typedef struct {
    unsigned nparams; /* params[0..nparams) are set, in pattern order */
    pn_route_param_t params[PN_ROUTER_MAX_PARAMS];
} pn_route_match_t;

/* One registered route, owned by the router (valid until pn_router_free). */
typedef struct {
    pn_slice_t name; /* slice of .pattern below */
    uint8_t kind;    /* pn_router_conv_t */
} pn_router_param_info_t;

typedef struct {
    pn_slice_t pattern; /* the router's own copy of the pattern (NUL-terminated) */
    uint32_t route_id;
    uint16_t nparams;
    pn_router_param_info_t params[]; /* nparams entries, in pattern order */
} pn_router_route_t;

/* Optional allocator (for embedding and for allocation-failure tests). realloc_fn
 * behaves like realloc(3) (ptr NULL allocates) and returns NULL on failure;
 * free_fn(ctx, NULL) must be harmless. */
typedef struct {
    void *(*realloc_fn)(void *ctx, void *ptr, size_t size);
    void (*free_fn)(void *ctx, void *ptr);
    void *ctx;
} pn_router_allocator_t;

/* A new empty router, or NULL when out of memory. alloc is copied; NULL means libc. */
pn_router_t *pn_router_new(void);
pn_router_t *pn_router_new_with_allocator(const pn_router_allocator_t *alloc);

/* Frees the router and everything it owns (route records, names). r may be NULL. */
void pn_router_free(pn_router_t *r);

/*
 * Registers pattern[0..len) (need not be NUL-terminated; copied) for route_id.
 * Returns 0, or a negative code with err->reason/offset set (err may be NULL):
 *   PN_ROUTER_EINVAL  "pattern must start with '/'", "pattern too long",
 *                     "parameter must span a whole segment", "invalid parameter
 *                     name", "invalid converter", "duplicate parameter name",
 *                     "path parameter must be the last segment", "too many
 *                     parameters", "route id out of range" (> PN_ROUTER_MAX_ROUTE_ID)
 *   PN_ROUTER_EEXIST  "duplicate route" (same shape), "duplicate route id"
 *   PN_ENOMEM         "out of memory"
 * On any error the router matches exactly as before the call.
 */
int pn_router_add(pn_router_t *r, const char *pattern, size_t len, uint32_t route_id,
                  pn_router_error_t *err);

/*
 * Matches path[0..len) — the percent-decoded path, no query — and returns the
 * route id (>= 0) or PN_ROUTER_NOMATCH. On a match m->params[i].value are
 * slices of `path` (valid as long as the caller's buffer) and i == index;
 * on no match m->nparams is 0. Never allocates; safe to call concurrently on
 * a router that is not being modified. Cost depends on the path, not on the
 * number of routes; fully literal routes are found by one hash lookup.
 */
int pn_router_match(const pn_router_t *r, const char *path, size_t len, pn_route_match_t *m);

/* Number of registered routes. */
size_t pn_router_count(const pn_router_t *r);

/* The i-th registered route in registration order, or NULL when i >= count. */
const pn_router_route_t *pn_router_route_at(const pn_router_t *r, size_t i);

/* The route registered with route_id, or NULL. O(1). */
const pn_router_route_t *pn_router_route_by_id(const pn_router_t *r, uint32_t route_id);

/* Name of parameter idx of route_id (slice of the router's pattern copy), or
 * {NULL, 0} when there is no such route or parameter. */
pn_slice_t pn_router_param_name(const pn_router_t *r, uint32_t route_id, unsigned idx);

#endif
