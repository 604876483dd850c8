"""The docs pages: Swagger UI at /docs and ReDoc at /redoc, working offline.

The pages' HTML and the static files are checked through the TestClient and
on the wire; then a real headless Chromium (Debian's ``chromium``; .ci/run
installs it) loads both pages from the engine serving a loopback socket,
with every host name but 127.0.0.1 made unresolvable, and the rendered DOM
must show the app's operations — so the JavaScript ran, from the app's own
files. Its screenshot of /docs is kept as tests/artifacts/swagger-ui.png.
"""

import re
import shutil
import subprocess
from pathlib import Path
from typing import Annotated, Any

import msgspec
import pytest

import pronghorn.openapi.docs
from pronghorn import Depends, Pronghorn, Query
from pronghorn.security import HTTPBearer
from pronghorn.testclient import TestClient
from tests.conftest import ROOT, LiveServer

ARTIFACTS = ROOT / "tests" / "artifacts"
BROWSER_TIMEOUT = 120


class UserIn(msgspec.Struct):
    """A new user."""

    name: str
    email: str
    age: int | None = None


class User(msgspec.Struct):
    """A stored user."""

    id: int
    name: str
    email: str
    age: int | None = None


def shop_app(**options: Any) -> Pronghorn:
    app = Pronghorn(title="Shop API", version="1.0", description="Users of the shop.",
                    **options)
    bearer = HTTPBearer()

    @app.get("/users/{user_id}", tags=["users"])
    def get_user(user_id: int, verbose: bool = False) -> User:
        """Get one user by id."""
        return User(user_id, "ann", "ann@example.com")

    @app.get("/users", tags=["users"])
    def list_users(limit: Annotated[int, Query(le=100)] = 10, offset: int = 0) -> list[User]:
        """List users, a page at a time."""
        return []

    @app.post("/users", tags=["users"], status_code=201)
    def create_user(user: UserIn, credentials: Annotated[Any, Depends(bearer)]) -> User:
        """Create a user."""
        return User(1, user.name, user.email, user.age)

    @app.delete("/users/{user_id}", tags=["users"], status_code=204)
    def delete_user(user_id: int) -> None:
        """Delete a user."""

    @app.get("/health", tags=["ops"])
    def health() -> dict[str, bool]:
        return {"ok": True}

    return app


# ---- the pages and files --------------------------------------------------------

def test_swagger_ui_page_loads_only_the_apps_own_files() -> None:
    with TestClient(shop_app()) as client:
        response = client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    page = response.text
    assert "<title>Shop API - Swagger UI</title>" in page
    assert '<script src="/docs/static/swagger-ui/swagger-ui-bundle.js">' in page
    assert '<link rel="stylesheet" href="/docs/static/swagger-ui/swagger-ui.css">' in page
    assert '"url": "/openapi.json"' in page
    assert '"/docs/oauth2-redirect"' in page
    assert not re.search(r"https?://", page)  # no CDN: works offline


def test_swagger_ui_parameters_and_oauth_settings() -> None:
    app = shop_app(swagger_ui_parameters={"deepLinking": False, "syntaxHighlight.theme": "nord",
                                          "x": "</script><script>alert(1)</script>"},
                   swagger_ui_init_oauth={"clientId": "docs-client"},
                   swagger_ui_oauth2_redirect_url=None)
    with TestClient(app) as client:
        page = client.get("/docs").text
    config = msgspec.json.decode(re.search(r"const config = (.*);", page).group(1))
    assert config["deepLinking"] is False and config["syntaxHighlight.theme"] == "nord"
    assert config["dom_id"] == "#swagger-ui" and config["layout"] == "BaseLayout"
    assert config["x"] == "</script><script>alert(1)</script>"
    assert "alert(1)</script>" not in page  # escaped inside the script element
    assert 'ui.initOAuth({"clientId": "docs-client"});' in page
    assert "oauth2RedirectUrl" not in page


def test_title_is_escaped() -> None:
    with TestClient(Pronghorn(title="<b>Shop</b>")) as client:
        assert "<title>&lt;b&gt;Shop&lt;/b&gt; - ReDoc</title>" in client.get("/redoc").text


def test_redoc_page_loads_only_the_apps_own_files() -> None:
    with TestClient(shop_app()) as client:
        page = client.get("/redoc").text
    assert '<redoc spec-url="/openapi.json"></redoc>' in page
    assert '<script src="/docs/static/redoc/redoc.standalone.js"></script>' in page
    assert not re.search(r"https?://", page)


def test_static_files_without_docs_url_are_under_redoc() -> None:
    with TestClient(shop_app(docs_url=None)) as client:
        page = client.get("/redoc").text
        assert '<script src="/redoc/static/redoc/redoc.standalone.js">' in page
        assert client.get("/redoc/static/redoc/redoc.standalone.js").status_code == 200
        assert client.get("/docs/static/redoc/redoc.standalone.js").status_code == 404


@pytest.mark.parametrize(("path", "media_type"), [
    ("swagger-ui/swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
    ("swagger-ui/swagger-ui.css", "text/css; charset=utf-8"),
    ("swagger-ui/favicon-32x32.png", "image/png"),
    ("redoc/redoc.standalone.js", "text/javascript; charset=utf-8"),
])
def test_static_files_are_served_with_validators(path: str, media_type: str) -> None:
    with TestClient(Pronghorn()) as client:
        response = client.get(f"/docs/static/{path}")
        again = client.get(f"/docs/static/{path}",
                           headers={"if-none-match": response.headers["etag"]})
    assert response.status_code == 200
    assert response.headers["content-type"] == media_type
    assert response.headers["cache-control"] == "public, max-age=86400"
    bundle = pronghorn.openapi.docs.asset_dirs()
    assert bundle is not None
    name, _, rest = path.partition("/")
    assert response.content == (bundle[name] / rest).read_bytes()
    assert again.status_code == 304


@pytest.mark.parametrize("target", [
    b"/docs/static/swagger-ui/../../openapi/__init__.py",
    b"/docs/static/swagger-ui/%2e%2e/%2e%2e/openapi/__init__.py",
    b"/docs/static/swagger-ui/..%2f..%2fopenapi%2f__init__.py",
    b"/docs/static/redoc/../swagger-ui/../../../../../../etc/passwd",
    b"/docs/static/swagger-ui/%2fetc%2fpasswd",
    b"/docs/static/swagger-ui/",
    b"/docs/static/swagger-ui",
    b"/docs/static/nothing/swagger-ui.css",
    b"/docs/static/swagger-ui/missing.js",
])
def test_static_files_never_leave_the_bundles(target: bytes) -> None:
    server = LiveServer(Pronghorn())
    try:
        reply = server.raw_request(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n"
                                   b"Connection: close\r\n\r\n")
    finally:
        server.close()
    status = int(reply.split(b" ", 2)[1])
    assert status in (400, 404), reply[:200]
    assert b"pronghorn" not in reply.lower().split(b"\r\n\r\n", 1)[-1]
    assert b"root:" not in reply


@pytest.mark.parametrize(("asset", "status"), [
    ("swagger-ui/swagger-ui.css", 200),
    ("redoc/redoc.standalone.js", 200),
    ("swagger-ui/../redoc/redoc.standalone.js", 404),  # another bundle: not through this one
    ("swagger-ui/../../openapi/__init__.py", 404),
    ("swagger-ui//etc/passwd", 404),
    ("swagger-ui/", 404),
    ("rapidoc/rapidoc-min.js", 404),  # shipped by the package, not served
])
def test_static_paths_are_resolved_inside_their_bundle(asset: str, status: int) -> None:
    app = Pronghorn()
    endpoint = next(r.endpoint for r in app.docs_routes if r.name == "docs_static")
    request = type("FakeRequest", (), {"path_params": {"asset": asset}})()
    assert endpoint(request).status_code == status


def test_missing_bundles_give_an_explanation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pronghorn.openapi.docs, "asset_dirs", lambda: None)
    with TestClient(shop_app()) as client:
        docs, redoc = client.get("/docs"), client.get("/redoc")
        assert client.get("/docs/static/swagger-ui/swagger-ui.css").status_code == 404
        assert client.get("/openapi.json").status_code == 200
    for response in (docs, redoc):
        assert response.status_code == 503
        assert "openapi-ui-bundles" in response.text
        assert '<a href="/openapi.json">' in response.text


def test_oauth2_redirect_page() -> None:
    with TestClient(shop_app()) as client:
        response = client.get("/docs/oauth2-redirect")
    assert response.status_code == 200
    assert "swaggerUIRedirectOauth2" in response.text
    assert not re.search(r"https?://", response.text)


# ---- a real browser ---------------------------------------------------------------

def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("chromium is not installed (Debian: apt-get install chromium; .ci/run does)")


def browse(url: str, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """Headless Chromium on ``url``; every host name but 127.0.0.1 fails to resolve."""
    command = [
        chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-extensions", "--disable-background-networking", "--disable-sync",
        "--disable-dev-shm-usage", "--hide-scrollbars", f"--user-data-dir={profile}",
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        "--virtual-time-budget=10000", "--window-size=1280,1600", *extra, url,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=BROWSER_TIMEOUT,
                          stdin=subprocess.DEVNULL, check=False)


@pytest.fixture
def live_shop() -> Any:
    server = LiveServer(shop_app())
    yield server
    server.close()


def test_swagger_ui_renders_the_operations_in_chromium(live_shop: LiveServer,
                                                        tmp_path: Path) -> None:
    url = live_shop.url + "/docs"
    dom = browse(url, tmp_path / "profile", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    rendered = dom.stdout
    # Swagger UI drew one block per operation, from the document it fetched.
    assert 'class="swagger-ui"' in rendered, rendered[:2000]
    for method, path in [("get", "/users/{user_id}"), ("get", "/users"), ("post", "/users"),
                         ("delete", "/users/{user_id}"), ("get", "/health")]:
        assert f'data-path="{path}"' in rendered, path
        assert f"opblock-{method}" in rendered
    for text in ("Shop API", "Get User", "Create User", "Users of the shop.", "Authorize"):
        assert text in rendered, text

    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "swagger-ui.png"
    screenshot.unlink(missing_ok=True)
    shot = browse(url, tmp_path / "profile", f"--screenshot={screenshot}")
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 20_000  # a drawn page, not a blank one


def test_redoc_renders_the_operations_in_chromium(live_shop: LiveServer,
                                                   tmp_path: Path) -> None:
    dom = browse(live_shop.url + "/redoc", tmp_path / "profile", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    rendered = dom.stdout
    for text in ("Shop API", "Get one user by id.", "List users, a page at a time.",
                 "Create a user.", "Users of the shop."):
        assert text in rendered, text
