"""Reading the engine's own output, incrementally, as its client.

Owns: ``ResponseReader``, which turns the bytes a memory connection outputs
into a head (status, headers) and body pieces as they arrive, and the
client side of WebSocket framing (``ws_frame`` builds masked frames,
``WebSocketReader`` reads the engine's frames back into messages). Used
where Python code must relay what the engine wrote: the ASGI adapter of a
Pronghorn app (``asgi_app.py``) and the TestClient. Chunked bodies are
decoded by the engine's own decoder (``_core.ChunkedDecoder``). Requests
and client frames are never parsed here: that is the engine's job.
"""

from __future__ import annotations

from pronghorn import _core

__all__ = ["ResponseReader", "WebSocketFrameError", "WebSocketReader", "ws_close_payload",
           "ws_frame", "ws_mask"]

# Hop-by-hop fields the engine writes for its own framing: not the app's headers.
HOP_BY_HOP = frozenset({b"connection", b"keep-alive", b"transfer-encoding"})


class ResponseReader:
    """One response: ``feed(data)`` returns the new events, in order:
    ``("head", status, headers)``, ``("body", bytes)``, ``("end",)``.

    ``headers`` in the head event are the app's: names lowercased, the
    engine's hop-by-hop framing fields left out (what an ASGI server is
    given). The final head is also kept whole: ``status``, ``reason`` and
    ``raw_headers`` (the fields as written, case kept, none left out).
    Interim 1xx responses (100 Continue, RFC 9110 §15.2) are skipped; 101
    is final. The body is framed as RFC 9112 §6.3 says: none for a HEAD
    request, 101, 204 and 304; chunked (decoded by the engine's own
    decoder, trailers validated and dropped); Content-Length; else until
    the connection closes (``feed_eof``). Bytes after the response (a 101's
    first WebSocket frames) stay in ``buffer``. Any split of the input gives
    the same events, joined. A malformed chunked body raises
    ``_core.ProtocolError``; a response cut short, ``ConnectionError``.
    """

    def __init__(self, head_request: bool = False) -> None:
        self.head_request = head_request
        self.buffer = b""
        self.framing: str | int | None = None  # "chunked", remaining length, or "close"
        self.decoder: _core.ChunkedDecoder | None = None
        self.complete = False
        self.status = 0
        self.reason = b""
        self.raw_headers: list[tuple[bytes, bytes]] = []

    def feed(self, data: bytes) -> list[tuple]:
        events: list[tuple] = []
        self.buffer += data
        while not self.complete and self.buffer:
            if self.framing is None:
                head = self._head()
                if head is None:
                    break
                if head:
                    events.append(head)
                    if self.framing == 0:
                        self._end(events)
                continue
            if self.framing == "chunked":
                assert self.decoder is not None
                body, used = self.decoder.feed(self.buffer)
                self.buffer = self.buffer[used:]
                if body:
                    events.append(("body", body))
                if self.decoder.done:
                    self._end(events)
                break
            if self.framing == "close":
                events.append(("body", self.buffer))
                self.buffer = b""
                break
            take = self.buffer[:self.framing]
            self.buffer = self.buffer[len(take):]
            self.framing -= len(take)
            if take:
                events.append(("body", take))
            if self.framing == 0:
                self._end(events)
        return events

    def feed_eof(self) -> list[tuple]:
        """The connection closed: the end of a close-delimited body (else an error)."""
        if self.complete:
            return []
        if self.framing == "close":
            events: list[tuple] = []
            self._end(events)
            return events
        raise ConnectionError("the response ended early")

    def _end(self, events: list[tuple]) -> None:
        self.complete = True
        events.append(("end",))

    def _head(self) -> tuple | None:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return None
        lines = self.buffer[:end].split(b"\r\n")
        self.buffer = self.buffer[end + 4:]
        _version, _, rest = lines[0].partition(b" ")
        code, _, reason = rest.partition(b" ")
        status = int(code)
        if 100 <= status < 200 and status != 101:
            return ()  # interim response: keep reading
        raw = [(name, value.strip()) for name, _, value in
               (line.partition(b":") for line in lines[1:])]
        headers = []
        framing: str | int = "close"
        for name, value in raw:
            name = name.lower()
            if name == b"transfer-encoding" and _final_coding(value) == b"chunked":
                framing = "chunked"
            elif name == b"content-length" and framing == "close":
                framing = int(value)
            if name not in HOP_BY_HOP:
                headers.append((name, value))
        if self.head_request or status in (101, 204, 304):
            framing = 0
        self.framing = framing
        if framing == "chunked":
            self.decoder = _core.ChunkedDecoder()
        self.status, self.reason, self.raw_headers = status, reason, raw
        return ("head", status, headers)


def _final_coding(value: bytes) -> bytes:
    """The last transfer coding of a Transfer-Encoding value (chunked must be last)."""
    return value.rpartition(b",")[2].strip().lower()


# ---- the client side of WebSocket frames (RFC 6455 §5) ------------------------------------
#
# Where Python code stands in for a WebSocket client of the engine (the TestClient, and a
# Pronghorn app under another ASGI server relaying its client's messages): frames built
# masked, the engine's frames read back. No extension is ever offered on these connections,
# so frames are never compressed. The server side of the protocol is the engine's alone.

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
_ZERO_KEY = b"\0\0\0\0"


class WebSocketFrameError(ConnectionError):
    """The server sent something that is not a valid WebSocket frame sequence."""


def ws_mask(data: bytes, key: bytes) -> bytes:
    """XOR ``data`` with the 4-byte mask ``key`` (masks and unmasks)."""
    if key == _ZERO_KEY or not data:
        return data
    n = len(data)
    keys = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(keys, "little")).to_bytes(n, "little")


def ws_frame(opcode: int, payload: bytes = b"", *, fin: bool = True, rsv: int = 0,
             mask: bytes | None = _ZERO_KEY) -> bytes:
    """One frame: ``mask`` is the 4-byte key of a client frame (None: unmasked)."""
    n = len(payload)
    head = bytearray([(0x80 if fin else 0) | (rsv << 4) | opcode])
    bit = 0x80 if mask is not None else 0
    if n < 126:
        head.append(bit | n)
    elif n < 1 << 16:
        head.append(bit | 126)
        head += n.to_bytes(2, "big")
    else:
        head.append(bit | 127)
        head += n.to_bytes(8, "big")
    if mask is None:
        return bytes(head) + payload
    return bytes(head) + mask + ws_mask(payload, mask)


def ws_close_payload(code: int | None, reason: str = "") -> bytes:
    """The payload of a close frame (empty when ``code`` is None or 1005)."""
    if code is None or code == 1005:
        return b""
    return code.to_bytes(2, "big") + reason.encode()


class WebSocketReader:
    """Reads the frames a server sends (unmasked), reassembling messages.

    ``feed(data)`` returns the new events in order: ``("text", str)``,
    ``("bytes", bytes)``, ``("ping", payload)``, ``("pong", payload)``,
    ``("close", code, reason)`` (code 1005 for an empty close frame). It
    raises ``WebSocketFrameError`` for a frame a server must not send.
    """

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.parts: list[bytes] = []
        self.opcode = 0  # of the fragmented message being assembled, else 0
        self.closed = False

    def feed(self, data: bytes) -> list[tuple]:
        self.buffer += data
        events: list[tuple] = []
        buf = self.buffer
        while not self.closed and len(buf) >= 2:
            b0, b1 = buf[0], buf[1]
            if b0 & 0x70:
                raise WebSocketFrameError("reserved bits set in a server frame")
            if b1 & 0x80:
                raise WebSocketFrameError("masked server frame")
            n = b1 & 0x7F
            start = 2
            if n == 126:
                if len(buf) < 4:
                    break
                n, start = int.from_bytes(buf[2:4], "big"), 4
            elif n == 127:
                if len(buf) < 10:
                    break
                n, start = int.from_bytes(buf[2:10], "big"), 10
            if len(buf) < start + n:
                break
            payload = bytes(buf[start:start + n])
            del buf[:start + n]
            self._frame(b0 & 0x80 != 0, b0 & 0x0F, payload, events)
        return events

    def _frame(self, fin: bool, opcode: int, payload: bytes, events: list[tuple]) -> None:
        if opcode >= 0x8:
            if not fin or len(payload) > 125:
                raise WebSocketFrameError("fragmented or oversized control frame")
            if opcode == OP_CLOSE:
                self.closed = True
                if len(payload) == 1:
                    raise WebSocketFrameError("one-byte close payload")
                code = int.from_bytes(payload[:2], "big") if payload else 1005
                events.append(("close", code, payload[2:].decode()))
            elif opcode == OP_PING:
                events.append(("ping", payload))
            elif opcode == OP_PONG:
                events.append(("pong", payload))
            else:
                raise WebSocketFrameError(f"reserved opcode {opcode:#x}")
            return
        if opcode == OP_CONT:
            if not self.opcode:
                raise WebSocketFrameError("continuation frame without a message")
        elif opcode in (OP_TEXT, OP_BINARY):
            if self.opcode:
                raise WebSocketFrameError("new message inside a fragmented one")
            self.opcode = opcode
        else:
            raise WebSocketFrameError(f"reserved opcode {opcode:#x}")
        self.parts.append(payload)
        if fin:
            data = b"".join(self.parts)
            self.parts = []
            kind, self.opcode = self.opcode, 0
            if kind == OP_TEXT:
                try:
                    events.append(("text", data.decode()))
                except UnicodeDecodeError as exc:
                    raise WebSocketFrameError("invalid UTF-8 in a text message") from exc
            else:
                events.append(("bytes", data))
