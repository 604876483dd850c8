"""The Autobahn|Testsuite case groups 1-7, 9 and 12-13, re-implemented with raw frames.

Each group is one parametrised test; each case drives an echo endpoint over a
real loopback socket with frames built by hand (``RawClient``) and checks what
the engine answers: the echoed message, a pong, or a close frame with the right
code followed by the end of the TCP connection. The case numbers follow the
Autobahn fuzzingclient report (1.1.x text framing, 2.x pings, 3.x reserved
bits, 4.x opcodes, 5.x fragmentation, 6.x UTF-8, 7.x close, 9.x limits, 12.x
and 13.x permessage-deflate). "Fail fast" cases also check that the engine
closes without echoing anything of the faulty message.

Group 9 ("limits/performance") is reduced to correctness at size: large
messages in frames of many sizes echo intact, and a message over
``max_message_size`` (compressed or not) is closed with 1009.
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import struct
import time
import zlib
from typing import Any

import pytest

from pronghorn import Pronghorn
from pronghorn.websockets import WebSocket
from tests.conftest import IO_TIMEOUT, LiveServer

MAX_MESSAGE = 1 << 20  # the echo endpoint's max_message_size in these tests
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


def echo_app() -> Pronghorn:
    app = Pronghorn()

    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("text") is not None:
                await websocket.send_text(message["text"])
            else:
                await websocket.send_bytes(message["bytes"])

    app.add_api_websocket_route("/echo", echo, max_message_size=MAX_MESSAGE,
                                ping_interval=0)
    app.add_api_websocket_route("/plain", echo, max_message_size=MAX_MESSAGE,
                                ping_interval=0, compression=False)
    return app


@pytest.fixture(scope="module")
def server():
    live = LiveServer(echo_app())
    yield live
    live.close()


# ---- a client made of raw frames --------------------------------------------------------------


class Closed(Exception):
    pass


class RawClient:
    def __init__(self, port: int, path: str = "/echo", extensions: str | None = None) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT)
        key = base64.b64encode(os.urandom(16)).decode()
        head = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n")
        if extensions:
            head += f"Sec-WebSocket-Extensions: {extensions}\r\n"
        self.sock.sendall((head + "\r\n").encode())
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            assert chunk, "no handshake response"
            self.buffer += chunk
        head_bytes, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head_bytes.decode("latin-1").split("\r\n")
        assert lines[0].startswith("HTTP/1.1 101 "), lines[0]
        self.headers = {k.lower(): v.strip() for k, _, v in
                        (line.partition(":") for line in lines[1:])}
        expected = base64.b64encode(hashlib.sha1(
            (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
        assert self.headers["sec-websocket-accept"] == expected

    def close_socket(self) -> None:
        self.sock.close()

    # -- sending --

    @staticmethod
    def frame(opcode: int, payload: bytes = b"", *, fin: bool = True, rsv: int = 0,
              mask: bool = True, length: int | None = None, long: int = 0) -> bytes:
        """A frame; ``length`` overrides the length field, ``long`` forces the 16-bit (2)
        or 64-bit (8) length form."""
        n = len(payload) if length is None else length
        b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
        bit = 0x80 if mask else 0
        if long == 8 or (not long and n >= 1 << 16):
            head = struct.pack("!BBQ", b0, bit | 127, n)
        elif long == 2 or n >= 126:
            head = struct.pack("!BBH", b0, bit | 126, n)
        else:
            head = struct.pack("!BB", b0, bit | n)
        if not mask:
            return head + payload
        key = os.urandom(4)
        return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))

    def send(self, opcode: int, payload: bytes = b"", **kwargs: Any) -> None:
        self.sock.sendall(self.frame(opcode, payload, **kwargs))

    def send_raw(self, data: bytes, chunk: int | None = None) -> None:
        if chunk is None:
            self.sock.sendall(data)
            return
        for i in range(0, len(data), chunk):
            self.sock.sendall(data[i:i + chunk])

    # -- receiving --

    def _read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise Closed
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def recv_frame(self) -> tuple[bool, int, int, bytes]:
        """(fin, rsv, opcode, payload) of the next frame from the server (unmasked)."""
        b0, b1 = self._read(2)
        assert not b1 & 0x80, "the server masked a frame"
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._read(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._read(8))[0]
        return bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0x0F, self._read(n)

    def recv_message(self) -> tuple[int, bytes]:
        """The next data message (reassembled), skipping pongs."""
        opcode, parts = None, []
        while True:
            fin, rsv, op, payload = self.recv_frame()
            if op == OP_PONG:
                continue
            assert op != OP_CLOSE, f"closed: {payload!r}"
            if opcode is None:
                opcode = op
            parts.append(payload)
            if fin:
                return opcode, b"".join(parts)

    def recv_frame_or_close(self) -> tuple[int, bytes] | None:
        """The next data frame (whole, FIN), or None, leaving a close frame to read."""
        fin, rsv, op, payload = self.recv_frame()
        if op == OP_CLOSE:
            self.buffer = self.frame(op, payload, mask=False) + self.buffer
            return None
        assert fin
        return op, payload

    def expect_close(self, code: int | None) -> None:
        """The server closes with ``code`` (None: an empty close frame), skipping data
        frames before it when ``code`` is a normal close; then the TCP connection ends."""
        while True:
            fin, rsv, op, payload = self.recv_frame()
            if op == OP_CLOSE:
                break
            if code in (1002, 1007, 1009):
                raise AssertionError(f"fail fast: got opcode {op} {payload[:40]!r} "
                                     f"before the close")
        got = struct.unpack("!H", payload[:2])[0] if payload else None
        assert got == code, (got, payload)
        if payload[2:]:
            payload[2:].decode()  # the reason is valid UTF-8
        self.expect_eof()

    def expect_eof(self) -> None:
        deadline = time.monotonic() + IO_TIMEOUT
        while time.monotonic() < deadline:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                return
            if not chunk:
                return
        raise AssertionError("the server did not close the TCP connection")

    def close(self, code: int = 1000) -> None:
        """A normal close: the server echoes the code and ends the connection."""
        self.send(OP_CLOSE, struct.pack("!H", code))
        self.expect_close(code)


def run_case(server: LiveServer, steps: list[tuple], path: str = "/echo") -> None:
    """Drive one case: ``("send", opcode, payload, kwargs)``, ``("raw", bytes, chunk)``,
    ``("echo", opcode, payload)``, ``("pong", payload)``, ``("close", code)``,
    ``("sleep", seconds)``."""
    client = RawClient(server.port, path)
    try:
        for step in steps:
            kind = step[0]
            if kind == "send":
                try:
                    client.send(step[1], step[2], **(step[3] if len(step) > 3 else {}))
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the engine failed fast, before this frame
            elif kind == "raw":
                try:
                    client.send_raw(step[1], step[2] if len(step) > 2 else None)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the engine failed the connection before the last bytes
            elif kind == "echo?":
                # Autobahn's NON-STRICT outcome: the engine may fail the connection before
                # the endpoint echoed a message that arrived in the same read.
                found = client.recv_frame_or_close()
                if found is not None:
                    assert found == (step[1], step[2])
            elif kind == "echo":
                assert client.recv_message() == (step[1], step[2])
            elif kind == "pong":
                fin, rsv, op, payload = client.recv_frame()
                assert (fin, rsv, op, payload) == (True, 0, OP_PONG, step[1])
            elif kind == "close":
                client.expect_close(step[1])
                return
            elif kind == "sleep":
                time.sleep(step[1])
        client.close()
    finally:
        client.close_socket()


frame = RawClient.frame


def close_payload(code: int, reason: bytes = b"") -> bytes:
    return struct.pack("!H", code) + reason


# ---- 1: framing -----------------------------------------------------------------------------

SIZES = [0, 125, 126, 127, 128, 65535, 65536, 65537]
CASES_1 = {}
for i, size in enumerate(SIZES, start=1):
    CASES_1[f"1.1.{i}"] = [("send", OP_TEXT, b"*" * size), ("echo", OP_TEXT, b"*" * size)]
    CASES_1[f"1.2.{i}"] = [("send", OP_BINARY, b"\xfe" * size),
                           ("echo", OP_BINARY, b"\xfe" * size)]
# 1.1.8 / 1.2.8: a 65536-byte message sent in 997-byte chunks.
CASES_1["1.1.8-chunked"] = [("raw", frame(OP_TEXT, b"*" * 65536), 997),
                            ("echo", OP_TEXT, b"*" * 65536)]
CASES_1["1.2.8-chunked"] = [("raw", frame(OP_BINARY, b"\xfe" * 65536), 997),
                            ("echo", OP_BINARY, b"\xfe" * 65536)]
CASES_1["1.byte-by-byte"] = [("raw", frame(OP_TEXT, b"hello" * 30), 1),
                             ("echo", OP_TEXT, b"hello" * 30)]
CASES_1["1.non-minimal-length"] = [("send", OP_TEXT, b"abc", {"long": 2}), ("close", 1002)]
CASES_1["1.64-bit-top-bit"] = [("raw", bytes([0x82, 0xFF]) + (1 << 63).to_bytes(8, "big")
                                + b"\0\0\0\0"), ("close", 1002)]
CASES_1["1.unmasked-client-frame"] = [("send", OP_TEXT, b"abc", {"mask": False}),
                                      ("close", 1002)]


@pytest.mark.parametrize("case", list(CASES_1))
def test_1_framing(server, case):
    run_case(server, CASES_1[case])


# ---- 2: pings and pongs ---------------------------------------------------------------------

CASES_2 = {
    "2.1": [("send", OP_PING, b""), ("pong", b"")],
    "2.2": [("send", OP_PING, b"Hello, world!"), ("pong", b"Hello, world!")],
    "2.3": [("send", OP_PING, b"\x00\xff\xfe\xfd\xfc\xfb\x00\xff"),
            ("pong", b"\x00\xff\xfe\xfd\xfc\xfb\x00\xff")],
    "2.4": [("send", OP_PING, b"\xfe" * 125), ("pong", b"\xfe" * 125)],
    "2.5": [("send", OP_PING, b"\xfe" * 126), ("close", 1002)],
    "2.6": [("raw", frame(OP_PING, b"\xfe" * 125), 1),
            ("pong", b"\xfe" * 125)],
    "2.7": [("send", OP_PONG, b""), ("send", OP_TEXT, b"after"), ("echo", OP_TEXT, b"after")],
    "2.8": [("send", OP_PONG, b"unsolicited pong payload"), ("send", OP_TEXT, b"after"),
            ("echo", OP_TEXT, b"after")],
    "2.9": [("send", OP_PONG, b"unsolicited"), ("send", OP_PING, b"solicited"),
            ("pong", b"solicited")],
    "2.10": [*(("send", OP_PING, b"payload-%d" % i) for i in range(10)),
             *(("pong", b"payload-%d" % i) for i in range(10))],
    "2.11": [*(("raw", frame(OP_PING, b"payload-%d" % i), 1)
               for i in range(10)),
             *(("pong", b"payload-%d" % i) for i in range(10))],
}


@pytest.mark.parametrize("case", list(CASES_2))
def test_2_pings_and_pongs(server, case):
    run_case(server, CASES_2[case])


# ---- 3: reserved bits -----------------------------------------------------------------------

CASES_3 = {
    "3.1": [("send", OP_TEXT, b"Hello", {"rsv": 2}), ("close", 1002)],  # RSV2
    "3.2": [("send", OP_TEXT, b"Hello"), ("send", OP_TEXT, b"Hello", {"rsv": 4}),
            ("echo?", OP_TEXT, b"Hello"), ("close", 1002)],  # RSV3 after a good message
    "3.3": [("send", OP_TEXT, b"Hello"), ("send", OP_TEXT, b"Hello", {"rsv": 6}),
            ("send", OP_PING, b""), ("echo?", OP_TEXT, b"Hello"), ("close", 1002)],
    "3.4": [("send", OP_BINARY, b"\xff", {"rsv": 1}), ("close", 1002)],  # RSV1, no deflate
    "3.5": [("send", OP_BINARY, b"\xff", {"rsv": 5}), ("close", 1002)],
    "3.6": [("send", OP_PING, b"Hello", {"rsv": 6}), ("close", 1002)],
    "3.7": [("send", OP_CLOSE, close_payload(1000), {"rsv": 7}), ("close", 1002)],
}


@pytest.mark.parametrize("case", list(CASES_3))
def test_3_reserved_bits(server, case):
    run_case(server, CASES_3[case], path="/plain")


# ---- 4: opcodes -----------------------------------------------------------------------------

CASES_4 = {}
for i, op in enumerate((3, 4, 5, 6, 7), start=1):
    CASES_4[f"4.1.{i}"] = [("send", OP_TEXT, b"Hello"), ("send", op, b"\x01" * (i - 1)),
                           ("send", OP_PING, b""), ("echo?", OP_TEXT, b"Hello"),
                           ("close", 1002)]
for i, op in enumerate((11, 12, 13, 14, 15), start=1):
    CASES_4[f"4.2.{i}"] = [("send", OP_TEXT, b"Hello"), ("send", op, b"\x01" * (i - 1)),
                           ("send", OP_PING, b""), ("echo?", OP_TEXT, b"Hello"),
                           ("close", 1002)]


@pytest.mark.parametrize("case", list(CASES_4))
def test_4_opcodes(server, case):
    run_case(server, CASES_4[case])


# ---- 5: fragmentation -----------------------------------------------------------------------

CASES_5 = {
    "5.1": [("send", OP_PING, b"frag1", {"fin": False}), ("send", OP_CONT, b"frag2"),
            ("close", 1002)],
    "5.2": [("send", OP_PONG, b"frag1", {"fin": False}), ("send", OP_CONT, b"frag2"),
            ("close", 1002)],
    "5.3": [("send", OP_TEXT, b"frag1", {"fin": False}), ("send", OP_CONT, b"frag2"),
            ("echo", OP_TEXT, b"frag1frag2")],
    "5.4": [("send", OP_TEXT, b"frag1", {"fin": False}), ("sleep", 0.2),
            ("send", OP_CONT, b"frag2"), ("echo", OP_TEXT, b"frag1frag2")],
    "5.5": [("raw", frame(OP_TEXT, b"frag1", fin=False)
             + frame(OP_CONT, b"frag2"), 1),
            ("echo", OP_TEXT, b"frag1frag2")],
    "5.6": [("send", OP_TEXT, b"frag1", {"fin": False}), ("send", OP_PING, b"ping payload"),
            ("send", OP_CONT, b"frag2"), ("pong", b"ping payload"),
            ("echo", OP_TEXT, b"frag1frag2")],
    "5.8": [("raw", frame(OP_TEXT, b"frag1", fin=False)
             + frame(OP_PING, b"ping")
             + frame(OP_CONT, b"frag2"), 1),
            ("pong", b"ping"), ("echo", OP_TEXT, b"frag1frag2")],
    "5.9": [("send", OP_CONT, b"non-continuation payload"), ("send", OP_TEXT, b"Hello"),
            ("close", 1002)],
    "5.10": [("raw", frame(OP_CONT, b"non-continuation"), 1),
             ("close", 1002)],
    "5.12": [("send", OP_CONT, b"fragment1", {"fin": False}), ("send", OP_CONT, b"fragment2"),
             ("close", 1002)],
    "5.15": [("send", OP_TEXT, b"fragment1", {"fin": False}), ("send", OP_CONT, b"fragment2"),
             ("send", OP_CONT, b"fragment3", {"fin": False}),
             ("send", OP_TEXT, b"fragment4"), ("echo?", OP_TEXT, b"fragment1fragment2"),
             ("close", 1002)],
    "5.17": [("send", OP_CONT, b"fragment1"), ("send", OP_TEXT, b"fragment2", {"fin": False}),
             ("close", 1002)],
    "5.19": [("send", OP_TEXT, b"fragment1", {"fin": False}),
             ("send", OP_CONT, b"fragment2", {"fin": False}), ("send", OP_PING, b"pongme 1!"),
             ("pong", b"pongme 1!"), ("sleep", 0.2),
             ("send", OP_CONT, b"fragment3", {"fin": False}), ("send", OP_PING, b"pongme 2!"),
             ("pong", b"pongme 2!"), ("send", OP_CONT, b"fragment4", {"fin": False}),
             ("send", OP_CONT, b"fragment5"),
             ("echo", OP_TEXT, b"fragment1fragment2fragment3fragment4fragment5")],
    "5.binary-many": [("send", OP_BINARY, b"\x00", {"fin": False}),
                      *(("send", OP_CONT, bytes([i]), {"fin": False}) for i in range(1, 100)),
                      ("send", OP_CONT, b"\xff"),
                      ("echo", OP_BINARY, bytes(range(100)) + b"\xff")],
    "5.empty-fragments": [("send", OP_TEXT, b"", {"fin": False}),
                          ("send", OP_CONT, b"", {"fin": False}), ("send", OP_CONT, b""),
                          ("echo", OP_TEXT, b"")],
}


@pytest.mark.parametrize("case", list(CASES_5))
def test_5_fragmentation(server, case):
    run_case(server, CASES_5[case])


# ---- 6: UTF-8 -------------------------------------------------------------------------------

HELLO = "κόσμε".encode()  # the Autobahn 6.2 payload
VALID = [
    b"", HELLO, "Hello-µ@ßöäüàá-UTF-8!!".encode(), b"\xf0\x90\x80\x80", b"\xf4\x8f\xbf\xbf",
    b"\xed\x9f\xbf", b"\xee\x80\x80", b"\xef\xbf\xbd", b"\x7f", b"\xc2\x80", b"\xdf\xbf",
    b"\xe0\xa0\x80", b"\xef\xbf\xbf",
]
INVALID = [
    b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64",
    b"\xc0\xaf", b"\xe0\x80\xaf", b"\xf0\x80\x80\xaf", b"\xf8\x88\x80\x80\xaf",
    b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xf4\x90\x80\x80", b"\x80", b"\xbf", b"\xfe", b"\xff",
    b"\xc0\x80", b"\xc1\xbf", b"\xce\xba\xe1\xbd", b"\xf0\x9f\x98", b"\xe0\x80",
    b"\xed\xa0\x80\xed\xb0\x80",
]
CASES_6: dict[str, list[tuple]] = {}
for i, data in enumerate(VALID):
    CASES_6[f"6.valid.{i}"] = [("send", OP_TEXT, data), ("echo", OP_TEXT, data)]
    # the same, split into one-byte fragments (characters cut across frames)
    frames = [("send", OP_TEXT if j == 0 else OP_CONT, data[j:j + 1],
               {"fin": j == len(data) - 1}) for j in range(len(data))]
    if data:
        CASES_6[f"6.valid-fragmented.{i}"] = [*frames, ("echo", OP_TEXT, data)]
for i, data in enumerate(INVALID):
    CASES_6[f"6.invalid.{i}"] = [("send", OP_TEXT, data), ("close", 1007)]
    frames = [("send", OP_TEXT if j == 0 else OP_CONT, data[j:j + 1],
               {"fin": j == len(data) - 1}) for j in range(len(data))]
    CASES_6[f"6.invalid-fragmented.{i}"] = [*frames, ("close", 1007)]
# 6.4.x: fail fast: the bad byte ends the connection before the message is complete.
CASES_6["6.4.1"] = [("send", OP_TEXT, HELLO + b"\xf4\x90\x80\x80", {"fin": False}),
                    ("close", 1007)]
CASES_6["6.4.2"] = [("send", OP_TEXT, HELLO + b"\xf4", {"fin": False}),
                    ("send", OP_CONT, b"\x90", {"fin": False}), ("close", 1007)]
CASES_6["6.4.3-one-frame-first-part"] = [
    ("raw", frame(OP_TEXT, HELLO + b"\xf4\x90\x80\x80edited")[:2 + 4 + len(HELLO) + 2]),
    ("sleep", 0.1), ("close", 1007)]


@pytest.mark.parametrize("case", list(CASES_6))
def test_6_utf8(server, case):
    run_case(server, CASES_6[case])


# ---- 7: close handling ----------------------------------------------------------------------

CASES_7: dict[str, list[tuple]] = {
    "7.1.1": [("send", OP_TEXT, b"Hello World!"), ("echo", OP_TEXT, b"Hello World!"),
              ("send", OP_CLOSE, close_payload(1000)), ("close", 1000)],
    "7.1.2": [("send", OP_CLOSE, close_payload(1000)), ("send", OP_CLOSE, close_payload(1000)),
              ("close", 1000)],
    "7.1.3": [("send", OP_CLOSE, close_payload(1000)), ("send", OP_PING, b"after close"),
              ("close", 1000)],
    "7.1.4": [("send", OP_CLOSE, close_payload(1000)), ("send", OP_TEXT, b"after close"),
              ("close", 1000)],
    "7.1.5": [("send", OP_TEXT, b"fragment1", {"fin": False}),
              ("send", OP_CLOSE, close_payload(1000)), ("send", OP_CONT, b"fragment2"),
              ("close", 1000)],
    "7.1.6": [*(("send", OP_TEXT, b"BAsd7&jh23" * 100) for _ in range(10)),
              ("send", OP_CLOSE, close_payload(1000)), ("send", OP_PING, b""),
              ("close", 1000)],
    "7.3.1": [("send", OP_CLOSE, b""), ("close", None)],
    "7.3.2": [("send", OP_CLOSE, b"\x03"), ("close", 1002)],
    "7.3.3": [("send", OP_CLOSE, close_payload(1000)), ("close", 1000)],
    "7.3.4": [("send", OP_CLOSE, close_payload(1000, b"Hello World!")), ("close", 1000)],
    "7.3.5": [("send", OP_CLOSE, close_payload(1000, b"*" * 123)), ("close", 1000)],
    "7.3.6": [("send", OP_CLOSE, close_payload(1000, b"*" * 124)), ("close", 1002)],
    "7.5.1": [("send", OP_CLOSE, close_payload(1000, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc"
                                                     b"\xce\xb5\xed\xa0\x80edited")),
              ("close", 1007)],
}
VALID_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999]
INVALID_CODES = [0, 999, 1004, 1005, 1006, 1012, 1013, 1014, 1015, 1016, 1100, 2000, 2999,
                 5000, 65535]
for code in VALID_CODES:
    CASES_7[f"7.7.{code}"] = [("send", OP_CLOSE, close_payload(code)), ("close", code)]
for code in INVALID_CODES:
    CASES_7[f"7.9.{code}"] = [("send", OP_CLOSE, close_payload(code)), ("close", 1002)]


@pytest.mark.parametrize("case", list(CASES_7))
def test_7_close_handling(server, case):
    run_case(server, CASES_7[case])


def test_7_server_closes_after_the_close_handshake_times_out():
    """7.x (the other side): the peer never answers our close -> the engine drops TCP."""
    app = Pronghorn()

    @app.websocket("/ws", close_timeout=0.3)
    async def endpoint(websocket: WebSocket):
        await websocket.accept()
        await websocket.close(1000)

    live = LiveServer(app)
    try:
        client = RawClient(live.port, "/ws")
        started = time.monotonic()
        fin, rsv, op, payload = client.recv_frame()
        assert op == OP_CLOSE and payload == close_payload(1000)
        client.expect_eof()  # without replying
        assert time.monotonic() - started < IO_TIMEOUT
        client.close_socket()
    finally:
        live.close()


# ---- 9: limits ------------------------------------------------------------------------------

CASES_9: dict[str, list[tuple]] = {}
for size in (64 * 1024, 256 * 1024, MAX_MESSAGE):
    for piece in (64, 4096, 65536, MAX_MESSAGE):
        if piece > size:
            continue
        payload = bytes(range(256)) * (size // 256)
        frames = [("send", OP_BINARY if i == 0 else OP_CONT, payload[i:i + piece],
                   {"fin": i + piece >= size}) for i in range(0, size, piece)]
        CASES_9[f"9.binary.{size}.{piece}"] = [*frames, ("echo", OP_BINARY, payload)]
        text = (b"BAsd7&jh23" * (size // 10 + 1))[:size]
        frames = [("send", OP_TEXT if i == 0 else OP_CONT, text[i:i + piece],
                   {"fin": i + piece >= size}) for i in range(0, size, piece)]
        CASES_9[f"9.text.{size}.{piece}"] = [*frames, ("echo", OP_TEXT, text)]
CASES_9["9.too-big-one-frame"] = [("send", OP_BINARY, b"x" * (MAX_MESSAGE + 1)),
                                  ("close", 1009)]
CASES_9["9.too-big-fragmented"] = [
    ("send", OP_BINARY, b"x" * (MAX_MESSAGE // 2), {"fin": False}),
    ("send", OP_CONT, b"x" * (MAX_MESSAGE // 2), {"fin": False}),
    ("send", OP_CONT, b"x"), ("close", 1009)]
CASES_9["9.too-big-decided-from-the-header"] = [
    ("raw", frame(OP_BINARY, b"", length=MAX_MESSAGE + 1)), ("close", 1009)]
CASES_9["9.many-small-messages"] = [
    *(("send", OP_TEXT, b"%d" % i) for i in range(1000)),
    *(("echo", OP_TEXT, b"%d" % i) for i in range(1000))]


@pytest.mark.parametrize("case", list(CASES_9))
def test_9_limits(server, case):
    run_case(server, CASES_9[case])


# ---- 12 and 13: permessage-deflate ----------------------------------------------------------


class Deflate:
    """The client side of permessage-deflate (RFC 7692)."""

    def __init__(self, client_no_context: bool = False, server_no_context: bool = False,
                 client_bits: int = 15, server_bits: int = 15) -> None:
        self.client_no_context = client_no_context
        self.server_no_context = server_no_context
        self.client_bits, self.server_bits = client_bits, server_bits
        self.compressor = zlib.compressobj(wbits=-client_bits)
        self.decompressor = zlib.decompressobj(wbits=-server_bits)

    def compress(self, data: bytes) -> bytes:
        if self.client_no_context:
            self.compressor = zlib.compressobj(wbits=-self.client_bits)
        out = self.compressor.compress(data) + self.compressor.flush(zlib.Z_SYNC_FLUSH)
        assert out.endswith(b"\x00\x00\xff\xff")
        return out[:-4]

    def decompress(self, data: bytes) -> bytes:
        if self.server_no_context:
            self.decompressor = zlib.decompressobj(wbits=-self.server_bits)
        return self.decompressor.decompress(data + b"\x00\x00\xff\xff")


def deflate_client(port: int, offer: str) -> tuple[RawClient, Deflate]:
    client = RawClient(port, "/echo", extensions=offer)
    agreed = client.headers.get("sec-websocket-extensions", "")
    assert agreed.startswith("permessage-deflate"), agreed
    params = {p.strip().split("=")[0]: (p.strip().split("=") + [""])[1]
              for p in agreed.split(";")[1:]}
    deflate = Deflate(
        client_no_context="client_no_context_takeover" in params,
        server_no_context="server_no_context_takeover" in params,
        client_bits=int(params.get("client_max_window_bits") or 15),
        server_bits=int(params.get("server_max_window_bits") or 15))
    return client, deflate


def deflate_echo(client: RawClient, deflate: Deflate, opcode: int, payload: bytes,
                 fragment: int | None = None) -> None:
    data = deflate.compress(payload)
    if fragment is None or fragment >= len(data):
        client.send(opcode, data, rsv=4)
    else:
        pieces = [data[i:i + fragment] for i in range(0, len(data), fragment)]
        for i, piece in enumerate(pieces):
            client.send(opcode if i == 0 else OP_CONT, piece, rsv=4 if i == 0 else 0,
                        fin=i == len(pieces) - 1)
    deflate_echo_reply(client, deflate, opcode, payload)


def deflate_echo_reply(client: RawClient, deflate: Deflate, opcode: int,
                       payload: bytes) -> None:
    parts, first_rsv, first_op = [], None, None
    while True:
        fin, rsv, op, body = client.recv_frame()
        if op == OP_PONG:
            continue
        if first_op is None:
            first_op, first_rsv = op, rsv
        else:
            assert op == OP_CONT and rsv == 0
        parts.append(body)
        if fin:
            break
    assert first_op == opcode
    body = b"".join(parts)
    echoed = deflate.decompress(body) if first_rsv == 4 else body
    assert echoed == payload


OFFERS = {
    "default": "permessage-deflate",
    "client_max_window_bits": "permessage-deflate; client_max_window_bits",
    "no_context_takeover": "permessage-deflate; client_no_context_takeover; "
                           "server_no_context_takeover",
    "server_max_window_bits=9": "permessage-deflate; server_max_window_bits=9",
    "server_max_window_bits=15": "permessage-deflate; server_max_window_bits=15",
    "client_max_window_bits=9": "permessage-deflate; client_max_window_bits=9",
    "second-offer": "permessage-deflate; server_max_window_bits=7, permessage-deflate",
}
CASES_12 = [(offer, size, kind) for offer in OFFERS for size in (16, 64, 256, 1024, 4096,
                                                                  32768, 131072)
            for kind in ("text", "binary")]


def _payload(size: int, kind: str) -> bytes:
    if kind == "text":
        words = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit. \xc3\xa9\xe2\x82\xac "
        return (words * (size // len(words) + 1))[:size].decode("utf-8", "ignore").encode()
    return os.urandom(size // 2) + b"\0" * (size - size // 2)


@pytest.mark.parametrize("offer, size, kind", CASES_12)
def test_12_and_13_permessage_deflate(server, offer, size, kind):
    """12.x: compressed echo of text and binary payloads of many sizes (several messages
    on one connection, so context takeover matters); 13.x: the same over the negotiated
    parameter sets."""
    client, deflate = deflate_client(server.port, OFFERS[offer])
    try:
        opcode = OP_TEXT if kind == "text" else OP_BINARY
        for i in range(4):
            deflate_echo(client, deflate, opcode, _payload(size, kind),
                         fragment=None if i % 2 == 0 else max(1, size // 7))
        client.close()
    finally:
        client.close_socket()


@pytest.mark.parametrize("case", ["uncompressed-in-between", "empty", "compressed-bomb",
                                  "rsv1-on-continuation", "invalid-utf8-compressed",
                                  "corrupt-deflate"])
def test_12_deflate_edge_cases(server, case):
    client, deflate = deflate_client(server.port, OFFERS["default"])
    try:
        if case == "uncompressed-in-between":
            deflate_echo(client, deflate, OP_TEXT, b"compressed")
            client.send(OP_TEXT, b"plain")  # echoed compressed or not: deflate_echo reads it
            deflate_echo_reply(client, deflate, OP_TEXT, b"plain")
            deflate_echo(client, deflate, OP_TEXT, b"compressed again")
            client.close()
        elif case == "empty":
            deflate_echo(client, deflate, OP_BINARY, b"")
            client.close()
        elif case == "compressed-bomb":
            client.send(OP_BINARY, deflate.compress(b"\0" * (MAX_MESSAGE * 4)), rsv=4)
            client.expect_close(1009)
        elif case == "rsv1-on-continuation":
            data = deflate.compress(b"abc" * 100)
            client.send(OP_TEXT, data[:5], rsv=4, fin=False)
            client.send(OP_CONT, data[5:], rsv=4)
            client.expect_close(1002)
        elif case == "invalid-utf8-compressed":
            client.send(OP_TEXT, deflate.compress(b"ok \xc0\xaf"), rsv=4)
            client.expect_close(1007)
        elif case == "corrupt-deflate":
            client.send(OP_BINARY, b"\xff\xff\xff\xff\xff", rsv=4)
            fin, rsv, op, payload = client.recv_frame()
            assert op == OP_CLOSE and struct.unpack("!H", payload[:2])[0] in (1002, 1007)
    finally:
        client.close_socket()


def test_13_refused_offers_fall_back_to_no_compression(server):
    client = RawClient(server.port, "/echo",
                       extensions="permessage-deflate; server_max_window_bits=7")
    try:
        assert "sec-websocket-extensions" not in client.headers
        client.send(OP_TEXT, b"plain")
        assert client.recv_message() == (OP_TEXT, b"plain")
        client.close()
    finally:
        client.close_socket()


def test_13_compression_can_be_disabled_per_route(server):
    client = RawClient(server.port, "/plain", extensions="permessage-deflate")
    try:
        assert "sec-websocket-extensions" not in client.headers
        client.send(OP_BINARY, b"\x01", rsv=4)
        client.expect_close(1002)
    finally:
        client.close_socket()
