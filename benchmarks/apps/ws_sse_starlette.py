"""WebSocket echo and SSE stream on Starlette (uvicorn, granian, pronghorn --interface asgi).

Starlette has no EventSourceResponse of its own (sse-starlette is a separate
package): the stream is a StreamingResponse of pre-encoded ``data:`` events,
the same bytes pronghorn's EventSourceResponse writes.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

EVENT = b"data: 0123456789abcdef\n\n"


async def index(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    try:
        while True:
            await websocket.send_text(await websocket.receive_text())
    except WebSocketDisconnect:
        pass


async def sse(request: Request) -> StreamingResponse:
    n = int(request.query_params.get("n", "100000"))

    async def events():
        for _ in range(n):
            yield EVENT

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"cache-control": "no-cache"})


app = Starlette(routes=[Route("/", index), Route("/sse", sse), WebSocketRoute("/echo", echo)])
