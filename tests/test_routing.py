"""Routing (issue 3): path syntax and converters, priority, methods, redirects,
decorators, routers, mounts and reverse routing.

Tests taking ``connect`` run twice: through the TestClient and over a real
socket (see conftest.py); both serve the app through its C router.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from urllib.parse import urlsplit

import pytest

from pronghorn import PlainTextResponse, Pronghorn, Request
from pronghorn.routing import APIRouter, NoMatchFound
from pronghorn.testclient import TestClient
from tests.conftest import run_markdown_examples

UID = "5c0a9d3e-8f0b-4a58-9b7e-2f1d3c4b5a69"


# ---- path syntax and converters ------------------------------------------------------


def converters_app() -> Pronghorn:
    app = Pronghorn()

    @app.get("/int/{id:int}")
    def by_int(id):
        return {"value": id, "type": type(id).__name__}

    @app.get("/float/{x:float}")
    def by_float(x):
        return {"value": x, "type": type(x).__name__}

    @app.get("/uuid/{u:uuid}")
    def by_uuid(u):
        return {"value": str(u), "type": type(u).__name__}

    @app.get("/files/{rest:path}")
    def by_path(rest):
        return {"value": rest, "type": type(rest).__name__}

    @app.get("/str/{name}")
    def by_str(name):
        return {"value": name, "type": type(name).__name__}

    return app


@pytest.mark.parametrize(("path", "value", "type_"), [
    ("/int/42", 42, "int"),
    ("/float/1.5", 1.5, "float"),
    ("/float/2", 2.0, "float"),
    (f"/uuid/{UID}", UID, "UUID"),
    ("/files/a/b/c.txt", "a/b/c.txt", "str"),
    ("/str/caf%C3%A9", "café", "str"),
])
def test_converters(connect, path, value, type_):
    response = connect(converters_app()).get(path)
    assert response.status_code == 200
    assert response.json() == {"value": value, "type": type_}


@pytest.mark.parametrize("path", ["/int/4x2", "/int/", "/float/abc", "/uuid/not-a-uuid",
                                  "/str/a/b"])
def test_converter_mismatch_is_404(connect, path):
    assert connect(converters_app()).get(path).status_code == 404


def annotated_app() -> Pronghorn:
    app = Pronghorn()

    @app.get("/users/{user_id}")
    def get_user(user_id: int):
        return {"user_id": user_id, "type": type(user_id).__name__}

    @app.get("/price/{amount}")
    async def price(amount: Decimal, request: Request):
        return {"amount": str(amount)}

    @app.get("/flag/{on}")
    def flag(on: bool):
        return on

    @app.get("/items/{item_id}")
    def item(item_id: uuid.UUID):
        return str(item_id)

    return app


def test_annotation_converts_path_params(connect):
    client = connect(annotated_app())
    assert client.get("/users/7").json() == {"user_id": 7, "type": "int"}
    assert client.get("/price/1.50").json() == {"amount": "1.50"}
    assert client.get("/flag/yes").json() is True
    assert client.get(f"/items/{UID}").json() == UID


def test_annotation_mismatch_is_422_with_fastapis_error_shape(connect):
    response = connect(annotated_app()).get("/users/abc")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"detail": [{
        "type": "int_parsing",
        "loc": ["path", "user_id"],
        "msg": "Input should be a valid integer, unable to parse string as an integer",
        "input": "abc",
    }]}


@pytest.mark.parametrize(("path", "kind"), [("/flag/maybe", "bool_parsing"),
                                            ("/items/nope", "uuid_parsing"),
                                            ("/price/x", "decimal_parsing")])
def test_other_annotation_errors(connect, path, kind):
    response = connect(annotated_app()).get(path)
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == kind


# ---- priority ---------------------------------------------------------------------------


PRIORITY_ROUTES = [
    ("/users/{rest:path}", "catch-all"),
    ("/users/{name}", "param"),
    ("/users/{id:int}", "int"),
    ("/users/me", "static"),
]


@pytest.mark.parametrize("order", [1, -1], ids=["catch-all-first", "static-first"])
def test_priority_static_param_catch_all_independent_of_order(connect, order):
    app = Pronghorn()
    for path, label in PRIORITY_ROUTES[::order]:
        app.add_api_route(path, lambda label=label: label, name=label)
    client = connect(app)
    assert client.get("/users/me").json() == "static"
    assert client.get("/users/12").json() == "int"
    assert client.get("/users/ann").json() == "param"
    assert client.get("/users/ann/posts").json() == "catch-all"


# ---- methods ------------------------------------------------------------------------------


def methods_app(**options) -> Pronghorn:
    app = Pronghorn(**options)

    @app.get("/items")
    def list_items():
        return ["a", "b"]

    @app.post("/items", status_code=201)
    def create_item():
        return "created"

    @app.get("/dir/")
    def directory():
        return "dir"

    @app.delete("/items/{item_id}")
    def delete_item(item_id: int):
        return {"deleted": item_id}

    return app


def test_method_dispatch(connect):
    client = connect(methods_app())
    assert client.get("/items").json() == ["a", "b"]
    response = client.post("/items")
    assert (response.status_code, response.json()) == (201, "created")
    assert client.delete("/items/3").json() == {"deleted": 3}


def test_405_with_allow(connect):
    client = connect(methods_app())
    response = client.put("/items")
    assert response.status_code == 405
    assert response.json() == {"detail": "Method Not Allowed"}
    assert set(response.headers["allow"].split(", ")) == {"GET", "HEAD", "POST"}
    response = client.get("/items/3")
    assert response.status_code == 405 and response.headers["allow"] == "DELETE"


def test_head_is_answered_by_get_routes(connect):
    client = connect(methods_app())
    get, head = client.get("/items"), client.head("/items")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == get.headers["content-length"] == str(len(get.content))
    assert head.headers["content-type"] == "application/json"


# ---- trailing slashes ---------------------------------------------------------------------


@pytest.mark.parametrize(("path", "location"), [("/items/", "/items"), ("/dir", "/dir/"),
                                                ("/items/?page=2", "/items?page=2")])
def test_trailing_slash_redirect(connect, path, location):
    client = connect(methods_app(), follow_redirects=False)
    response = client.get(path)
    assert response.status_code == 307
    target = urlsplit(response.headers["location"])
    assert target.scheme == "http" and target.netloc  # absolute, like Starlette
    assert target.path + ("?" + target.query if target.query else "") == location
    assert client.get(path, follow_redirects=True).status_code == 200


def test_trailing_slash_redirect_keeps_the_path_encoded(connect):
    app = Pronghorn()
    app.get("/café")(lambda: "coffee")
    client = connect(app, follow_redirects=False)
    response = client.get("/caf%C3%A9/")
    assert urlsplit(response.headers["location"]).path == "/caf%C3%A9"
    assert client.get("/caf%C3%A9/", follow_redirects=True).json() == "coffee"


def test_trailing_slash_redirect_keeps_the_method(connect):
    response = connect(methods_app(), follow_redirects=False).post("/items/")
    assert response.status_code == 307
    assert urlsplit(response.headers["location"]).path == "/items"


def test_trailing_slash_redirect_off(connect):
    client = connect(methods_app(redirect_slashes=False), follow_redirects=False)
    assert client.get("/items/").status_code == 404
    assert client.get("/dir").status_code == 404


# ---- registration API ----------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete", "options"])
def test_method_decorators(connect, method):
    app = Pronghorn()

    @getattr(app, method)("/thing")
    def handler(request: Request):
        return PlainTextResponse(f"{request.method} handled")

    response = connect(app).request(method.upper(), "/thing")
    assert response.text == f"{method.upper()} handled"


def test_head_decorator_overrides_get(connect):
    app = Pronghorn()
    app.get("/x")(lambda: "get")

    @app.head("/x")
    def head():
        return PlainTextResponse("", headers={"x-from": "head"})

    assert connect(app).head("/x").headers["x-from"] == "head"


def test_route_and_api_route_decorators(connect):
    app = Pronghorn()

    @app.route("/starlette", methods=["GET", "POST"])
    async def starlette_style(request):
        return PlainTextResponse(f"{request.method} {request.path_params}")

    @app.api_route("/fastapi/{n}", methods=["GET", "PUT"])
    def fastapi_style(n: int):
        return n * 2

    client = connect(app)
    assert client.post("/starlette").text == "POST {}"
    assert client.put("/fastapi/21").json() == 42
    assert client.delete("/fastapi/1").status_code == 405


def test_add_route_is_starlette_style_and_add_api_route_fastapi_style(connect):
    app = Pronghorn()

    def raw(request):  # receives the request, whatever the parameter is called
        return PlainTextResponse(request.path_params["name"])

    def typed(count: int, request: Request):
        return {"count": count, "path": request.path}

    app.add_route("/raw/{name}", raw)
    app.add_api_route("/typed/{count}", typed, methods=["GET"])
    client = connect(app)
    assert client.get("/raw/ann").text == "ann"
    assert client.get("/typed/3").json() == {"count": 3, "path": "/typed/3"}


def test_api_router_and_include_router_with_prefix(connect):
    users = APIRouter(prefix="/users")

    @users.get("/")
    def list_users():
        return ["ann"]

    @users.get("/{user_id:int}", name="user")
    def get_user(user_id):
        return {"id": user_id}

    admin = APIRouter()
    admin.include_router(users)  # routers nest
    app = Pronghorn()
    app.include_router(admin, prefix="/admin")
    app.include_router(users)
    client = connect(app)
    assert client.get("/users/").json() == ["ann"]
    assert client.get("/admin/users/5").json() == {"id": 5}
    assert app.url_path_for("user", user_id=5) == "/admin/users/5"  # the first match wins


# ---- mounts ---------------------------------------------------------------------------------


def mounted_apps() -> Pronghorn:
    api = Pronghorn()

    @api.get("/items/{item_id:int}", name="item")
    def item(item_id, request: Request):
        return {"item": item_id, "path": request.path, "root_path": request.root_path}

    @api.exception_handler(404)
    def api_not_found(request, exc):
        return PlainTextResponse("no such api route", 404)

    async def asgi_app(scope, receive, send):
        body = f"{scope['path']} {scope['root_path']}".encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": body})

    app = Pronghorn()
    app.mount("/api", api, name="api")
    app.mount("/legacy", asgi_app, name="legacy")
    app.get("/")(lambda: "root")
    return app


def test_mount_a_pronghorn_app(connect):
    client = connect(mounted_apps())
    assert client.get("/api/items/3").json() == {"item": 3, "path": "/api/items/3",
                                                  "root_path": "/api"}
    response = client.get("/api/nothing")
    assert (response.status_code, response.text) == (404, "no such api route")
    assert client.get("/").json() == "root"


def test_mounted_app_redirects_slashes_itself(connect):
    client = connect(mounted_apps(), follow_redirects=False)
    response = client.get("/api/items/3/?x=1")
    assert response.status_code == 307
    target = urlsplit(response.headers["location"])
    assert (target.path, target.query) == ("/api/items/3", "x=1")


def test_mount_an_asgi_app(connect):
    response = connect(mounted_apps()).get("/legacy/some/where")
    assert (response.status_code, response.text) == (200, "/legacy/some/where /legacy")


# ---- reverse routing ------------------------------------------------------------------------


def test_url_path_for():
    app = mounted_apps()
    app.add_api_route("/files/{rest:path}", lambda rest: rest, name="file")
    app.add_api_route("/users/{user_id}/posts/{post_id:int}", lambda: None, name="post")
    assert app.url_path_for("post", user_id="ann", post_id=7) == "/users/ann/posts/7"
    assert app.url_path_for("file", rest="a/b.txt") == "/files/a/b.txt"
    assert app.url_path_for("api:item", item_id=4) == "/api/items/4"
    assert app.url_path_for("legacy", path="/x") == "/legacy/x"
    with pytest.raises(NoMatchFound):
        app.url_path_for("post", user_id="ann")
    with pytest.raises(NoMatchFound):
        app.url_path_for("nope")
    with pytest.raises(ValueError):
        app.url_path_for("post", user_id="a/b", post_id=1)  # one segment only


def test_request_url_for(connect):
    app = Pronghorn()

    @app.get("/users/{user_id}", name="user")
    def user(user_id: str, request: Request):
        return str(request.url_for("user", user_id="bob"))

    client = connect(app)
    assert client.get("/users/ann").json() == str(client.base_url.join("/users/bob"))


def test_routes_are_listed():
    app = methods_app()
    assert [(r.path, r.methods) for r in app.routes][:2] == [("/items", ("GET",)),
                                                            ("/items", ("POST",))]
    assert TestClient(app).get("/items").status_code == 200


def test_docs_routing_examples_run():
    run_markdown_examples("docs/routing.md")
