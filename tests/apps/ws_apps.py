"""WebSocket apps for tests/test_ws_interop.py: the same endpoints written for Starlette,
FastAPI and pronghorn, served by ``pronghorn run`` (ASGI or native) and by uvicorn."""

from __future__ import annotations

from typing import Annotated

import fastapi
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse as StarlettePlainText
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket as StarletteWebSocket
from starlette.websockets import WebSocketDisconnect as StarletteDisconnect

from pronghorn import Depends, Pronghorn, Query
from pronghorn.responses import PlainTextResponse
from pronghorn.websockets import WebSocket, WebSocketDisconnect

# ---- Starlette ----------------------------------------------------------------------------


async def star_echo(websocket: StarletteWebSocket) -> None:
    offered = websocket.scope["subprotocols"]
    await websocket.accept(subprotocol=offered[0] if offered else None,
                           headers=[(b"x-server-app", b"starlette")])
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("text") == "close-me":
                await websocket.close(4000, "as asked")
                return
            if message.get("text") is not None:
                await websocket.send_text(message["text"])
            else:
                await websocket.send_bytes(message["bytes"])
    except StarletteDisconnect:
        pass


async def star_close(websocket: StarletteWebSocket) -> None:
    await websocket.close()


async def star_deny(websocket: StarletteWebSocket) -> None:
    await websocket.send_denial_response(StarlettePlainText("denied", 401))


async def star_raise(websocket: StarletteWebSocket) -> None:
    raise RuntimeError("before accept")


async def star_raise_after(websocket: StarletteWebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("accepted")
    raise RuntimeError("after accept")


async def star_return(websocket: StarletteWebSocket) -> None:
    return


async def star_scope(websocket: StarletteWebSocket) -> None:
    await websocket.accept()
    scope = websocket.scope
    await websocket.send_json({
        "type": scope["type"], "scheme": scope["scheme"], "path": scope["path"],
        "query_string": scope["query_string"].decode(), "subprotocols": scope["subprotocols"],
        "has_method": "method" in scope, "http_version": scope["http_version"],
        "denial_extension": "websocket.http.response" in scope.get("extensions", {}),
    })
    await websocket.close()


starlette_app = Starlette(routes=[
    WebSocketRoute("/echo", star_echo),
    WebSocketRoute("/close", star_close),
    WebSocketRoute("/deny", star_deny),
    WebSocketRoute("/raise", star_raise),
    WebSocketRoute("/raise-after", star_raise_after),
    WebSocketRoute("/return", star_return),
    WebSocketRoute("/scope", star_scope),
])

# ---- FastAPI ------------------------------------------------------------------------------

fastapi_app = fastapi.FastAPI()


def fastapi_token(token: str = fastapi.Query()) -> str:
    if token != "t":
        raise fastapi.WebSocketException(1008, "bad token")
    return token


@fastapi_app.websocket("/rooms/{room}")
async def fastapi_room(websocket: fastapi.WebSocket, room: int,
                       token: Annotated[str, fastapi.Depends(fastapi_token)]) -> None:
    await websocket.accept()
    async for text in websocket.iter_text():
        await websocket.send_json({"room": room, "token": token, "text": text})

# ---- pronghorn ----------------------------------------------------------------------------

pronghorn_app = Pronghorn()


def pronghorn_token(token: str = Query()) -> str:
    return token


@pronghorn_app.websocket("/echo")
async def pronghorn_echo(websocket: WebSocket) -> None:
    offered = websocket.subprotocols
    await websocket.accept(subprotocol=offered[0] if offered else None,
                           headers=[(b"x-server-app", b"pronghorn")])
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("text") == "close-me":
                await websocket.close(4000, "as asked")
                return
            if message.get("text") is not None:
                await websocket.send_text(message["text"])
            else:
                await websocket.send_bytes(message["bytes"])
    except WebSocketDisconnect:
        pass


@pronghorn_app.websocket("/rooms/{room}")
async def pronghorn_room(websocket: WebSocket, room: int,
                         token: Annotated[str, Depends(pronghorn_token)]) -> None:
    await websocket.accept()
    async for text in websocket.iter_text():
        await websocket.send_json({"room": room, "token": token, "text": text})


@pronghorn_app.websocket("/close")
async def pronghorn_close(websocket: WebSocket) -> None:
    await websocket.close()


@pronghorn_app.websocket("/deny")
async def pronghorn_deny(websocket: WebSocket) -> None:
    await websocket.send_denial_response(PlainTextResponse("denied", 401))


@pronghorn_app.websocket("/raise-after")
async def pronghorn_raise_after(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("accepted")
    raise RuntimeError("after accept")


@pronghorn_app.get("/")
def pronghorn_index() -> str:
    return "http still works"
