/*
 * sha1.c — SHA-1 (FIPS 180-4 §6.1), see sha1.h.
 *
 * Owns: the compression function and the padding.
 * Invariants: big-endian words are assembled byte by byte (no alignment or
 * endianness assumptions); the 80-word schedule is kept as a rolling window
 * of 16 words.
 * Must not know about: who uses the digest.
 */
#include "sha1.h"

#include <string.h>

static inline uint32_t rol(uint32_t x, unsigned n)
{
    return (x << n) | (x >> (32 - n));
}

static inline uint32_t load_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void compress(uint32_t h[5], const uint8_t *block)
{
    uint32_t w[16];
    for (int i = 0; i < 16; i++) {
        w[i] = load_be32(block + 4 * i);
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int t = 0; t < 80; t++) {
        uint32_t x;
        if (t < 16) {
            x = w[t];
        } else {
            x = rol(w[(t + 13) & 15] ^ w[(t + 8) & 15] ^ w[(t + 2) & 15] ^ w[t & 15], 1);
            w[t & 15] = x;
        }
        uint32_t f, k;
        if (t < 20) {
            f = (b & c) | (~b & d);
            k = 0x5A827999u;
        } else if (t < 40) {
            f = b ^ c ^ d;
            k = 0x6ED9EBA1u;
        } else if (t < 60) {
            f = (b & c) | (b & d) | (c & d);
            k = 0x8F1BBCDCu;
        } else {
            f = b ^ c ^ d;
            k = 0xCA62C1D6u;
        }
        uint32_t tmp = rol(a, 5) + f + e + k + x;
        e = d;
        d = c;
        c = rol(b, 30);
        b = a;
        a = tmp;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

void pn_sha1_init(pn_sha1_t *c)
{
    c->h[0] = 0x67452301u;
    c->h[1] = 0xEFCDAB89u;
    c->h[2] = 0x98BADCFEu;
    c->h[3] = 0x10325476u;
    c->h[4] = 0xC3D2E1F0u;
    c->total = 0;
    c->used = 0;
}

void pn_sha1_update(pn_sha1_t *c, const void *data, size_t len)
{
    const uint8_t *p = data;
    if (len == 0) {
        return;
    }
    c->total += len;
    if (c->used > 0) {
        size_t take = 64 - c->used < len ? 64 - c->used : len;
        memcpy(c->block + c->used, p, take);
        c->used += take;
        p += take;
        len -= take;
        if (c->used < 64) {
            return;
        }
        compress(c->h, c->block);
        c->used = 0;
    }
    for (; len >= 64; p += 64, len -= 64) {
        compress(c->h, p);
    }
    if (len > 0) {
        memcpy(c->block, p, len);
        c->used = len;
    }
}

void pn_sha1_final(pn_sha1_t *c, uint8_t out[PN_SHA1_DIGEST_LEN])
{
    uint64_t bits = c->total * 8;
    uint8_t pad[72] = {0x80};
    /* 0x80, zeros up to 56 mod 64, then the 64-bit big-endian bit count */
    size_t padlen = (c->used < 56 ? 56 : 120) - c->used;
    for (int i = 0; i < 8; i++) {
        pad[padlen + i] = (uint8_t)(bits >> (56 - 8 * i));
    }
    pn_sha1_update(c, pad, padlen + 8);
    for (int i = 0; i < 5; i++) {
        out[4 * i] = (uint8_t)(c->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(c->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(c->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)c->h[i];
    }
}

void pn_sha1(const void *data, size_t len, uint8_t out[PN_SHA1_DIGEST_LEN])
{
    pn_sha1_t c;
    pn_sha1_init(&c);
    pn_sha1_update(&c, data, len);
    pn_sha1_final(&c, out);
}
