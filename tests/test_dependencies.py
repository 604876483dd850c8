"""Dependency injection: Depends, sub-dependencies, caching, yield, overrides, levels.

The first part declares the same app for FastAPI and pronghorn
(tests/frameworks.py) and compares what both answer, call counts and
cleanup order included. The rest checks what only pronghorn can show:
cleanup after the response is on the wire, the synchronous fast path,
``scope="function"``, overrides, threaded routes.
"""

import asyncio
import threading
from typing import Annotated, Any

import pytest

from pronghorn import APIRouter, Depends, Header, HTTPException, Pronghorn, Query
from pronghorn.dependencies import DependencyError
from pronghorn.testclient import TestClient
from tests.conftest import LiveClient, run_markdown_examples
from tests.frameworks import Pair


class Pagination:
    def __init__(self, skip: int = 0, limit: int = 10):
        self.skip = skip
        self.limit = limit


def routes(app: Any, fw: Any) -> None:
    Depends, Query, Header, HTTPException = fw.Depends, fw.Query, fw.Header, fw.HTTPException
    calls: dict[str, int] = {}
    events: list[str] = []
    app.state.calls = calls
    app.state.events = events

    def count(name: str) -> None:
        calls[name] = calls.get(name, 0) + 1

    def common(q: str | None = None, skip: int = 0, limit: int = 100):
        count("common")
        return {"q": q, "skip": skip, "limit": limit}

    def token(x_token: str = Header()):
        count("token")
        if x_token != "secret":
            raise HTTPException(403, "bad token")
        return x_token

    def user(tok: str = Depends(token), name: str = "ann"):
        count("user")
        return {"name": name, "token": tok}

    async def async_common(n: int = 1):
        count("async_common")
        await asyncio.sleep(0)
        return n * 2

    @app.get("/common")
    def read_common(commons: dict = Depends(common)):
        return commons

    @app.get("/annotated")
    async def read_annotated(commons: Annotated[dict, Depends(common)]):
        return commons

    @app.get("/class")
    def read_class(page: Annotated[Pagination, Depends()]):
        return {"skip": page.skip, "limit": page.limit}

    @app.get("/class/explicit")
    def read_class_explicit(page: Pagination = Depends(Pagination)):
        return {"skip": page.skip, "limit": page.limit}

    @app.get("/user")
    def read_user(u: dict = Depends(user), again: str = Depends(token)):
        return {"user": u, "again": again, "calls": dict(calls)}

    @app.get("/nocache")
    def read_nocache(a: dict = Depends(common), b: dict = Depends(common, use_cache=False)):
        return dict(calls)

    @app.get("/async")
    async def read_async(value: int = Depends(async_common), c: dict = Depends(common)):
        return {"value": value, "c": c}

    @app.get("/async/sync-handler")
    def read_async_from_sync(value: int = Depends(async_common)):
        return value

    @app.get("/errors")
    def read_errors(u: dict = Depends(user), n: int = Query(), c: dict = Depends(common)):
        return "never"

    @app.get("/errors/twice")
    def read_errors_twice(a: dict = Depends(common), b: dict = Depends(common)):
        return "never"

    class Contains:
        def __init__(self, word: str):
            self.word = word

        def __call__(self, q: str = ""):
            return self.word in q

    class AsyncChecker:
        async def __call__(self, n: int = 0):
            return n > 10

    contains_bar = Contains("bar")

    @app.get("/callable")
    def read_callable(found: bool = Depends(contains_bar),
                      big: bool = Depends(AsyncChecker()),
                      constant: int = Depends(lambda: 7)):
        return {"found": found, "big": big, "constant": constant}

    def failing_header(x_key: str = Header()):
        raise HTTPException(418, "teapot", headers={"x-reason": x_key})

    @app.get("/raises", dependencies=[Depends(failing_header)])
    def read_raises(q: int):
        return q

    @app.get("/route-level", dependencies=[Depends(token)])
    def read_route_level():
        return dict(calls)

    # ---- yield dependencies
    def resource():
        events.append("open")
        try:
            yield "resource"
        except ValueError as exc:
            events.append(f"saw {exc}")
            raise
        finally:
            events.append("close")

    async def async_resource():
        events.append("async open")
        try:
            yield "async resource"
        finally:
            events.append("async close")

    def translate():
        try:
            yield
        except KeyError:
            raise HTTPException(404, "translated") from None

    def swallow():
        try:
            yield
        except ValueError:
            pass

    @app.get("/yield")
    def read_yield(r: str = Depends(resource), a: str = Depends(async_resource)):
        events.append("handler")
        return [r, a]

    @app.get("/yield/error")
    def read_yield_error(r: str = Depends(resource)):
        raise ValueError("boom")

    @app.get("/yield/http")
    async def read_yield_http(r: str = Depends(resource)):
        raise HTTPException(409, "conflict")

    @app.get("/yield/translate")
    def read_translate(_: None = Depends(translate)):
        raise KeyError("missing")

    @app.get("/yield/swallow")
    def read_swallow(_: None = Depends(swallow)):
        raise ValueError("lost")

    @app.get("/events")
    def read_events():
        found = list(events)
        events.clear()
        return found


@pytest.fixture(scope="module")
def pair():
    made = Pair(routes)
    yield made
    made.close()


CASES = [
    ("GET", "/common", {}),
    ("GET", "/common?q=x&skip=2&limit=3", {}),
    ("GET", "/common?skip=x&limit=y", {}),
    ("GET", "/annotated?limit=5", {}),
    ("GET", "/class?skip=3", {}),
    ("GET", "/class?limit=x", {}),
    ("GET", "/class/explicit?skip=1&limit=2", {}),
    ("GET", "/user", {"headers": {"x-token": "secret"}}),
    ("GET", "/user", {"headers": {"x-token": "nope"}}),
    ("GET", "/user", {}),
    ("GET", "/user?name=bob", {"headers": {"x-token": "secret"}}),
    ("GET", "/nocache", {}),
    ("GET", "/async?n=4", {}),
    ("GET", "/async?n=x", {}),
    ("GET", "/async/sync-handler?n=3", {}),
    ("GET", "/errors?n=x&skip=y", {}),
    ("GET", "/errors?n=x&skip=y", {"headers": {"x-token": "secret"}}),
    ("GET", "/errors?n=x&skip=y", {"headers": {"x-token": "wrong"}}),
    ("GET", "/errors/twice?skip=y", {}),
    ("GET", "/callable?q=foobar&n=11", {}),
    ("GET", "/callable?n=x", {}),
    ("GET", "/raises?q=x", {"headers": {"x-key": "k"}}),
    ("GET", "/raises?q=x", {}),
    ("GET", "/route-level", {}),
    ("GET", "/route-level", {"headers": {"x-token": "secret"}}),
]


@pytest.mark.parametrize(("method", "url", "kwargs"), CASES,
                         ids=[f"{m} {u} {sorted(k)}" for m, u, k in CASES])
def test_dependencies_like_fastapi(pair, method, url, kwargs):
    for app in pair.apps.values():
        app.state.calls.clear()
    pair.same(method, url, **kwargs)


YIELD_CASES = [
    ("/yield", (200, ["resource", "async resource"]),
     ["open", "async open", "handler", "async close", "close"]),
    ("/yield/error", (500, "Internal Server Error"), ["open", "saw boom", "close"]),
    ("/yield/http", (409, {"detail": "conflict"}), ["open", "close"]),
    ("/yield/translate", (404, {"detail": "translated"}), []),
    ("/yield/swallow", (500, "Internal Server Error"), []),
]


@pytest.mark.parametrize(("url", "answer", "events"), YIELD_CASES)
def test_yield_dependencies_like_fastapi(pair, url, answer, events):
    assert pair.same("GET", url) == answer
    assert pair.same("GET", "/events") == (200, events)


# ---- pronghorn only ---------------------------------------------------------------------

def test_cleanup_runs_after_the_response_is_on_the_wire():
    release = threading.Event()
    events = []

    async def session():
        events.append("open")
        yield "db"
        while not release.is_set():
            await asyncio.sleep(0.005)
        events.append("closed")

    app = Pronghorn()

    @app.get("/")
    def handler(db: str = Depends(session)):
        return db

    client = LiveClient(app)
    try:
        assert client.get("/").json() == "db"  # while the dependency still holds the session
        assert events == ["open"]
        release.set()
        for _ in range(200):
            if events[-1] == "closed":
                break
            threading.Event().wait(0.01)
    finally:
        client.close()
    assert events == ["open", "closed"]


def test_sync_route_with_sync_dependencies_never_makes_a_coroutine():
    app = Pronghorn()

    def db():
        yield "db"

    def current(token: str = Header("t"), conn: str = Depends(db)):
        return f"{conn}:{token}"

    @app.get("/")
    def handler(who: str = Depends(current)):
        return who

    from pronghorn.datastructures import Headers, QueryParams

    class FakeRequest:
        method = "GET"
        path_params: dict = {}
        query_params = QueryParams()
        headers = Headers()
        cookies: dict = {}

    call = app._table.match("/")[0]["GET"]
    response = call(FakeRequest())
    assert not asyncio.iscoroutine(response)
    assert response.body == b'"db:t"'
    assert response.background is not None  # the generator is closed after sending


def test_function_scope_ends_before_the_response():
    events = []

    def per_call():
        events.append("enter")
        yield
        events.append("exit")

    def per_request():
        yield
        events.append("request exit")

    app = Pronghorn()

    @app.get("/")
    def handler(_a: None = Depends(per_call, scope="function"),
                _b: None = Depends(per_request)):
        events.append("handler")
        return "ok"

    TestClient(app).get("/")
    assert events == ["enter", "handler", "exit", "request exit"]

    def bad(_: None = Depends(per_call, scope="function")):
        yield

    with pytest.raises(TypeError, match='scope of "request"'):
        @app.get("/bad")
        def bad_handler(_: None = Depends(bad)):
            return None


def test_dependency_overrides_for_tests():
    app = Pronghorn()

    def real_user():
        raise HTTPException(401, "no auth in tests")

    async def fake_user(name: str = "tester"):
        return {"name": name}

    @app.get("/me")
    def me(user: dict = Depends(real_user)):
        return user

    client = TestClient(app)
    assert client.get("/me").status_code == 401
    app.dependency_overrides[real_user] = fake_user
    assert client.get("/me?name=zed").json() == {"name": "zed"}
    app.dependency_overrides.clear()
    assert client.get("/me").status_code == 401


def test_router_app_and_include_level_dependencies_and_tags():
    order = []

    def app_level():
        order.append("app")

    def router_level():
        order.append("router")

    def include_level():
        order.append("include")

    def route_level():
        order.append("route")

    app = Pronghorn(dependencies=[Depends(app_level)], tags=["api"])
    router = APIRouter(prefix="/items", dependencies=[Depends(router_level)], tags=["items"])

    @router.get("/", dependencies=[Depends(route_level)], tags=["list"])
    def list_items():
        return list(order)

    app.include_router(router, prefix="/v1", dependencies=[Depends(include_level)],
                       tags=["v1"])
    route = app.routes[-1]
    assert route.path == "/v1/items/"
    assert route.tags == ["api", "v1", "items", "list"]
    assert TestClient(app).get("/v1/items/").json() == ["app", "include", "router", "route"]


def test_security_scopes_accumulate():
    from pronghorn import Security
    from pronghorn.security import SecurityScopes

    app = Pronghorn()

    def scopes_seen(security_scopes: SecurityScopes, token: str = Query("t")):
        return security_scopes.scopes

    def reader(scopes: list = Security(scopes_seen, scopes=["items:read"])):
        return scopes

    @app.get("/")
    def handler(seen: list = Security(reader, scopes=["me"])):
        return seen

    assert TestClient(app).get("/").json() == ["me", "items:read"]
    plan = app.routes[-1].plan
    assert plan.params[0].alias == "token"


def test_threaded_route_runs_sync_dependencies_in_the_pool():
    app = Pronghorn()
    threads = {}

    def dep():
        threads["dep"] = threading.current_thread()
        yield "x"
        threads["cleanup"] = threading.current_thread()

    @app.get("/", threaded=True)
    def handler(value: str = Depends(dep)):
        threads["handler"] = threading.current_thread()
        return value

    with TestClient(app) as client:
        assert client.get("/").json() == "x"
    main = threading.main_thread()
    assert threads["dep"] is not main and threads["handler"] is not main


def test_swallowed_exception_is_a_dependency_error():
    app = Pronghorn()

    def swallow():
        try:
            yield
        except ValueError:
            pass

    @app.get("/")
    def handler(_: None = Depends(swallow)):
        raise ValueError("x")

    with pytest.raises(DependencyError, match="did not raise it again"):
        TestClient(app).get("/")


def test_docs_dependencies_examples_run():
    run_markdown_examples("docs/dependencies.md")

