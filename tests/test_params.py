"""Typed parameters: every source, marker, type and constraint, against FastAPI itself.

The routes below are declared once and served by both frameworks
(tests/frameworks.py); each request must get the same status and the same
JSON from both — in particular byte-for-byte the same 422 ``detail``
lists. Pronghorn-only behaviour (msgspec Structs, the ``request`` name,
the per-request cost) is tested at the end.
"""


import dataclasses
import datetime
import decimal
import enum
import inspect
import uuid
from typing import Annotated, Any, Literal, Optional, Union

import msgspec
import pytest
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from pronghorn import Body, Header, Path, Pronghorn, Query
from pronghorn.testclient import TestClient
from tests.conftest import run_markdown_examples
from tests.frameworks import Pair


class Color(str, enum.Enum):
    red = "red"
    green = "green"


class Level(enum.IntEnum):
    low = 1
    high = 2


class Item(BaseModel):
    name: str
    price: float = Field(gt=0)
    tags: list[str] = []


class User(BaseModel):
    username: str
    full_name: Optional[str] = None


@dataclasses.dataclass
class Point:
    x: int
    y: int = 0
    label: str = "p"


class Filters(BaseModel):
    limit: int = Field(100, gt=0, le=100)
    offset: int = Field(0, ge=0)
    order_by: Literal["created_at", "updated_at"] = "created_at"
    tags: list[str] = []


class Tokens(BaseModel):
    x_token: str
    user_agent: Optional[str] = None


class Prefs(BaseModel):
    theme: str = "light"
    visits: int = 0


class Movie(TypedDict):
    title: str
    year: int


def routes(app: Any, fw: Any) -> None:
    Query, Path, Header, Cookie = fw.Query, fw.Path, fw.Header, fw.Cookie
    Body, Form = fw.Body, fw.Form

    # ---- path
    @app.get("/path/int/{v}")
    def path_int(v: int):
        return v

    @app.get("/path/float/{v}")
    def path_float(v: float):
        return str(v)

    @app.get("/path/bool/{v}")
    def path_bool(v: bool):
        return v

    @app.get("/path/uuid/{v}")
    def path_uuid(v: uuid.UUID):
        return str(v)

    @app.get("/path/enum/{v}")
    def path_enum(v: Color):
        return v.value

    @app.get("/path/ge/{v}")
    def path_ge(v: Annotated[int, Path(ge=1, le=100, title="The id")]):
        return v

    @app.get("/path/default/{v}")
    def path_marker_default(v: str = Path(min_length=2)):
        return v

    # ---- query scalars
    @app.get("/q/int")
    def q_int(q: int):
        return q

    @app.get("/q/opt")
    def q_opt(q: Optional[int] = None):
        return q

    @app.get("/q/pipe")
    def q_pipe(q: int | None = None):
        return q

    @app.get("/q/default")
    def q_default(q: int = 7, s: str = "x"):
        return [q, s]

    @app.get("/q/float")
    def q_float(q: float):
        return q

    @app.get("/q/bool")
    def q_bool(q: bool):
        return q

    @app.get("/q/str")
    def q_str(q: str):
        return q

    @app.get("/q/decimal")
    def q_decimal(q: decimal.Decimal):
        return str(q)

    @app.get("/q/uuid")
    def q_uuid(q: uuid.UUID):
        return str(q)

    @app.get("/q/datetime")
    def q_datetime(q: datetime.datetime):
        return q.isoformat()

    @app.get("/q/date")
    def q_date(q: datetime.date):
        return q.isoformat()

    @app.get("/q/time")
    def q_time(q: datetime.time):
        return q.isoformat()

    @app.get("/q/enum")
    def q_enum(q: Color, level: Level = Level.low):
        return [q.value, int(level)]

    @app.get("/q/literal")
    def q_literal(q: Literal["asc", "desc"] = "asc", n: Literal[1, 2] = 1):
        return [q, n]

    @app.get("/q/union")
    def q_union(q: Union[int, str]):
        return q

    @app.get("/q/numbers")
    def q_numbers(a: int | float):
        return a

    # ---- query markers and constraints
    @app.get("/q/alias")
    def q_alias(item_query: str = Query(alias="item-query")):
        return item_query

    @app.get("/q/annotated")
    def q_annotated(q: Annotated[str | None, Query(max_length=5, min_length=2)] = None):
        return q

    @app.get("/q/pattern")
    def q_pattern(q: str = Query("ab", pattern="^a[bc]+$")):
        return q

    @app.get("/q/numbers/constrained")
    def q_constrained(a: int = Query(0, gt=-1, lt=10), b: float = Query(1.0, ge=0.5, le=2.5),
                      c: int = Query(3, multiple_of=3)):
        return [a, b, c]

    @app.get("/q/described")
    def q_described(q: str = Query("x", title="T", description="D", deprecated=True,
                                   examples=["a"], include_in_schema=False)):
        return q

    @app.get("/q/list")
    def q_list(q: list[str] = Query()):
        return q

    @app.get("/q/list/int")
    def q_list_int(q: Annotated[list[int], Query()] = [1, 2]):
        return q

    @app.get("/q/list/opt")
    def q_list_opt(q: Optional[list[str]] = Query(None)):
        return q

    @app.get("/q/list/len")
    def q_list_len(q: list[int] = Query([], min_length=0, max_length=2)):
        return q

    @app.get("/q/factory")
    def q_factory(q: list[str] = Query(default_factory=list),
                  n: Annotated[int, Query(default_factory=lambda: 42)] = ...):
        return [q, n]

    @app.get("/q/set")
    def q_set(q: set[int] = Query(set())):
        return sorted(q)

    @app.get("/q/tuple")
    def q_tuple(q: tuple[int, ...] = Query(())):
        return list(q)

    @app.get("/q/many")
    def q_many(a: int, b: int, c: str = Query(min_length=3)):
        return [a, b, c]

    # ---- parameter models
    @app.get("/models/query")
    def models_query(filters: Annotated[Filters, Query()]):
        return filters

    @app.get("/models/header")
    def models_header(tokens: Annotated[Tokens, Header()]):
        return tokens

    @app.get("/models/cookie")
    def models_cookie(prefs: Annotated[Prefs, Cookie()]):
        return prefs

    # ---- headers and cookies
    @app.get("/h")
    def h(x_token: str = Header(), user_agent: str = Header("none")):
        return [x_token, user_agent]

    @app.get("/h/annotated")
    def h_annotated(x_count: Annotated[int, Header(ge=0)] = 0):
        return x_count

    @app.get("/h/raw")
    def h_raw(strange_header: str | None = Header(None, convert_underscores=False)):
        return strange_header

    @app.get("/h/alias")
    def h_alias(token: str = Header(alias="X-Api-Token")):
        return token

    @app.get("/h/list")
    def h_list(x_tag: list[str] = Header([])):
        return x_tag

    @app.get("/c")
    def c(session: str = Cookie(), visits: int = Cookie(0)):
        return [session, visits]

    @app.get("/c/opt")
    def c_opt(theme: Annotated[str | None, Cookie()] = None):
        return theme

    # ---- bodies
    @app.post("/b/model")
    def b_model(item: Item):
        return item

    @app.post("/b/opt")
    def b_opt(item: Item | None = None):
        return item

    @app.post("/b/two")
    def b_two(item: Item, user: User):
        return {"item": item, "user": user}

    @app.post("/b/embed")
    def b_embed(item: Annotated[Item, Body(embed=True)]):
        return item

    @app.post("/b/mixed")
    def b_mixed(item: Item, importance: int = Body(gt=0), note: str = Body("n")):
        return {"item": item, "importance": importance, "note": note}

    @app.post("/b/scalar")
    def b_scalar(value: int = Body()):
        return value

    @app.post("/b/text")
    def b_text(text: str = Body()):
        return text

    @app.post("/b/alias")
    def b_alias(item: Item = Body(alias="the-item", embed=True)):
        return item

    @app.post("/b/dataclass")
    def b_dataclass(point: Point):
        return dataclasses.asdict(point)

    @app.post("/b/dataclass/echo")
    def b_dataclass_echo(point: Point):
        return point

    @app.post("/b/typeddict")
    def b_typeddict(movie: Movie):
        return movie

    @app.post("/b/dict")
    def b_dict(scores: dict[str, int]):
        return scores

    @app.post("/b/list")
    def b_list(items: list[Item]):
        return items

    @app.post("/b/list/int")
    def b_list_int(values: list[int]):
        return values

    @app.post("/b/with/query/{id}")
    def b_with_query(id: int, item: Item, q: int = 0, x_n: int = Header(0)):
        return [id, q, x_n, item]

    # ---- forms (urlencoded)
    @app.post("/f")
    def f(username: str = Form(), age: int = Form(18), tags: list[str] = Form([])):
        return [username, age, tags]

    @app.post("/f/annotated")
    def f_annotated(code: Annotated[str, Form(min_length=3)]):
        return code


@pytest.fixture(scope="module")
def pair():
    made = Pair(routes)
    yield made
    made.close()


def get_cases(*urls: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [("GET", url, {}) for url in urls]


PATH = get_cases(
    "/path/int/5", "/path/int/x", "/path/int/5.0", "/path/int/-3", "/path/int/1e3",
    "/path/float/1.5", "/path/float/x", "/path/float/inf",
    "/path/bool/true", "/path/bool/yes", "/path/bool/0", "/path/bool/maybe",
    "/path/uuid/12345678-1234-5678-1234-567812345678", "/path/uuid/nope",
    "/path/uuid/12345678123456781234567812345678", "/path/enum/red", "/path/enum/blue",
    "/path/ge/0", "/path/ge/1", "/path/ge/101", "/path/ge/x", "/path/default/a",
    "/path/default/ab",
)

QUERY = get_cases(
    "/q/int?q=5", "/q/int", "/q/int?q=", "/q/int?q=abc", "/q/int?q=+5", "/q/int?q=%205%20",
    "/q/int?q=1_000", "/q/int?q=5.0", "/q/int?q=5.5", "/q/int?q=0x10", "/q/int?q=%D9%A1",
    "/q/int?q=1&q=2", "/q/int?q=99999999999999999999",
    "/q/opt", "/q/opt?q=3", "/q/opt?q=", "/q/opt?q=x", "/q/pipe?q=x", "/q/pipe",
    "/q/default", "/q/default?q=1&s=", "/q/default?q=x",
    "/q/float?q=1.5", "/q/float?q=1e5", "/q/float?q=x", "/q/float?q=1_0", "/q/float?q=.5",
    "/q/bool?q=true", "/q/bool?q=on", "/q/bool?q=YES", "/q/bool?q=0", "/q/bool?q=off",
    "/q/bool?q=F", "/q/bool?q=n", "/q/bool?q=2", "/q/bool?q=", "/q/bool",
    "/q/str?q=", "/q/str?q=a+b%21", "/q/str",
    "/q/decimal?q=1.50", "/q/decimal?q=x", "/q/decimal?q=nan",
    "/q/uuid?q=12345678-1234-5678-1234-567812345678", "/q/uuid?q=x", "/q/uuid?q=123",
    "/q/uuid?q=12345678-1234-5678-1234-56781234567g",
    "/q/datetime?q=2020-01-02T03:04:05", "/q/datetime?q=2020-01-02", "/q/datetime?q=x",
    "/q/datetime?q=2020-13-01", "/q/datetime?q=2020-01-02x", "/q/datetime?q=abcd-01-01",
    "/q/datetime?q=2020/01/01", "/q/datetime?q=2020-02-30",
    "/q/date?q=2020-01-02", "/q/date?q=x", "/q/date?q=2020-01-02T00:00:00",
    "/q/date?q=2020-01-02T10:00:00", "/q/date?q=2020-01-02x",
    "/q/time?q=10:20", "/q/time?q=10:20:30.5", "/q/time?q=x", "/q/time?q=25:00",
    "/q/time?q=10:60", "/q/time?q=ab:00", "/q/time?q=10-00",
    "/q/enum?q=red", "/q/enum?q=blue", "/q/enum?q=red&level=2", "/q/enum?q=red&level=3",
    "/q/enum?q=red&level=x",
    "/q/literal", "/q/literal?q=desc", "/q/literal?q=up", "/q/literal?n=2", "/q/literal?n=3",
    "/q/union?q=5", "/q/union?q=x", "/q/numbers?a=5", "/q/numbers?a=5.5", "/q/numbers?a=x",
    "/q/alias?item-query=a", "/q/alias?item_query=a", "/q/alias",
    "/q/annotated", "/q/annotated?q=abc", "/q/annotated?q=a", "/q/annotated?q=abcdef",
    "/q/pattern", "/q/pattern?q=acbc", "/q/pattern?q=ad", "/q/pattern?q=",
    "/q/numbers/constrained", "/q/numbers/constrained?a=-1", "/q/numbers/constrained?a=10",
    "/q/numbers/constrained?b=0.4", "/q/numbers/constrained?b=2.6", "/q/numbers/constrained?c=4",
    "/q/numbers/constrained?a=5&b=2.5&c=9",
    "/q/described", "/q/described?q=y",
    "/q/list?q=a&q=b", "/q/list", "/q/list?q=", "/q/list?q=a&other=1",
    "/q/list/int", "/q/list/int?q=3", "/q/list/int?q=1&q=x&q=y",
    "/q/list/opt", "/q/list/opt?q=z",
    "/q/list/len?q=1&q=2", "/q/list/len?q=1&q=2&q=3",
    "/q/factory", "/q/factory?q=a&n=1",
    "/q/set?q=2&q=1&q=2", "/q/set?q=x", "/q/tuple?q=1&q=2", "/q/tuple?q=a",
    "/q/many", "/q/many?a=x&b=y&c=z", "/q/many?a=1&b=2&c=abc",
    "/models/query", "/models/query?limit=5&tags=a&tags=b&extra=1",
    "/models/query?limit=0&order_by=x&offset=-1", "/models/query?tags=a&limit=x",
)

HEADERS = [
    ("GET", "/h", {}),
    ("GET", "/h", {"headers": {"x-token": "t"}}),
    ("GET", "/h", {"headers": {"X-TOKEN": "t", "User-Agent": "ua"}}),
    ("GET", "/h", {"headers": {"x_token": "t"}}),
    ("GET", "/h/annotated", {"headers": {"x-count": "3"}}),
    ("GET", "/h/annotated", {"headers": {"x-count": "-1"}}),
    ("GET", "/h/annotated", {"headers": {"x-count": "many"}}),
    ("GET", "/h/raw", {"headers": {"strange_header": "1"}}),
    ("GET", "/h/raw", {"headers": {"strange-header": "1"}}),
    ("GET", "/h/alias", {"headers": {"x-api-token": "k"}}),
    ("GET", "/h/alias", {}),
    ("GET", "/h/list", {"headers": [("x-tag", "a"), ("x-tag", "b")]}),
    ("GET", "/h/list", {}),
    ("GET", "/c", {}),
    ("GET", "/c", {"headers": {"cookie": "session=s"}}),
    ("GET", "/c", {"headers": {"cookie": "session=s; visits=3"}}),
    ("GET", "/c", {"headers": {"cookie": "session=s; visits=lots"}}),
    ("GET", "/c/opt", {"headers": {"cookie": "theme=dark"}}),
    ("GET", "/c/opt", {}),
    ("GET", "/models/header", {"headers": {"x-token": "t"}}),
    ("GET", "/models/cookie", {"headers": {"cookie": "theme=dark; visits=3"}}),
    ("GET", "/models/cookie", {"headers": {"cookie": "visits=many"}}),
    ("GET", "/models/cookie", {}),
]

JSON = {"content-type": "application/json"}
GOOD_ITEM = {"name": "apple", "price": 1.5, "tags": ["fruit"]}

BODIES = [
    ("POST", "/b/model", {"json": GOOD_ITEM}),
    ("POST", "/b/model", {"json": {"name": "a", "price": "2"}}),
    ("POST", "/b/model", {"json": {"name": 1, "price": "x"}}),
    ("POST", "/b/model", {"json": {"price": -1}}),
    ("POST", "/b/model", {"json": {"name": "a", "price": 1, "tags": "x"}}),
    ("POST", "/b/model", {"json": {"name": "a", "price": 1, "tags": ["a", 2]}}),
    ("POST", "/b/model", {"json": [1]}),
    ("POST", "/b/model", {"json": "x"}),
    ("POST", "/b/model", {"content": b"null", "headers": JSON}),
    ("POST", "/b/model", {}),
    ("POST", "/b/model", {"content": b"", "headers": JSON}),
    ("POST", "/b/model", {"content": b'{"name": "a",', "headers": JSON}),
    ("POST", "/b/model", {"content": b'{"name": "a"}x', "headers": JSON}),
    ("POST", "/b/model", {"content": b"{'name': 'a'}", "headers": JSON}),
    ("POST", "/b/model", {"content": b"[1, 2", "headers": JSON}),
    ("POST", "/b/model", {"content": b"nul", "headers": JSON}),
    ("POST", "/b/model", {"content": b'{"name": "a", "price": 1}'}),
    ("POST", "/b/model", {"content": b'{"name": "a", "price": 1}',
                          "headers": {"content-type": "text/plain"}}),
    ("POST", "/b/model", {"content": b'{"name": "a", "price": 1}',
                          "headers": {"content-type": "application/vnd.api+json"}}),
    ("POST", "/b/model", {"content": b'{"name": "a", "price": 1}',
                          "headers": {"content-type": "application/json; charset=utf-8"}}),
    ("POST", "/b/model", {"content": b"[" * 5000 + b"]" * 5000, "headers": JSON}),
    ("POST", "/b/model", {"content": b'{"name": "a", "price": 1' + b"0" * 5000 + b"}",
                          "headers": JSON}),
    ("POST", "/b/model", {"content": b'{"name": "\xff"}', "headers": JSON}),
    ("POST", "/b/opt", {}),
    ("POST", "/b/opt", {"json": GOOD_ITEM}),
    ("POST", "/b/opt", {"json": {"name": "x"}}),
    ("POST", "/b/two", {"json": {"item": GOOD_ITEM, "user": {"username": "u"}}}),
    ("POST", "/b/two", {"json": {"item": GOOD_ITEM}}),
    ("POST", "/b/two", {"json": {"item": {"price": 0}, "user": {}}}),
    ("POST", "/b/two", {"json": [1]}),
    ("POST", "/b/two", {"json": None}),
    ("POST", "/b/two", {"content": b"null", "headers": JSON}),
    ("POST", "/b/two", {"json": GOOD_ITEM}),
    ("POST", "/b/two", {"content": b"{}", "headers": {"content-type": "text/plain"}}),
    ("POST", "/b/two", {"content": b'{"item": 1', "headers": JSON}),
    ("POST", "/b/embed", {"json": {"item": GOOD_ITEM}}),
    ("POST", "/b/embed", {"json": GOOD_ITEM}),
    ("POST", "/b/embed", {"json": {"item": None}}),
    ("POST", "/b/mixed", {"json": {"item": GOOD_ITEM, "importance": 5}}),
    ("POST", "/b/mixed", {"json": {"item": GOOD_ITEM, "importance": 0, "note": 3}}),
    ("POST", "/b/mixed", {"json": {"item": GOOD_ITEM, "importance": "x"}}),
    ("POST", "/b/mixed", {"json": {"importance": "5", "note": "hi"}}),
    ("POST", "/b/scalar", {"json": 5}),
    ("POST", "/b/scalar", {"json": "5"}),
    ("POST", "/b/scalar", {"json": 5.5}),
    ("POST", "/b/scalar", {"json": "x"}),
    ("POST", "/b/scalar", {"json": True}),
    ("POST", "/b/scalar", {"json": {"value": 5}}),
    ("POST", "/b/scalar", {}),
    ("POST", "/b/text", {"json": "hello"}),
    ("POST", "/b/text", {"content": b"plain words", "headers": {"content-type": "text/plain"}}),
    ("POST", "/b/text", {"json": 5}),
    ("POST", "/b/alias", {"json": {"the-item": GOOD_ITEM}}),
    ("POST", "/b/alias", {"json": {"item": GOOD_ITEM}}),
    ("POST", "/b/dataclass", {"json": {"x": 1}}),
    ("POST", "/b/dataclass", {"json": {"x": "1", "y": "2", "label": "q"}}),
    ("POST", "/b/dataclass", {"json": {"y": 1, "label": 2}}),
    ("POST", "/b/dataclass", {"json": [1]}),
    ("POST", "/b/dataclass/echo", {"json": {"x": 1}}),
    ("POST", "/b/typeddict", {"json": {"title": "T", "year": 1999}}),
    ("POST", "/b/typeddict", {"json": {"title": 1, "year": "x"}}),
    ("POST", "/b/typeddict", {"json": {"year": 1}}),
    ("POST", "/b/typeddict", {"json": 5}),
    ("POST", "/b/dict", {"json": {"a": 1, "b": "2"}}),
    ("POST", "/b/dict", {"json": {"a": "x", "b": "y"}}),
    ("POST", "/b/dict", {"json": [1]}),
    ("POST", "/b/list", {"json": [GOOD_ITEM, GOOD_ITEM]}),
    ("POST", "/b/list", {"json": [GOOD_ITEM, {"name": "b"}, {"price": "p"}]}),
    ("POST", "/b/list", {"json": {}}),
    ("POST", "/b/list/int", {"json": [1, "2", 3.0]}),
    ("POST", "/b/list/int", {"json": [1, "x", 3.5, None]}),
    ("POST", "/b/with/query/3?q=1", {"json": GOOD_ITEM, "headers": {"x-n": "2"}}),
    ("POST", "/b/with/query/x?q=y", {"json": {"price": "p"}, "headers": {"x-n": "z"}}),
]

FORMS = [
    ("POST", "/f", {"data": {"username": "u"}}),
    ("POST", "/f", {"data": {"username": "u", "age": "30", "tags": ["a", "b"]}}),
    ("POST", "/f", {"data": {"age": "x"}}),
    ("POST", "/f", {"data": {"username": ""}}),
    ("POST", "/f", {"data": {"username": "u", "age": ""}}),
    ("POST", "/f", {}),
    ("POST", "/f", {"json": {"username": "u"}}),
    ("POST", "/f", {"content": b"username=a+b%21&age=4",
                    "headers": {"content-type": "application/x-www-form-urlencoded"}}),
    ("POST", "/f/annotated", {"data": {"code": "abc"}}),
    ("POST", "/f/annotated", {"data": {"code": "ab"}}),
]


def _ids(cases: list[tuple[str, str, dict[str, Any]]]) -> list[str]:
    return [f"{method} {url} {sorted(kwargs)}"[:90] for method, url, kwargs in cases]


@pytest.mark.parametrize(("method", "url", "kwargs"), PATH + QUERY, ids=_ids(PATH + QUERY))
def test_path_and_query_like_fastapi(pair, method, url, kwargs):
    pair.same(method, url, **kwargs)


@pytest.mark.parametrize(("method", "url", "kwargs"), HEADERS, ids=_ids(HEADERS))
def test_headers_and_cookies_like_fastapi(pair, method, url, kwargs):
    pair.same(method, url, **kwargs)


@pytest.mark.parametrize(("method", "url", "kwargs"), BODIES, ids=_ids(BODIES))
def test_bodies_like_fastapi(pair, method, url, kwargs):
    pair.same(method, url, **kwargs)


@pytest.mark.parametrize(("method", "url", "kwargs"), FORMS, ids=_ids(FORMS))
def test_urlencoded_forms_like_fastapi(pair, method, url, kwargs):
    pair.same(method, url, **kwargs)


def test_the_differential_cases_cover_errors_and_successes(pair):
    statuses = {pair.answers(m, u, **k)["pronghorn"][0] for m, u, k in PATH + QUERY + BODIES}
    assert {200, 400, 422} <= statuses


# ---- pronghorn only -----------------------------------------------------------------------

class Struct(msgspec.Struct):
    name: str
    price: Annotated[float, msgspec.Meta(gt=0)]
    tags: list[str] = []


class Nested(msgspec.Struct, forbid_unknown_fields=True):
    items: list[Struct]
    owner: str = msgspec.field(name="ownerName", default="me")


def test_msgspec_struct_body_errors_have_fastapis_shape():
    app = Pronghorn()

    @app.post("/s")
    def create(item: Struct):
        return item

    client = TestClient(app)
    assert client.post("/s", json={"name": "a", "price": 2}).json() == {
        "name": "a", "price": 2.0, "tags": []}
    response = client.post("/s", json={"name": 3, "price": 0, "tags": [1]})
    assert response.status_code == 422
    assert response.json()["detail"] == [
        {"type": "string_type", "loc": ["body", "name"], "msg": "Input should be a valid string",
         "input": 3},
        {"type": "greater_than", "loc": ["body", "price"], "msg": "Input should be greater "
         "than 0", "input": 0, "ctx": {"gt": 0.0}},
        {"type": "string_type", "loc": ["body", "tags", 0], "msg": "Input should be a valid "
         "string", "input": 1},
    ]
    assert client.post("/s", json=[]).json()["detail"] == [
        {"type": "model_attributes_type", "loc": ["body"],
         "msg": "Input should be a valid dictionary or object to extract fields from",
         "input": []}]


def test_struct_renamed_fields_and_unknown_fields():
    app = Pronghorn()

    @app.post("/n")
    def create(nested: Nested):
        return {"owner": nested.owner, "count": len(nested.items)}

    client = TestClient(app)
    good = {"items": [{"name": "a", "price": 1}], "ownerName": "zed"}
    assert client.post("/n", json=good).json() == {"owner": "zed", "count": 1}
    detail = client.post("/n", json={"items": [{"price": 1}], "extra": 1}).json()["detail"]
    assert detail == [
        {"type": "missing", "loc": ["body", "items", 0, "name"], "msg": "Field required",
         "input": {"price": 1}},
        {"type": "extra_forbidden", "loc": ["body", "extra"],
         "msg": "Extra inputs are not permitted", "input": 1},
    ]


def test_msgspec_fast_path_and_python_validator_agree_on_lax_input():
    """msgspec rejects what pydantic's lax mode accepts (a bool for an int, a date for a
    datetime): the Python validator then decides, as FastAPI would."""
    app = Pronghorn()

    class Lax(msgspec.Struct):
        count: int
        when: datetime.datetime

    @app.post("/lax")
    def lax(value: Lax):
        return {"count": value.count, "when": value.when.isoformat()}

    client = TestClient(app)
    response = client.post("/lax", json={"count": True, "when": "2020-01-02"})
    assert response.json() == {"count": 1, "when": "2020-01-02T00:00:00"}


def test_unannotated_request_parameter_receives_the_request():
    app = Pronghorn()

    @app.get("/r/{x}")
    def handler(request, x: int):
        return [request.path, x]

    assert TestClient(app).get("/r/3").json() == ["/r/3", 3]


def test_route_converters_and_annotations_combine():
    app = Pronghorn()

    @app.get("/c/{n:int}")
    def handler(n: Annotated[int, Path(lt=10)]):
        return n

    client = TestClient(app)
    assert client.get("/c/3").json() == 3
    assert client.get("/c/30").json()["detail"][0]["type"] == "less_than"


def test_markers_are_checked_at_registration():
    app = Pronghorn()
    with pytest.raises(AssertionError, match="Path parameters cannot have a default value"):
        Path(3)
    with pytest.raises(AssertionError, match="default value cannot be set in `Annotated`"):
        @app.get("/a")
        def a(q: Annotated[int, Query(3)]):
            return q
    with pytest.raises(AssertionError, match="Cannot use `Query` for path param 'x'"):
        @app.get("/b/{x}")
        def b(x: int = Query()):
            return x
    with pytest.raises(AssertionError, match="Path parameters cannot have default values"):
        @app.get("/c/{x}")
        def c(x: int = 3):
            return x
    with pytest.warns(DeprecationWarning, match="pattern"):
        Query(regex="^a")


def test_validation_is_compiled_once(monkeypatch):
    app = Pronghorn()

    @app.get("/users/{user_id}")
    def get_user(user_id: int, q: str | None = None, x_token: str = Header("t")):
        return [user_id, q, x_token]

    monkeypatch.setattr(inspect, "signature", lambda *a, **k: pytest.fail("per-request inspect"))
    import typing
    monkeypatch.setattr(typing, "get_type_hints", lambda *a, **k: pytest.fail("per-request"))
    client = TestClient(app)
    assert client.get("/users/3?q=a").json() == [3, "a", "t"]
    assert client.get("/users/x").status_code == 422


def test_plan_describes_every_parameter():
    app = Pronghorn()

    def token(x_token: str = Header()):
        return x_token

    from pronghorn import Depends

    @app.post("/items/{item_id}")
    def update(item_id: Annotated[int, Path(title="Item")], item: Item, user: User,
               q: list[str] = Query([], description="filters"), t: str = Depends(token)):
        return item_id

    route = app.routes[-1]
    plan = route.plan
    assert [(p.name, p.source, p.alias, p.required) for p in plan.params] == [
        ("x_token", "header", "x-token", True),
        ("item_id", "path", "item_id", True),
        ("q", "query", "q", False),
    ]
    assert plan.params[1].marker.title == "Item"
    assert plan.params[2].marker.description == "filters"
    assert plan.body.embed and plan.body.media_type == "application/json"
    assert plan.body.annotation == {"item": Item, "user": User}
    assert [f.name for f in plan.body.fields] == ["item", "user"]
    assert plan.response_model is None


def test_multipart_form_is_a_clear_error_until_the_parser_exists():
    app = Pronghorn()
    from pronghorn import Form

    @app.post("/f")
    def f(name: str = Form()):
        return name

    client = TestClient(app, raise_server_exceptions=True)
    with pytest.raises(NotImplementedError, match="multipart"):
        client.post("/f", files={"name": ("a.txt", b"x")})


def test_docs_parameters_examples_run():
    run_markdown_examples("docs/parameters.md")


def test_per_request_cost_of_a_typed_route_stays_small():
    """The lean path: a typed route costs a few µs more than an untyped one (generous bound;
    benchmarks/ has the precise numbers)."""
    import time

    from pronghorn.datastructures import Headers, QueryParams

    app = Pronghorn()

    @app.get("/users/{user_id}")
    def typed(user_id: int, q: str | None = None):
        return user_id

    @app.get("/plain/{user_id}")
    def plain(user_id):
        return user_id

    class FakeRequest:
        method = "GET"

        def __init__(self, path):
            self.path_params = {"user_id": "42"}
            self.query_params = QueryParams._from_list([("q", "x")])
            self.headers = Headers()

    typed_call = app._table.match("/users/1")[0]["GET"]
    plain_call = app._table.match("/plain/1")[0]["GET"]

    def cost(call):
        request = FakeRequest("/")
        best = float("inf")
        for _ in range(5):
            started = time.perf_counter()
            for _ in range(2000):
                call(request)
            best = min(best, (time.perf_counter() - started) / 2000)
        return best

    assert cost(typed_call) - cost(plain_call) < 20e-6


def test_validation_error_carries_the_body_like_fastapi():
    from pronghorn import RequestValidationError
    from pronghorn.responses import JSONResponse

    app = Pronghorn()

    @app.exception_handler(RequestValidationError)
    def echo(request, exc):
        return JSONResponse({"errors": len(exc.errors()), "body": exc.body}, 422)

    @app.post("/items")
    def create(item: Item, q: int = 0):
        return item

    client = TestClient(app)
    assert client.post("/items?q=x", json={"name": "a", "price": 1}).json() == {
        "errors": 1, "body": {"name": "a", "price": 1}}
    assert client.post("/items", json={"name": "a"}).json()["body"] == {"name": "a"}
