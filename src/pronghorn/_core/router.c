/*
 * router.c — Starlette path patterns -> route ids (see router.h for the contract). Pure C.
 *
 * Owns: the route records and a tree over the patterns whose edges live in
 * one hash table.
 *
 * A pattern is a chain of literal runs and parameters, L0 P1 L1 ... Pk Lk:
 * "/users/{id:int}/posts" is "/users/" {int} "/posts". Every run starts with
 * '/'; runs followed by a parameter also end with '/' (a parameter spans a
 * whole segment); only Lk may be empty. Node 0 is the start of the path and
 * node i > 0 the point right after some parameter. An edge is keyed by
 * (node, run) and holds the route ending with that run and the node reached
 * through each parameter kind that follows it. Fully literal routes are
 * therefore root edges: one probe finds them.
 *
 * Matching at a node with the rest of the path R: first the edge for all of
 * R (a route ending here), then every prefix of R ending with '/', longest
 * first, whose edge leads to parameters: int, float, uuid, str on the next
 * segment (recursing), then path on all that is left. A longer run means a
 * literal where a shorter one has a parameter, so this depth-first order is
 * exactly "at each segment literal > int > float > uuid > str > path, with
 * backtracking". Each node keeps a mask of the slash counts of its runs that
 * lead to parameters, so only prefixes of a registered shape are probed; the
 * cost depends on the path's segments, not on the number of routes. A node
 * is reached at one fixed path position, so the search visits each node at
 * most once.
 *
 * Invariants: edge keys point into route records' pattern copies, which live
 * until pn_router_free. pn_router_add checks for a duplicate, then reserves
 * every table slot, node and record it may need, and only then links: it
 * either fully succeeds or changes nothing.
 * Must not know about: methods, decoding, Python.
 */
#include "router.h"

#include <stdlib.h>
#include <string.h>

#define NO_ROUTE (-1)
#define LITERAL (-1)
#define NO_NODE 0 /* node 0 is the root, never the target of a parameter */

typedef struct {
    int32_t route_id;     /* route ending right after this node's parameter, or NO_ROUTE */
    uint32_t max_slashes; /* most '/' in a run from here that leads to parameters */
    uint64_t param_runs;  /* bit min(c, 63): a run with c slashes leads to parameters */
    uint8_t end_runs;     /* some run from here ends a route */
} node_t;

typedef struct {
    uint64_t hash;
    const char *key;                      /* the run (slice of a pattern copy); NULL: empty slot */
    uint16_t len;                         /* <= PN_ROUTER_MAX_PATTERN */
    uint8_t kinds;                        /* bit k: param[k] is set */
    uint32_t from;                        /* node the run leaves from */
    int32_t route_id;                     /* route ending with this run, or NO_ROUTE */
    uint32_t param[PN_ROUTER_CONV_COUNT]; /* node after a parameter of kind k, or NO_NODE */
} edge_t;

_Static_assert(PN_ROUTER_MAX_PATTERN <= UINT16_MAX, "edge_t.len holds a run's length");

struct pn_router {
    pn_router_allocator_t alloc;
    edge_t *edges; /* capacity a power of 2, at most half full */
    size_t ecap, nedges;
    node_t *nodes;
    uint32_t nnodes, capnodes;
    pn_router_route_t **routes;
    size_t nroutes, caproutes;
    uint32_t *idtab; /* route_id -> 1 + index in routes (0 = empty); at most half full */
    size_t idcap;
};

/* A pattern split into literal runs and parameters, as offsets into the pattern. */
typedef struct {
    uint32_t off, len;
    int kind; /* LITERAL or pn_router_conv_t */
} item_t;

typedef struct {
    unsigned nitems, nparams;
    item_t items[2 * PN_ROUTER_MAX_PARAMS + 1];
    item_t params[PN_ROUTER_MAX_PARAMS]; /* the names */
} parsed_t;

/* ---- memory ---- */

static void *libc_realloc(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    return realloc(ptr, size);
}

static void libc_free(void *ctx, void *ptr)
{
    (void)ctx;
    free(ptr);
}

static void *mem_alloc(pn_router_t *r, size_t size)
{
    return r->alloc.realloc_fn(r->alloc.ctx, NULL, size);
}

static void mem_free(pn_router_t *r, void *ptr)
{
    if (ptr) {
        r->alloc.free_fn(r->alloc.ctx, ptr);
    }
}

/* ---- hashing (keys are the developer's patterns; lookups only probe) ---- */

static inline uint64_t read64(const char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint64_t read32(const char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* Hash of run p[0..n) leaving node `from`. Reads only p[0..n). */
static inline uint64_t hash_run(uint32_t from, const char *p, size_t n)
{
    const uint64_t k = 0x9fb21c651e98df25ull;
    uint64_t h = (0x243f6a8885a308d3ull + from) * k ^ n;
    while (n > 8) {
        h = (h ^ read64(p)) * k;
        h ^= h >> 29;
        p += 8;
        n -= 8;
    }
    uint64_t w = 0;
    if (n >= 4) {
        w = read32(p) << 32 | read32(p + n - 4);
    } else if (n > 0) {
        w = (uint64_t)(uint8_t)p[0] << 16 | (uint64_t)(uint8_t)p[n >> 1] << 8 | (uint8_t)p[n - 1];
    }
    h = (h ^ w) * k;
    h ^= h >> 32;
    h *= k;
    h ^= h >> 29;
    return h;
}

/* a[0..n) == b[0..n), reading only those bytes; inline because runs are short. */
static inline int same_bytes(const char *a, const char *b, size_t n)
{
    while (n > 8) {
        if (read64(a) != read64(b)) {
            return 0;
        }
        a += 8;
        b += 8;
        n -= 8;
    }
    if (n >= 4) {
        return ((read32(a) ^ read32(b)) | (read32(a + n - 4) ^ read32(b + n - 4))) == 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (a[i] != b[i]) {
            return 0;
        }
    }
    return 1;
}

static inline size_t hash_id(uint32_t id)
{
    uint64_t h = (uint64_t)id * 0x9e3779b97f4a7c15ull;
    return (size_t)(h ^ (h >> 32));
}

static inline edge_t *edge_find(const pn_router_t *r, uint32_t from, const char *run, size_t len)
{
    uint64_t h = hash_run(from, run, len);
    size_t mask = r->ecap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        edge_t *e = &r->edges[i];
        if (e->key == NULL) {
            return NULL;
        }
        if (e->hash == h && e->len == len && e->from == from && same_bytes(e->key, run, len)) {
            return e;
        }
    }
}

static edge_t *edge_slot(edge_t *tab, size_t cap, uint64_t hash)
{
    size_t mask = cap - 1;
    size_t i = hash & mask;
    while (tab[i].key != NULL) {
        i = (i + 1) & mask;
    }
    return &tab[i];
}

/* Room for `extra` more edges and nodes. 0 or PN_ENOMEM (tables unchanged). */
static int tree_reserve(pn_router_t *r, size_t extra_edges, uint32_t extra_nodes)
{
    if ((r->nedges + extra_edges) * 2 > r->ecap) {
        size_t cap = r->ecap ? r->ecap : 64;
        while ((r->nedges + extra_edges) * 2 > cap) {
            cap *= 2;
        }
        edge_t *tab = mem_alloc(r, cap * sizeof *tab);
        if (tab == NULL) {
            return PN_ENOMEM;
        }
        memset(tab, 0, cap * sizeof *tab);
        for (size_t i = 0; i < r->ecap; i++) {
            if (r->edges[i].key != NULL) {
                *edge_slot(tab, cap, r->edges[i].hash) = r->edges[i];
            }
        }
        mem_free(r, r->edges);
        r->edges = tab;
        r->ecap = cap;
    }
    if (r->nnodes + extra_nodes > r->capnodes) {
        uint32_t cap = r->capnodes ? r->capnodes : 16;
        while (r->nnodes + extra_nodes > cap) {
            cap *= 2;
        }
        node_t *v = r->alloc.realloc_fn(r->alloc.ctx, r->nodes, cap * sizeof *v);
        if (v == NULL) {
            return PN_ENOMEM;
        }
        r->nodes = v;
        r->capnodes = cap;
    }
    return 0;
}

static const pn_router_route_t *id_find(const pn_router_t *r, uint32_t id)
{
    if (r->idcap == 0) {
        return NULL;
    }
    size_t mask = r->idcap - 1;
    for (size_t i = hash_id(id) & mask;; i = (i + 1) & mask) {
        uint32_t slot = r->idtab[i];
        if (slot == 0) {
            return NULL;
        }
        if (r->routes[slot - 1]->route_id == id) {
            return r->routes[slot - 1];
        }
    }
}

static void id_put(uint32_t *tab, size_t cap, uint32_t id, uint32_t slot)
{
    size_t mask = cap - 1;
    size_t i = hash_id(id) & mask;
    while (tab[i] != 0) {
        i = (i + 1) & mask;
    }
    tab[i] = slot;
}

/* Room for one more route record and its id. 0 or PN_ENOMEM (tables unchanged). */
static int routes_reserve(pn_router_t *r)
{
    if (r->nroutes == r->caproutes) {
        size_t cap = r->caproutes ? r->caproutes * 2 : 16;
        pn_router_route_t **v = r->alloc.realloc_fn(r->alloc.ctx, r->routes, cap * sizeof *v);
        if (v == NULL) {
            return PN_ENOMEM;
        }
        r->routes = v;
        r->caproutes = cap;
    }
    if ((r->nroutes + 1) * 2 > r->idcap) {
        size_t cap = r->idcap ? r->idcap * 2 : 32;
        uint32_t *tab = mem_alloc(r, cap * sizeof *tab);
        if (tab == NULL) {
            return PN_ENOMEM;
        }
        memset(tab, 0, cap * sizeof *tab);
        for (size_t i = 0; i < r->nroutes; i++) {
            id_put(tab, cap, r->routes[i]->route_id, (uint32_t)i + 1);
        }
        mem_free(r, r->idtab);
        r->idtab = tab;
        r->idcap = cap;
    }
    return 0;
}

/* ---- pattern parsing ---- */

static int fail(pn_router_error_t *err, int code, const char *reason, size_t offset)
{
    err->reason = reason;
    err->offset = offset;
    return code;
}

static int is_ident_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_ident(unsigned char c)
{
    return is_ident_start(c) || (c >= '0' && c <= '9');
}

static int converter_kind(const char *s, size_t n)
{
    static const char *const names[PN_ROUTER_CONV_COUNT] = {"str", "int", "float", "uuid", "path"};
    for (int k = 0; k < PN_ROUTER_CONV_COUNT; k++) {
        if (strlen(names[k]) == n && memcmp(names[k], s, n) == 0) {
            return k;
        }
    }
    return -1;
}

/* Parses the parameter segment p[s..e) ("{...}"); appends it to ps. */
static int parse_param(const char *p, size_t s, size_t e, size_t len, parsed_t *ps,
                       pn_router_error_t *err)
{
    size_t name = s + 1, name_end = name;
    while (name_end < e - 1 && p[name_end] != ':') {
        name_end++;
    }
    for (size_t i = name; i < e - 1; i++) {
        if (p[i] == '{' || p[i] == '}') {
            return fail(err, PN_ROUTER_EINVAL, "parameter must span a whole segment", i);
        }
    }
    if (name_end == name || !is_ident_start((unsigned char)p[name])) {
        return fail(err, PN_ROUTER_EINVAL, "invalid parameter name", name);
    }
    for (size_t i = name; i < name_end; i++) {
        if (!is_ident((unsigned char)p[i])) {
            return fail(err, PN_ROUTER_EINVAL, "invalid parameter name", i);
        }
    }
    int kind = PN_ROUTER_CONV_STR;
    if (name_end < e - 1) {
        kind = converter_kind(p + name_end + 1, e - 1 - (name_end + 1));
        if (kind < 0) {
            return fail(err, PN_ROUTER_EINVAL, "invalid converter", name_end + 1);
        }
    }
    for (unsigned i = 0; i < ps->nparams; i++) {
        const item_t *q = &ps->params[i];
        if (q->len == name_end - name && memcmp(p + q->off, p + name, q->len) == 0) {
            return fail(err, PN_ROUTER_EINVAL, "duplicate parameter name", name);
        }
    }
    if (ps->nparams == PN_ROUTER_MAX_PARAMS) {
        return fail(err, PN_ROUTER_EINVAL, "too many parameters", s);
    }
    if (kind == PN_ROUTER_CONV_PATH && e != len) {
        return fail(err, PN_ROUTER_EINVAL, "path parameter must be the last segment", s);
    }
    ps->params[ps->nparams++] = (item_t){(uint32_t)name, (uint32_t)(name_end - name), kind};
    ps->items[ps->nitems++] = (item_t){(uint32_t)s, 0, kind};
    return 0;
}

/* Splits p[0..len) into literal runs and parameters. 0 or PN_ROUTER_EINVAL. */
static int parse(const char *p, size_t len, parsed_t *ps, pn_router_error_t *err)
{
    ps->nitems = ps->nparams = 0;
    if (len == 0 || p[0] != '/') {
        return fail(err, PN_ROUTER_EINVAL, "pattern must start with '/'", 0);
    }
    if (len > PN_ROUTER_MAX_PATTERN) {
        return fail(err, PN_ROUTER_EINVAL, "pattern too long", PN_ROUTER_MAX_PATTERN);
    }
    size_t lit = 0; /* start of the literal run not yet emitted */
    for (size_t s = 1;;) {
        size_t e = s, brace = len;
        while (e < len && p[e] != '/') {
            if ((p[e] == '{' || p[e] == '}') && brace == len) {
                brace = e;
            }
            e++;
        }
        if (brace != len) {
            if (brace != s || p[s] != '{' || e - s < 2 || p[e - 1] != '}') {
                return fail(err, PN_ROUTER_EINVAL, "parameter must span a whole segment", brace);
            }
            ps->items[ps->nitems++] = (item_t){(uint32_t)lit, (uint32_t)(s - lit), LITERAL};
            int rc = parse_param(p, s, e, len, ps, err);
            if (rc < 0) {
                return rc;
            }
            lit = e;
        }
        if (e == len) {
            break;
        }
        s = e + 1;
    }
    if (lit < len) {
        ps->items[ps->nitems++] = (item_t){(uint32_t)lit, (uint32_t)(len - lit), LITERAL};
    }
    return 0;
}

/* ---- tree construction ---- */

static unsigned count_slashes(const char *s, size_t n)
{
    unsigned c = 0;
    for (size_t i = 0; i < n; i++) {
        c += s[i] == '/';
    }
    return c;
}

static inline uint64_t slash_bit(size_t c)
{
    return 1ull << (c < 63 ? c : 63);
}

/* Is there already a route with the shape of ps? */
static int tree_has(const pn_router_t *r, const char *pat, const parsed_t *ps)
{
    uint32_t n = 0;
    const edge_t *e = NULL;
    for (unsigned i = 0; i < ps->nitems; i++) {
        const item_t *it = &ps->items[i];
        if (it->kind == LITERAL) {
            e = edge_find(r, n, pat + it->off, it->len);
            if (e == NULL) {
                return 0;
            }
            if (i + 1 == ps->nitems) {
                return e->route_id != NO_ROUTE;
            }
        } else {
            n = e->param[it->kind];
            if (n == NO_NODE) {
                return 0;
            }
        }
    }
    return r->nodes[n].route_id != NO_ROUTE; /* the pattern ends with a parameter */
}

/* Links pattern `pat` (parsed as ps) to route_id. Cannot fail: tree_reserve(r,
 * ps->nitems, ps->nparams) succeeded and tree_has() is false. */
static void tree_link(pn_router_t *r, const char *pat, const parsed_t *ps, int32_t route_id)
{
    uint32_t n = 0;
    edge_t *e = NULL;
    const item_t *run = NULL;
    for (unsigned i = 0; i < ps->nitems; i++) {
        const item_t *it = &ps->items[i];
        if (it->kind == LITERAL) {
            const char *key = pat + it->off;
            e = edge_find(r, n, key, it->len);
            if (e == NULL) {
                uint64_t h = hash_run(n, key, it->len);
                e = edge_slot(r->edges, r->ecap, h);
                memset(e, 0, sizeof *e);
                e->hash = h;
                e->key = key;
                e->len = (uint16_t)it->len;
                e->from = n;
                e->route_id = NO_ROUTE;
                r->nedges++;
            }
            run = it;
            continue;
        }
        if (e->param[it->kind] == NO_NODE) {
            uint32_t c = r->nnodes++;
            r->nodes[c] = (node_t){NO_ROUTE, 0, 0, 0};
            e->param[it->kind] = c;
            e->kinds |= (uint8_t)(1u << it->kind);
            unsigned slashes = count_slashes(pat + run->off, run->len);
            r->nodes[n].param_runs |= slash_bit(slashes);
            if (slashes > r->nodes[n].max_slashes) {
                r->nodes[n].max_slashes = slashes;
            }
        }
        n = e->param[it->kind];
        e = NULL;
    }
    if (e != NULL) {
        e->route_id = route_id;
        r->nodes[n].end_runs = 1;
    } else {
        r->nodes[n].route_id = route_id;
    }
}

/* ---- public: lifecycle and registration ---- */

pn_router_t *pn_router_new_with_allocator(const pn_router_allocator_t *alloc)
{
    pn_router_allocator_t a = {libc_realloc, libc_free, NULL};
    if (alloc != NULL) {
        a = *alloc;
    }
    pn_router_t *r = a.realloc_fn(a.ctx, NULL, sizeof *r);
    if (r == NULL) {
        return NULL;
    }
    memset(r, 0, sizeof *r);
    r->alloc = a;
    if (tree_reserve(r, 1, 1) < 0) {
        pn_router_free(r);
        return NULL;
    }
    r->nodes[0] = (node_t){NO_ROUTE, 0, 0, 0};
    r->nnodes = 1;
    return r;
}

pn_router_t *pn_router_new(void)
{
    return pn_router_new_with_allocator(NULL);
}

void pn_router_free(pn_router_t *r)
{
    if (r == NULL) {
        return;
    }
    for (size_t i = 0; i < r->nroutes; i++) {
        mem_free(r, r->routes[i]);
    }
    mem_free(r, r->routes);
    mem_free(r, r->idtab);
    mem_free(r, r->edges);
    mem_free(r, r->nodes);
    mem_free(r, r);
}

int pn_router_add(pn_router_t *r, const char *pattern, size_t len, uint32_t route_id,
                  pn_router_error_t *err)
{
    pn_router_error_t scratch;
    if (err == NULL) {
        err = &scratch;
    }
    err->reason = NULL;
    err->offset = 0;
    parsed_t ps;
    int rc = parse(pattern, len, &ps, err);
    if (rc < 0) {
        return rc;
    }
    if (route_id > PN_ROUTER_MAX_ROUTE_ID) {
        return fail(err, PN_ROUTER_EINVAL, "route id out of range", 0);
    }
    if (id_find(r, route_id) != NULL) {
        return fail(err, PN_ROUTER_EEXIST, "duplicate route id", 0);
    }
    if (tree_has(r, pattern, &ps)) {
        return fail(err, PN_ROUTER_EEXIST, "duplicate route", 0);
    }
    if (routes_reserve(r) < 0 || tree_reserve(r, ps.nitems, ps.nparams) < 0) {
        return fail(err, PN_ENOMEM, "out of memory", 0);
    }
    pn_router_route_t *rec =
        mem_alloc(r, sizeof *rec + ps.nparams * sizeof rec->params[0] + len + 1);
    if (rec == NULL) {
        return fail(err, PN_ENOMEM, "out of memory", 0);
    }
    /* Nothing below can fail. */
    char *copy = (char *)&rec->params[ps.nparams];
    memcpy(copy, pattern, len);
    copy[len] = '\0';
    rec->pattern = (pn_slice_t){copy, len};
    rec->route_id = route_id;
    rec->nparams = (uint16_t)ps.nparams;
    for (unsigned i = 0; i < ps.nparams; i++) {
        rec->params[i].name = (pn_slice_t){copy + ps.params[i].off, ps.params[i].len};
        rec->params[i].kind = (uint8_t)ps.params[i].kind;
    }
    tree_link(r, copy, &ps, (int32_t)route_id);
    r->routes[r->nroutes++] = rec;
    id_put(r->idtab, r->idcap, route_id, (uint32_t)r->nroutes);
    return 0;
}

/* ---- public: lookup ---- */

static inline int is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

static inline int is_hex(uint8_t c)
{
    return is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

/* Does the non-empty segment s[0..n) satisfy converter kind (not path)? */
static int conv_accepts(int kind, const char *s, size_t n)
{
    size_t i = 0;
    switch (kind) {
    case PN_ROUTER_CONV_INT:
        while (i < n && is_digit((uint8_t)s[i])) {
            i++;
        }
        return i == n;
    case PN_ROUTER_CONV_FLOAT:
        while (i < n && is_digit((uint8_t)s[i])) {
            i++;
        }
        if (i == n) {
            return 1;
        }
        if (i == 0 || s[i] != '.' || i + 1 == n) {
            return 0;
        }
        for (i++; i < n; i++) {
            if (!is_digit((uint8_t)s[i])) {
                return 0;
            }
        }
        return 1;
    case PN_ROUTER_CONV_UUID:
        if (n != 36) {
            return 0;
        }
        for (i = 0; i < 36; i++) {
            int dash = i == 8 || i == 13 || i == 18 || i == 23;
            if (dash ? s[i] != '-' : !is_hex((uint8_t)s[i])) {
                return 0;
            }
        }
        return 1;
    default:
        return 1;
    }
}

static inline void set_param(pn_route_match_t *m, unsigned np, const char *v, size_t n, int kind)
{
    m->params[np].value.base = v;
    m->params[np].value.len = n;
    m->params[np].index = (uint16_t)np;
    m->params[np].kind = (uint8_t)kind;
}

/* Slash bits of the 8 bytes p[i..i+8), or of p[i..len) when fewer remain (len >= 8):
 * bit 8j+7 is set iff p[i+j] == '/'. Reads only p[0..len). Little-endian only. */
static inline uint64_t slash_bits(const char *p, size_t i, size_t len)
{
    const uint64_t lo7 = 0x7f7f7f7f7f7f7f7full;
    size_t skip = 0;
    if (len - i < 8) {
        skip = 8 - (len - i);
        i = len - 8;
    }
    uint64_t x = read64(p + i) ^ 0x2f2f2f2f2f2f2f2full; /* '/' bytes become 0 */
    uint64_t t = ~(((x & lo7) + lo7) | x | lo7);
    return t >> (8 * skip);
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define SWAR 1
#else
#define SWAR 0
#endif

/* Position of the first '/' in p[i..len), or len. */
static inline size_t find_slash(const char *p, size_t i, size_t len)
{
    if (SWAR && len >= 8) {
        while (i < len) {
            uint64_t t = slash_bits(p, i, len);
            if (t != 0) {
                return i + (size_t)(__builtin_ctzll(t) >> 3);
            }
            i += 8;
        }
        return len;
    }
    while (i < len && p[i] != '/') {
        i++;
    }
    return i;
}

/* Counting the '/' at p[pos] as the first, finds the (up to) max-th '/' in p[pos..len):
 * returns how many were found (1..max) and sets *after to the index just past the last. */
static inline uint32_t nth_slash(const char *p, size_t pos, size_t len, uint32_t max, size_t *after)
{
    uint32_t c = 1;
    size_t k = pos + 1;
    if (SWAR && len >= 8) {
        for (size_t i = pos + 1; i < len && c < max; i += 8) {
            for (uint64_t t = slash_bits(p, i, len); t != 0 && c < max; t &= t - 1) {
                c++;
                k = i + (size_t)(__builtin_ctzll(t) >> 3) + 1;
            }
        }
    } else {
        for (size_t i = pos + 1; i < len && c < max; i++) {
            if (p[i] == '/') {
                c++;
                k = i + 1;
            }
        }
    }
    *after = k;
    return c;
}

static int32_t match_node(const pn_router_t *r, uint32_t n, const char *path, size_t len,
                          size_t pos, pn_route_match_t *m, unsigned np);

/* Tries the parameters after edge e, whose run ends at path[pos] (pos <= len). */
static int32_t match_params(const pn_router_t *r, const edge_t *e, const char *path, size_t len,
                            size_t pos, pn_route_match_t *m, unsigned np)
{
    static const uint8_t order[] = {PN_ROUTER_CONV_INT, PN_ROUTER_CONV_FLOAT, PN_ROUTER_CONV_UUID,
                                    PN_ROUTER_CONV_STR};
    if (np >= PN_ROUTER_MAX_PARAMS) {
        return NO_ROUTE; /* unreachable: registration bounds parameters per route */
    }
    size_t end = find_slash(path, pos, len);
    if (end > pos && (e->kinds & ~(1u << PN_ROUTER_CONV_PATH)) != 0) {
        for (unsigned i = 0; i < sizeof order; i++) {
            unsigned k = order[i];
            if ((e->kinds & (1u << k)) && conv_accepts((int)k, path + pos, end - pos)) {
                set_param(m, np, path + pos, end - pos, (int)k);
                int32_t id = match_node(r, e->param[k], path, len, end, m, np + 1);
                if (id >= 0) {
                    return id;
                }
            }
        }
    }
    if (e->kinds & (1u << PN_ROUTER_CONV_PATH)) {
        set_param(m, np, path + pos, len - pos, PN_ROUTER_CONV_PATH);
        m->nparams = np + 1;
        return r->nodes[e->param[PN_ROUTER_CONV_PATH]].route_id;
    }
    return NO_ROUTE;
}

/* Tries the runs from node n that lead to parameters (path[pos] == '/'), longest first. */
static int32_t match_runs(const pn_router_t *r, uint32_t n, const char *path, size_t len,
                          size_t pos, pn_route_match_t *m, unsigned np)
{
    const node_t *node = &r->nodes[n];
    /* k: end of the longest candidate run, just after its c-th slash. */
    size_t k;
    uint32_t c = nth_slash(path, pos, len, node->max_slashes, &k);
    for (;;) {
        if (node->param_runs & slash_bit(c)) {
            const edge_t *e = edge_find(r, n, path + pos, k - pos);
            if (e != NULL && e->kinds != 0) {
                int32_t id = match_params(r, e, path, len, k, m, np);
                if (id >= 0) {
                    return id;
                }
            }
        }
        if (--c == 0) {
            return NO_ROUTE;
        }
        do {
            k--;
        } while (path[k - 1] != '/');
    }
}

/* Depth-first search from node n with path[pos..len) left; np params captured so far. */
static int32_t match_node(const pn_router_t *r, uint32_t n, const char *path, size_t len,
                          size_t pos, pn_route_match_t *m, unsigned np)
{
    const node_t *node = &r->nodes[n];
    if (pos == len) {
        m->nparams = np;
        return node->route_id;
    }
    if (path[pos] != '/') {
        return NO_ROUTE;
    }
    if (node->end_runs) {
        const edge_t *e = edge_find(r, n, path + pos, len - pos);
        if (e != NULL && e->route_id != NO_ROUTE) {
            m->nparams = np;
            return e->route_id;
        }
    }
    if (node->param_runs == 0) {
        return NO_ROUTE;
    }
    return match_runs(r, n, path, len, pos, m, np);
}

int pn_router_match(const pn_router_t *r, const char *path, size_t len, pn_route_match_t *m)
{
    m->nparams = 0;
    if (len == 0 || path[0] != '/' || r->nedges == 0) {
        return PN_ROUTER_NOMATCH; /* every pattern starts with '/' */
    }
    /* A fully literal route is the best possible match: try it first. */
    const edge_t *e = edge_find(r, 0, path, len);
    if (e != NULL && e->route_id != NO_ROUTE) {
        return e->route_id;
    }
    int32_t id = NO_ROUTE;
    if (r->nodes[0].param_runs != 0) {
        id = match_runs(r, 0, path, len, 0, m, 0);
    }
    if (id < 0) {
        m->nparams = 0;
        return PN_ROUTER_NOMATCH;
    }
    return id;
}

/* ---- public: introspection ---- */

size_t pn_router_count(const pn_router_t *r)
{
    return r->nroutes;
}

const pn_router_route_t *pn_router_route_at(const pn_router_t *r, size_t i)
{
    return i < r->nroutes ? r->routes[i] : NULL;
}

const pn_router_route_t *pn_router_route_by_id(const pn_router_t *r, uint32_t route_id)
{
    return id_find(r, route_id);
}

pn_slice_t pn_router_param_name(const pn_router_t *r, uint32_t route_id, unsigned idx)
{
    const pn_router_route_t *rec = id_find(r, route_id);
    if (rec == NULL || idx >= rec->nparams) {
        return (pn_slice_t){NULL, 0};
    }
    return rec->params[idx].name;
}
