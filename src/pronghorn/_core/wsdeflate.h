/*
 * wsdeflate.h — permessage-deflate (RFC 7692) for WebSocket messages, on zlib. Pure C.
 *
 * Owns: negotiation of the extension from a client's Sec-WebSocket-Extensions
 * offers (and, for a client, checking a server's response), and the
 * per-message codec: compress a whole message, inflate a message piece by
 * piece with its size limit enforced while inflating (a compression bomb
 * stops after max_message_size + 1 bytes of output, close code 1009).
 * Invariants: no global state. The codec allocates its zlib streams lazily
 * (a side that never sends compressed messages never pays for a deflate
 * stream) through an optional allocator; every allocation failure is
 * returned as PN_ENOMEM, never an abort. Negotiation does not allocate.
 * Must not know about: frames and RSV1 (ws.h), sockets, Python. Inflated
 * text is checked with utf8.h, inside the inflate loop, so that a bad byte
 * fails the message before the rest is inflated.
 *
 * Memory per connection (zlib's figures): a deflate stream uses about
 * 2^(window+2) + 2^(mem_level+9) bytes (256 KiB at 15/8), an inflate
 * stream about 2^window + 7 KiB (39 KiB at 15). Asking clients for a
 * smaller window (client_max_window_bits) shrinks the inflate side.
 */
#ifndef PN_WSDEFLATE_H
#define PN_WSDEFLATE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"   /* pn_buf_t, PN_ENOMEM */
#include "http1.h" /* pn_header_t, PN_EPROTO */
#include "utf8.h"
#include "ws.h" /* pn_ws_error_t */

/* ---------------- negotiation (RFC 7692 §5, §7.1) ---------------- */

/* What the server wants; all-zero is a sensible default (context takeover, 15-bit windows). */
typedef struct {
    int server_no_context_takeover; /* reset our compressor after every message (and say so) */
    int client_no_context_takeover; /* ask the client to reset its compressor after every message */
    int server_max_window_bits;     /* our compressor's window, 9..15; 0 = 15 (clamped) */
    int client_max_window_bits;     /* 0: no request; 9..15: the largest window we let the client
                                       use when its offer allows us to say (clamped) */
} pn_wsdeflate_config_t;

/* The agreed parameters, as in RFC 7692 §7.1. Windows are 8..15 bits. */
typedef struct {
    uint8_t server_no_context_takeover;
    uint8_t client_no_context_takeover;
    uint8_t server_max_window_bits; /* window of the server's compressor */
    uint8_t client_max_window_bits; /* window of the client's compressor */
} pn_wsdeflate_params_t;

/* Room for the longest response value pn_wsdeflate_negotiate writes, NUL included. */
#define PN_WSDEFLATE_RESPONSE_MAX 160

/* What a client built on this module offers (pn_wsdeflate_check_response then applies). */
#define PN_WSDEFLATE_CLIENT_OFFER "permessage-deflate; client_max_window_bits"

/*
 * Server side: pick the first acceptable permessage-deflate offer among all
 * Sec-WebSocket-Extensions fields of headers[0..n) (fields combine as one
 * comma-separated list; other extensions are ignored).
 * An offer is declined (the next one is tried) when it has an unknown or
 * repeated parameter, a parameter value that is missing or not allowed
 * (no_context_takeover with a value; window bits not 8..15 in decimal
 * without leading zeros; quoted values are unquoted first, RFC 6455 §9.1),
 * or asks for server_max_window_bits=8, which zlib's deflate cannot honour
 * (it silently uses 9).
 * Agreed: server_no_context_takeover if offered or configured;
 * client_no_context_takeover if offered or configured; server_max_window_bits
 * = min(offered, configured) and answered only when offered (a smaller
 * window is otherwise used silently: RFC 7692 §7.1.2.1 lets the compressor
 * use less); client_max_window_bits = min(offered value or 15, configured or
 * 15), answered only when the client offered the parameter and the result is
 * below 15 (§7.1.2.2: never answered when not offered).
 * Returns 1 with *params and response[0..*response_len) (NUL-terminated) set
 * to the Sec-WebSocket-Extensions value to send; 0 when no offer is
 * acceptable or there is none (send no header, compress nothing); PN_EPROTO
 * when a field is not valid extension-list syntax (RFC 6455 §9.1: token,
 * ";" parameters, token or quoted-string values): answer 400.
 */
int pn_wsdeflate_negotiate(const pn_wsdeflate_config_t *cfg, const pn_header_t *headers, size_t n,
                           pn_wsdeflate_params_t *params, char response[PN_WSDEFLATE_RESPONSE_MAX],
                           size_t *response_len);

/*
 * Client side, after offering PN_WSDEFLATE_CLIENT_OFFER: check the server's
 * Sec-WebSocket-Extensions value[0..len). Returns 0 with *params set, or
 * PN_EPROTO (fail the connection) unless it is exactly one permessage-deflate
 * with known, unrepeated, valid parameters; client_max_window_bits must have a
 * value and be >= 9 (zlib's deflate cannot keep to 8).
 */
int pn_wsdeflate_check_response(const char *value, size_t len, pn_wsdeflate_params_t *params);

/* ---------------- codec (RFC 7692 §7.2) ---------------- */

typedef struct pn_wsdeflate pn_wsdeflate_t;

#define PN_WSDEFLATE_SERVER 0 /* compress with the server_* parameters, inflate with client_* */
#define PN_WSDEFLATE_CLIENT 1 /* the other way round */

/* Optional allocator for the codec and its zlib streams. */
typedef struct {
    void *(*alloc)(void *ctx, size_t size); /* NULL on failure */
    void (*free)(void *ctx, void *ptr);
    void *ctx;
} pn_wsdeflate_allocator_t;

typedef struct {
    int level;                 /* zlib level 1..9; 0 = zlib's default (6) */
    int mem_level;             /* zlib memLevel 1..9; 0 = 8 */
    uint64_t max_message_size; /* inflated bytes per message; 0 = PN_WS_DEFAULT_MAX_MESSAGE */
    const pn_wsdeflate_allocator_t *allocator; /* NULL: malloc/free */
} pn_wsdeflate_options_t;

/*
 * A codec for one connection. role: PN_WSDEFLATE_SERVER or _CLIENT. Window
 * bits below 9 are used as 9 (zlib), so 8 must not be agreed for our own
 * compressor (negotiation never does). opts may be NULL. NULL when out of memory.
 */
pn_wsdeflate_t *pn_wsdeflate_new(const pn_wsdeflate_params_t *params, int role,
                                 const pn_wsdeflate_options_t *opts);
void pn_wsdeflate_free(pn_wsdeflate_t *d);

/*
 * Compress one whole message in[0..len) and append the payload to send
 * (RSV1 set on its first frame) to out: the DEFLATE data flushed to a byte
 * boundary without the trailing 00 00 FF FF (§7.2.1). Resets the compressor
 * afterwards when our no_context_takeover was agreed. Returns 0, PN_ENOMEM,
 * or PN_EPROTO (zlib failure; error close code 1011). On error out is as it
 * was and the codec is failed (sticky: every later call returns the same).
 */
int pn_wsdeflate_compress(pn_wsdeflate_t *d, const void *in, size_t len, pn_buf_t *out);

/*
 * Inflate the next piece in[0..len) of a compressed message's payload (the
 * data of pn_ws_parse events with PN_WS_EV_COMPRESSED, in order) and append
 * the output to out; fin = 1 with the last piece (PN_WS_EV_MESSAGE_END,
 * possibly len 0) appends 00 00 FF FF and ends the message (§7.2.2).
 * text: for a TEXT message, the message's UTF-8 state (pn_utf8_init at the
 * message start); the output is validated as it is produced, failing fast,
 * and must be complete at fin. NULL for BINARY messages.
 * Returns 0, PN_ENOMEM, or PN_EPROTO with pn_wsdeflate_error(): 1007 for
 * invalid UTF-8 in text or invalid DEFLATE data, 1009 when the message
 * inflates past max_message_size (found while inflating: at most
 * max_message_size + 1 bytes of this message are ever appended). The first
 * error found, and its close code, do not depend on how the payload was cut
 * into pieces. Data after a final block (BFINAL) is ignored; the stream
 * then restarts with an empty window (the sender's compressor had to
 * restart too). After an error the codec is failed (sticky) and out may hold
 * part of the message.
 */
int pn_wsdeflate_decompress(pn_wsdeflate_t *d, const void *in, size_t len, int fin, pn_buf_t *out,
                            pn_utf8_t *text);

/* The error of the last failed call (close_code 1007/1009/1011, reason); offset is the
 * number of inflated bytes of the message at the failure. Unspecified before a failure. */
const pn_ws_error_t *pn_wsdeflate_error(const pn_wsdeflate_t *d);

#endif
