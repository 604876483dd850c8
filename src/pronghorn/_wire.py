"""Reading the engine's own HTTP/1.1 responses, incrementally.

Owns: ``ResponseReader``, which turns the bytes a memory connection outputs
into a head (status, headers) and body pieces as they arrive. Used where
Python code must relay what the engine wrote: the ASGI adapter of a
Pronghorn app (``asgi_app.py``). Chunked bodies are decoded by the engine's
own decoder (``_core.ChunkedDecoder``). Requests are never parsed here.
"""

from __future__ import annotations

from pronghorn import _core

__all__ = ["ResponseReader"]

# Hop-by-hop fields the engine writes for its own framing: not the app's headers.
HOP_BY_HOP = frozenset({b"connection", b"keep-alive", b"transfer-encoding"})


class ResponseReader:
    """One response: ``feed(data)`` returns the new events, in order:
    ``("head", status, headers)``, ``("body", bytes)``, ``("end",)``.
    Interim 1xx responses (100 Continue) are skipped."""

    def __init__(self, head_request: bool = False) -> None:
        self.head_request = head_request
        self.buffer = b""
        self.framing: str | int | None = None  # "chunked", remaining length, or "close"
        self.decoder: _core.ChunkedDecoder | None = None
        self.complete = False

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
                        self.buffer = b""
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
        status = int(lines[0].split(b" ", 2)[1])
        if 100 <= status < 200 and status != 101:
            return ()  # interim response: keep reading
        headers = []
        framing: str | int = "close"
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.lower()
            value = value.strip()
            if name == b"transfer-encoding" and value.lower() == b"chunked":
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
        return ("head", status, headers)
