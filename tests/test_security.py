"""Security helpers: the same answers as FastAPI's (status, body, WWW-Authenticate)."""

import base64
from typing import Annotated, Any

import pytest

from pronghorn import Depends, Pronghorn
from pronghorn.security import (
    APIKeyCookie,
    APIKeyHeader,
    APIKeyQuery,
    HTTPBasic,
    HTTPBearer,
    HTTPDigest,
    OAuth2AuthorizationCodeBearer,
    OAuth2PasswordBearer,
    OpenIdConnect,
)
from tests.conftest import run_markdown_examples
from tests.frameworks import Pair


def routes(app: Any, fw: Any) -> None:
    Depends, Security = fw.Depends, fw.Security
    bearer = fw.HTTPBearer()
    bearer_optional = fw.HTTPBearer(auto_error=False)
    basic = fw.HTTPBasic()
    basic_realm = fw.HTTPBasic(realm="shop")
    key_header = fw.APIKeyHeader(name="X-API-Key")
    key_query = fw.APIKeyQuery(name="api_key", auto_error=False)
    key_cookie = fw.APIKeyCookie(name="key")
    oauth2 = fw.OAuth2PasswordBearer(tokenUrl="token", scopes={"items": "Read items"})

    @app.get("/bearer")
    def read_bearer(credentials: Annotated[Any, Depends(bearer)]):
        return {"scheme": credentials.scheme, "credentials": credentials.credentials}

    @app.get("/bearer/optional")
    def read_bearer_optional(credentials: Annotated[Any, Depends(bearer_optional)]):
        return None if credentials is None else credentials.credentials

    @app.get("/basic")
    def read_basic(credentials: Annotated[Any, Depends(basic)]):
        return {"username": credentials.username, "password": credentials.password}

    @app.get("/basic/realm")
    def read_basic_realm(credentials: Annotated[Any, Depends(basic_realm)]):
        return credentials.username

    @app.get("/key/header")
    def read_key_header(key: str = Depends(key_header)):
        return key

    @app.get("/key/query")
    def read_key_query(key: str | None = Depends(key_query)):
        return key

    @app.get("/key/cookie")
    def read_key_cookie(key: str = Depends(key_cookie)):
        return key

    def current_user(security_scopes: fw.SecurityScopes, token: str = Depends(oauth2)):
        if token != "good":
            raise fw.HTTPException(401, "Invalid token",
                                   headers={"WWW-Authenticate": "Bearer"})
        return {"token": token, "scopes": security_scopes.scopes}

    @app.get("/oauth2")
    def read_oauth2(user: Annotated[dict, Security(current_user, scopes=["items"])]):
        return user

    @app.post("/token")
    def login(form: Annotated[fw.OAuth2PasswordRequestForm, Depends()]):
        return {"user": form.username, "password": form.password, "scopes": form.scopes,
                "grant_type": form.grant_type}


@pytest.fixture(scope="module")
def pair():
    made = Pair(routes)
    yield made
    made.close()


def basic(value: bytes) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(value).decode()}


CASES = [
    ("/bearer", {}),
    ("/bearer", {"headers": {"authorization": "Bearer abc"}}),
    ("/bearer", {"headers": {"authorization": "bearer abc"}}),
    ("/bearer", {"headers": {"authorization": "Basic abc"}}),
    ("/bearer", {"headers": {"authorization": "Bearer"}}),
    ("/bearer", {"headers": {"authorization": "Bearer  spaced  "}}),
    ("/bearer/optional", {}),
    ("/bearer/optional", {"headers": {"authorization": "Token x"}}),
    ("/bearer/optional", {"headers": {"authorization": "Bearer x"}}),
    ("/basic", {}),
    ("/basic", {"headers": basic(b"ann:pw:with:colons")}),
    ("/basic", {"headers": basic(b"no-colon")}),
    ("/basic", {"headers": {"authorization": "Basic %%%"}}),
    ("/basic", {"headers": {"authorization": "Bearer x"}}),
    ("/basic", {"headers": basic(b"\xff:x")}),
    ("/basic/realm", {}),
    ("/basic/realm", {"headers": basic(b"ann:")}),
    ("/key/header", {}),
    ("/key/header", {"headers": {"x-api-key": "k1"}}),
    ("/key/header", {"headers": {"x-api-key": ""}}),
    ("/key/query", {}),
    ("/key/query?api_key=k2", {}),
    ("/key/cookie", {}),
    ("/key/cookie", {"headers": {"cookie": "key=k3"}}),
    ("/oauth2", {}),
    ("/oauth2", {"headers": {"authorization": "Bearer good"}}),
    ("/oauth2", {"headers": {"authorization": "Bearer bad"}}),
    ("/oauth2", {"headers": {"authorization": "Basic good"}}),
]


@pytest.mark.parametrize(("url", "kwargs"), CASES, ids=[f"{u} {k}"[:80] for u, k in CASES])
def test_security_like_fastapi(pair, url, kwargs):
    pair.same("GET", url, **kwargs)
    answers = {name: client.get(url, **kwargs).headers.get("www-authenticate")
               for name, client in pair.clients.items()}
    assert answers["pronghorn"] == answers["fastapi"]


@pytest.mark.parametrize("data", [
    {"username": "ann", "password": "pw"},
    {"username": "ann", "password": "pw", "scope": "items users", "grant_type": "password"},
    {"username": "ann", "password": "pw", "grant_type": "refresh"},
    {"username": "ann"},
    {},
])
def test_password_form_like_fastapi(pair, data):
    pair.same("POST", "/token", data=data)


def test_schemes_describe_themselves_for_openapi():
    assert HTTPBearer(bearerFormat="JWT", description="d").model == {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": "d"}
    assert HTTPBasic().model == {"type": "http", "scheme": "basic"}
    assert HTTPDigest().model == {"type": "http", "scheme": "digest"}
    assert APIKeyHeader(name="X-Key").model == {"type": "apiKey", "name": "X-Key", "in": "header"}
    assert APIKeyQuery(name="k").model["in"] == "query"
    assert APIKeyCookie(name="k", scheme_name="Cookie").scheme_name == "Cookie"
    assert OAuth2PasswordBearer("token", scopes={"a": "A"}).model == {
        "type": "oauth2", "flows": {"password": {"tokenUrl": "token", "scopes": {"a": "A"}}}}
    assert OAuth2AuthorizationCodeBearer("auth", "token").model["flows"] == {
        "authorizationCode": {"authorizationUrl": "auth", "tokenUrl": "token", "scopes": {}}}
    assert OpenIdConnect(openIdConnectUrl="u").model == {
        "type": "openIdConnect", "openIdConnectUrl": "u"}
    assert HTTPBearer().scheme_name == "HTTPBearer"


def test_plan_lists_the_security_requirements():
    from pronghorn import Security

    app = Pronghorn()
    oauth2 = OAuth2PasswordBearer("token")
    key = APIKeyHeader(name="k")

    def user(token: str = Depends(oauth2)):
        return token

    @app.get("/")
    def handler(u: str = Security(user, scopes=["a", "b"]), k: str = Depends(key)):
        return u

    assert app.routes[-1].plan.security == [(oauth2, ["a", "b"]), (key, [])]


def test_security_helpers_keep_sync_routes_synchronous():
    import asyncio

    from pronghorn.datastructures import Headers, QueryParams

    app = Pronghorn()

    @app.get("/")
    def handler(key: str = Depends(APIKeyHeader(name="x-key"))):
        return key

    class FakeRequest:
        method = "GET"
        path_params: dict = {}
        query_params = QueryParams()
        headers = Headers({"x-key": "v"})
        cookies: dict = {}

    response = app._table.match("/")[0]["GET"](FakeRequest())
    assert not asyncio.iscoroutine(response)
    assert response.body == b'"v"'


def test_docs_security_examples_run():
    run_markdown_examples("docs/security.md")
