"""A Starlette app for the ASGI differential tests (tests/test_asgi_differential.py).

Served unchanged by uvicorn and by ``pronghorn run --interface asgi``; every
route answers deterministically so that the two servers' responses can be
compared byte for byte (apart from Date/Server).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

FILE = Path(__file__).with_name("static.txt")


@contextlib.asynccontextmanager
async def lifespan(app: Starlette):
    yield {"greeting": "hello from lifespan", "tags": ["a", "b"]}


async def index(request: Request) -> Response:
    return PlainTextResponse("Hello, world!")


async def json_route(request: Request) -> Response:
    return JSONResponse({"hello": "world", "n": [1, 2, 3], "unicode": "café"})


async def stream(request: Request) -> Response:
    count = int(request.query_params.get("n", "5"))

    async def pieces():
        for i in range(count):
            await asyncio.sleep(0)
            yield f"piece {i}\n".encode()

    return StreamingResponse(pieces(), media_type="text/plain")


async def stream_with_length(request: Request) -> Response:
    async def pieces():
        for i in range(4):
            await asyncio.sleep(0)
            yield b"%d" % i * 10

    return StreamingResponse(pieces(), headers={"content-length": "40"})


async def upload(request: Request) -> Response:
    digest = hashlib.sha256()
    size = 0
    async for chunk in request.stream():
        digest.update(chunk)
        size += len(chunk)
    return JSONResponse({"size": size, "sha256": digest.hexdigest(),
                         "content_type": request.headers.get("content-type")})


async def echo(request: Request) -> Response:
    return Response(await request.body(), media_type="application/octet-stream")


async def state(request: Request) -> Response:
    before = getattr(request.state, "added", None)
    request.state.added = "per request"
    return JSONResponse({"greeting": request.state.greeting, "tags": request.state.tags,
                         "added_before": before})


async def error(request: Request) -> Response:
    raise RuntimeError("boom")


async def http_error(request: Request) -> Response:
    raise HTTPException(418, "short and stout", headers={"x-tea": "earl grey"})


async def headers(request: Request) -> Response:
    seen = [[k, v] for k, v in request.headers.items() if k.startswith("x-")]
    response = JSONResponse({"seen": seen, "dup": request.headers.getlist("x-dup")})
    response.raw_headers.append((b"x-multi", b"one"))
    response.raw_headers.append((b"x-multi", b"two"))
    response.raw_headers.append((b"X-Mixed-Case", b"Value"))
    return response


async def set_cookies(request: Request) -> Response:
    response = PlainTextResponse("cookies set")
    response.set_cookie("session", "abc123", httponly=True, samesite="strict")
    response.set_cookie("theme", "dark", path="/app", max_age=3600)
    response.delete_cookie("old")
    return response


async def read_cookies(request: Request) -> Response:
    return JSONResponse(request.cookies)


async def query(request: Request) -> Response:
    return JSONResponse({"items": request.query_params.multi_items(),
                         "raw": request.scope["query_string"].decode("latin-1")})


async def paths(request: Request) -> Response:
    return JSONResponse({"path": request.scope["path"],
                         "raw_path": request.scope["raw_path"].decode("latin-1"),
                         "param": request.path_params.get("rest"),
                         "url": str(request.url.path)})


async def no_content(request: Request) -> Response:
    return Response(status_code=204)


async def not_modified(request: Request) -> Response:
    return Response(status_code=304, headers={"etag": '"v1"'})


async def redirect(request: Request) -> Response:
    return RedirectResponse("/json", status_code=302)


async def file(request: Request) -> Response:
    return FileResponse(FILE, media_type="text/plain", stat_result=FILE.stat())


async def big(request: Request) -> Response:
    return PlainTextResponse("x" * 1_000_000)


async def method(request: Request) -> Response:
    return JSONResponse({"method": request.method})


app = Starlette(
    lifespan=lifespan,
    routes=[
        Route("/", index),
        Route("/json", json_route),
        Route("/stream", stream),
        Route("/stream-length", stream_with_length),
        Route("/upload", upload, methods=["POST", "PUT"]),
        Route("/echo", echo, methods=["POST"]),
        Route("/state", state),
        Route("/error", error),
        Route("/http-error", http_error),
        Route("/headers", headers),
        Route("/cookies/set", set_cookies),
        Route("/cookies/read", read_cookies),
        Route("/query", query),
        Route("/a b", paths),
        Route("/paths/{rest:path}", paths),
        Route("/items/{rest}", paths),
        Route("/no-content", no_content),
        Route("/not-modified", not_modified),
        Route("/redirect", redirect),
        Route("/file", file),
        Route("/big", big),
        Route("/method", method, methods=["GET", "POST", "DELETE"]),
    ],
)
