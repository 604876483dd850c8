/*
 * wsdeflate.c — permessage-deflate (RFC 7692), see wsdeflate.h.
 *
 * Owns: the Sec-WebSocket-Extensions grammar (RFC 6455 §9.1) as far as
 * negotiation needs it, the permessage-deflate parameter rules (§7.1), and
 * the two raw-DEFLATE zlib streams of a connection (§7.2).
 * Invariants: negotiation reads the header values in place and writes only
 * the caller's response buffer. The codec never lets zlib write past the
 * message-size limit: every inflate call gets at most the bytes still allowed
 * plus one, so exceeding the limit is seen with at most one byte too many.
 * Output space comes from the caller's pn_buf_t; zlib's own state comes from
 * the configured allocator.
 * Must not know about: frame headers, sockets, Python (UTF-8 rules are utf8.h's).
 */
#define ZLIB_CONST
#include "wsdeflate.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* ---------------- extension header syntax ---------------- */

typedef struct {
    const char *p, *end;
} lex_t;

static int is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
        return 1;
    }
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static void skip_ows(lex_t *l)
{
    while (l->p < l->end && (*l->p == ' ' || *l->p == '\t')) {
        l->p++;
    }
}

static int peek(const lex_t *l, char c)
{
    return l->p < l->end && *l->p == c;
}

static int read_token(lex_t *l, pn_slice_t *tok)
{
    const char *start = l->p;
    while (l->p < l->end && is_tchar((unsigned char)*l->p)) {
        l->p++;
    }
    *tok = (pn_slice_t){start, (size_t)(l->p - start)};
    return tok->len > 0;
}

/*
 * A parameter value: token or quoted-string (RFC 9110 §5.6.4). The unquoted
 * value goes to buf[0..cap); *len may exceed cap (then the value is too long
 * to be one we accept, but the syntax is fine). Returns 0 on a syntax error.
 */
static int read_value(lex_t *l, char *buf, size_t cap, size_t *len)
{
    size_t n = 0;
    if (!peek(l, '"')) {
        pn_slice_t tok;
        if (!read_token(l, &tok)) {
            return 0;
        }
        if (tok.len <= cap) {
            memcpy(buf, tok.base, tok.len);
        }
        *len = tok.len;
        return 1;
    }
    l->p++;
    for (;;) {
        if (l->p == l->end) {
            return 0;
        }
        unsigned char c = (unsigned char)*l->p++;
        if (c == '"') {
            break;
        }
        if (c == '\\') {
            if (l->p == l->end) {
                return 0;
            }
            c = (unsigned char)*l->p++;
            if (c != '\t' && (c < 0x20 || c == 0x7F)) {
                return 0;
            }
        } else if (c != '\t' && (c < 0x20 || c == 0x7F)) {
            return 0;
        }
        if (n < cap) {
            buf[n] = (char)c;
        }
        n++;
    }
    *len = n;
    return 1;
}

/* ---------------- permessage-deflate offers ---------------- */

enum { P_SNCT = 1, P_CNCT = 2, P_SMWB = 4, P_CMWB = 8 };

typedef struct {
    unsigned seen; /* P_* */
    int bad;       /* declined: unknown/repeated parameter or invalid value */
    int smwb;      /* server_max_window_bits value (when seen) */
    int cmwb;      /* client_max_window_bits value, 0 when given without one */
} offer_t;

/* 8..15 in decimal without leading zeros, else 0. */
static int window_bits(const char *v, size_t len)
{
    if (len == 1 && v[0] >= '8' && v[0] <= '9') {
        return v[0] - '0';
    }
    if (len == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5') {
        return 10 + v[1] - '0';
    }
    return 0;
}

static void offer_param(offer_t *o, pn_slice_t name, int has_value, const char *v, size_t vlen)
{
    unsigned bit;
    if (pn_slice_ieq(name, "server_no_context_takeover")) {
        bit = P_SNCT;
        o->bad |= has_value;
    } else if (pn_slice_ieq(name, "client_no_context_takeover")) {
        bit = P_CNCT;
        o->bad |= has_value;
    } else if (pn_slice_ieq(name, "server_max_window_bits")) {
        bit = P_SMWB;
        o->smwb = has_value ? window_bits(v, vlen) : 0;
        o->bad |= o->smwb == 0;
    } else if (pn_slice_ieq(name, "client_max_window_bits")) {
        bit = P_CMWB;
        o->cmwb = has_value ? window_bits(v, vlen) : 0;
        o->bad |= has_value && o->cmwb == 0;
    } else {
        o->bad = 1;
        return;
    }
    o->bad |= (o->seen & bit) != 0;
    o->seen |= bit;
}

/*
 * One extension (name and parameters) at l; permessage-deflate parameters go
 * to *o and *is_pmd says whether it was one. Stops before "," or the end.
 * Returns 0 on a syntax error.
 */
static int read_extension(lex_t *l, offer_t *o, int *is_pmd)
{
    pn_slice_t name;
    if (!read_token(l, &name)) {
        return 0;
    }
    *is_pmd = pn_slice_ieq(name, "permessage-deflate");
    memset(o, 0, sizeof *o);
    for (;;) {
        skip_ows(l);
        if (l->p == l->end || peek(l, ',')) {
            return 1;
        }
        if (!peek(l, ';')) {
            return 0;
        }
        l->p++;
        skip_ows(l);
        pn_slice_t param;
        if (!read_token(l, &param)) {
            return 0;
        }
        skip_ows(l);
        char value[8];
        size_t vlen = 0;
        int has_value = peek(l, '=');
        if (has_value) {
            l->p++;
            skip_ows(l);
            if (!read_value(l, value, sizeof value, &vlen)) {
                return 0;
            }
        }
        offer_param(o, param, has_value, value, vlen > sizeof value ? sizeof value + 1 : vlen);
    }
}

static int clamp_bits(int v, int lo)
{
    return v == 0 || v > 15 ? 15 : v < lo ? lo : v;
}

/* Agreed parameters for an acceptable offer; 0 when the offer must be declined. */
static int accept_offer(const pn_wsdeflate_config_t *cfg, const offer_t *o,
                        pn_wsdeflate_params_t *p, int *say_smwb, int *say_cmwb)
{
    if (o->bad || ((o->seen & P_SMWB) && o->smwb < 9)) {
        return 0;
    }
    int own = clamp_bits(cfg->server_max_window_bits, 9);
    p->server_no_context_takeover = (o->seen & P_SNCT) || cfg->server_no_context_takeover;
    p->client_no_context_takeover = (o->seen & P_CNCT) || cfg->client_no_context_takeover;
    *say_smwb = (o->seen & P_SMWB) != 0;
    p->server_max_window_bits = (uint8_t)(*say_smwb && o->smwb < own ? o->smwb : own);
    int want = cfg->client_max_window_bits ? clamp_bits(cfg->client_max_window_bits, 9) : 15;
    int offered = (o->seen & P_CMWB) && o->cmwb ? o->cmwb : 15;
    int peer = want < offered ? want : offered;
    *say_cmwb = (o->seen & P_CMWB) && peer < 15;
    p->client_max_window_bits = (uint8_t)(*say_cmwb ? peer : 15);
    return 1;
}

static void append(char *out, size_t *len, const char *s)
{
    size_t n = strlen(s);
    memcpy(out + *len, s, n);
    *len += n;
}

static void append_bits(char *out, size_t *len, const char *name, int bits)
{
    char num[3] = {0};
    if (bits >= 10) {
        num[0] = '1';
        num[1] = (char)('0' + bits - 10);
    } else {
        num[0] = (char)('0' + bits);
    }
    append(out, len, name);
    append(out, len, num);
}

int pn_wsdeflate_negotiate(const pn_wsdeflate_config_t *cfg, const pn_header_t *headers, size_t n,
                           pn_wsdeflate_params_t *params, char response[PN_WSDEFLATE_RESPONSE_MAX],
                           size_t *response_len)
{
    int found = 0, say_smwb = 0, say_cmwb = 0;
    pn_wsdeflate_params_t agreed = {0};
    for (size_t i = 0; i < n; i++) {
        if (!pn_slice_ieq(headers[i].name, "sec-websocket-extensions")) {
            continue;
        }
        lex_t l = {headers[i].value.base, headers[i].value.base + headers[i].value.len};
        for (;;) {
            while (l.p < l.end && (*l.p == ' ' || *l.p == '\t' || *l.p == ',')) {
                l.p++;
            }
            if (l.p == l.end) {
                break;
            }
            offer_t o;
            int is_pmd;
            if (!read_extension(&l, &o, &is_pmd)) {
                return PN_EPROTO;
            }
            if (is_pmd && !found) {
                found = accept_offer(cfg, &o, &agreed, &say_smwb, &say_cmwb);
            }
        }
    }
    if (!found) {
        return 0;
    }
    size_t len = 0;
    append(response, &len, "permessage-deflate");
    if (agreed.server_no_context_takeover) {
        append(response, &len, "; server_no_context_takeover");
    }
    if (agreed.client_no_context_takeover) {
        append(response, &len, "; client_no_context_takeover");
    }
    if (say_smwb) {
        append_bits(response, &len, "; server_max_window_bits=", agreed.server_max_window_bits);
    }
    if (say_cmwb) {
        append_bits(response, &len, "; client_max_window_bits=", agreed.client_max_window_bits);
    }
    response[len] = '\0';
    *response_len = len;
    *params = agreed;
    return 1;
}

int pn_wsdeflate_check_response(const char *value, size_t len, pn_wsdeflate_params_t *params)
{
    lex_t l = {value, value + len};
    offer_t o;
    int is_pmd;
    skip_ows(&l);
    if (!read_extension(&l, &o, &is_pmd) || !is_pmd || o.bad || l.p != l.end) {
        return PN_EPROTO;
    }
    if ((o.seen & P_CMWB) && o.cmwb < 9) {
        return PN_EPROTO; /* no value, or 8 */
    }
    params->server_no_context_takeover = (o.seen & P_SNCT) != 0;
    params->client_no_context_takeover = (o.seen & P_CNCT) != 0;
    params->server_max_window_bits = (uint8_t)(o.seen & P_SMWB ? o.smwb : 15);
    params->client_max_window_bits = (uint8_t)(o.seen & P_CMWB ? o.cmwb : 15);
    return 0;
}

/* ---------------- codec ---------------- */

struct pn_wsdeflate {
    z_stream def, inf;
    pn_wsdeflate_allocator_t alloc;
    uint64_t max_size;  /* inflated bytes per message */
    uint64_t inf_total; /* inflated bytes of the current message */
    int level, mem_level, def_bits, inf_bits;
    uint8_t def_ready, inf_ready; /* streams initialised */
    uint8_t def_reset, inf_reset; /* no context takeover on that side */
    uint8_t inf_ended;            /* a final block ended the current message's stream */
    int failed;                   /* 0 or the sticky return code */
    pn_ws_error_t error;
};

static const Bytef TAIL[4] = {0x00, 0x00, 0xFF, 0xFF};

static void *default_alloc(void *ctx, size_t size)
{
    (void)ctx;
    return malloc(size);
}

static void default_free(void *ctx, void *ptr)
{
    (void)ctx;
    free(ptr);
}

static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
    pn_wsdeflate_t *d = opaque;
    if (size != 0 && items > SIZE_MAX / size) {
        return Z_NULL;
    }
    return d->alloc.alloc(d->alloc.ctx, (size_t)items * size);
}

static void z_free(voidpf opaque, voidpf ptr)
{
    pn_wsdeflate_t *d = opaque;
    d->alloc.free(d->alloc.ctx, ptr);
}

pn_wsdeflate_t *pn_wsdeflate_new(const pn_wsdeflate_params_t *params, int role,
                                 const pn_wsdeflate_options_t *opts)
{
    pn_wsdeflate_allocator_t a = {default_alloc, default_free, NULL};
    if (opts != NULL && opts->allocator != NULL) {
        a = *opts->allocator;
    }
    pn_wsdeflate_t *d = a.alloc(a.ctx, sizeof *d);
    if (d == NULL) {
        return NULL;
    }
    memset(d, 0, sizeof *d);
    d->alloc = a;
    int server = role == PN_WSDEFLATE_SERVER;
    int own = server ? params->server_max_window_bits : params->client_max_window_bits;
    int peer = server ? params->client_max_window_bits : params->server_max_window_bits;
    d->def_bits = clamp_bits(own, 9);
    d->inf_bits = clamp_bits(peer, 9);
    d->def_reset = server ? params->server_no_context_takeover : params->client_no_context_takeover;
    d->inf_reset = server ? params->client_no_context_takeover : params->server_no_context_takeover;
    d->level =
        opts != NULL && opts->level >= 1 && opts->level <= 9 ? opts->level : Z_DEFAULT_COMPRESSION;
    d->mem_level =
        opts != NULL && opts->mem_level >= 1 && opts->mem_level <= 9 ? opts->mem_level : 8;
    d->max_size =
        opts != NULL && opts->max_message_size ? opts->max_message_size : PN_WS_DEFAULT_MAX_MESSAGE;
    return d;
}

void pn_wsdeflate_free(pn_wsdeflate_t *d)
{
    if (d == NULL) {
        return;
    }
    if (d->def_ready) {
        deflateEnd(&d->def);
    }
    if (d->inf_ready) {
        inflateEnd(&d->inf);
    }
    d->alloc.free(d->alloc.ctx, d);
}

const pn_ws_error_t *pn_wsdeflate_error(const pn_wsdeflate_t *d)
{
    return &d->error;
}

static int fail(pn_wsdeflate_t *d, int rc, uint16_t code, const char *reason)
{
    d->failed = rc;
    d->error.close_code = code;
    d->error.reason = reason;
    d->error.offset = d->inf_total;
    return rc;
}

static int zfail(pn_wsdeflate_t *d, int zrc, const char *reason)
{
    if (zrc == Z_MEM_ERROR) {
        return fail(d, PN_ENOMEM, 1011, "out of memory");
    }
    return fail(d, PN_EPROTO, 1011, reason);
}

static void stream_init(pn_wsdeflate_t *d, z_stream *z)
{
    memset(z, 0, sizeof *z);
    z->zalloc = z_alloc;
    z->zfree = z_free;
    z->opaque = d;
}

/* At least want bytes (0 < want) writable at out's end; *avail gets how many (<= UINT_MAX). */
static int out_space(pn_buf_t *out, size_t want, uInt *avail)
{
    if (pn_buf_reserve(out, want) < 0) {
        return PN_ENOMEM;
    }
    size_t a = out->cap - out->end;
    *avail = a > UINT_MAX ? UINT_MAX : (uInt)a;
    return 0;
}

int pn_wsdeflate_compress(pn_wsdeflate_t *d, const void *in, size_t len, pn_buf_t *out)
{
    if (d->failed) {
        return d->failed;
    }
    z_stream *z = &d->def;
    if (!d->def_ready) {
        stream_init(d, z);
        int rc =
            deflateInit2(z, d->level, Z_DEFLATED, -d->def_bits, d->mem_level, Z_DEFAULT_STRATEGY);
        if (rc != Z_OK) {
            return zfail(d, rc, "deflateInit2 failed");
        }
        d->def_ready = 1;
    }
    if (len == 0) {
        /*
         * An empty stored block's first byte (§7.2.3.6). The stream is at a
         * byte boundary after every message, and zlib would refuse a second
         * sync flush without input (Z_BUF_ERROR, no output).
         */
        if (pn_buf_append(out, "", 1) < 0) {
            return fail(d, PN_ENOMEM, 1011, "out of memory");
        }
        return 0;
    }
    size_t mark = pn_buf_len(out);
    const Bytef *src = in;
    size_t left = len;
    size_t want = (size_t)deflateBound(z, (uLong)(len > ULONG_MAX ? ULONG_MAX : len)) + 16;
    z->avail_in = 0;
    for (;;) {
        if (z->avail_in == 0 && left > 0) {
            uInt take = left > UINT_MAX ? UINT_MAX : (uInt)left;
            z->next_in = src;
            z->avail_in = take;
            src += take;
            left -= take;
        }
        uInt avail;
        if (out_space(out, want, &avail) < 0) {
            out->end = out->start + mark;
            return fail(d, PN_ENOMEM, 1011, "out of memory");
        }
        z->next_out = (Bytef *)out->data + out->end;
        z->avail_out = avail;
        int rc = deflate(z, left == 0 ? Z_SYNC_FLUSH : Z_NO_FLUSH);
        out->end += avail - z->avail_out;
        if (rc != Z_OK && rc != Z_BUF_ERROR) {
            out->end = out->start + mark;
            return zfail(d, rc, "deflate failed");
        }
        if (left == 0 && z->avail_in == 0 && z->avail_out != 0) {
            break;
        }
        want = 4096;
    }
    if (pn_buf_len(out) - mark < 4 || memcmp(out->data + out->end - 4, TAIL, 4) != 0) {
        out->end = out->start + mark;
        return fail(d, PN_EPROTO, 1011, "deflate did not end with a sync flush");
    }
    out->end -= 4;
    if (d->def_reset) {
        deflateReset(z);
    }
    return 0;
}

/*
 * Inflate in[0..len) into out within the message limit, checking text as it
 * comes out. Checks run on each output run in a fixed order (UTF-8, then the
 * limit, then zlib's verdict) and output before a bad input position comes
 * out whatever the input split, so the first error found does not depend on
 * how the message was cut into pieces.
 */
static int inflate_piece(pn_wsdeflate_t *d, const Bytef *in, size_t len, pn_buf_t *out,
                         pn_utf8_t *text)
{
    z_stream *z = &d->inf;
    size_t left = len;
    z->avail_in = 0;
    for (;;) {
        if (z->avail_in == 0 && left > 0) {
            uInt take = left > UINT_MAX ? UINT_MAX : (uInt)left;
            z->next_in = in;
            z->avail_in = take;
            in += take;
            left -= take;
        }
        /* bytes still allowed, plus one to see the limit crossed */
        uint64_t allowed = d->max_size - d->inf_total;
        allowed = allowed == UINT64_MAX ? allowed : allowed + 1;
        uint64_t guess = 4 * ((uint64_t)z->avail_in + left) + 4096;
        size_t want = (size_t)(guess < allowed ? guess : allowed);
        uInt avail;
        if (out_space(out, want, &avail) < 0) {
            return fail(d, PN_ENOMEM, 1011, "out of memory");
        }
        if (avail > allowed) {
            avail = (uInt)allowed;
        }
        z->next_out = (Bytef *)out->data + out->end;
        z->avail_out = avail;
        int rc = inflate(z, Z_SYNC_FLUSH);
        size_t produced = avail - z->avail_out;
        if (text != NULL && produced > 0 &&
            pn_utf8_feed(text, out->data + out->end, produced, NULL) != 0) {
            out->end += produced;
            d->inf_total += produced;
            return fail(d, PN_EPROTO, 1007, "invalid UTF-8 in a text message");
        }
        out->end += produced;
        d->inf_total += produced;
        if (d->inf_total > d->max_size) {
            return fail(d, PN_EPROTO, 1009, "message too big after decompression");
        }
        if (rc == Z_STREAM_END) {
            d->inf_ended = 1;
            return 0;
        }
        if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT) {
            return fail(d, PN_EPROTO, 1007, "invalid compressed data");
        }
        if (rc != Z_OK && rc != Z_BUF_ERROR) {
            return zfail(d, rc, "inflate failed");
        }
        if (left == 0 && z->avail_in == 0 && z->avail_out != 0) {
            return 0;
        }
    }
}

int pn_wsdeflate_decompress(pn_wsdeflate_t *d, const void *in, size_t len, int fin, pn_buf_t *out,
                            pn_utf8_t *text)
{
    if (d->failed) {
        return d->failed;
    }
    z_stream *z = &d->inf;
    if (!d->inf_ready) {
        stream_init(d, z);
        int rc = inflateInit2(z, -d->inf_bits);
        if (rc != Z_OK) {
            return zfail(d, rc, "inflateInit2 failed");
        }
        d->inf_ready = 1;
    }
    int rc = 0;
    if (len > 0 && !d->inf_ended) {
        rc = inflate_piece(d, in, len, out, text);
    }
    if (rc == 0 && fin) {
        if (!d->inf_ended) {
            rc = inflate_piece(d, TAIL, sizeof TAIL, out, text);
        }
        if (rc == 0 && text != NULL && !pn_utf8_complete(text)) {
            rc = fail(d, PN_EPROTO, 1007, "text message ends inside a UTF-8 sequence");
        }
        if (rc == 0) {
            if (d->inf_ended || d->inf_reset) {
                inflateReset(z);
            }
            d->inf_ended = 0;
            d->inf_total = 0;
        }
    }
    return rc;
}
