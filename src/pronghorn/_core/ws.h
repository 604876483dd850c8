/*
 * ws.h — the WebSocket protocol (RFC 6455): opening handshake, frame parser,
 * frame builder, close-code rules. Pure C.
 *
 * Owns: validation of an upgrade request and the Sec-WebSocket-Accept key
 * (§4.2), the 101 response head, the framing layer (§5): masking, lengths,
 * RSV bits, opcodes, fragmentation, control-frame rules, the message-size
 * limit, UTF-8 of uncompressed text messages and of close reasons (§8.1),
 * and which close codes may be received or sent (§7.4).
 * Invariants: no allocation, no global mutable state, no callbacks. The
 * parser works over caller-owned bytes, unmasks payload in place, and hands
 * out slices of the caller's buffer. Any split of the same byte stream gives
 * the same frames, the same payload bytes and the same error (close code,
 * reason and stream offset); only the size of the payload pieces varies.
 * Must not know about: sockets, timers, Python, compression (wsdeflate.h
 * inflates; the parser only knows whether RSV1 is allowed), message
 * assembly and queueing (the caller's), which subprotocol to pick.
 *
 * Errors map to close codes: 1002 protocol error, 1007 invalid payload data
 * (bad UTF-8), 1009 message too big. The connection then sends a close frame
 * with that code and stops reading (RFC 6455 §7.1.7 "fail the connection").
 */
#ifndef PN_WS_H
#define PN_WS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "http1.h" /* pn_header_t, PN_INCOMPLETE, PN_EPROTO, pn_slice_ieq */
#include "slice.h"
#include "utf8.h"

#define PN_WS_CLOSED (-3)  /* pn_ws_parse: a close frame was returned; nothing more is parsed */
#define PN_WS_EINVAL (-22) /* builder / response writer: invalid argument (see each function) */

/* Opcodes (§5.2). */
enum {
    PN_WS_OP_CONT = 0x0,
    PN_WS_OP_TEXT = 0x1,
    PN_WS_OP_BINARY = 0x2,
    PN_WS_OP_CLOSE = 0x8,
    PN_WS_OP_PING = 0x9,
    PN_WS_OP_PONG = 0xA,
};

/* Close codes (§7.4.1 and the IANA registry). */
enum {
    PN_WS_CLOSE_NORMAL = 1000,
    PN_WS_CLOSE_GOING_AWAY = 1001,
    PN_WS_CLOSE_PROTOCOL_ERROR = 1002,
    PN_WS_CLOSE_UNSUPPORTED_DATA = 1003,
    PN_WS_CLOSE_NO_STATUS = 1005, /* never sent: "the close frame had no code" */
    PN_WS_CLOSE_ABNORMAL = 1006,  /* never sent: "no close frame at all" */
    PN_WS_CLOSE_INVALID_DATA = 1007,
    PN_WS_CLOSE_POLICY = 1008,
    PN_WS_CLOSE_TOO_BIG = 1009,
    PN_WS_CLOSE_MANDATORY_EXT = 1010,
    PN_WS_CLOSE_INTERNAL_ERROR = 1011,
    PN_WS_CLOSE_SERVICE_RESTART = 1012,
    PN_WS_CLOSE_TRY_AGAIN_LATER = 1013,
    PN_WS_CLOSE_BAD_GATEWAY = 1014,
};

#define PN_WS_DEFAULT_MAX_MESSAGE (16ull * 1024 * 1024)
#define PN_WS_MAX_HEADER 14 /* 2 + 8 (64-bit length) + 4 (mask key) */
#define PN_WS_MAX_CONTROL_PAYLOAD 125
#define PN_WS_MAX_CLOSE_REASON 123 /* 125 minus the 2-byte code */
#define PN_WS_MAX_CONTROL_FRAME (2 + 4 + PN_WS_MAX_CONTROL_PAYLOAD)
#define PN_WS_ACCEPT_LEN 28 /* base64 of a 20-byte SHA-1 */

/* ================= opening handshake (RFC 6455 §4.2) ================= */

typedef struct {
    int status;                        /* 0: a valid WebSocket upgrade; else 400 or 426 */
    const char *reason;                /* static text when status != 0, else NULL */
    char accept[PN_WS_ACCEPT_LEN + 1]; /* NUL-terminated Sec-WebSocket-Accept, when status == 0 */
} pn_ws_handshake_t;

/*
 * Decide whether a request is a valid WebSocket opening handshake (§4.2.1).
 * method: the request method (case-sensitive "GET"); minor_version: 1 for
 * HTTP/1.1; headers[0..n): the request's field lines (http1.h), names
 * case-insensitive, a field may appear several times (values then combine as
 * one comma-separated list, RFC 9110 §5.3).
 * Returns 0 and fills hs->accept when valid, else PN_EPROTO with hs->status
 * and hs->reason. Checked in this order:
 *   400  method is not GET; version is not HTTP/1.1; no Upgrade field with a
 *        "websocket" element (case-insensitive, comma lists); no Connection
 *        field with an "upgrade" element;
 *   426  Sec-WebSocket-Version missing, repeated, or not exactly "13": the
 *        response must carry "Sec-WebSocket-Version: 13" (§4.4). Checked
 *        before the key, whose format belongs to version 13;
 *   400  Sec-WebSocket-Key missing or repeated, or not 24 characters of
 *        base64 for 16 bytes (22 alphabet characters then "=="; the unused
 *        low bits of the 22nd character are not checked, like Python's
 *        base64 and the websockets library);
 *   400  a Sec-WebSocket-Protocol value that is not a comma list of tokens.
 * Origin, Host and Sec-WebSocket-Extensions are left to the caller
 * (wsdeflate.h negotiates the extensions).
 */
int pn_ws_handshake_check(pn_slice_t method, int minor_version, const pn_header_t *headers,
                          size_t n, pn_ws_handshake_t *hs);

/*
 * The subprotocols offered in Sec-WebSocket-Protocol fields, in order (all
 * fields, each a comma-separated list of tokens, empty elements skipped).
 * Stores the first max of them in out (slices of the header values) and
 * returns how many there are (possibly > max), or PN_EPROTO if an element is
 * not a token. The caller picks one of them (or none) for the response.
 */
ssize_t pn_ws_subprotocols(const pn_header_t *headers, size_t n, pn_slice_t *out, size_t max);

/* Sec-WebSocket-Accept for a key (§4.2.2 step 5.4): base64(SHA-1(key GUID)), NUL-terminated. */
void pn_ws_accept_key(pn_slice_t key, char out[PN_WS_ACCEPT_LEN + 1]);

/*
 * The field lines of a 101 response except Connection, for a response writer
 * that adds "Connection: upgrade" to every 101 itself (conn.c does): Upgrade,
 * Sec-WebSocket-Accept, then Sec-WebSocket-Protocol if subprotocol.len > 0,
 * then Sec-WebSocket-Extensions if extensions.len > 0. Slices point to static
 * names and to the arguments. Returns the number of fields written to out (2..4).
 */
size_t pn_ws_response_fields(const char *accept, pn_slice_t subprotocol, pn_slice_t extensions,
                             pn_header_t out[4]);

/*
 * Write the whole 101 response head into out[0..cap): status line, Upgrade,
 * Connection, Sec-WebSocket-Accept, the optional Sec-WebSocket-Protocol and
 * Sec-WebSocket-Extensions, then extra[0..nextra) as given, then the empty line.
 * Returns the length of the head; it was written only if that length <= cap
 * (so cap 0 measures). Returns PN_WS_EINVAL, with *why set when why is not NULL, when:
 * subprotocol is not empty and not a token; extensions or an extra value holds CR, LF
 * or NUL; an extra name is not a token, or names a field this function
 * owns (Upgrade, Connection, Sec-WebSocket-Accept/-Protocol/-Extensions) or
 * one a 1xx response must not have (Content-Length, Transfer-Encoding).
 */
ssize_t pn_ws_write_response(char *out, size_t cap, const char *accept, pn_slice_t subprotocol,
                             pn_slice_t extensions, const pn_header_t *extra, size_t nextra,
                             const char **why);

/* ================= frame parser (RFC 6455 §5) ================= */

/* pn_ws_parser_t.flags. PN_WS_F_DEFLATE: permessage-deflate was agreed, RSV1 is allowed on
 * a message's first frame. PN_WS_F_CLIENT: we are the client, so frames must be unmasked
 * (by default we are the server and frames must be masked). */
#define PN_WS_F_DEFLATE 0x01
#define PN_WS_F_CLIENT 0x02

typedef struct {
    uint16_t close_code; /* 1002, 1007 or 1009 */
    const char *reason;  /* static text, e.g. "unmasked client frame" */
    uint64_t offset;     /* stream offset (from the first byte fed since init) of the first byte
                            of the offending frame, or of the offending payload byte for UTF-8,
                            or of the end of the frame for a text message cut inside a character */
} pn_ws_error_t;

typedef struct {
    uint64_t max_message_size; /* set by pn_ws_parser_init; may be changed between messages */
    unsigned flags;            /* PN_WS_F_*, set by pn_ws_parser_init */
    /* private: */
    uint64_t pos;       /* stream offset of the next byte */
    uint64_t remaining; /* payload bytes left in the current data frame */
    uint64_t frame_len; /* payload length of the current data frame */
    uint64_t msg_len;   /* payload bytes of the open data message, current frame included */
    uint8_t key[4];     /* mask key of the current data frame */
    uint8_t phase;      /* payload offset modulo 4 in the current data frame */
    uint8_t state;
    uint8_t frame_b0;    /* first header byte of the current data frame */
    uint8_t msg_op;      /* TEXT or BINARY while a data message is open, else 0 */
    uint8_t msg_deflate; /* the open message has RSV1 (compressed) */
    pn_utf8_t utf8;      /* the open uncompressed text message so far */
    pn_ws_error_t error;
} pn_ws_parser_t;

/* pn_ws_event_t.flags */
#define PN_WS_EV_FRAME_START 0x01   /* the first piece of this frame's payload (header just read) */
#define PN_WS_EV_FRAME_END 0x02     /* the last piece of this frame's payload */
#define PN_WS_EV_FIN 0x04           /* the frame has FIN set */
#define PN_WS_EV_MESSAGE_START 0x08 /* data: the first piece of a message */
#define PN_WS_EV_MESSAGE_END 0x10   /* data: the last piece of a message (FIN frame's end) */
#define PN_WS_EV_COMPRESSED 0x20 /* data: RSV1 message: pn_wsdeflate_decompress checks its text */

typedef struct {
    pn_slice_t data;        /* payload piece, unmasked, inside the buffer given to pn_ws_parse.
                               Close frames: the reason (after the 2-byte code) */
    uint64_t frame_len;     /* payload length of the whole frame */
    uint16_t close_code;    /* close frames: the code, or 1005 when the payload was empty */
    uint8_t opcode;         /* this frame's opcode (CONT for continuation frames) */
    uint8_t message_opcode; /* data frames: TEXT or BINARY (also on continuations); else = opcode */
    uint8_t flags;          /* PN_WS_EV_* */
} pn_ws_event_t;

/*
 * Reset to the start of a stream. max_message_size: limit on a data
 * message's payload summed over its frames (0 selects
 * PN_WS_DEFAULT_MAX_MESSAGE); flags: PN_WS_F_*.
 */
void pn_ws_parser_init(pn_ws_parser_t *p, uint64_t max_message_size, unsigned flags);

/*
 * Parse from buf[0..len), the bytes that follow everything consumed so far.
 * Returns the number of bytes consumed (> 0) with *ev describing one event;
 * PN_INCOMPLETE when more bytes are needed before anything can be returned
 * (nothing consumed: call again with these bytes and more); PN_EPROTO with
 * p->error filled (sticky: every later call fails the same way); or
 * PN_WS_CLOSED once a close frame has been returned (the bytes after a close
 * frame are not parsed, §5.5.1).
 *
 * Data frames (TEXT, BINARY, CONT) come out in pieces as their payload
 * arrives: the header is consumed with the first piece, which is empty when
 * no payload byte has arrived yet (an empty frame is one event with
 * data.len == 0); later calls return the rest, never empty. Control frames
 * (CLOSE, PING, PONG) come out whole, in one event, once header and payload
 * are all in buf; for CLOSE, ev->close_code is the code and ev->data the
 * reason. Payload bytes are unmasked in place: buf is written only in the
 * consumed range (and, when PN_EPROTO is returned, in the failing frame's
 * payload), and ev->data points into it. Nothing is written when
 * PN_INCOMPLETE is returned.
 *
 * Errors, in the order they are checked, each as soon as the bytes that show
 * it are present (fail fast):
 *   1002  RSV2 or RSV3 set; reserved opcode (3-7, 0xB-0xF); control frame
 *         without FIN or with RSV1; RSV1 on a continuation frame, or on any
 *         frame without PN_WS_F_DEFLATE; a continuation frame with no
 *         fragmented message open; a TEXT/BINARY frame while one is open;
 *         unmasked frame (server role) or masked frame (client role); control
 *         payload over 125 bytes; a 1-byte close payload; a 16- or 64-bit
 *         length that would fit the shorter form (RFC 6455 §5.2 requires the
 *         minimal encoding: rejected, like wsproto); a 64-bit length with the
 *         top bit set;
 *   1009  the message's payload would exceed max_message_size, decided from
 *         the header before any of the frame's payload is read. A compressed
 *         message (RSV1) is held to max_message_size + max_message_size/4096
 *         + 64 on the wire (deflate can grow incompressible data a little);
 *         its inflated size is limited by wsdeflate.h;
 *   1002  close code not allowed on the wire (pn_ws_close_code_valid);
 *   1007  invalid UTF-8 in an uncompressed text message (at the first bad
 *         byte, across frames), a text message ending inside a character, or
 *         invalid UTF-8 in a close reason.
 * Control frames may come between the frames of a fragmented message.
 */
ssize_t pn_ws_parse(pn_ws_parser_t *p, char *buf, size_t len, pn_ws_event_t *ev);

/*
 * Close codes a peer may send (§7.4): 1000-1003, 1007-1011 and 3000-4999.
 * Everything else fails the connection with 1002: codes below 1000, the
 * reserved 1004, the never-sent 1005/1006/1015, 1012-2999 (also the
 * IANA-registered 1012-1014, as the Autobahn suite expects) and >= 5000.
 */
int pn_ws_close_code_valid(unsigned code);

/* Close codes we may send: the valid ones plus the IANA-registered 1012-1014 (1012 on reload). */
int pn_ws_close_code_sendable(unsigned code);

/* ================= frame builder (RFC 6455 §5.2) ================= */

/* flags of the builder */
#define PN_WS_FIN 0x80
#define PN_WS_RSV1 0x40 /* compressed message: first frame only (RFC 7692 §6) */

/* Header size for a payload of len bytes, masked or not (2..14). */
size_t pn_ws_header_size(uint64_t len, int masked);

/*
 * Write a frame header to out (room for PN_WS_MAX_HEADER bytes): flags
 * (PN_WS_FIN | PN_WS_RSV1) with opcode, the minimal length encoding of len,
 * and the mask key if mask is not NULL (client frames; servers send unmasked
 * frames). Returns the header length. The caller sends the payload after it
 * (masked with pn_ws_mask when mask is not NULL). opcode must be 0-15 and len < 2^63.
 */
size_t pn_ws_write_header(uint8_t *out, unsigned opcode, unsigned flags, uint64_t len,
                          const uint8_t *mask);

/*
 * A whole frame: header then payload[0..len) (copied, and masked when mask
 * is not NULL) into out[0..cap). Returns the frame length; the frame was
 * written only if that length <= cap.
 */
size_t pn_ws_write_frame(char *out, size_t cap, unsigned opcode, unsigned flags,
                         const void *payload, size_t len, const uint8_t *mask);

/*
 * A close frame into out (room for PN_WS_MAX_CONTROL_FRAME bytes). code 0
 * sends an empty payload (no code; reason must then be empty). Otherwise the
 * code must be pn_ws_close_code_sendable and the reason valid UTF-8; a reason
 * longer than 123 bytes is cut at the last character boundary that fits.
 * Returns the frame length, or PN_WS_EINVAL.
 */
ssize_t pn_ws_write_close(uint8_t *out, unsigned code, const char *reason, size_t reason_len,
                          const uint8_t *mask);

/* A PING or PONG frame into out (room for PN_WS_MAX_CONTROL_FRAME bytes).
 * PN_WS_EINVAL if len > 125. */
ssize_t pn_ws_write_ping(uint8_t *out, const void *payload, size_t len, const uint8_t *mask);
ssize_t pn_ws_write_pong(uint8_t *out, const void *payload, size_t len, const uint8_t *mask);

/*
 * XOR p[0..len) with the mask key, starting at key byte (offset % 4): masks
 * and unmasks (§5.3). offset is the position of p[0] in the frame payload.
 */
void pn_ws_mask(void *p, size_t len, const uint8_t key[4], uint64_t offset);

#endif
