"""A Pronghorn app served both by ``pronghorn run`` and by uvicorn (ASGI direction 2).

Used by tests/test_asgi_differential.py (subprocesses) and tests/test_asgi_app.py
(in-process): every route answers deterministically so that the responses
of both servers can be compared.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from pathlib import Path

from pronghorn import HTTPException, JSONResponse, PlainTextResponse, Pronghorn, Request, Response
from pronghorn.fileresponse import FileResponse
from pronghorn.responses import RedirectResponse, StreamingResponse

FILE = Path(__file__).with_name("static.txt")
events: list[str] = []


@contextlib.asynccontextmanager
async def lifespan(app: Pronghorn):
    events.append("startup")
    yield {"greeting": "hello from lifespan"}
    events.append("shutdown")


app = Pronghorn(lifespan=lifespan)


@app.get("/")
def index():
    return PlainTextResponse("Hello, world!")


@app.get("/json")
def json_route():
    return {"hello": "world", "n": [1, 2, 3], "unicode": "café"}


@app.get("/users/{user_id}")
async def user(user_id: int):
    await asyncio.sleep(0)
    return {"user_id": user_id}


@app.get("/stream")
def stream(request: Request):
    count = int(request.query_params.get("n", "5"))

    async def pieces():
        for i in range(count):
            await asyncio.sleep(0)
            yield f"piece {i}\n".encode()

    return StreamingResponse(pieces(), media_type="text/plain")


@app.post("/upload")
async def upload(request: Request):
    digest = hashlib.sha256()
    size = 0
    async for chunk in request.stream():
        digest.update(chunk)
        size += len(chunk)
    return {"size": size, "sha256": digest.hexdigest()}


@app.post("/echo")
async def echo(request: Request):
    return Response(await request.body(), media_type="application/octet-stream")


@app.get("/state")
def state(request: Request):
    return {"greeting": request.app.state.greeting, "events": events}


@app.get("/error")
def error():
    raise RuntimeError("boom")


@app.get("/http-error")
async def http_error():
    raise HTTPException(418, "short and stout", headers={"x-tea": "earl grey"})


@app.get("/headers")
def headers(request: Request):
    seen = [[k, v] for k, v in request.headers.items() if k.startswith("x-")]
    response = JSONResponse({"seen": seen, "dup": request.headers.getlist("x-dup")})
    response.headers.append("x-multi", "one")
    response.headers.append("x-multi", "two")
    return response


@app.get("/cookies/set")
def set_cookies():
    response = PlainTextResponse("cookies set")
    response.set_cookie("session", "abc123", httponly=True, samesite="strict")
    response.set_cookie("theme", "dark", path="/app", max_age=3600)
    return response


@app.get("/cookies/read")
def read_cookies(request: Request):
    return request.cookies


@app.get("/query")
def query(request: Request):
    return {"items": request.query_params.multi_items(),
            "raw": request.query_string.decode("latin-1")}


@app.get("/paths/{rest:path}")
def paths(request: Request, rest: str):
    return {"path": request.path, "raw_path": request.raw_path.decode("latin-1"), "rest": rest}


@app.get("/a b")
def space(request: Request):
    return {"path": request.path, "raw_path": request.raw_path.decode("latin-1")}


@app.get("/no-content")
def no_content():
    return Response(status_code=204)


@app.get("/redirect")
def redirect():
    return RedirectResponse("/json", status_code=302)


@app.get("/file")
def file():
    return FileResponse(FILE, media_type="text/plain")


@app.get("/big")
def big():
    return PlainTextResponse("x" * 1_000_000)


@app.api_route("/method", methods=["GET", "POST", "DELETE"])
def method(request: Request):
    return {"method": request.method}
