"""response_model, return annotations, status codes and response classes, against FastAPI."""

import dataclasses
from typing import Any, Optional

import msgspec
import pytest
from pydantic import BaseModel, Field

from pronghorn import Pronghorn, Response
from pronghorn.exceptions import ResponseValidationError
from pronghorn.testclient import TestClient
from tests.frameworks import Pair


class UserIn(BaseModel):
    username: str
    password: str
    email: Optional[str] = None


class UserOut(BaseModel):
    username: str
    email: Optional[str] = None


class Item(BaseModel):
    name: str
    description: Optional[str] = None
    price: float
    tax: float = 10.5
    tags: list[str] = []


class Aliased(BaseModel):
    full_name: str = Field(alias="fullName")


@dataclasses.dataclass
class Point:
    x: int
    y: int = 0


ITEMS = {
    "foo": {"name": "Foo", "price": 50.2},
    "bar": {"name": "Bar", "description": "The bartenders", "price": 62, "tax": 20.2},
    "baz": {"name": "Baz", "description": None, "price": 50.2, "tax": 10.5, "tags": []},
}


def routes(app: Any, fw: Any) -> None:
    @app.post("/user", response_model=UserOut)
    def create_user(user: UserIn):
        return user

    @app.post("/user/annotated")
    def create_user_annotated(user: UserIn) -> UserOut:
        return user  # type: ignore[return-value]

    @app.get("/dict", response_model=UserOut)
    def from_dict():
        return {"username": "ann", "password": "secret", "extra": 1}

    @app.get("/items/{item_id}", response_model=Item, response_model_exclude_unset=True)
    def read_item(item_id: str):
        return ITEMS[item_id]

    @app.get("/items/{item_id}/none", response_model=Item, response_model_exclude_none=True)
    def read_item_none(item_id: str):
        return ITEMS[item_id]

    @app.get("/items", response_model=list[Item])
    def read_items():
        return list(ITEMS.values())

    @app.get("/invalid", response_model=Item)
    def invalid():
        return {"name": "no price"}

    @app.get("/disabled", response_model=None)
    def disabled() -> UserOut:
        return {"anything": "goes"}  # type: ignore[return-value]

    @app.get("/response")
    def returns_response() -> fw.Response:
        return fw.JSONResponse({"raw": True}, status_code=202)

    @app.get("/response/bypass", response_model=UserOut)
    def bypass():
        return fw.JSONResponse({"password": "leaked on purpose"})

    @app.post("/created", status_code=201, response_model=UserOut)
    def created(user: UserIn):
        return user

    @app.get("/status/param", status_code=200)
    def status_param(response: fw.Response):
        response.status_code = 203
        return {"ok": True}

    @app.get("/text", response_class=fw.PlainTextResponse)
    def text():
        return "plain"

    @app.get("/html", response_class=fw.HTMLResponse, response_model=str)
    def html():
        return "<b>hi</b>"

    @app.get("/dataclass", response_model=Point)
    def dataclass_model():
        return {"x": "3", "z": 9}

    @app.get("/dataclass/instance")
    def dataclass_instance() -> Point:
        return Point(1, 2)

    @app.get("/model/plain")
    def model_plain():
        return Item(name="n", price=1)

    @app.get("/alias", response_model=Aliased)
    def alias():
        return {"fullName": "Ann Lee"}

    @app.get("/docs-only", responses={404: {"description": "Not found"}})
    def docs_only():
        return {"ok": True}

    @app.get("/nocontent", status_code=204)
    def nocontent():
        return None


@pytest.fixture(scope="module")
def pair():
    made = Pair(routes)
    yield made
    made.close()


CASES = [
    ("POST", "/user", {"json": {"username": "ann", "password": "pw", "email": "a@b"}}),
    ("POST", "/user/annotated", {"json": {"username": "ann", "password": "pw"}}),
    ("GET", "/dict", {}),
    ("GET", "/items/foo", {}),
    ("GET", "/items/bar", {}),
    ("GET", "/items/baz", {}),
    ("GET", "/items/baz/none", {}),
    ("GET", "/items/foo/none", {}),
    ("GET", "/items", {}),
    ("GET", "/invalid", {}),
    ("GET", "/disabled", {}),
    ("GET", "/response", {}),
    ("GET", "/response/bypass", {}),
    ("POST", "/created", {"json": {"username": "ann", "password": "pw"}}),
    ("GET", "/status/param", {}),
    ("GET", "/text", {}),
    ("GET", "/html", {}),
    ("GET", "/dataclass", {}),
    ("GET", "/dataclass/instance", {}),
    ("GET", "/model/plain", {}),
    ("GET", "/alias", {}),
    ("GET", "/docs-only", {}),
    ("GET", "/nocontent", {}),
]


@pytest.mark.parametrize(("method", "url", "kwargs"), CASES,
                         ids=[f"{m} {u}" for m, u, _ in CASES])
def test_responses_like_fastapi(pair, method, url, kwargs):
    pair.same(method, url, **kwargs)
    content_types = {name: client.request(method, url, **kwargs).headers.get("content-type")
                     for name, client in pair.clients.items()}
    assert content_types["pronghorn"] == content_types["fastapi"]


# ---- pronghorn only ---------------------------------------------------------------------

class Account(msgspec.Struct):
    id: int
    name: str
    note: Optional[str] = None


class Secret(msgspec.Struct):
    id: int
    name: str
    password: str


def test_struct_response_model_filters_and_encodes_directly():
    app = Pronghorn()

    @app.get("/a", response_model=Account)
    def account():
        return Secret(id=1, name="ann", password="pw")

    @app.get("/b", response_model=list[Account], response_model_exclude_none=True)
    def accounts():
        return [{"id": 1, "name": "a", "password": "x"}, {"id": "2", "name": "b", "note": "n"}]

    @app.get("/c", response_model=Account, response_model_exclude_unset=True)
    def partial():
        return {"id": 1, "name": "a"}

    client = TestClient(app)
    assert client.get("/a").json() == {"id": 1, "name": "ann", "note": None}
    assert client.get("/b").json() == [{"id": 1, "name": "a"}, {"id": 2, "name": "b",
                                                                 "note": "n"}]
    assert client.get("/c").json() == {"id": 1, "name": "a"}


def test_invalid_result_is_a_500_with_the_errors_in_the_log():
    app = Pronghorn()

    @app.get("/", response_model=Account)
    def broken():
        return {"id": "x"}

    with pytest.raises(ResponseValidationError):
        TestClient(app).get("/")
    assert TestClient(app, raise_server_exceptions=False).get("/").status_code == 500


def test_response_model_of_the_plan():
    app = Pronghorn()

    @app.get("/a")
    def a() -> Account:
        return Account(1, "x")

    @app.get("/b")
    def b() -> Response:
        return Response(b"")

    @app.get("/c", response_model=list[Account])
    def c() -> Any:
        return []

    @app.get("/d", response_model=None)
    def d() -> Account:
        return Account(1, "x")

    plans = [route.plan for route in app.routes]
    assert [plan.response_model for plan in plans] == [Account, None, list[Account], None]
