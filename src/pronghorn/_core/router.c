/*
 * router.c — Starlette path patterns -> route ids (see router.h for the contract). Pure C.
 *
 * Owns: the route records, a hash table of the fully literal routes and a
 * trie of 8-byte chunks over the literal runs of the other patterns.
 *
 * A pattern is a chain of literal runs and parameters, L0 P1 L1 ... Pk Lk:
 * "/users/{id:int}/posts" is "/users/" {int} "/posts". Every run starts with
 * '/'; runs followed by a parameter also end with '/' (a parameter spans a
 * whole segment); only Lk may be empty. A pattern that is one run is a
 * literal route: one probe of its own table finds it, after a one-byte-per-slot
 * filter that turns most other paths away without hashing them whole.
 *
 * The other runs live in a trie. Its nodes are the start of the path (node
 * 0), the point right after each parameter ("param nodes"), and the chunks of
 * the runs that leave them: a run is cut into 8-byte chunks from its start and
 * a last partial chunk of 1..7 bytes. A chunk is found by hashing (parent
 * node, chunk bytes, length); the key is compared as two integers, never as a
 * string. A run ends at its last chunk's node, which holds the route ending
 * with that run and the param node reached through each parameter kind that
 * follows it. Partial chunks are leaves.
 *
 * Matching from a param node at path[pos] (one "level"): follow whole 8-byte
 * chunks of the path down as far as they exist, then walk back up; at each node
 * try its partial chunks that end at a '/' of the path (or at its end), longest
 * first, then the node itself. A run ending there either ends the path (a
 * route) or is followed by parameters: int, float, uuid, str on the next
 * segment (going on at the next level from their param nodes), then path on
 * all that is left. Longer runs are tried first, and a longer run means a
 * literal where a shorter one has a parameter, so this depth-first order is
 * exactly "at each segment literal > int > float > uuid > str > path, with
 * backtracking". A param node is reached at one fixed path position, so the
 * search visits each node at most once; the cost depends on the path, not on
 * the number of routes. The first choice at each level nearly always leads to
 * the route, so a first pass follows it level after level without recursing;
 * only when it hits a dead end does the backtracking search run (match_tree).
 *
 * Invariants: literal keys point into route records' pattern copies, which
 * live until pn_router_free. Node ids never change. pn_router_add checks for a
 * duplicate, then reserves every table slot, node and record it may need, and
 * only then links: it either fully succeeds or changes nothing.
 * Must not know about: methods, decoding, Python.
 */
#include "router.h"

#include <stdlib.h>
#include <string.h>

/* Rare paths stay out of line so that the common ones keep their registers. */
#if defined(__GNUC__)
#define COLD __attribute__((noinline, cold))
#define NOINLINE __attribute__((noinline))
#define ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define COLD
#define NOINLINE
#define ALWAYS_INLINE inline
#endif

#define NO_ROUTE (-1)
#define LITERAL (-1)
#define NO_NODE 0             /* node 0 is the root, never a child */
#define MAX_NODES 0x7fffffffu /* chunk keys hold a node id and one more bit */
#define SEGMENT_KINDS                                                                              \
    (1u << PN_ROUTER_CONV_STR | 1u << PN_ROUTER_CONV_INT | 1u << PN_ROUTER_CONV_FLOAT |            \
     1u << PN_ROUTER_CONV_UUID)

typedef struct {
    int32_t route_id;  /* param node: route ending right after the parameter; chunk: route
                          ending with the run that ends here; or NO_ROUTE */
    uint32_t parent;   /* chunk: the node it hangs from */
    uint8_t kinds;     /* bit k: param[k] is set (the run ending here ends with '/') */
    uint8_t partials;  /* bit l-1: a partial chunk of length l hangs from here */
    uint8_t has_whole; /* some 8-byte chunk hangs from here */
    uint32_t param[PN_ROUTER_CONV_COUNT]; /* param node after a parameter of kind k, or NO_NODE */
} node_t;

/* A trie edge. `from` is the parent's id times 2, plus 1 for a partial chunk;
 * a partial chunk's word holds its length in the top byte (bytes l..6 are 0). */
typedef struct {
    uint64_t word;
    uint32_t from; /* EMPTY_FROM: empty slot */
    uint32_t node; /* the child's id, plus GROWS if the child has 8-byte chunks itself */
} chunk_t;
#define EMPTY_FROM UINT32_MAX
#define GROWS 0x80000000u /* so that a descent need not read the nodes it passes */

/* A fully literal route. */
typedef struct {
    uint64_t hash;
    const char *key; /* slice of a pattern copy; NULL: empty slot */
    uint32_t len;    /* <= PN_ROUTER_MAX_PATTERN */
    int32_t route_id;
} literal_t;

struct pn_router {
    pn_router_allocator_t alloc;
    literal_t *literals; /* capacity 2^(64 - lshift), at most half full */
    uint8_t *lfilter;    /* lcap bytes after the literals: see filter_add */
    size_t lcap, nliterals;
    unsigned lshift;
    chunk_t *chunks; /* capacity 2^(64 - cshift), at most half full */
    size_t ccap, nchunks;
    unsigned cshift;
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

/* ---- words: bytes are read as little-endian words on every host, so that
 * byte j of a word is bits 8j..8j+7 ---- */

static inline uint64_t read64(const char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

static inline uint64_t read32(const char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    return v;
}

/* p[0..n) for n <= 8 as a word, zero above. Reads only p[0..n). */
static inline uint64_t read_small(const char *p, size_t n)
{
    if (n >= 4) {
        return read32(p + n - 4) << (8 * (n - 4)) | read32(p);
    }
    if (n > 0) {
        return (uint64_t)(uint8_t)p[n - 1] << (8 * (n - 1)) |
               (uint64_t)(uint8_t)p[n >> 1] << (8 * (n >> 1)) | (uint8_t)p[0];
    }
    return 0;
}

static COLD uint64_t read_tiny(const char *p, size_t n)
{
    return read_small(p, n);
}

/* path[i..i+8) as a word, or path[i..len) zero above when fewer remain (i < len).
 * Reads only path[0..len). */
static inline uint64_t read_word(const char *path, size_t i, size_t len)
{
    size_t left = len - i;
    if (left >= 8) {
        return read64(path + i);
    }
    if (len >= 8) {
        return read64(path + len - 8) >> (8 * (8 - left));
    }
    return read_tiny(path + i, left); /* a path shorter than a word */
}

/* The low n bytes of w (1 <= n <= 8). */
static inline uint64_t low_bytes(uint64_t w, size_t n)
{
    return w & (~0ull >> (8 * (8 - n)));
}

/* Bit 8j+7 of the result is set iff byte j of w is '/' (exact: no false positives). */
static inline uint64_t slash_bits(uint64_t w)
{
    const uint64_t lo7 = 0x7f7f7f7f7f7f7f7full;
    uint64_t x = w ^ 0x2f2f2f2f2f2f2f2full; /* '/' bytes become 0 */
    return ~(((x & lo7) + lo7) | x | lo7);
}

/* Bit j of the result is set iff byte j of w is '/'. The multiply gathers bit
 * 8j of (slash_bits >> 7) into bit 56 + j without carries. */
static inline unsigned slash_mask(uint64_t w)
{
    return (unsigned)(((slash_bits(w) >> 7) * 0x0102040810204080ull) >> 56);
}

/* ---- the literal routes (keys are the developer's patterns; lookups only probe) ---- */

#define HASH_K 0x9fb21c651e98df25ull

/*
 * Hash of p[0..n), for tables indexed by its top bits (which a product makes
 * depend on every bit below them): one xor and one multiply per 8 bytes. It
 * starts with the length, the last 8 bytes (read back from the end) and the
 * first 8, so that this start alone can feed the filter that most paths of
 * routes with parameters stop at; then the words in between. Reads only p[0..n).
 */
static inline uint64_t hash_start(const char *p, size_t n)
{
    if (n <= 8) {
        return (n * 0x9e3779b97f4a7c15ull ^ read_small(p, n)) * HASH_K;
    }
    uint64_t h = (n * 0x9e3779b97f4a7c15ull ^ read64(p + n - 8)) * HASH_K;
    return (h ^ read64(p)) * HASH_K;
}

static inline uint64_t hash_rest(uint64_t h, const char *p, size_t n)
{
    for (size_t i = 8; i + 8 < n; i += 8) {
        h = (h ^ read64(p + i)) * HASH_K;
    }
    return h;
}

static inline uint64_t hash_bytes(const char *p, size_t n)
{
    return hash_rest(hash_start(p, n), p, n);
}

/* a[0..n) == b[0..n), reading only those bytes; inline because keys are short. */
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

/* The filter has 8 bits per literal slot: bit hash_start >> (lshift - 3). */
static inline void filter_add(uint8_t *filter, unsigned lshift, uint64_t start)
{
    size_t bit = (size_t)(start >> (lshift - 3));
    filter[bit >> 3] |= (uint8_t)(1u << (bit & 7));
}

static inline const literal_t *literal_find(const pn_router_t *r, const char *p, size_t n)
{
    uint64_t h = hash_start(p, n);
    size_t bit = (size_t)(h >> (r->lshift - 3));
    if ((r->lfilter[bit >> 3] >> (bit & 7) & 1) == 0) {
        return NULL;
    }
    h = hash_rest(h, p, n);
    size_t mask = r->lcap - 1;
    for (size_t i = (size_t)(h >> r->lshift);; i = (i + 1) & mask) {
        const literal_t *e = &r->literals[i];
        if (e->key == NULL) {
            return NULL;
        }
        if (e->hash == h && e->len == n && same_bytes(e->key, p, n)) {
            return e;
        }
    }
}

static literal_t *literal_slot(literal_t *tab, size_t cap, unsigned shift, uint64_t hash)
{
    size_t mask = cap - 1;
    size_t i = (size_t)(hash >> shift);
    while (tab[i].key != NULL) {
        i = (i + 1) & mask;
    }
    return &tab[i];
}

/* ---- the chunk trie ---- */

/* The key of chunk p[0..n) (1 <= n <= 8, w = those bytes, zero above) below node t. */
static inline uint64_t chunk_word(uint64_t w, size_t n)
{
    return n == 8 ? w : w | (uint64_t)n << 56;
}

static inline uint32_t chunk_from(uint32_t t, size_t n)
{
    return t << 1 | (n < 8);
}

/* Slot of a chunk key in a table of 2^(64 - shift) slots. The word is hashed on
 * its own (the top bits of a product depend on every bit of it), so that during a
 * descent only an xor with the parent's id waits for the previous probe. */
static inline size_t chunk_slot(uint64_t word, uint32_t from, unsigned shift, size_t mask)
{
    return ((size_t)((word * HASH_K) >> shift) ^ from) & mask;
}

/* The chunk table as the lookup reads it (copied to locals so that loops keep it
 * in registers). */
typedef struct {
    const chunk_t *tab;
    size_t mask;
    unsigned shift;
} chunks_t;

static inline chunks_t chunks_of(const pn_router_t *r)
{
    return (chunks_t){r->chunks, r->ccap - 1, r->cshift};
}

/* The edge with key (word, from), or NULL. */
static inline const chunk_t *chunk_get(chunks_t ct, uint64_t word, uint32_t from)
{
    for (size_t i = chunk_slot(word, from, ct.shift, ct.mask);; i = (i + 1) & ct.mask) {
        const chunk_t *c = &ct.tab[i];
        if (c->word == word && c->from == from) {
            return c;
        }
        if (c->from == EMPTY_FROM) {
            return NULL;
        }
    }
}

/* The child for key (word, from), or NO_NODE. */
static inline uint32_t chunk_child(chunks_t ct, uint64_t word, uint32_t from)
{
    const chunk_t *c = chunk_get(ct, word, from);
    return c != NULL ? c->node & ~GROWS : NO_NODE;
}

static inline uint32_t chunk_find(const pn_router_t *r, uint64_t word, uint32_t from)
{
    return chunk_child(chunks_of(r), word, from);
}

static chunk_t *chunk_put(chunk_t *tab, size_t cap, unsigned shift, chunk_t c)
{
    size_t mask = cap - 1;
    size_t i = chunk_slot(c.word, c.from, shift, mask);
    while (tab[i].from != EMPTY_FROM) {
        i = (i + 1) & mask;
    }
    tab[i] = c;
    return &tab[i];
}

/* Room for `extra` more literals, chunks and nodes. 0 or PN_ENOMEM (tables unchanged). */
static int tree_reserve(pn_router_t *r, size_t extra_literals, size_t extra_chunks,
                        size_t extra_nodes)
{
    if (extra_nodes > MAX_NODES - r->nnodes) {
        return PN_ENOMEM;
    }
    if ((r->nliterals + extra_literals) * 2 > r->lcap) {
        size_t cap = r->lcap ? r->lcap : 16;
        unsigned shift = r->lcap ? r->lshift : 64 - 4;
        while ((r->nliterals + extra_literals) * 2 > cap) {
            cap *= 2;
            shift--;
        }
        literal_t *tab = mem_alloc(r, cap * (sizeof *tab + 1));
        if (tab == NULL) {
            return PN_ENOMEM;
        }
        memset(tab, 0, cap * (sizeof *tab + 1));
        uint8_t *filter = (uint8_t *)&tab[cap];
        for (size_t i = 0; i < r->lcap; i++) {
            const literal_t *e = &r->literals[i];
            if (e->key != NULL) {
                *literal_slot(tab, cap, shift, e->hash) = *e;
                filter_add(filter, shift, hash_start(e->key, e->len));
            }
        }
        mem_free(r, r->literals);
        r->literals = tab;
        r->lfilter = filter;
        r->lcap = cap;
        r->lshift = shift;
    }
    if ((r->nchunks + extra_chunks) * 2 > r->ccap) {
        size_t cap = r->ccap ? r->ccap : 64;
        unsigned shift = r->ccap ? r->cshift : 58;
        while ((r->nchunks + extra_chunks) * 2 > cap) {
            cap *= 2;
            shift--;
        }
        chunk_t *tab = mem_alloc(r, cap * sizeof *tab);
        if (tab == NULL) {
            return PN_ENOMEM;
        }
        for (size_t i = 0; i < cap; i++) {
            tab[i] = (chunk_t){0, EMPTY_FROM, NO_NODE};
        }
        for (size_t i = 0; i < r->ccap; i++) {
            if (r->chunks[i].from != EMPTY_FROM) {
                chunk_put(tab, cap, shift, r->chunks[i]);
            }
        }
        mem_free(r, r->chunks);
        r->chunks = tab;
        r->ccap = cap;
        r->cshift = shift;
    }
    if (r->nnodes + extra_nodes > r->capnodes) {
        size_t cap = r->capnodes ? r->capnodes : 16;
        while (r->nnodes + extra_nodes > cap) {
            cap *= 2;
        }
        if (cap > MAX_NODES) {
            cap = MAX_NODES;
        }
        node_t *v = r->alloc.realloc_fn(r->alloc.ctx, r->nodes, cap * sizeof *v);
        if (v == NULL) {
            return PN_ENOMEM;
        }
        r->nodes = v;
        r->capnodes = (uint32_t)cap;
    }
    return 0;
}

/* ---- route ids ---- */

static inline size_t hash_id(uint32_t id)
{
    uint64_t h = (uint64_t)id * 0x9e3779b97f4a7c15ull;
    return (size_t)(h ^ (h >> 32));
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

static inline size_t min8(size_t n)
{
    return n < 8 ? n : 8;
}

/* The node where run p[0..n) leaving node t ends, or NO_NODE. */
static uint32_t run_find(const pn_router_t *r, uint32_t t, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i += 8) {
        size_t k = min8(n - i);
        t = chunk_find(r, chunk_word(read_small(p + i, k), k), chunk_from(t, k));
        if (t == NO_NODE) {
            break;
        }
    }
    return t;
}

static inline node_t new_node(uint32_t parent)
{
    return (node_t){NO_ROUTE, parent, 0, 0, 0, {NO_NODE}};
}

/* Links run p[0..n) leaving node t, adding the chunks it lacks; returns the node
 * where it ends. Cannot fail once tree_reserve made room for (n + 7) / 8 chunks
 * and nodes. */
static uint32_t run_link(pn_router_t *r, uint32_t t, const char *p, size_t n)
{
    chunk_t *in = NULL; /* the edge into t, or NULL for the node the run leaves */
    for (size_t i = 0; i < n; i += 8) {
        size_t k = min8(n - i);
        uint64_t word = chunk_word(read_small(p + i, k), k);
        uint32_t from = chunk_from(t, k);
        chunk_t *e = (chunk_t *)chunk_get(chunks_of(r), word, from);
        if (e == NULL) {
            uint32_t c = r->nnodes++;
            r->nodes[c] = new_node(t);
            if (k == 8) {
                r->nodes[t].has_whole = 1;
                if (in != NULL) {
                    in->node |= GROWS;
                }
            } else {
                r->nodes[t].partials |= (uint8_t)(1u << (k - 1));
            }
            e = chunk_put(r->chunks, r->ccap, r->cshift, (chunk_t){word, from, c});
            r->nchunks++;
        }
        in = e;
        t = e->node & ~GROWS;
    }
    return t;
}

/* Is there already a route with the shape of ps? */
static int tree_has(const pn_router_t *r, const char *pat, size_t len, const parsed_t *ps)
{
    if (ps->nparams == 0) {
        return literal_find(r, pat, len) != NULL;
    }
    uint32_t t = 0;
    for (unsigned i = 0; i < ps->nitems; i++) {
        const item_t *it = &ps->items[i];
        t = it->kind == LITERAL ? run_find(r, t, pat + it->off, it->len)
                                : r->nodes[t].param[it->kind];
        if (t == NO_NODE) {
            return 0;
        }
    }
    return r->nodes[t].route_id != NO_ROUTE;
}

/* Links pattern `pat` (parsed as ps) to route_id. Cannot fail: tree_reserve()
 * made room for what pn_router_add counted and tree_has() is false. */
static void tree_link(pn_router_t *r, const char *pat, size_t len, const parsed_t *ps,
                      int32_t route_id)
{
    if (ps->nparams == 0) {
        uint64_t h = hash_bytes(pat, len);
        *literal_slot(r->literals, r->lcap, r->lshift, h) =
            (literal_t){h, pat, (uint32_t)len, route_id};
        filter_add(r->lfilter, r->lshift, hash_start(pat, len));
        r->nliterals++;
        return;
    }
    uint32_t t = 0;
    for (unsigned i = 0; i < ps->nitems; i++) {
        const item_t *it = &ps->items[i];
        if (it->kind == LITERAL) {
            t = run_link(r, t, pat + it->off, it->len);
            continue;
        }
        if (r->nodes[t].param[it->kind] == NO_NODE) {
            uint32_t c = r->nnodes++;
            r->nodes[c] = new_node(t);
            r->nodes[t].param[it->kind] = c;
            r->nodes[t].kinds |= (uint8_t)(1u << it->kind);
        }
        t = r->nodes[t].param[it->kind];
    }
    r->nodes[t].route_id = route_id;
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
    if (tree_reserve(r, 1, 1, 1) < 0) {
        pn_router_free(r);
        return NULL;
    }
    r->nodes[0] = new_node(NO_NODE);
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
    mem_free(r, r->literals);
    mem_free(r, r->chunks);
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
    if (tree_has(r, pattern, len, &ps)) {
        return fail(err, PN_ROUTER_EEXIST, "duplicate route", 0);
    }
    size_t chunks = 0;
    for (unsigned i = 0; ps.nparams > 0 && i < ps.nitems; i++) {
        chunks += ps.items[i].kind == LITERAL ? (ps.items[i].len + 7) / 8 : 0;
    }
    if (routes_reserve(r) < 0 ||
        tree_reserve(r, ps.nparams == 0, chunks, chunks + ps.nparams) < 0) {
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
    tree_link(r, copy, len, &ps, (int32_t)route_id);
    r->routes[r->nroutes++] = rec;
    id_put(r->idtab, r->idcap, route_id, (uint32_t)r->nroutes);
    return 0;
}

/* ---- public: lookup ---- */

/* One lookup, behind one pointer; nothing in it changes during a pass (the
 * functions take it as `restrict`, so that writing parameters does not make
 * the compiler read it again). */
typedef struct {
    const node_t *nodes;
    chunks_t chunks;
    const char *path;
    size_t len;
    pn_route_match_t *m;
    int first_pass; /* commit to the first parameter that fits at each level (see match_tree) */
} lookup_t;

/* First pass: where the search goes on after GO_ON. */
typedef struct {
    uint32_t node;
    size_t pos;
} next_t;

/* Results of the search besides route ids (>= 0) and NO_ROUTE (this choice fails, try the next). */
#define GO_ON (-2)    /* first pass: a parameter was taken, go on from *next */
#define DEAD_END (-3) /* first pass: a level after a taken parameter failed */

/* Are the low n bytes of x (1 <= n <= 8) ASCII digits? Byte b is a digit iff
 * neither b + 0x46 nor b - 0x30 has its top bit set; carries and borrows
 * between bytes only start at a byte that is not a digit. */
static inline int digits_in(uint64_t x, size_t n)
{
    const uint64_t ones = 0x0101010101010101ull;
    return (low_bytes((x + 0x46 * ones) | (x - 0x30 * ones), n) & 0x80 * ones) == 0;
}

/* Is every byte of s[0..n) (n > 0) an ASCII digit? */
static NOINLINE int all_digits(const char *s, size_t n)
{
    size_t i = 0;
    for (; n - i > 8; i += 8) {
        if (!digits_in(read64(s + i), 8)) {
            return 0;
        }
    }
    return n >= 8 ? digits_in(read64(s + n - 8), 8) : digits_in(read_small(s, n), n);
}

/* [0-9]+(\.[0-9]+)? on the non-empty s[0..n). */
static COLD int is_float(const char *s, size_t n)
{
    const char *dot = memchr(s, '.', n);
    if (dot == NULL) {
        return all_digits(s, n);
    }
    size_t i = (size_t)(dot - s);
    return i > 0 && i + 1 < n && all_digits(s, i) && all_digits(dot + 1, n - i - 1);
}

static inline int is_hex(uint8_t c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

/* 8-4-4-4-12 hex digits, either case. */
static COLD int is_uuid(const char *s, size_t n)
{
    if (n != 36) {
        return 0;
    }
    for (size_t i = 0; i < 36; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !is_hex((uint8_t)s[i])) {
            return 0;
        }
    }
    return 1;
}

/* Position of the first '/' in path[i..len), or len. */
static NOINLINE size_t find_slash(const char *path, size_t i, size_t len)
{
    for (; i < len; i += 8) {
        uint64_t t = slash_bits(read_word(path, i, len));
        if (t != 0) {
            return i + (size_t)(__builtin_ctzll(t) >> 3); /* bytes past len read as 0 */
        }
    }
    return len;
}

static int32_t match_from(const lookup_t *restrict q, uint32_t start, size_t pos, unsigned np);

/* Captures path[pos..end) as parameter np of kind k, then goes on from param node n. */
static inline int32_t take(const lookup_t *restrict q, next_t *next, uint32_t n, unsigned k,
                           size_t pos, size_t end, unsigned np)
{
    pn_route_param_t *param = &q->m->params[np];
    param->value.base = q->path + pos;
    param->value.len = end - pos;
    param->index = (uint16_t)np;
    param->kind = (uint8_t)k;
    if (end == q->len) {
        q->m->nparams = np + 1;
        return q->nodes[n].route_id;
    }
    if (q->first_pass) {
        *next = (next_t){n, end};
        return GO_ON;
    }
    return match_from(q, n, end, np + 1);
}

/* The float and uuid parameters after node t: path[pos..end) is a non-empty segment. */
static COLD int32_t match_rare_kinds(const lookup_t *restrict q, next_t *next, const node_t *t,
                                     size_t pos, size_t end, unsigned np)
{
    const char *s = q->path + pos;
    int32_t id = NO_ROUTE;
    if ((t->kinds & 1u << PN_ROUTER_CONV_FLOAT) && is_float(s, end - pos)) {
        id = take(q, next, t->param[PN_ROUTER_CONV_FLOAT], PN_ROUTER_CONV_FLOAT, pos, end, np);
    }
    if (id == NO_ROUTE && (t->kinds & 1u << PN_ROUTER_CONV_UUID) && is_uuid(s, end - pos)) {
        id = take(q, next, t->param[PN_ROUTER_CONV_UUID], PN_ROUTER_CONV_UUID, pos, end, np);
    }
    return id;
}

/* Captures path[pos..len) as a path parameter after node t. */
static NOINLINE int32_t take_rest(const lookup_t *restrict q, const node_t *t, size_t pos,
                                  unsigned np)
{
    pn_route_param_t *param = &q->m->params[np];
    param->value.base = q->path + pos;
    param->value.len = q->len - pos;
    param->index = (uint16_t)np;
    param->kind = PN_ROUTER_CONV_PATH;
    q->m->nparams = np + 1;
    return q->nodes[t->param[PN_ROUTER_CONV_PATH]].route_id;
}

/* Tries the parameters after node t, whose run ends at path[pos] (pos <= len):
 * int, float, uuid, str on the next segment, then path on the rest. */
static ALWAYS_INLINE int32_t match_params(const lookup_t *restrict q, next_t *next, const node_t *t,
                                          size_t pos, unsigned np)
{
    const unsigned kinds = t->kinds;
    int32_t id;
    if (np >= PN_ROUTER_MAX_PARAMS) {
        return NO_ROUTE; /* unreachable: registration bounds parameters per route */
    }
    if ((kinds & SEGMENT_KINDS) && pos < q->len) {
        uint64_t w = read_word(q->path, pos, q->len); /* the segment's first bytes */
        uint64_t slashes = slash_bits(w);
        size_t end = slashes != 0        ? pos + (size_t)(__builtin_ctzll(slashes) >> 3)
                     : q->len - pos <= 8 ? q->len
                                         : find_slash(q->path, pos + 8, q->len);
        size_t n = end - pos;
        if (n > 0) {
            if ((kinds & 1u << PN_ROUTER_CONV_INT) &&
                (n <= 8 ? digits_in(w, n) : all_digits(q->path + pos, n))) {
                id = take(q, next, t->param[PN_ROUTER_CONV_INT], PN_ROUTER_CONV_INT, pos, end, np);
                if (id != NO_ROUTE) {
                    return id;
                }
            }
            if (kinds & (1u << PN_ROUTER_CONV_FLOAT | 1u << PN_ROUTER_CONV_UUID)) {
                id = match_rare_kinds(q, next, t, pos, end, np);
                if (id != NO_ROUTE) {
                    return id;
                }
            }
            if (kinds & 1u << PN_ROUTER_CONV_STR) {
                id = take(q, next, t->param[PN_ROUTER_CONV_STR], PN_ROUTER_CONV_STR, pos, end, np);
                if (id != NO_ROUTE) {
                    return id;
                }
            }
        }
    }
    return kinds & 1u << PN_ROUTER_CONV_PATH ? take_rest(q, t, pos, np) : NO_ROUTE;
}

/* A run ends at node t and at path[pos]: the route it ends if the path ends
 * there too, else the parameters that follow it. */
static inline int32_t match_run_end(const lookup_t *restrict q, next_t *next, const node_t *t,
                                    size_t pos, unsigned np)
{
    if (pos == q->len && t->route_id != NO_ROUTE) {
        q->m->nparams = np;
        return t->route_id;
    }
    return t->kinds != 0 ? match_params(q, next, t, pos, np) : NO_ROUTE;
}

/* The node for the partial chunk of length l (1..7) at the start of word w, below t. */
static inline uint32_t partial_child(chunks_t ct, uint32_t t, uint64_t w, unsigned l)
{
    return chunk_child(ct, (w & (~0ull >> (64 - 8 * l))) | (uint64_t)l << 56, t << 1 | 1);
}

/* Tries the partial chunks of node t with lengths in cand (bit l-1), longest first;
 * w is the word at path[pos]. */
static NOINLINE int32_t match_partials_of(const lookup_t *restrict q, next_t *next, uint32_t t,
                                          uint64_t w, unsigned cand, size_t pos, unsigned np)
{
    while (cand != 0) {
        unsigned l = 32 - (unsigned)__builtin_clz(cand);
        cand ^= 1u << (l - 1);
        uint32_t c = partial_child(q->chunks, t, w, l);
        if (c != NO_NODE) {
            int32_t id = match_run_end(q, next, &q->nodes[c], pos + l, np);
            if (id != NO_ROUTE) {
                return id;
            }
        }
    }
    return NO_ROUTE;
}

/* Tries the partial chunks of node t at path[pos] (pos < len), longest first. */
static ALWAYS_INLINE int32_t match_partials(const lookup_t *restrict q, next_t *next, uint32_t t,
                                            size_t pos, unsigned np)
{
    size_t left = q->len - pos;
    uint64_t w = read_word(q->path, pos, q->len);
    unsigned lengths = q->nodes[t].partials; /* bit l-1: length l */
    unsigned end = 0;                        /* the bit of the length that reaches the path end */
    if (left < 8) {
        lengths &= (1u << left) - 1; /* w is 0 past the path */
        end = 1u << (left - 1);
    }
    if (lengths & (lengths - 1)) {
        /* Several: only those ending at a '/' or at the end of the path can be
         * followed by a parameter or end a route. */
        lengths &= slash_mask(w) | end;
        if (lengths & (lengths - 1)) {
            return match_partials_of(q, next, t, w, lengths, pos, np);
        }
    }
    if (lengths == 0) {
        return NO_ROUTE;
    }
    /* One candidate (the usual case): one probe. */
    unsigned l = (unsigned)__builtin_ctz(lengths) + 1;
    uint32_t c = partial_child(q->chunks, t, w, l);
    return c != NO_NODE ? match_run_end(q, next, &q->nodes[c], pos + l, np) : NO_ROUTE;
}

/* Where a descent along whole chunks stopped. */
typedef struct {
    uint32_t node;
    size_t pos;
} spot_t;

/* Follows whole 8-byte chunks of the path from node t at path[pos] as far as
 * they exist. */
static inline spot_t descend(const lookup_t *restrict q, uint32_t t, size_t pos)
{
    const node_t *nodes = q->nodes;
    const chunks_t ct = q->chunks;
    const char *path = q->path;
    uint32_t grows = nodes[t].has_whole;
    for (size_t left = q->len - pos; left >= 8 && grows; left -= 8) {
        const chunk_t *c = chunk_get(ct, read64(path + pos), chunk_from(t, 8));
        if (c == NULL) {
            break;
        }
        t = c->node & ~GROWS;
        grows = c->node & GROWS;
        pos += 8;
    }
    return (spot_t){t, pos};
}

/* One level of the depth-first search: from param node `start` with path[pos..len)
 * left (pos < len) and np parameters captured, down the whole chunks of the path,
 * then back up, trying at each node its partial chunks, then the run ending there. */
static int32_t match_level(const lookup_t *restrict q, next_t *next, uint32_t start, size_t pos,
                           unsigned np)
{
    spot_t at = descend(q, start, pos);
    uint32_t t = at.node;
    size_t p = at.pos;
    for (;;) {
        const node_t *node = &q->nodes[t];
        int32_t id;
        if (node->partials != 0 && p < q->len) {
            id = match_partials(q, next, t, p, np);
            if (id != NO_ROUTE) {
                return id;
            }
        }
        if (t == start) {
            return NO_ROUTE;
        }
        id = match_run_end(q, next, node, p, np);
        if (id != NO_ROUTE) {
            return id;
        }
        t = node->parent;
        p -= 8;
    }
}

/* The search from param node `start`: in the first pass, level after level
 * without recursion; in the full search, recursing through take(). */
static int32_t match_from(const lookup_t *restrict q, uint32_t start, size_t pos, unsigned np)
{
    for (;;) {
        next_t next;
        int32_t id = match_level(q, &next, start, pos, np);
        if (id != GO_ON) {
            return id == NO_ROUTE && np > 0 && q->first_pass ? DEAD_END : id;
        }
        start = next.node;
        pos = next.pos;
        np++;
    }
}

/*
 * The lookup once no literal route matched. At each level the first parameter
 * that fits almost always leads to the route, so a first pass commits to it and
 * goes on without recursion; it finds the same route as the full search (its
 * first leaf). Only when a level after such a choice fails does the full,
 * backtracking search run.
 */
static inline int32_t match_tree(const pn_router_t *r, const char *path, size_t len,
                                 pn_route_match_t *m)
{
    lookup_t q = {r->nodes, chunks_of(r), path, len, m, 1};
    int32_t id = match_from(&q, 0, 0, 0);
    if (id == DEAD_END) {
        q.first_pass = 0;
        id = match_from(&q, 0, 0, 0);
    }
    if (id < 0) {
        m->nparams = 0;
        return PN_ROUTER_NOMATCH;
    }
    return id;
}

int pn_router_match(const pn_router_t *r, const char *path, size_t len, pn_route_match_t *m)
{
    m->nparams = 0;
    if (len == 0 || path[0] != '/') {
        return PN_ROUTER_NOMATCH; /* every pattern starts with '/' */
    }
    /* A fully literal route is the best possible match: try it first. */
    const literal_t *e = literal_find(r, path, len);
    if (e != NULL) {
        return e->route_id;
    }
    return match_tree(r, path, len, m);
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
