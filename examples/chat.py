"""A chat room over WebSocket, with live server metrics over Server-Sent Events.

    pronghorn run examples.chat:app        # then open http://127.0.0.1:8000/ in two tabs

- ``GET /``            the page (plain HTML and a few lines of JavaScript)
- ``WS  /ws?name=...`` the chat: every message is broadcast to everyone connected
- ``GET /metrics``     an event stream: members, messages, uptime, every ``interval`` seconds
"""

from __future__ import annotations

import asyncio
import resource
import time

from pronghorn import HTMLResponse, Pronghorn
from pronghorn.sse import EventSourceResponse, ServerSentEvent
from pronghorn.websockets import WebSocket, WebSocketDisconnect, WebSocketDisconnected

app = Pronghorn(title="pronghorn chat")


class Room:
    """Everyone connected to /ws, and what was said."""

    def __init__(self) -> None:
        self.members: set[WebSocket] = set()
        self.messages = 0
        self.started = time.monotonic()

    async def broadcast(self, message: dict) -> None:
        """Send to every member at once; members that went away are dropped."""
        members = list(self.members)
        results = await asyncio.gather(*(m.send_json(message) for m in members),
                                       return_exceptions=True)
        for member, result in zip(members, results):
            if isinstance(result, (WebSocketDisconnect, WebSocketDisconnected)):
                self.members.discard(member)

    def metrics(self) -> dict:
        return {
            "members": len(self.members),
            "messages": self.messages,
            "uptime_s": round(time.monotonic() - self.started, 1),
            "max_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        }


room = Room()


@app.get("/")
def index() -> HTMLResponse:
    return HTMLResponse(PAGE)


@app.websocket("/ws")
async def chat(websocket: WebSocket, name: str = "anonymous") -> None:
    name = name[:32] or "anonymous"
    await websocket.accept()
    room.members.add(websocket)
    await room.broadcast({"type": "join", "name": name, "members": len(room.members)})
    try:
        async for text in websocket.iter_text():
            room.messages += 1
            await room.broadcast({"type": "message", "name": name, "text": text[:1000]})
    finally:
        room.members.discard(websocket)
        await room.broadcast({"type": "leave", "name": name, "members": len(room.members)})


@app.get("/metrics")
async def metrics(interval: float = 1.0, count: int | None = None) -> EventSourceResponse:
    """Live metrics; ``count`` ends the stream after that many events (handy in tests)."""

    async def events():
        sent = 0
        while count is None or sent < count:
            yield ServerSentEvent(room.metrics(), event="metrics", id=sent)
            sent += 1
            if count is None or sent < count:
                await asyncio.sleep(interval)

    return EventSourceResponse(events())


PAGE = """<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>pronghorn chat</title>
<style>
  body { font: 15px system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; }
  #log { border: 1px solid #ccc; height: 20rem; overflow-y: auto; padding: .5rem; }
  #metrics { color: #555; font-size: 13px; }
</style>
<h1>pronghorn chat</h1>
<p id="metrics">connecting…</p>
<div id="log"></div>
<form id="form"><input id="text" autocomplete="off" autofocus> <button>Send</button></form>
<script>
  const name = prompt("Your name?") || "anonymous";
  const log = document.getElementById("log");
  const say = (line) => {
    const p = document.createElement("div"); p.textContent = line;
    log.append(p); log.scrollTop = log.scrollHeight;
  };
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/ws?name=${encodeURIComponent(name)}`);
  ws.onmessage = (event) => {
    const m = JSON.parse(event.data);
    if (m.type === "message") say(`${m.name}: ${m.text}`);
    else say(`* ${m.name} ${m.type === "join" ? "joined" : "left"} (${m.members} here)`);
  };
  ws.onclose = (event) => say(`* disconnected (${event.code})`);
  document.getElementById("form").onsubmit = (event) => {
    event.preventDefault();
    const input = document.getElementById("text");
    if (input.value) { ws.send(input.value); input.value = ""; }
  };
  const metrics = new EventSource("/metrics");
  metrics.addEventListener("metrics", (event) => {
    const m = JSON.parse(event.data);
    document.getElementById("metrics").textContent =
      `${m.members} connected · ${m.messages} messages · up ${m.uptime_s}s · ` +
      `max RSS ${m.max_rss_kib} KiB`;
  });
</script>
</html>
"""
