"""Server-Sent Events: ``EventSourceResponse`` and ``ServerSentEvent``.

Owns: the text/event-stream encoding (``data`` split into lines, JSON for
dicts and lists, ``event``, ``id``, ``retry``, comments), keep-alive comment
pings when the stream is quiet, and stopping the event generator promptly
when the client goes away (the generator is cancelled at its await point
and closed, so its ``finally`` blocks run).

Invariants: every event is written as soon as it is produced (no
buffering: the engine flushes each write); a field value never contains a
line break that would start a new field.

Must not know about: sockets (the engine's), routing.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterable, Iterable
from typing import Any

import msgspec

from pronghorn.requests import ClientDisconnect
from pronghorn.responses import HeadersArg, Response, _iterate_in_threadpool

__all__ = ["EventSourceResponse", "ServerSentEvent"]

_LINES = re.compile(r"\r\n|\r|\n")
_json = msgspec.json.Encoder(decimal_format="number").encode


class ServerSentEvent:
    """One event. ``data`` may be str (split into ``data:`` lines), or a dict,
    list or other JSON-encodable value (sent as one JSON line)."""

    __slots__ = ("data", "event", "id", "retry", "comment")

    def __init__(self, data: Any = None, *, event: str | None = None, id: str | int | None = None,
                 retry: int | None = None, comment: str | None = None) -> None:
        for name, value in (("event", event), ("id", id)):
            if value is not None and _LINES.search(str(value)):
                raise ValueError(f"SSE {name} must not contain line breaks")
        if id is not None and "\0" in str(id):
            raise ValueError("SSE id must not contain NUL")
        if retry is not None and (not isinstance(retry, int) or retry < 0):
            raise ValueError("SSE retry must be a non-negative integer (milliseconds)")
        self.data = data
        self.event = event
        self.id = id
        self.retry = retry
        self.comment = comment

    def encode(self) -> bytes:
        lines: list[str] = []
        if self.comment is not None:
            lines.extend(": " + line for line in _LINES.split(self.comment))
        if self.event is not None:
            lines.append(f"event: {self.event}")
        if self.id is not None:
            lines.append(f"id: {self.id}")
        if self.retry is not None:
            lines.append(f"retry: {self.retry}")
        data = self.data
        if data is not None:
            if isinstance(data, bytes):
                data = data.decode()
            elif not isinstance(data, str):
                data = _json(data).decode()
            lines.extend("data: " + line for line in _LINES.split(data))
        return ("\n".join(lines) + "\n\n").encode()

    def __repr__(self) -> str:
        return f"ServerSentEvent(data={self.data!r}, event={self.event!r}, id={self.id!r})"


def _encode(item: Any) -> bytes:
    if item.__class__ is str and "\n" not in item and "\r" not in item:
        return b"data: " + item.encode() + b"\n\n"  # one data line: ServerSentEvent(item)'s bytes
    if isinstance(item, ServerSentEvent):
        return item.encode()
    if isinstance(item, dict) and set(item) <= set(ServerSentEvent.__slots__):
        return ServerSentEvent(**item).encode()
    return ServerSentEvent(item).encode()


class _Pinger:
    """Writes a ``: ping`` comment whenever the stream was quiet for ``interval`` seconds."""

    def __init__(self, loop: asyncio.AbstractEventLoop, request: Any, interval: float) -> None:
        self.loop = loop
        self.request = request
        self.interval = interval
        self.last = loop.time()
        self.handle: asyncio.TimerHandle | None = loop.call_later(interval, self.tick)

    def sent(self) -> None:
        self.last = self.loop.time()

    def tick(self) -> None:
        quiet = self.loop.time() - self.last
        if quiet >= self.interval:
            try:
                self.request._write(b": ping\n\n")  # a small write; backpressure is moot
            except Exception:
                self.handle = None
                return
            self.last = self.loop.time()
            quiet = 0.0
        self.handle = self.loop.call_later(self.interval - quiet, self.tick)

    def stop(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None


class EventSourceResponse(Response):
    """Stream events from an async (or sync) iterable.

    Items are ``ServerSentEvent`` objects, dicts with event fields
    (``{"data": ..., "event": ..., "id": ..., "retry": ...}``) or bare data.
    ``ping`` seconds of silence send a ``: ping`` comment (None disables).
    The browser's ``Last-Event-ID`` is in ``request.headers``.
    """

    __slots__ = ("content", "ping")
    _streaming = True
    media_type = "text/event-stream"

    def __init__(self, content: AsyncIterable[Any] | Iterable[Any], status_code: int = 200,
                 headers: HeadersArg = None, ping: float | None = 15.0,
                 background: Any = None) -> None:
        super().__init__(b"", status_code, headers, background=background)
        self.headers.setdefault("cache-control", "no-cache")
        self.headers.setdefault("x-accel-buffering", "no")  # proxies: do not buffer
        self.content = content
        self.ping = ping

    async def _stream(self, request: Any) -> None:
        request._start(self.status_code, self.raw_headers, -1)
        content = self.content
        events = content if hasattr(content, "__aiter__") else _iterate_in_threadpool(content)
        gone = request._disconnected()
        if gone is None:
            return  # the client left before the first event
        # The generator runs in this task; the client leaving cancels the task at the
        # generator's await point (its finally blocks run), and pings come from a timer.
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()

        def client_left(_: Any) -> None:
            if task is not None:
                task.cancel()

        gone.add_done_callback(client_left)
        pinger = _Pinger(loop, request, self.ping) if self.ping else None
        try:
            async for item in events:
                if pinger is not None:
                    pinger.sent()
                waiter = request._write(_encode(item))
                if waiter is not None:
                    await waiter  # output backpressure: the client reads slower than we write
        except asyncio.CancelledError:
            if not gone.done() or task is None:
                raise  # cancelled for another reason
            task.uncancel()
        finally:
            gone.remove_done_callback(client_left)
            if pinger is not None:
                pinger.stop()
            close = getattr(events, "aclose", None)
            if close is not None:
                await close()
        try:
            request._end()
        except ClientDisconnect:
            pass
