"""The Request API (pronghorn.requests) as handlers see it.

Every test that goes through ``client`` runs twice: through the TestClient
(engine in memory) and through a real loopback socket (see conftest.py).
"""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from pronghorn import HTTPException, PlainTextResponse, Pronghorn, Request, _core
from pronghorn.datastructures import Address, Headers, QueryParams, State
from tests.conftest import LiveServer, run_markdown_examples

app = Pronghorn()


@app.get("/headers")
def headers_route(request: Request):
    h = request.headers
    return {
        "dup": h.getlist("X-Dup"),
        "mixed": h["x-MIXED-case"],
        "missing": "x-missing" in h,
        "latin": h.get("x-latin"),
        "same_object": request.headers is h,
        "type": type(h).__name__,
    }


@app.get("/query")
def query_route(request: Request):
    q = request.query_params
    return {"items": q.multi_items(), "last": dict(q), "same_object": request.query_params is q}


@app.get("/cookies")
def cookies_route(request: Request):
    return request.cookies


@app.get("/url/{name}")
def url_route(request: Request):
    return {"url": str(request.url), "base": str(request.base_url), "path": request.path,
            "hostname": request.url.hostname, "port": request.url.port,
            "query": request.url.query}


@app.get("/client")
def client_route(request: Request):
    client = request.client
    return {"is_address": isinstance(client, Address), "host": client.host,
            "port": client.port, "tuple": list(client)}


@app.get("/state")
def state_route(request: Request):
    first = request.state
    seen_before = getattr(first, "marker", None)
    request.state.marker = "set"
    try:
        request.state.missing
    except AttributeError as exc:
        message = str(exc)
    return {"before": seen_before, "after": request.state.marker,
            "same": request.state is first, "message": message}


@app.post("/json")
async def json_route(request: Request):
    data = await request.json()
    again = await request.json()
    return {"data": data, "cached": again is data}


@app.post("/body")
async def body_route(request: Request):
    body = await request.body()
    streamed = b"".join([chunk async for chunk in request.stream()])
    return {"len": len(body), "start": body[:10].decode(), "stream_after_body": len(streamed),
            "disconnected": await request.is_disconnected()}


@app.post("/stream")
async def stream_route(request: Request):
    total = 0
    chunks = 0
    async for chunk in request.stream():
        total += len(chunk)
        chunks += 1
    try:
        await request.body()
    except RuntimeError as exc:
        error = str(exc)
    return {"total": total, "chunks": chunks, "body_after_stream": error}


@app.post("/sync-body")
def sync_body_route(request: Request):
    return PlainTextResponse(request.headers.get("content-type", ""))


@app.get("/teapot")
def teapot():
    raise HTTPException(418, {"reason": "short and stout"}, headers={"x-tea": "earl grey"})


@app.get("/forbidden")
async def forbidden():
    await asyncio.sleep(0)
    raise HTTPException(403)


@app.get("/no-content-error")
def no_content_error():
    raise HTTPException(304)


@pytest.fixture
def client(connect):
    return connect(app)


def base(client) -> str:
    return str(client.base_url).rstrip("/")


# ---- headers ---------------------------------------------------------------------------


def test_headers_case_insensitive_and_duplicates(client):
    response = client.get("/headers", headers=[
        ("X-Dup", "one"), ("x-dup", "two"), ("X-Mixed-Case", "v"), ("X-Latin", b"caf\xe9")])
    assert response.json() == {"dup": ["one", "two"], "mixed": "v", "missing": False,
                               "latin": "café", "same_object": True, "type": "Headers"}


# ---- query parameters -------------------------------------------------------------------


def test_query_params(client):
    query = "a=1&a=2&sp=%20x+y&blank=&bare&=novalue&%E2%9C%93=%C3%A9&bad=%zz&amp=%26"
    response = client.get(f"/query?{query}")
    assert response.json() == {
        "items": [["a", "1"], ["a", "2"], ["sp", " x y"], ["blank", ""], ["bare", ""],
                  ["", "novalue"], ["✓", "é"], ["bad", "%zz"], ["amp", "&"]],
        "last": {"a": "2", "sp": " x y", "blank": "", "bare": "", "": "novalue", "✓": "é",
                 "bad": "%zz", "amp": "&"},
        "same_object": True,
    }


def test_query_params_from_httpx_params(client):
    response = client.get("/query", params={"q": "a b&c", "n": [1, 2]})
    assert response.json()["items"] == [["q", "a b&c"], ["n", "1"], ["n", "2"]]


def test_too_many_query_params_is_400(client):
    response = client.get("/query?" + "&".join(f"k{i}=" for i in range(1001)))
    assert response.status_code == 400
    assert response.json() == {"detail": "Invalid query string: more than 1000 fields"}


# ---- cookies -------------------------------------------------------------------------


def test_cookies(client):
    response = client.get("/cookies", headers={
        "cookie": 'a=1; b="quoted value"; junk; c = spaced ;;d=4=5; a=last; e='})
    assert response.json() == {"a": "last", "b": "quoted value", "": "junk", "c": "spaced",
                               "d": "4=5", "e": ""}


def test_several_cookie_headers_are_joined(client):
    response = client.get("/cookies", headers=[("cookie", "a=1; b=2"), ("cookie", "c=3")])
    assert response.json() == {"a": "1", "b": "2", "c": "3"}


def test_cookies_are_bounded(client):
    cookie = "; ".join(f"c{i}={i}" for i in range(300))
    cookies = client.get("/cookies", headers={"cookie": cookie}).json()
    assert len(cookies) == 200
    assert cookies["c0"] == "0" and cookies["c199"] == "199" and "c200" not in cookies


def test_no_cookies(client):
    assert client.get("/cookies").json() == {}


# ---- url, base_url, client -------------------------------------------------------------


def test_url_keeps_raw_path_and_query(client):
    data = client.get("/url/a%20b?x=1&y=%2F").json()
    assert data["url"] == f"{base(client)}/url/a%20b?x=1&y=%2F"
    assert data["base"] == f"{base(client)}/"
    assert data["path"] == "/url/a b"
    assert data["query"] == "x=1&y=%2F"


def test_url_uses_host_header_with_port(client):
    data = client.get("/url/x", headers={"host": "example.com:8080"}).json()
    assert data["url"] == "http://example.com:8080/url/x"
    assert data["base"] == "http://example.com:8080/"
    assert (data["hostname"], data["port"]) == ("example.com", 8080)


def test_url_with_ipv6_host(client):
    data = client.get("/url/x?q", headers={"host": "[::1]:8000"}).json()
    assert data["url"] == "http://[::1]:8000/url/x?q"
    assert (data["hostname"], data["port"]) == ("::1", 8000)


def test_client_address(client, transport):
    data = client.get("/client").json()
    assert data["is_address"]
    if transport == "testclient":
        assert data["tuple"] == ["testclient", 50000]
    else:
        assert data["host"] == "127.0.0.1" and 0 < data["port"] < 65536


def test_state_is_per_request(client):
    for _ in range(2):
        assert client.get("/state").json() == {
            "before": None, "after": "set", "same": True,
            "message": "'State' object has no attribute 'missing' "
                       "(nothing has set state.missing yet)"}


# ---- body ------------------------------------------------------------------------------


def test_json(client):
    response = client.post("/json", json={"a": [1, 2], "b": None})
    assert response.json() == {"data": {"a": [1, 2], "b": None}, "cached": True}


@pytest.mark.parametrize(("body", "reason"), [
    (b"{not json", "JSON is malformed"),
    (b"", "Input data was truncated"),
    (b'{"a": 1} trailing', "trailing characters"),
])
def test_invalid_json_is_400_with_readable_detail(client, body, reason):
    response = client.post("/json", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert detail.startswith("Invalid JSON body: ") and reason in detail


def test_body_with_content_length(client):
    payload = b"0123456789" * 10_000
    response = client.post("/body", content=payload)
    assert response.json() == {"len": 100_000, "start": "0123456789",
                               "stream_after_body": 100_000, "disconnected": False}


def test_body_chunked_upload(client):
    def chunks():
        for i in range(50):
            yield bytes([65 + i % 26]) * 1000

    response = client.post("/body", content=chunks())
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert response.json()["len"] == 50_000 and response.json()["start"] == "A" * 10


@pytest.mark.parametrize("chunked", [False, True])
def test_stream(client, chunked):
    payload = b"x" * 300_000
    content = iter([payload[:100_000], payload[100_000:]]) if chunked else payload
    data = client.post("/stream", content=content).json()
    assert data["total"] == 300_000 and data["chunks"] >= 1
    assert data["body_after_stream"] == "the request body was already consumed by stream()"


def test_empty_body(client):
    assert client.post("/body").json()["len"] == 0


def test_form_and_files_bodies_arrive_unparsed(client):
    assert client.post("/sync-body", data={"a": "1"}).text == "application/x-www-form-urlencoded"
    files = {"upload": ("a.txt", b"hello", "text/plain")}
    assert client.post("/sync-body", files=files).text.startswith("multipart/form-data; boundary=")


# ---- HTTPException ---------------------------------------------------------------------


def test_http_exception_with_headers(client):
    response = client.get("/teapot")
    assert response.status_code == 418
    assert response.json() == {"detail": {"reason": "short and stout"}}
    assert response.headers["x-tea"] == "earl grey"
    assert response.headers["content-type"] == "application/json"


def test_http_exception_default_detail_from_async_handler(client):
    response = client.get("/forbidden")
    assert (response.status_code, response.json()) == (403, {"detail": "Forbidden"})


def test_http_exception_without_body_status(client):
    response = client.get("/no-content-error")
    assert response.status_code == 304 and response.content == b""


def test_http_exception_repr_and_str():
    exc = HTTPException(404, headers={"a": "b"})
    assert (exc.status_code, exc.detail, exc.headers) == (404, "Not Found", {"a": "b"})
    assert str(exc) == "404: Not Found"
    assert repr(exc) == "HTTPException(status_code=404, detail='Not Found')"
    assert HTTPException(599).detail == ""


# ---- requests without a Host header (the server address is used) -----------------------


def test_url_without_host_uses_server_address():
    server = LiveServer(app)
    try:
        reply = server.raw_request(b"GET /url/x?q=1 HTTP/1.0\r\n\r\n")
    finally:
        server.close()
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert msgspec.json.decode(body)["url"] == f"http://127.0.0.1:{server.port}/url/x?q=1"


async def test_url_without_host_omits_default_port():
    engine = _core.Server(app._handle, app=app)
    conn = engine.memory_connection(server=("10.0.0.1", 80))
    conn.feed(b"GET /url/y HTTP/1.0\r\n\r\n")
    try:
        out = conn.output()
        assert b'"url":"http://10.0.0.1/url/y"' in out
        assert b'"base":"http://10.0.0.1/"' in out
    finally:
        engine.close_all()


# ---- the Request type itself ------------------------------------------------------------


def test_lazy_attributes_are_cached_in_the_instance_dict():
    seen = {}

    async def handler(request: Request):
        seen["before"] = set(request.__dict__)
        request.headers, request.query_params, request.cookies, request.url, request.state
        seen["after"] = set(request.__dict__)
        seen["types"] = (type(request.headers), type(request.query_params), type(request.state))
        return PlainTextResponse("ok")

    async def run():
        engine = _core.Server(handler)
        conn = engine.memory_connection()
        conn.feed(b"GET /?a=1 HTTP/1.1\r\nHost: h\r\nCookie: c=1\r\n\r\n")
        assert conn.output().endswith(b"ok")
        engine.close_all()

    asyncio.run(run())
    assert seen["before"] == set()
    assert {"headers", "query_params", "cookies", "url", "state"} <= seen["after"]
    assert seen["types"] == (Headers, QueryParams, State)


def test_docs_requests_examples_run():
    run_markdown_examples("docs/requests.md")


# ---- absolute-form targets (RFC 9112 §3.2.2) ---------------------------------------------


@pytest.mark.parametrize(("target", "url"), [
    (b"http://example.com:8080/url/a?q=1", "http://example.com:8080/url/a?q=1"),
    (b"http://user:pw@example.com/url/b", "http://example.com/url/b"),
    (b"http://[::1]:81/url/c", "http://[::1]:81/url/c"),
])
async def test_absolute_form_target_authority_wins_over_host(target, url):
    engine = _core.Server(app._handle, **app.engine_options())
    conn = engine.memory_connection()
    conn.feed(b"GET %s HTTP/1.1\r\nHost: ignored.example\r\n\r\n" % target)
    try:
        body = msgspec.json.decode(conn.output().partition(b"\r\n\r\n")[2])
    finally:
        engine.close_all()
    assert body["url"] == url
    assert body["base"] == url[:url.index("/url/") + 1]
