"""A FastAPI app for the ASGI differential tests (tests/test_asgi_differential.py).

Served unchanged by uvicorn and by ``pronghorn run --interface asgi``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from typing import Annotated

from fastapi import Cookie, FastAPI, File, Header, HTTPException, Query, Request, UploadFile
from fastapi.responses import PlainTextResponse, Response, StreamingResponse
from pydantic import BaseModel


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI):
    yield {"db": "connected", "limits": {"max": 10}}


app = FastAPI(lifespan=lifespan, title="differential")


class Item(BaseModel):
    name: str
    price: float
    tags: list[str] = []


@app.get("/")
async def index():
    return {"hello": "world"}


@app.get("/items/{item_id}")
async def read_item(item_id: int, q: str | None = None, limit: int = 10):
    return {"item_id": item_id, "q": q, "limit": limit}


@app.post("/items", status_code=201)
async def create_item(item: Item):
    return {"created": item.model_dump()}


@app.put("/items/{item_id}")
def replace_item(item_id: int, item: Item):
    return {"item_id": item_id, **item.model_dump()}


@app.get("/state")
async def state(request: Request):
    return {"db": request.state.db, "limits": request.state.limits}


@app.get("/missing")
async def missing():
    raise HTTPException(404, "no such thing", headers={"x-reason": "missing"})


@app.get("/error")
async def error():
    raise ValueError("boom")


@app.get("/sync-error")
def sync_error():
    raise ValueError("boom in a thread")


@app.get("/stream")
async def stream(n: int = 5):
    async def pieces():
        for i in range(n):
            await asyncio.sleep(0)
            yield f"data: {i}\n\n"

    return StreamingResponse(pieces(), media_type="text/event-stream")


@app.post("/upload")
async def upload(request: Request):
    digest = hashlib.sha256()
    size = 0
    async for chunk in request.stream():
        digest.update(chunk)
        size += len(chunk)
    return {"size": size, "sha256": digest.hexdigest()}


@app.post("/files")
async def files(file: UploadFile = File(...)):
    data = await file.read()
    return {"filename": file.filename, "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(), "content_type": file.content_type}


@app.get("/headers")
async def headers(x_token: Annotated[list[str] | None, Header()] = None,
                  user_agent: Annotated[str | None, Header()] = None):
    response = Response(content=f"tokens={x_token}", media_type="text/plain")
    response.headers.append("x-multi", "one")
    response.headers.append("x-multi", "two")
    response.headers["X-Mixed-Case"] = "Value"
    return response


@app.get("/cookies/set")
async def set_cookies(response: Response):
    response.set_cookie("session", "abc123", httponly=True)
    response.set_cookie("theme", "dark", max_age=60)
    return {"set": True}


@app.get("/cookies/read")
async def read_cookies(session: Annotated[str | None, Cookie()] = None,
                       theme: Annotated[str | None, Cookie()] = None):
    return {"session": session, "theme": theme}


@app.get("/query")
async def query(request: Request, tag: Annotated[list[str], Query()] = []):
    return {"tag": tag, "all": request.query_params.multi_items()}


@app.get("/paths/{rest:path}")
async def paths(rest: str, request: Request):
    return {"rest": rest, "path": request.scope["path"],
            "raw_path": request.scope["raw_path"].decode("latin-1")}


@app.get("/text", response_class=PlainTextResponse)
async def text():
    return "plain text"


@app.delete("/items/{item_id}", status_code=204)
async def delete_item(item_id: int):
    return None
