"""Plain ASGI 3.0 callables (no framework) for the CLI tests of tests/test_asgi_server.py.

``app``: lifespan with state, ``/pid``, ``/sleep?s=SECONDS``, ``/state``; it
prints its lifespan events to stderr (the server's log).
``failing_startup``: answers lifespan.startup with lifespan.startup.failed.
``no_lifespan``: raises on the lifespan scope, as apps without lifespan support do.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def _respond(send, status: int, body: bytes, content_type: bytes = b"text/plain") -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type)]})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive, send, state: dict) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            state["started"] = "yes"
            _log("asgi_raw: lifespan startup")
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            _log("asgi_raw: lifespan shutdown")
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await _lifespan(receive, send, scope["state"])
        return
    path = scope["path"]
    if path == "/pid":
        await _respond(send, 200, str(os.getpid()).encode())
    elif path == "/sleep":
        seconds = float(scope["query_string"].decode().partition("=")[2] or "1")
        _log("asgi_raw: sleeping")
        await asyncio.sleep(seconds)
        await _respond(send, 200, b"slept")
    elif path == "/state":
        await _respond(send, 200, json.dumps(scope.get("state")).encode(), b"application/json")
    else:
        await _respond(send, 404, b"not found")


async def failing_startup(scope, receive, send):
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "database unreachable"})
        return
    await _respond(send, 200, b"never served")


async def no_lifespan(scope, receive, send):
    assert scope["type"] == "http", "only HTTP is supported"
    await _respond(send, 200, json.dumps({"state": scope.get("state")}).encode(),
                   b"application/json")
