"""WebSocket echo and SSE stream on pronghorn's native API (benchmarks/ws_sse.py)."""

from __future__ import annotations

from pronghorn import PlainTextResponse, Pronghorn
from pronghorn.sse import EventSourceResponse
from pronghorn.websockets import WebSocket

app = Pronghorn()
EVENT = "0123456789abcdef"


@app.get("/")
def index(request) -> PlainTextResponse:
    return PlainTextResponse("ok")


@app.websocket("/echo")
async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        await websocket.send_text(message["text"])


@app.get("/sse")
async def sse(request):
    n = int(request.query_params.get("n", "100000"))

    async def events():
        for _ in range(n):
            yield EVENT

    return EventSourceResponse(events(), ping=None)
