"""Server-Sent Events over a real socket: encoding, flushing per event, pings,
Last-Event-ID, and prompt cleanup of the generator when the client leaves."""
import asyncio
import socket
import threading
import time

import httpx
import pytest

from pronghorn import Pronghorn, _core
from pronghorn.sse import EventSourceResponse, ServerSentEvent

cleanup = {}


def make_app():
    app = Pronghorn()

    @app.get("/events")
    async def events(request):
        async def gen():
            yield ServerSentEvent("hello", event="greeting", id=1, retry=1000)
            yield {"data": {"n": 1}, "event": "json"}
            yield "line one\nline two\r\nline three"
            await asyncio.sleep(0.3)
            yield ServerSentEvent(comment="late")
        return EventSourceResponse(gen(), ping=None)

    @app.get("/slow")
    async def slow(request):
        async def gen():
            for i in range(3):
                await asyncio.sleep(0.2)
                yield str(i)
        return EventSourceResponse(gen(), ping=None)

    @app.get("/ping")
    async def ping(request):
        async def gen():
            await asyncio.sleep(0.35)
            yield "after pings"
        return EventSourceResponse(gen(), ping=0.1)

    @app.get("/forever")
    async def forever(request):
        last = request.headers.get("last-event-id")
        cleanup["last_event_id"] = last

        async def gen():
            i = int(last or 0)
            try:
                while True:
                    i += 1
                    yield ServerSentEvent(i, id=i)
                    await asyncio.sleep(0.05)
            finally:
                cleanup["closed_at"] = time.monotonic()
        return EventSourceResponse(gen(), ping=None)

    @app.get("/sync")
    def sync_events():
        return EventSourceResponse(iter(["a", "b"]), ping=None)

    return app


@pytest.fixture
def base_url():
    app = make_app()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    sock.setblocking(False)
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder = {}

    def run():
        asyncio.set_event_loop(loop)
        srv = _core.Server(app._handle, **app.engine_options())
        srv.listen(sock.fileno())
        srv.start(loop)
        holder["srv"] = srv
        ready.set()
        loop.run_forever()
        srv.close_all()
        loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(5)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    sock.close()


def test_encoding_and_headers(base_url):
    with httpx.Client(timeout=5) as client:
        r = client.get(base_url + "/events")
    assert r.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert r.headers["cache-control"] == "no-cache"
    assert r.headers["transfer-encoding"] == "chunked"
    assert r.text == (
        "event: greeting\nid: 1\nretry: 1000\ndata: hello\n\n"
        'event: json\ndata: {"n":1}\n\n'
        "data: line one\ndata: line two\ndata: line three\n\n"
        ": late\n\n"
    )


def test_each_event_is_flushed_when_produced(base_url):
    arrivals = []
    with httpx.Client(timeout=5) as client:
        start = time.monotonic()
        with client.stream("GET", base_url + "/slow") as r:
            for line in r.iter_lines():
                if line.startswith("data:"):
                    arrivals.append(time.monotonic() - start)
    assert len(arrivals) == 3
    # events arrive about 0.2 s apart, not all at the end
    assert arrivals[0] < 0.5 and arrivals[2] - arrivals[0] > 0.25


def test_pings_while_quiet(base_url):
    with httpx.Client(timeout=5) as client:
        r = client.get(base_url + "/ping")
    assert r.text.count(": ping\n\n") >= 2
    assert r.text.endswith("data: after pings\n\n")


def test_sync_generator(base_url):
    with httpx.Client(timeout=5) as client:
        r = client.get(base_url + "/sync")
    assert r.text == "data: a\n\ndata: b\n\n"


def test_generator_closed_promptly_on_disconnect_and_last_event_id(base_url):
    cleanup.clear()
    with httpx.Client(timeout=5) as client:
        with client.stream("GET", base_url + "/forever",
                           headers={"last-event-id": "41"}) as r:
            ids = []
            for line in r.iter_lines():
                if line.startswith("id:"):
                    ids.append(int(line[3:]))
                if len(ids) == 3:
                    break
            left = time.monotonic()
    assert cleanup["last_event_id"] == "41"
    assert ids == [42, 43, 44]
    deadline = time.monotonic() + 3
    while "closed_at" not in cleanup and time.monotonic() < deadline:
        time.sleep(0.01)
    assert "closed_at" in cleanup, "the generator was not closed after the client left"
    assert cleanup["closed_at"] - left < 1.0


def test_event_fields_validated():
    with pytest.raises(ValueError):
        ServerSentEvent("x", event="a\nb")
    with pytest.raises(ValueError):
        ServerSentEvent("x", id="1\r2")
    with pytest.raises(ValueError):
        ServerSentEvent("x", retry=-1)


@pytest.mark.parametrize("data", ["", "abc", "ünïcode ✓", "a\nb", "a\rb", "a\r\nb", "\n", "x\n"])
def test_plain_string_events_encode_as_server_sent_event_does(data):
    # _encode has a fast path for one-line strings; it must give ServerSentEvent's bytes.
    from pronghorn.sse import _encode

    assert _encode(data) == ServerSentEvent(data).encode()
