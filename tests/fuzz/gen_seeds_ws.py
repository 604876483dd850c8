#!/usr/bin/env python3
"""Write the seed corpora of fuzz_ws and fuzz_utf8 (the output is committed).

fuzz_ws seeds are two control bytes (flags, mode and split seed: see
fuzz_ws.c) followed by the data: client frame streams (RFC 6455 §5.7
examples, fragmentation, control frames, close codes, limits, compressed
messages from RFC 7692 §7.2.3 and from zlib), upgrade requests, and builder
inputs. fuzz_utf8 seeds are a split byte followed by text. Run from the repo
root:

    python3 tests/fuzz/gen_seeds_ws.py tests/fuzz/corpus
"""
import hashlib
import os
import struct
import sys
import zlib

KEY = bytes([0x37, 0xFA, 0x21, 0x3D])

# fuzz_ws byte 0
DEFLATE, CLIENT = 0x01, 0x02
MAX_16, MAX_300, MAX_70000 = 0x04, 0x08, 0x0C
# fuzz_ws byte 1: mode in bits 0-1
STREAM, UPGRADE, BUILDERS = 0, 2, 3


def frame(b0, payload, masked=True, form=None):
    """One frame; form 7/16/64 forces a length encoding (even a non-minimal one)."""
    n = len(payload)
    if form is None:
        form = 7 if n < 126 else 16 if n < 65536 else 64
    m = 0x80 if masked else 0
    head = bytes([b0])
    if form == 7:
        head += bytes([m | n])
    elif form == 16:
        head += bytes([m | 126]) + struct.pack(">H", n)
    else:
        head += bytes([m | 127]) + struct.pack(">Q", n)
    if masked:
        head += KEY
        payload = bytes(b ^ KEY[i & 3] for i, b in enumerate(payload))
    return head + payload


def close(code, reason=b""):
    return frame(0x88, struct.pack(">H", code) + reason)


def deflate(messages, wbits=-15):
    c = zlib.compressobj(6, zlib.DEFLATED, wbits)
    out = []
    for m in messages:
        data = c.compress(m) + c.flush(zlib.Z_SYNC_FLUSH)
        out.append(data[:-4] if data.endswith(b"\x00\x00\xff\xff") else data)
    return out


def stream_seeds():
    kosme = "κόσμε".encode()
    seeds = [
        (0, frame(0x81, b"Hello")),
        (CLIENT, bytes.fromhex("810548656c6c6f")),
        (CLIENT, bytes.fromhex("010348656c80026c6f")),
        (0, frame(0x89, b"Hello") + frame(0x8A, b"Hello")),
        (0, frame(0x82, bytes(256))),
        (0, frame(0x82, bytes(range(256)) * 4, form=16)),
        (0, frame(0x01, b"frag") + frame(0x89, b"ping") + frame(0x00, b"ment")
            + frame(0x8A, b"") + frame(0x80, b"ed") + close(1000, b"bye")),
        (0, frame(0x01, b"\xe2") + frame(0x00, b"\x82") + frame(0x80, b"\xac")),
        (0, frame(0x81, kosme + b"\xed\xa0\x80edited")),
        (0, frame(0x81, b"ab\xc0\xaf")),
        (0, frame(0x81, b"\xf4\x90\x80\x80")),
        (0, close(1000, kosme)),
        (0, close(1002)),
        (0, close(1004)),
        (0, close(3000, b"\xff")),
        (0, frame(0x88, b"x")),
        (0, frame(0x88, b"")),
        (0, frame(0xC1, b"x")),
        (0, frame(0x83, b"")),
        (0, frame(0x09, b"")),
        (0, frame(0x80, b"cont")),
        (0, frame(0x82, b"x" * 125, form=16)),
        (0, frame(0x82, b"x" * 200, form=64)),
        (0, frame(0x89, b"x" * 126)),
        (0, bytes([0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0])),
        (0, frame(0x81, b"Hello", masked=False)),
        (CLIENT, frame(0x81, b"Hello")),
        (MAX_16, frame(0x02, b"0123456789") + frame(0x80, b"0123456789")),
        (MAX_300, frame(0x81, b"a" * 301)),
        (MAX_70000, frame(0x82, b"z" * 66000)),
    ]
    # RFC 7692 §7.2.3
    hello = bytes.fromhex("f248cdc9c90700")
    seeds += [
        (DEFLATE, frame(0xC1, hello)),
        (DEFLATE, frame(0x41, hello[:3]) + frame(0x80, hello[3:])),
        (DEFLATE, frame(0xC1, hello) + frame(0xC1, bytes.fromhex("f200110000"))),
        (DEFLATE, frame(0xC1, bytes.fromhex("000500faff48656c6c6f00"))),
        (DEFLATE, frame(0xC1, bytes.fromhex("f348cdc9c9070000"))),
        (DEFLATE, frame(0xC1, bytes.fromhex("f24805000000ffffcac9c90700"))),
        (DEFLATE, frame(0xC1, b"\x00")),
        (DEFLATE, frame(0xC0 | 0x01, b"\xff\xff\xff")),
        (DEFLATE | CLIENT, frame(0xC1, hello, masked=False)),
    ]
    # compressed conversations from zlib, some with context takeover
    text = [b"Hello", b"Hello", b'{"id": 42, "name": "pronghorn"}' * 3, "κόσμε".encode() * 5]
    parts = deflate(text)
    seeds.append((DEFLATE, b"".join(frame(0xC1, p) for p in parts)))
    parts = deflate([b"\x00" * 5000])
    seeds.append((DEFLATE | MAX_300, frame(0xC2, parts[0])))
    parts = deflate([bytes([0xC0, 0xAF]) * 10])
    seeds.append((DEFLATE, frame(0xC1, parts[0])))
    parts = deflate([b"fragmented and compressed " * 4])
    p = parts[0]
    seeds.append((DEFLATE, frame(0x41, p[:5]) + frame(0x89, b"hb") + frame(0x00, p[5:9])
                  + frame(0x80, p[9:])))
    parts = deflate([b"window " * 40], wbits=-9)
    seeds.append((DEFLATE | 0x40, frame(0xC1, parts[0])))
    return seeds


UPGRADE_REQUESTS = [
    b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n"
    b"Sec-WebSocket-Version: 13\r\n\r\n",
    b"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: WebSocket\r\n"
    b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n"
    b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n",
    b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    b"Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=8, "
    b"permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
    b"server_max_window_bits=10; client_max_window_bits=\"12\"\r\n"
    b"Sec-WebSocket-Extensions: x-webkit-deflate-frame; a=\"b,c\"\r\n\r\n",
    b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
    b"POST /ws HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\n\r\n",
    b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAB==\r\nSec-WebSocket-Version: 13\r\n"
    b"Sec-WebSocket-Protocol: a b\r\n\r\n",
]

BUILDER_INPUTS = [
    b"",
    b"Hello",
    b"\x03\xe8bye",
    b"\x03\xf4" + "é".encode() * 80,
    b"\x03\xee\xff",
    b"\x0f\xa0" + b"r" * 200,
    b'{"id": 42, "name": "pronghorn"}' * 20,
    bytes(range(256)),
]

UTF8_TEXTS = [
    b"hello, world",
    "κόσμε".encode(),
    "a é € 😀".encode(),
    b"\xc0\xaf",
    b"\xe0\x80\xaf",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"\xf0\x9f\x98",
    b"0123456789abcdef0123456789abcdef\xff",
    "日本語のテキスト".encode() * 4,
    b"\xef\xbf\xbd\xef\xbf\xbf\xf4\x8f\xbf\xbf",
]


def write(directory, name, data):
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, hashlib.sha1(data).hexdigest())
    with open(path, "wb") as f:
        f.write(data)


def main(root):
    ws = os.path.join(root, "fuzz_ws")
    for i, (flags, data) in enumerate(stream_seeds()):
        write(ws, i, bytes([flags, (i * 4 + STREAM) & 0xFF]) + data)
    for i, req in enumerate(UPGRADE_REQUESTS):
        write(ws, i, bytes([i * 37 & 0xFF, UPGRADE]) + req)
    for i, data in enumerate(BUILDER_INPUTS):
        write(ws, i, bytes([i * 53 & 0xFF, BUILDERS]) + data)
    u = os.path.join(root, "fuzz_utf8")
    for i, text in enumerate(UTF8_TEXTS):
        write(u, i, bytes([i * 29 & 0xFF]) + text)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fuzz/corpus")
