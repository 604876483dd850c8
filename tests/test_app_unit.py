"""Routing, dispatch and result conversion of Pronghorn, without a server.

``app._handle`` is called with a fake request carrying the attributes the
engine's Request has; async handlers come back as coroutines that are run
with asyncio here.
"""

import asyncio
import functools
import inspect
import logging

import msgspec
import pytest

from pronghorn import JSONResponse, PlainTextResponse, Pronghorn, Response
from pronghorn.datastructures import Headers, QueryParams


class Request:  # same name as the engine's type, for annotation detection
    def __init__(self, method="GET", path="/", body=b""):
        self.method = method
        self.path = path
        self.path_params = {}
        self._body = body
        self.query_params = QueryParams()
        self.headers = Headers()
        self.cookies = {}

    async def body(self):
        return self._body


def call(app, method="GET", path="/", body=b""):
    result = app._handle(Request(method, path, body))
    if inspect.iscoroutine(result):
        result = asyncio.run(result)
    assert isinstance(result, Response)
    return result


def decoded(response):
    return msgspec.json.decode(response.body)


@pytest.fixture()
def app():
    return Pronghorn()


def test_sync_handler_returns_response_directly(app):
    @app.get("/")
    def index():
        return PlainTextResponse("hi")

    result = app._handle(Request())
    assert not inspect.isawaitable(result)
    assert result.body == b"hi"


def test_async_handler_returns_coroutine(app):
    @app.get("/")
    async def index():
        return {"a": 1}

    result = app._handle(Request())
    assert inspect.iscoroutine(result)
    response = asyncio.run(result)
    assert decoded(response) == {"a": 1}


@pytest.mark.parametrize(
    ("value", "body"),
    [({"a": 1}, b'{"a":1}'), ([1, 2], b"[1,2]"), ("text", b'"text"'), (42, b"42"),
     (None, b"null"), (1.5, b"1.5"), (True, b"true")],
)
@pytest.mark.parametrize("is_async", [False, True])
def test_results_become_json(app, value, body, is_async):
    if is_async:
        async def handler():
            return value
    else:
        def handler():
            return value
    app.add_api_route("/", handler)
    response = call(app)
    assert response.status_code == 200
    assert response.body == body
    assert response.raw_headers == [(b"content-type", b"application/json")]


def test_bytes_result_is_a_json_string_like_fastapi(app):
    app.add_api_route("/", lambda: b"caf\xc3\xa9")
    response = call(app)
    assert response.body == '"café"'.encode()
    assert response.raw_headers == [(b"content-type", b"application/json")]


def test_response_result_sent_as_is(app):
    sent = JSONResponse({"x": 1}, status_code=201, headers={"x-a": "b"})
    app.add_api_route("/", lambda: sent)
    assert call(app) is sent


def test_404(app):
    app.add_api_route("/", lambda: None)
    response = call(app, path="/nope")
    assert response.status_code == 404
    assert decoded(response) == {"detail": "Not Found"}


def test_405_with_allow_header(app):
    @app.get("/items")
    def list_items():
        return []

    @app.post("/items")
    def add_item():
        return {}

    response = call(app, "DELETE", "/items")
    assert response.status_code == 405
    assert decoded(response) == {"detail": "Method Not Allowed"}
    assert dict(response.raw_headers)[b"allow"] == b"GET, HEAD, POST"


def test_405_on_parametrised_path(app):
    app.add_api_route("/u/{id}", lambda id: id, methods=["PUT"])
    response = call(app, "GET", "/u/1")
    assert response.status_code == 405
    assert dict(response.raw_headers)[b"allow"] == b"PUT"


def test_head_answered_by_get(app):
    app.add_api_route("/", lambda: "x")
    assert call(app, "HEAD").body == b'"x"'


def test_explicit_head_overrides_implicit(app):
    app.add_api_route("/", lambda: "get")
    app.add_api_route("/", lambda: "head", methods=["HEAD"])
    assert call(app, "HEAD").body == b'"head"'
    assert call(app, "GET").body == b'"get"'


def test_duplicate_route_rejected(app):
    app.add_api_route("/", lambda: 1)
    with pytest.raises(ValueError, match="already registered"):
        app.add_api_route("/", lambda: 2)


def test_method_decorators(app):
    for name in ("get", "post", "put", "delete", "patch"):
        getattr(app, name)("/m")(functools.partial(lambda n: n, name))
    for name in ("get", "post", "put", "delete", "patch"):
        assert decoded(call(app, name.upper(), "/m")) == name


def test_route_multiple_methods(app):
    @app.route("/r", methods=["get", "POST"])
    def handler(request):
        return request.method

    assert decoded(call(app, "GET", "/r")) == "GET"
    assert decoded(call(app, "POST", "/r")) == "POST"


def test_path_params_passed_as_str(app):
    @app.get("/users/{user_id}/posts/{post_id}")
    def get_post(user_id, post_id):
        return [user_id, post_id]

    assert decoded(call(app, path="/users/7/posts/abc")) == ["7", "abc"]


def test_path_params_set_on_request(app):
    app.add_api_route("/users/{user_id}", lambda request: dict(request.path_params))
    assert decoded(call(app, path="/users/9")) == {"user_id": "9"}


def test_path_param_matches_one_segment(app):
    app.add_api_route("/users/{user_id}", lambda user_id: user_id)
    assert call(app, path="/users/").status_code == 404
    assert call(app, path="/users/1/x").status_code == 404
    assert call(app, path="/users").status_code == 404


def test_param_within_segment_is_refused_clearly(app):
    # A documented limitation of the C router: a parameter spans a whole segment.
    with pytest.raises(ValueError, match="parameter must span a whole segment"):
        app.add_api_route("/files/{name}.txt", lambda name: name)


def test_static_path_beats_parametrised(app):
    app.add_api_route("/users/{user_id}", lambda user_id: "param")
    app.add_api_route("/users/me", lambda: "static")
    assert decoded(call(app, path="/users/me")) == "static"
    assert decoded(call(app, path="/users/you")) == "param"


def test_handler_may_ignore_path_params(app):
    app.add_api_route("/a/{x}/{y}", lambda y: y)
    app.add_api_route("/b/{x}", lambda: "none")
    assert decoded(call(app, path="/a/1/2")) == "2"
    assert decoded(call(app, path="/b/1")) == "none"


def test_var_keyword_handler_gets_all_params(app):
    app.add_api_route("/a/{x}/{y}", lambda **kw: kw)
    assert decoded(call(app, path="/a/1/2")) == {"x": "1", "y": "2"}


def test_request_detected_by_name(app):
    @app.post("/echo")
    async def echo(request):
        return (await request.body()).decode()

    assert decoded(call(app, "POST", "/echo", b"payload")) == "payload"


def test_request_detected_by_annotation_object(app):
    def handler(request: Request):
        return request.method

    app.add_api_route("/", handler)
    assert decoded(call(app)) == "GET"


def test_request_detected_by_string_annotation(app):
    def handler(request: "pronghorn.Request", item: str):  # noqa: F821
        return [request.method, item]

    app.add_api_route("/{item}", handler)
    assert decoded(call(app, path="/z")) == ["GET", "z"]


def test_request_found_by_annotation_under_any_name(app):
    # FastAPI: a parameter annotated Request receives the request, whatever its name.
    def handler(req: Request):
        return req.method

    app.add_api_route("/", handler)
    assert decoded(call(app)) == "GET"


def test_unknown_parameter_is_a_required_query_parameter(app):
    app.add_api_route("/", lambda q: q)  # as in FastAPI
    response = call(app)
    assert response.status_code == 422
    assert decoded(response)["detail"][0]["loc"] == ["query", "q"]


def test_parameter_with_default_allowed(app):
    app.add_api_route("/", lambda q="dflt": q)
    assert decoded(call(app)) == "dflt"


def test_request_detection_happens_once(app, monkeypatch):
    app.add_api_route("/", lambda: "x")
    monkeypatch.setattr(inspect, "signature", lambda *a, **k: pytest.fail("per-request inspect"))
    assert call(app).status_code == 200


@pytest.mark.parametrize("path", ["noslash", "/a/{", "/a/}", "/{1x}", "/{a}/{a}", "/{}"])
def test_bad_paths_rejected(app, path):
    with pytest.raises(ValueError):
        app.add_api_route(path, lambda **kw: None)


def test_route_needs_method(app):
    with pytest.raises(ValueError):
        app.add_api_route("/", lambda: None, methods=[])


def test_async_partial_and_callable_instance_detected(app):
    async def handler(suffix):
        return "p" + suffix

    class Endpoint:
        async def __call__(self):
            return "instance"

    app.add_api_route("/p", functools.partial(handler, "!"))
    app.add_api_route("/i", Endpoint())
    pending = app._handle(Request(path="/p"))
    assert inspect.iscoroutine(pending)
    asyncio.run(pending)
    assert decoded(call(app, path="/p")) == "p!"
    assert decoded(call(app, path="/i")) == "instance"


@pytest.mark.parametrize("is_async", [False, True])
def test_exception_becomes_500(app, caplog, is_async):
    if is_async:
        async def boom():
            raise RuntimeError("kaboom")
    else:
        def boom():
            raise RuntimeError("kaboom")
    app.add_api_route("/", boom)
    with caplog.at_level(logging.ERROR, logger="pronghorn.error"):
        response = call(app)
    assert response.status_code == 500
    assert response.body == b"Internal Server Error"
    assert (b"content-type", b"text/plain; charset=utf-8") in response.raw_headers
    assert "kaboom" in caplog.text
    assert "Traceback" in caplog.text


def test_debug_puts_traceback_in_body(caplog):
    app = Pronghorn(debug=True)

    @app.get("/")
    def boom():
        raise RuntimeError("kaboom")

    with caplog.at_level(logging.CRITICAL, logger="pronghorn.error"):
        response = call(app)
    assert response.status_code == 500
    assert b"Traceback" in response.body
    assert b"RuntimeError: kaboom" in response.body


def test_unencodable_result_becomes_500(app, caplog):
    app.add_api_route("/", lambda: object())
    with caplog.at_level(logging.CRITICAL, logger="pronghorn.error"):
        assert call(app).status_code == 500


def test_lifespan_hooks_run_in_order():
    events = []

    async def async_start():
        events.append("async start")

    app = Pronghorn(on_startup=[lambda: events.append("start"), async_start],
                    on_shutdown=[lambda: events.append("stop")])
    app.add_event_handler("shutdown", async_start)
    asyncio.run(app.startup())
    asyncio.run(app.shutdown())
    assert events == ["start", "async start", "stop", "async start"]


def test_startup_failure_propagates():
    def fail():
        raise RuntimeError("no db")

    app = Pronghorn(on_startup=[fail])
    with pytest.raises(RuntimeError, match="no db"):
        asyncio.run(app.startup())


def test_shutdown_failure_logged_and_others_run(caplog):
    events = []

    def fail():
        raise RuntimeError("oops")

    app = Pronghorn(on_shutdown=[fail, lambda: events.append("ran")])
    with caplog.at_level(logging.ERROR, logger="pronghorn.error"):
        asyncio.run(app.shutdown())
    assert events == ["ran"]
    assert "oops" in caplog.text


def test_unknown_event_rejected():
    with pytest.raises(ValueError):
        Pronghorn().add_event_handler("boot", lambda: None)


def test_example_app_routes():
    from examples.hello import app as hello

    assert call(hello).body == b"Hello, world!"
    assert decoded(call(hello, path="/json")) == {"message": "Hello, world!"}
    assert decoded(call(hello, path="/users/42")) == {"user_id": "42"}
    assert decoded(call(hello, "POST", "/echo", b"hey")) == {"received": 3, "body": "hey"}


def test_client_disconnect_is_not_logged_as_error(app, caplog):
    from pronghorn import ClientDisconnect

    @app.post("/")
    async def upload(request):
        raise ClientDisconnect("client disconnected")

    with caplog.at_level(logging.INFO, logger="pronghorn.error"):
        response = call(app, "POST")
    assert response.status_code == 400
    assert caplog.text == ""
