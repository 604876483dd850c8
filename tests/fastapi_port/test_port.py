"""One test file for a FastAPI app and its pronghorn port (only the imports differ).

Every test runs twice: on ``app_fastapi`` with FastAPI's TestClient and on
``app_pronghorn`` with pronghorn's. The assertions are the same, and the
422 bodies are compared between the two apps directly.
"""

import importlib
import warnings

import pytest

from pronghorn.testclient import TestClient as PronghornTestClient

with warnings.catch_warnings():  # starlette's TestClient warns about httpx on import
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient as FastAPITestClient

FRAMEWORKS = {
    "fastapi": ("tests.fastapi_port.app_fastapi", FastAPITestClient),
    "pronghorn": ("tests.fastapi_port.app_pronghorn", PronghornTestClient),
}
ANN = {"Authorization": "Bearer token-ann"}
BOB = {"Authorization": "Bearer token-bob"}
HAMMER = {"name": "Hammer", "price": 12.5, "quantity": 3, "tags": ["steel", "heavy"]}


@pytest.fixture(params=sorted(FRAMEWORKS))
def service(request):
    module_name, client_class = FRAMEWORKS[request.param]
    module = importlib.import_module(module_name)
    module.reset()
    with client_class(module.app) as client:
        yield module, client


@pytest.fixture
def client(service):
    return service[1]


def create(client, body=HAMMER, headers=ANN):
    response = client.post("/items", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def test_create_filters_the_stored_item_through_the_response_model(service):
    module, client = service
    response = client.post("/items", json=HAMMER, headers=ANN)
    assert response.status_code == 201
    assert response.headers["location"] == "/items/1"
    assert response.json() == {"id": 1, "name": "Hammer", "price": 12.5, "quantity": 3,
                               "category": "tools", "tags": ["steel", "heavy"], "owner": "ann"}
    assert module.db.audit == ["ann created 1"]  # the background task ran
    assert module.db.sessions == {"opened": 1, "closed": 1, "rolled_back": 0}


def test_read_list_and_filter(client):
    create(client)
    create(client, {"name": "Apple", "price": 0.5, "category": "food", "tags": ["fresh"]})
    create(client, {"name": "Hand saw", "price": 20, "tags": ["steel"]})
    assert client.get("/items/2").json()["name"] == "Apple"
    names = [item["name"] for item in client.get("/items").json()]
    assert names == ["Hammer", "Apple", "Hand saw"]
    assert [i["id"] for i in client.get("/items?category=tools&tag=steel").json()] == [1, 3]
    assert [i["id"] for i in client.get("/items?q=ha&min_price=15").json()] == [3]
    assert [i["id"] for i in client.get("/items?offset=1&limit=1").json()] == [2]
    assert client.get("/items?tag=steel&tag=heavy").json()[0]["name"] == "Hammer"


def test_update_restock_delete(client):
    create(client)
    patched = client.patch("/items/1", json={"price": 15}, headers=ANN)
    assert patched.json()["price"] == 15.0 and patched.json()["quantity"] == 3
    restocked = client.post("/items/1/restock", json={"restock": {"amount": 7}}, headers=ANN)
    assert restocked.json()["quantity"] == 10
    assert client.patch("/items/1", json={"price": 1}, headers=BOB).status_code == 403
    deleted = client.delete("/items/1", headers=ANN)
    assert deleted.status_code == 204 and deleted.content == b""
    assert client.get("/items/1").json() == {"detail": "Item 1 not found"}


def test_errors(service):
    module, client = service
    create(client)
    conflict = client.post("/items", json=HAMMER, headers=ANN)
    assert conflict.status_code == 409
    assert conflict.json() == {"detail": "An item named 'Hammer' exists"}
    assert module.db.sessions["rolled_back"] == 1
    missing = client.get("/items/99")
    assert missing.status_code == 404
    unauthenticated = client.post("/items", json=HAMMER)
    assert unauthenticated.status_code == 401
    assert unauthenticated.json() == {"detail": "Not authenticated"}
    assert unauthenticated.headers["www-authenticate"] == "Bearer"
    bad_token = client.post("/items", json=HAMMER, headers={"Authorization": "Bearer nope"})
    assert bad_token.status_code == 401 and bad_token.json() == {"detail": "Invalid token"}
    assert client.get("/stats/food", headers={"x-currency": "eur"}).status_code == 422
    assert client.get("/stats/food", headers={"x-currency": "USD"}).json() == {
        "category": "food", "count": 0, "total": 0, "currency": "USD"}
    assert client.get("/health").json()["items"] == 1


INVALID = [
    ("POST", "/items", {"json": {"name": "", "price": 0, "quantity": -1, "category": "cars"},
                        "headers": ANN}),
    ("POST", "/items", {"json": {"price": "cheap", "tags": "one"}, "headers": ANN}),
    ("POST", "/items", {"content": b'{"name": "x",',
                        "headers": {**ANN, "content-type": "application/json"}}),
    ("POST", "/items", {"content": b"name=x", "headers": {**ANN, "content-type": "text/plain"}}),
    ("POST", "/items", {"headers": ANN}),
    ("GET", "/items?offset=-1&limit=100&category=cars&q=x&min_price=-2", {}),
    ("GET", "/items/0", {}),
    ("GET", "/items/abc", {}),
    ("PATCH", "/items/1", {"json": {"price": -5, "name": ""}, "headers": ANN}),
    ("POST", "/items/1/restock", {"json": {"amount": 5}, "headers": ANN}),
    ("POST", "/items/1/restock", {"json": {"restock": {"amount": 0}, "note": 3},
                                  "headers": ANN}),
    ("GET", "/stats/cars", {"headers": {"x-currency": "euro"}}),
]


@pytest.mark.parametrize(("method", "url", "kwargs"), INVALID,
                         ids=[f"{m} {u}" for m, u, _ in INVALID])
def test_invalid_requests_are_422_with_the_same_body(method, url, kwargs):
    answers = {}
    for name, (module_name, client_class) in FRAMEWORKS.items():
        module = importlib.import_module(module_name)
        module.reset()
        with client_class(module.app) as client:
            create(client)
            response = client.request(method, url, **kwargs)
            answers[name] = (response.status_code, response.json())
    assert answers["pronghorn"][0] == 422
    assert answers["pronghorn"] == answers["fastapi"]


def test_the_port_differs_only_in_its_imports():
    from pathlib import Path

    here = Path(__file__).parent
    original = (here / "app_fastapi.py").read_text().splitlines()
    port = (here / "app_pronghorn.py").read_text().splitlines()
    changed = [(a, b) for a, b in zip(original, port) if a != b]
    assert len(original) == len(port)
    assert all("import" in a or "FastAPI" in a or a.startswith('"""') for a, _ in changed)
