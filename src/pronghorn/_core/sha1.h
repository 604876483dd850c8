/*
 * sha1.h — SHA-1 (FIPS 180-4) for the WebSocket accept key. Pure C.
 *
 * Owns: the SHA-1 digest of a byte string, fed in any pieces.
 * Invariants: no allocation, no global state; the context is plain data.
 * Must not know about: WebSocket, base64, security. SHA-1 is broken for
 * collision resistance; RFC 6455 §4.2.2 uses it only to prove that the
 * server read the handshake, so nothing else in the engine may rely on it.
 */
#ifndef PN_SHA1_H
#define PN_SHA1_H

#include <stddef.h>
#include <stdint.h>

#define PN_SHA1_DIGEST_LEN 20

typedef struct {
    uint32_t h[5];     /* private: chaining value */
    uint64_t total;    /* private: bytes fed */
    uint8_t block[64]; /* private: partial block */
    size_t used;       /* private: bytes in block */
} pn_sha1_t;

void pn_sha1_init(pn_sha1_t *c);
/* Feed data[0..len) (data may be NULL when len is 0). */
void pn_sha1_update(pn_sha1_t *c, const void *data, size_t len);
/* Write the 20-byte digest to out. The context must be re-initialised before reuse. */
void pn_sha1_final(pn_sha1_t *c, uint8_t out[PN_SHA1_DIGEST_LEN]);

/* One-shot digest of data[0..len). */
void pn_sha1(const void *data, size_t len, uint8_t out[PN_SHA1_DIGEST_LEN]);

#endif
