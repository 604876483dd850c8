"""The OpenAPI document: FastAPI's output for the same app, valid, cached, configurable.

The reference is FastAPI itself (installed for the tests): the same app is
declared for both frameworks and the two documents must be equal. Two ways:
``test_port_*`` builds one store API from one function, only the imports
switched, so the pronghorn side goes through the real compiled plans
(``route.plan``); the other comparisons give pronghorn routes their plans by
hand (the shape ``pronghorn.openapi.plans`` documents), which tests the
generator alone and lets the same routes use msgspec Structs instead of
pydantic models. Differences that remain are listed (and justified) in
docs/openapi.md.
"""

import dataclasses
import datetime
import decimal
import enum
import types
import uuid
from typing import Annotated, Any, Literal, TypedDict

import fastapi
import msgspec
import pytest
from fastapi import Body, Cookie, Depends, File, Form, Header, Path, Query, Security, UploadFile
from fastapi.responses import HTMLResponse as FastAPIHTML
from fastapi.responses import PlainTextResponse as FastAPIPlain
from fastapi.responses import RedirectResponse as FastAPIRedirect
from fastapi.security import APIKeyHeader, HTTPBasic, HTTPBearer, OAuth2PasswordBearer
from openapi_spec_validator import validate
from pydantic import BaseModel, Field


from pronghorn import HTMLResponse, PlainTextResponse, Pronghorn, RedirectResponse
from pronghorn.openapi import generate_unique_id, get_openapi
from pronghorn.openapi.plans import BodyView, ParamView, PlanView, plan_of
from pronghorn.routing import Route
from pronghorn.testclient import TestClient
from tests.conftest import run_markdown_examples

INFO = {"title": "Shop", "version": "2.0"}


def differences(expected: Any, actual: Any, where: str = "") -> list[str]:
    """Where two JSON documents differ, as readable lines (empty when equal)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        found = []
        for key in list(expected) + [k for k in actual if k not in expected]:
            here = f"{where}/{key}"
            if key not in actual:
                found.append(f"missing {here}: {expected[key]!r}")
            elif key not in expected:
                found.append(f"extra {here}: {actual[key]!r}")
            else:
                found.extend(differences(expected[key], actual[key], here))
        return found
    if expected != actual or type(expected) is not type(actual) and not (
            isinstance(expected, (int, float)) and isinstance(actual, (int, float))):
        return [f"at {where or '/'}: expected {expected!r}, got {actual!r}"]
    return []


def marker(**options: Any) -> types.SimpleNamespace:
    """A parameter marker as the plan carries it (Query(...), Body(...)...)."""
    fields = ("title", "description", "examples", "openapi_examples", "example", "deprecated",
              "gt", "ge", "lt", "le", "multiple_of", "min_length", "max_length", "pattern",
              "json_schema_extra")
    return types.SimpleNamespace(include_in_schema=options.pop("include_in_schema", True),
                                 **{name: options.pop(name, None) for name in fields})


def route(path: str, endpoint: Any, plan: PlanView | None = None, **options: Any) -> Route:
    made = Route(path, endpoint, **options)
    if plan is not None:
        made.plan = plan
    return made


# ---- the models, as pydantic models (FastAPI) and msgspec Structs (pronghorn) ----

class Color(str, enum.Enum):
    red = "red"
    blue = "blue"


class Size(enum.IntEnum):
    small = 1
    large = 2


class Sub(BaseModel):
    x: int


class Item(BaseModel):
    """An item.\fInternal notes that stay out of the document."""

    name: str
    price: float = Field(gt=0, description="the price")
    sub2: Sub
    tags: list[str] = []
    color: Color | None = None
    sub: Sub | None = None
    kind: Literal["a", "b"] = "a"
    one: Literal["z"] = "z"
    size: Size = Size.small
    made: datetime.datetime | None = None
    day: datetime.date | None = None
    at: datetime.time | None = None
    ident: uuid.UUID | None = None
    pairs: dict[str, int] = {}
    pair: tuple[int, str] = (1, "a")
    unique: set[int] = set()
    either: int | str = 0
    code: Annotated[str, Field(min_length=1, max_length=5, pattern="^a")] = "a"


def struct_models() -> types.SimpleNamespace:
    """The same models as msgspec Structs, with the same class names."""

    class Sub(msgspec.Struct):
        x: int

    class Item(msgspec.Struct):
        """An item.\fInternal notes that stay out of the document."""

        name: str
        price: Annotated[float, msgspec.Meta(gt=0, description="the price")]
        sub2: Sub
        tags: list[str] = []
        color: Color | None = None
        sub: Sub | None = None
        kind: Literal["a", "b"] = "a"
        one: Literal["z"] = "z"
        size: Size = Size.small
        made: datetime.datetime | None = None
        day: datetime.date | None = None
        at: datetime.time | None = None
        ident: uuid.UUID | None = None
        pairs: dict[str, int] = {}
        pair: tuple[int, str] = (1, "a")
        unique: set[int] = set()
        either: int | str = 0
        code: Annotated[str, msgspec.Meta(min_length=1, max_length=5, pattern="^a")] = "a"

    return types.SimpleNamespace(Item=Item, Sub=Sub)


structs = struct_models()


# ---- one app, declared for FastAPI and (by hand-made plans) for pronghorn ----------

bearer = HTTPBearer()
oauth2 = OAuth2PasswordBearer(tokenUrl="token", scopes={"items:read": "Read items"})
api_key = APIKeyHeader(name="X-Key")
basic = HTTPBasic()


def read_item(item_id: int, q: str | None = None, color: Color = Color.red,
              n: Annotated[int, Query(ge=1, le=10, description="How many", examples=[3],
                                      deprecated=True)] = 5,
              many: Annotated[list[str], Query()] = [],
              x_token: Annotated[str, Header()] = "a",
              session: Annotated[str | None, Cookie()] = None,
              ident: uuid.UUID | None = None, amount: decimal.Decimal = decimal.Decimal(1),
              since: datetime.datetime | None = None, mode: Literal["a", "b"] = "a",
              code: Annotated[str, Query(pattern="^a+$", min_length=2, max_length=5,
                                         alias="the-code", title="Custom")] = "aa",
              hidden: Annotated[int, Query(include_in_schema=False)] = 0,
              ex: Annotated[str | None, Query(openapi_examples={
                  "one": {"summary": "One", "value": "1"}})] = None):
    """Read one item.

    Longer text.
    \f
    Not for the docs.
    """


def read_item_plan() -> PlanView:
    return PlanView(params=[
        ParamView("item_id", "path", int),
        ParamView("q", "query", str | None, required=False),
        ParamView("color", "query", Color, required=False, default=Color.red),
        ParamView("n", "query", int, required=False, default=5, marker=marker(
            ge=1, le=10, description="How many", examples=[3], deprecated=True)),
        ParamView("many", "query", list[str], required=False, default=[]),
        ParamView("x_token", "header", str, alias="x-token", required=False, default="a"),
        ParamView("session", "cookie", str | None, required=False),
        ParamView("ident", "query", uuid.UUID | None, required=False),
        ParamView("amount", "query", decimal.Decimal, required=False,
                  default=decimal.Decimal(1)),
        ParamView("since", "query", datetime.datetime | None, required=False),
        ParamView("mode", "query", Literal["a", "b"], required=False, default="a"),
        ParamView("code", "query", str, alias="the-code", required=False, default="aa",
                  marker=marker(pattern="^a+$", min_length=2, max_length=5, title="Custom")),
        ParamView("hidden", "query", int, required=False, default=0,
                  marker=marker(include_in_schema=False)),
        ParamView("ex", "query", str | None, required=False, marker=marker(
            openapi_examples={"one": {"summary": "One", "value": "1"}})),
    ])


async def create_item(item: Item, credentials: Any = Depends(bearer)) -> Item:
    return item


async def replace_item(item_id: Annotated[int, Path(gt=0)],
                       item: Annotated[Item, Body(embed=True)],
                       token: str = Security(oauth2, scopes=["items:read"])):
    """Replace an item."""


async def tag_items(item: Item, sub: Sub, importance: Annotated[int, Body()]): ...


async def login(username: Annotated[str, Form()], password: Annotated[str, Form()]): ...


async def upload(data: Annotated[bytes, File()], upload: UploadFile,
                 note: Annotated[str, Form()] = ""): ...


def page(): ...


def text(): ...


def away(): ...


def delete_item(item_id: str) -> None: ...


def list_items() -> list[Item]:
    return []


def secret(): ...


def bulk(items: list[Sub], key: str = Depends(api_key), who: Any = Depends(basic)): ...


def counts(data: dict[str, int]): ...


def odd(item_id: int): ...


FASTAPI_OPTIONS: dict[str, dict[str, Any]] = {
    "read_item": {"tags": ["items"]},
    "create_item": {"response_model": Item, "status_code": 201, "deprecated": True,
                    "responses": {404: {"description": "Not found"}, 418: {"model": Sub}},
                    "tags": ["items", "write"]},
    "page": {"response_class": FastAPIHTML},
    "text": {"response_class": FastAPIPlain, "summary": "Plain!", "operation_id": "plain_op"},
    "away": {"response_class": FastAPIRedirect},
    "delete_item": {"status_code": 204, "response_description": "Gone"},
    "secret": {"include_in_schema": False},
    "odd": {"responses": {"4XX": {"model": Sub}, "default": {"description": "Other"},
                          200: {"content": {"image/png": {}}}},
            "openapi_extra": {"x-speed": "fast"}},
}
PRONGHORN_OPTIONS: dict[str, dict[str, Any]] = {
    **FASTAPI_OPTIONS,
    "page": {"response_class": HTMLResponse},
    "text": {"response_class": PlainTextResponse, "summary": "Plain!",
             "operation_id": "plain_op"},
    "away": {"response_class": RedirectResponse},
}
ROUTES = [
    ("/items/{item_id}", "GET", read_item), ("/items/", "POST", create_item),
    ("/items/{item_id}", "PUT", replace_item), ("/tagged", "POST", tag_items),
    ("/login", "POST", login), ("/upload", "POST", upload), ("/page", "GET", page),
    ("/text", "GET", text), ("/away", "GET", away), ("/items/{item_id}", "DELETE", delete_item),
    ("/items", "GET", list_items), ("/secret", "GET", secret), ("/bulk", "POST", bulk),
    ("/counts", "POST", counts), ("/odd/{item_id}", "GET", odd),
]


def plans(models: Any) -> dict[str, PlanView]:
    """Each endpoint's plan, as compile_endpoint makes it, for ``models`` (pydantic or msgspec)."""
    item, sub = models.Item, models.Sub
    return {
        "read_item": read_item_plan(),
        "create_item": PlanView(body=BodyView(item, fields=[ParamView("item", "body", item)]),
                                security=[(bearer, [])], response_model=item),
        "replace_item": PlanView(
            params=[ParamView("item_id", "path", int, marker=marker(gt=0))],
            body=BodyView(dict, embed=True, fields=[ParamView("item", "body", item)]),
            security=[(oauth2, ["items:read"])]),
        "tag_items": PlanView(body=BodyView(dict, fields=[
            ParamView("item", "body", item), ParamView("sub", "body", sub),
            ParamView("importance", "body", int)])),
        "login": PlanView(body=BodyView(
            dict, media_type="application/x-www-form-urlencoded",
            fields=[ParamView("username", "form", str), ParamView("password", "form", str)])),
        "upload": PlanView(body=BodyView(dict, media_type="multipart/form-data", fields=[
            ParamView("data", "file", bytes), ParamView("upload", "file", UploadFile),
            ParamView("note", "form", str, required=False, default="")])),
        "delete_item": PlanView(params=[ParamView("item_id", "path", str)]),
        "list_items": PlanView(response_model=list[item]),
        "bulk": PlanView(body=BodyView(list[sub], fields=[ParamView("items", "body", list[sub])]),
                         security=[(api_key, []), (basic, [])]),
        "counts": PlanView(body=BodyView(dict[str, int],
                                         fields=[ParamView("data", "body", dict[str, int])])),
        "odd": PlanView(params=[ParamView("item_id", "path", int)]),
    }


def fastapi_document(**app_options: Any) -> dict[str, Any]:
    app = fastapi.FastAPI(**{**INFO, **app_options})
    for path, method, endpoint in ROUTES:
        app.add_api_route(path, endpoint, methods=[method],
                          **FASTAPI_OPTIONS.get(endpoint.__name__, {}))
    return app.openapi()


def pronghorn_routes(models: Any = None) -> list[Route]:
    by_name = plans(models or types.SimpleNamespace(Item=Item, Sub=Sub))
    return [route(path, endpoint, by_name.get(endpoint.__name__, PlanView()), methods=[method],
                  **PRONGHORN_OPTIONS.get(endpoint.__name__, {}))
            for path, method, endpoint in ROUTES]


@pytest.fixture(scope="module")
def expected() -> dict[str, Any]:
    return fastapi_document()


def test_same_document_as_fastapi(expected: dict[str, Any]) -> None:
    document = get_openapi(**INFO, routes=pronghorn_routes())
    assert differences(expected, document) == []


def test_msgspec_structs_give_the_same_document(expected: dict[str, Any]) -> None:
    document = get_openapi(**INFO, routes=pronghorn_routes(structs))
    assert differences(expected, document) == []


def test_documents_are_valid_openapi_3_1(expected: dict[str, Any]) -> None:
    validate(expected)  # the oracle itself passes
    validate(get_openapi(**INFO, routes=pronghorn_routes()))
    validate(get_openapi(**INFO, routes=pronghorn_routes(structs)))


def test_info_servers_and_tags_as_fastapi() -> None:
    options = dict(summary="S", description="D", terms_of_service="https://example.com/terms",
                   contact={"name": "Ann", "email": "ann@example.com"},
                   license_info={"name": "MIT", "identifier": "MIT"},
                   servers=[{"url": "https://api.example.com"}],
                   openapi_tags=[{"name": "items", "description": "Items."}])
    expected = fastapi_document(**options)
    app = Pronghorn(**INFO, **options)
    app.routes.extend(pronghorn_routes())  # the routes without compiling them
    assert differences(expected, app.openapi()) == []


def test_dataclass_and_typeddict_schemas() -> None:
    @dataclasses.dataclass
    class Point:
        x: int
        label: str = "origin"

    class Options(TypedDict):
        verbose: bool

    class PointModel(BaseModel):
        x: int
        label: str = "origin"

    document = get_openapi(**INFO, routes=[
        route("/p", odd, PlanView(body=BodyView(Point, fields=[ParamView("p", "body", Point)]),
                                  response_model=Options), methods=["POST"])])
    schemas = document["components"]["schemas"]
    expected = PointModel.model_json_schema()
    expected["title"] = "Point"
    assert schemas["Point"] == expected
    assert schemas["Options"] == {"title": "Options", "type": "object", "required": ["verbose"],
                                  "properties": {"verbose": {"type": "boolean",
                                                             "title": "Verbose"}}}


class Money(BaseModel):
    amount: decimal.Decimal


def test_input_and_output_schemas_split_like_fastapi() -> None:
    def pay(money: Money) -> Money:
        return money

    app = fastapi.FastAPI(**INFO)
    app.post("/pay")(pay)
    plan = PlanView(body=BodyView(Money, fields=[ParamView("money", "body", Money)]),
                    response_model=Money)
    document = get_openapi(**INFO, routes=[route("/pay", pay, plan, methods=["POST"])])
    assert differences(app.openapi(), document) == []
    assert {"Money-Input", "Money-Output"} <= set(document["components"]["schemas"])
    merged = get_openapi(**INFO, routes=[route("/pay", pay, plan, methods=["POST"])],
                         separate_input_output_schemas=False)
    assert "Money" in merged["components"]["schemas"]


def test_deprecated_example_multiple_of_and_schema_extra_as_fastapi() -> None:
    with pytest.warns(Warning, match="example"):
        query = Query(example=3, multiple_of=2, json_schema_extra={"x-unit": "cm"})

    def sized(size: Annotated[int, query] = 4): ...

    app = fastapi.FastAPI(**INFO)
    app.get("/sized")(sized)
    plan = PlanView(params=[ParamView("size", "query", int, required=False, default=4,
                                      marker=marker(example=3, multiple_of=2,
                                                    json_schema_extra={"x-unit": "cm"}))])
    document = get_openapi(**INFO, routes=[route("/sized", sized, plan, methods=["GET"])])
    assert differences(app.openapi(), document) == []


# ---- the generator's own rules ----------------------------------------------------

def test_operation_ids_are_per_method_and_paths_lose_converters() -> None:
    def both(user_id: int) -> Any: ...

    made = route("/users/{user_id:int}", both, PlanView(params=[ParamView("user_id", "path", int)]),
                 methods=["GET", "POST"])
    document = get_openapi(**INFO, routes=[made])
    operations = document["paths"]["/users/{user_id}"]
    assert [operations[m]["operationId"] for m in ("get", "post")] == [
        "both_users__user_id__get", "both_users__user_id__post"]
    assert generate_unique_id(made) == "both_users__user_id__get"


def test_custom_unique_id_function() -> None:
    document = get_openapi(**INFO, routes=[route("/x", odd, methods=["GET"])],
                           generate_unique_id_function=lambda r: f"custom-{r.name}")
    assert document["paths"]["/x"]["get"]["operationId"] == "custom-odd"


def test_hidden_routes_mounts_and_raw_routes_are_left_out() -> None:
    app = Pronghorn()
    app.get("/shown")(page)
    app.get("/hidden", include_in_schema=False)(page)
    app.add_route("/raw", lambda request: PlainTextResponse("raw"))
    app.mount("/sub", Pronghorn())
    paths = app.openapi()["paths"]
    assert list(paths) == ["/shown"]


def test_fallback_reads_plain_signatures() -> None:
    def search(user_id: int, q: str | None = None, tags: list[str] = [],  # noqa: B006
               body: Item | None = None) -> list[Sub]:
        """Search."""

    made = Route("/users/{user_id}", search, methods=["POST"])
    plan = plan_of(made)
    assert [(p.name, p.source, p.required) for p in plan.params] == [
        ("user_id", "path", True), ("q", "query", False), ("tags", "query", False)]
    assert plan.body.annotation == Item | None and plan.body.required is False
    assert plan.response_model == list[Sub]
    raw = Route("/raw", search, raw=True)
    assert plan_of(raw).params == [] and plan_of(raw).body is None


def test_deprecated_tags_summary_and_description() -> None:
    def make_it() -> Any:
        """First line.

        Second.\fhidden"""

    document = get_openapi(**INFO, routes=[
        route("/a", make_it, methods=["GET"], deprecated=True, tags=["one", Color.red]),
        route("/b", make_it, methods=["GET"], summary="Custom", description="Own words"),
    ])
    a, b = document["paths"]["/a"]["get"], document["paths"]["/b"]["get"]
    assert a["deprecated"] is True and a["tags"] == ["one", "red"]
    assert a["summary"] == "Make It" and a["description"] == "First line.\n\nSecond."
    assert b["summary"] == "Custom" and b["description"] == "Own words"
    assert "deprecated" not in b and "tags" not in b


def test_security_schemes() -> None:
    class Scheme:
        def __init__(self, name: str, model: dict[str, Any]) -> None:
            self.scheme_name, self.model = name, model

    key = Scheme("Key", {"type": "apiKey", "in": "query", "name": "key"})
    oauth = Scheme("OAuth", {"type": "oauth2", "flows": {"password": {
        "tokenUrl": "/token", "scopes": {"read": "Read", "write": "Write"}}}})
    plan = PlanView(security=[(key, []), (oauth, ["read"]), (oauth, ["read"]),
                              (oauth, ["read", "write"])])
    document = get_openapi(**INFO, routes=[route("/s", odd, plan, methods=["GET"])])
    assert document["paths"]["/s"]["get"]["security"] == [
        {"Key": []}, {"OAuth": ["read"]}, {"OAuth": ["read", "write"]}]
    assert document["components"]["securitySchemes"] == {"Key": key.model, "OAuth": oauth.model}
    validate(document)


def test_an_unknown_type_gets_an_empty_schema(caplog: pytest.LogCaptureFixture) -> None:
    class Opaque:
        pass

    plan = PlanView(params=[ParamView("n", "query", Opaque),
                            ParamView("since", "query", datetime.datetime | None, required=False)],
                    response_model=Opaque)
    document = get_openapi(**INFO, routes=[route("/o", odd, plan, methods=["GET"])])
    responses = document["paths"]["/o"]["get"]["responses"]
    assert responses["200"]["content"]["application/json"]["schema"] == {
        "title": "Response Odd O Get"}
    n, since = document["paths"]["/o"]["get"]["parameters"]
    assert n["schema"] == {"title": "N"}
    assert since["schema"] == {"anyOf": [{"type": "string", "format": "date-time"},
                                         {"type": "null"}], "title": "Since"}
    assert "no JSON Schema" in caplog.text


# ---- the app: caching, serving, configuration ----------------------------------------

def test_generated_once_and_again_after_a_route_is_added(monkeypatch: pytest.MonkeyPatch) -> None:
    import pronghorn.app

    calls = []
    real = pronghorn.app.generate_openapi
    monkeypatch.setattr(pronghorn.app, "generate_openapi",
                        lambda app: calls.append(app) or real(app))
    app = Pronghorn()
    app.get("/one")(page)
    with TestClient(app) as client:
        first = client.get("/openapi.json")
        assert client.get("/openapi.json").content == first.content
        assert app.openapi() is app.openapi()
        assert len(calls) == 1
        app.get("/two")(text)
        paths = client.get("/openapi.json").json()["paths"]
    assert list(paths) == ["/one", "/two"] and len(calls) == 2


def test_served_json_is_the_document() -> None:
    app = Pronghorn(title="Shop", version="3")
    app.get("/odd/{item_id}")(odd)
    with TestClient(app) as client:
        response = client.get("/openapi.json")
        head = client.head("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == app.openapi()
    assert response.json()["info"] == {"title": "Shop", "version": "3"}
    assert head.status_code == 200 and head.content == b""


def test_custom_openapi_function_is_served() -> None:
    app = Pronghorn()

    def custom_openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title="Custom", version="9", routes=app.routes)
            schema["info"]["x-logo"] = {"url": "/logo.png"}
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = custom_openapi  # type: ignore[method-assign]
    with TestClient(app) as client:
        info = client.get("/openapi.json").json()["info"]
    assert info == {"title": "Custom", "version": "9", "x-logo": {"url": "/logo.png"}}


@pytest.mark.parametrize(("options", "found", "missing"), [
    ({}, ["/openapi.json", "/docs", "/redoc", "/docs/oauth2-redirect"], []),
    ({"openapi_url": None}, [], ["/openapi.json", "/docs", "/redoc", "/docs/oauth2-redirect"]),
    ({"docs_url": None}, ["/openapi.json", "/redoc"], ["/docs", "/docs/oauth2-redirect"]),
    ({"redoc_url": None}, ["/openapi.json", "/docs"], ["/redoc"]),
    ({"swagger_ui_oauth2_redirect_url": None}, ["/docs"], ["/docs/oauth2-redirect"]),
    ({"openapi_url": "/api/schema.json", "docs_url": "/api/docs", "redoc_url": "/api/redoc",
      "swagger_ui_oauth2_redirect_url": "/api/docs/redirect"},
     ["/api/schema.json", "/api/docs", "/api/redoc", "/api/docs/redirect"],
     ["/openapi.json", "/docs", "/redoc"]),
])
def test_urls_are_configurable_and_can_be_turned_off(options: dict[str, Any], found: list[str],
                                                     missing: list[str]) -> None:
    app = Pronghorn(**options)
    with TestClient(app) as client:
        for url in found:
            assert client.get(url).status_code == 200, url
        for url in missing:
            assert client.get(url).status_code == 404, url
    assert app.routes == []  # the docs routes are the app's own, not listed with the user's
    assert "/openapi.json" not in app.openapi()["paths"]


def test_root_path_is_listed_in_servers() -> None:
    inner = Pronghorn(servers=[{"url": "https://api.example.com"}])
    inner.get("/ping")(page)
    outer = Pronghorn()
    outer.mount("/v1", inner)
    plain = Pronghorn(root_path_in_servers=False)
    with TestClient(outer) as client:
        document = client.get("/v1/openapi.json").json()
        docs = client.get("/v1/docs").text
    assert document["servers"] == [{"url": "/v1"}, {"url": "https://api.example.com"}]
    assert list(document)[:3] == ["openapi", "info", "servers"]
    assert inner.openapi()["servers"] == [{"url": "https://api.example.com"}]  # unchanged
    assert '"url": "/v1/openapi.json"' in docs
    outer.mount("/v2", plain)
    with TestClient(outer) as client:
        assert "servers" not in client.get("/v2/openapi.json").json()


def test_the_openapi_page_examples_run() -> None:
    run_markdown_examples("docs/openapi.md")


# ---- one app, both frameworks, only the imports switched ------------------------------

class UserIn(BaseModel):
    name: str = Field(min_length=1, max_length=50)
    email: str
    age: int | None = Field(default=None, ge=0)


class User(UserIn):
    id: int


def build_store(fw: Any) -> Any:
    """A store's API written once for FastAPI and pronghorn (``fw`` holds the imports):
    users CRUD behind a bearer token, items with every kind of parameter, forms, files,
    nested security dependencies, response classes and extra responses."""
    app = fw.App(title="Store", version="1.0")
    bearer = fw.HTTPBearer()
    oauth2 = fw.OAuth2PasswordBearer(tokenUrl="token", scopes={"me": "Me", "admin": "Admin"})
    api_key = fw.APIKeyHeader(name="X-Key")
    basic = fw.HTTPBasic()

    def current_user(credentials: Annotated[Any, fw.Depends(bearer)]) -> str:
        return credentials.credentials

    def paging(skip: int = 0, limit: Annotated[int, fw.Query(le=100)] = 10) -> tuple[int, int]:
        return skip, limit

    def oauth_user(token: Annotated[str, fw.Security(oauth2, scopes=["me"])],
                   verbose: bool = False) -> str:
        return token

    def admin(user: Annotated[str, fw.Security(oauth_user, scopes=["admin"])],
              level: int = 1) -> str:
        return user

    users = fw.APIRouter(prefix="/users", tags=["users"],
                         responses={503: {"description": "Down for maintenance"}})

    @users.get("/{user_id}", response_model=User)
    def get_user(user_id: Annotated[int, fw.Path(gt=0)],
                 verbose: Annotated[bool, fw.Query(description="More fields")] = False):
        """Get one user."""

    @users.get("/")
    def list_users(page: Annotated[tuple, fw.Depends(paging)],
                   q: str | None = None) -> list[User]:
        return []

    @users.post("/", status_code=201, response_model=User,
                responses={409: {"description": "Email taken"}})
    def create_user(user: UserIn, who: Annotated[str, fw.Depends(current_user)]): ...

    @users.delete("/{user_id}", status_code=204, deprecated=True, response_description="Gone")
    def delete_user(user_id: int,
                    x_request_id: Annotated[str | None, fw.Header()] = None) -> None: ...

    items = fw.APIRouter(prefix="/items", tags=["items"])

    @items.get("/{item_id}")
    def read_item(item_id: int, q: str | None = None, color: Color = Color.red,
                  n: Annotated[int, fw.Query(ge=1, le=10, description="How many", examples=[3],
                                             deprecated=True)] = 5,
                  many: Annotated[list[str], fw.Query()] = [],
                  x_token: Annotated[str, fw.Header()] = "a",
                  session: Annotated[str | None, fw.Cookie()] = None,
                  ident: uuid.UUID | None = None, amount: decimal.Decimal = decimal.Decimal(1),
                  since: datetime.datetime | None = None, mode: Literal["a", "b"] = "a",
                  code: Annotated[str, fw.Query(pattern="^a+$", min_length=2, max_length=5,
                                                alias="the-code", title="Custom")] = "aa",
                  hidden: Annotated[int, fw.Query(include_in_schema=False)] = 0,
                  ex: Annotated[str | None, fw.Query(openapi_examples={
                      "one": {"summary": "One", "value": "1"}})] = None,
                  page: tuple = fw.Depends(paging)):
        """Read one item.

        Longer text.
        \f
        Not for the docs.
        """

    @items.post("/", response_model=Item, status_code=201, deprecated=True,
                responses={404: {"description": "Not found"}, 418: {"model": Sub}})
    async def create_item(item: Item, credentials: Any = fw.Depends(bearer)):
        return item

    @items.put("/{item_id}")
    async def replace_item(item_id: Annotated[int, fw.Path(gt=0)],
                           item: Annotated[Item, fw.Body(embed=True)],
                           who: Annotated[str, fw.Depends(admin)],
                           key: Annotated[str, fw.Depends(api_key)]):
        """Replace an item."""

    @app.post("/tagged")
    async def tag_items(item: Item, sub: Sub, importance: Annotated[int, fw.Body()]): ...

    @app.post("/login")
    async def login(username: Annotated[str, fw.Form()],
                    password: Annotated[str, fw.Form()]): ...

    @app.post("/upload")
    async def upload(data: Annotated[bytes, fw.File()], more: Annotated[bytes, fw.File()],
                     note: Annotated[str, fw.Form()] = ""): ...

    @app.get("/page", response_class=fw.HTMLResponse)
    def page(): ...

    @app.get("/text", response_class=fw.PlainTextResponse, summary="Plain!",
             operation_id="plain_op")
    def text(): ...

    @app.get("/away", response_class=fw.RedirectResponse)
    def away(): ...

    @app.get("/secret", include_in_schema=False)
    def secret(): ...

    @app.post("/bulk")
    def bulk(items: list[Sub], key: str = fw.Depends(api_key), who: Any = fw.Depends(basic)): ...

    @app.post("/counts")
    def counts(data: dict[str, int]): ...

    @app.get("/odd/{item_id}", openapi_extra={"x-speed": "fast"},
             responses={"4XX": {"model": Sub}, "default": {"description": "Other"},
                        200: {"content": {"image/png": {}}}})
    def odd(item_id: int): ...

    app.include_router(users)
    app.include_router(items)
    return app


def frameworks() -> tuple[Any, Any]:
    """The imports of the store, from FastAPI and from pronghorn."""
    import fastapi.responses
    import fastapi.security

    names = ("Query", "Path", "Header", "Cookie", "Body", "Form", "File", "Depends", "Security")
    schemes = ("HTTPBearer", "OAuth2PasswordBearer", "APIKeyHeader", "HTTPBasic")
    responses = ("HTMLResponse", "PlainTextResponse", "RedirectResponse")
    fast = types.SimpleNamespace(
        App=fastapi.FastAPI, APIRouter=fastapi.APIRouter,
        **{n: getattr(fastapi, n) for n in names},
        **{n: getattr(fastapi.security, n) for n in schemes},
        **{n: getattr(fastapi.responses, n) for n in responses})
    try:
        import pronghorn
        import pronghorn.security
    except ImportError as exc:
        pytest.skip(f"typed parameters are not available: {exc}")
    ours = types.SimpleNamespace(
        App=pronghorn.Pronghorn, APIRouter=pronghorn.APIRouter,
        **{n: getattr(pronghorn, n) for n in names + responses},
        **{n: getattr(pronghorn.security, n) for n in schemes})
    return fast, ours


def test_port_of_a_fastapi_app_has_the_same_document() -> None:
    fast, ours = frameworks()
    app = build_store(ours)
    assert all(getattr(r, "plan", None) is not None for r in app.routes)
    document = app.openapi()
    validate(document)
    assert differences(build_store(fast).openapi(), document) == []
    replace = document["paths"]["/items/{item_id}"]["put"]
    assert replace["security"] == [{"OAuth2PasswordBearer": ["admin", "me"]},
                                   {"APIKeyHeader": []}]


def test_port_served_over_the_wire_is_the_same_document() -> None:
    fast, ours = frameworks()
    with TestClient(build_store(ours)) as client:
        served = client.get("/openapi.json").json()
    assert differences(build_store(fast).openapi(), served) == []


def test_any_return_annotation_is_no_response_model() -> None:
    fast, ours = frameworks()

    def anything() -> Any: ...

    apps = [fw.App() for fw in (fast, ours)]
    for app in apps:
        app.get("/anything")(anything)
    content = [app.openapi()["paths"]["/anything"]["get"]["responses"]["200"]["content"]
               for app in apps]
    # FastAPI titles the empty schema it makes for Any; pronghorn has no model to describe.
    assert content[0] == {
        "application/json": {"schema": {"title": "Response Anything Anything Get"}}}
    assert content[1] == {"application/json": {"schema": {}}}
