"""FastAPI and pronghorn side by side, for differential tests of handler semantics.

``FASTAPI`` and ``PRONGHORN`` expose the same names (``App``, the markers,
``Request``, ``Response``, ``BackgroundTasks``, the security helpers,
``TestClient``), so a function ``routes(fw)`` declares one app for either
framework with the very same code. ``Pair`` serves both and compares what
they answer: status and JSON body (the 422 bodies must be equal).
"""

from __future__ import annotations

import types
import warnings
from typing import Any

import fastapi
import fastapi.security

import pronghorn
import pronghorn.security
from pronghorn.testclient import TestClient

with warnings.catch_warnings():  # starlette's TestClient warns about httpx on import
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient as FastAPITestClient

_SECURITY = ("APIKeyCookie", "APIKeyHeader", "APIKeyQuery", "HTTPAuthorizationCredentials",
             "HTTPBasic", "HTTPBasicCredentials", "HTTPBearer", "OAuth2PasswordBearer",
             "OAuth2PasswordRequestForm", "SecurityScopes")
_NAMES = ("Body", "Cookie", "Depends", "File", "Form", "Header", "HTTPException", "Path",
          "Query", "Request", "Response", "Security", "BackgroundTasks", "APIRouter",
          "JSONResponse", "PlainTextResponse", "HTMLResponse")


def _namespace(name: str, module: Any, security: Any, app: Any, client: Any) -> Any:
    found = {key: getattr(module, key, None) for key in _NAMES}
    if found["JSONResponse"] is None:
        found["JSONResponse"] = fastapi.responses.JSONResponse
        found["PlainTextResponse"] = fastapi.responses.PlainTextResponse
        found["HTMLResponse"] = fastapi.responses.HTMLResponse
    found.update({key: getattr(security, key) for key in _SECURITY})
    return types.SimpleNamespace(name=name, App=app, TestClient=client, **found)


FASTAPI = _namespace("fastapi", fastapi, fastapi.security, fastapi.FastAPI, FastAPITestClient)
PRONGHORN = _namespace("pronghorn", pronghorn, pronghorn.security, pronghorn.Pronghorn,
                       TestClient)
FRAMEWORKS = (FASTAPI, PRONGHORN)


class Pair:
    """The same routes on FastAPI and on pronghorn, each behind its own TestClient."""

    def __init__(self, routes: Any) -> None:
        self.apps = {}
        self.clients = {}
        for fw in FRAMEWORKS:
            app = fw.App()
            routes(app, fw)
            self.apps[fw.name] = app
            self.clients[fw.name] = fw.TestClient(app, raise_server_exceptions=False)

    def answers(self, method: str, url: str, **kwargs: Any) -> dict[str, tuple[int, Any]]:
        found = {}
        for name, client in self.clients.items():
            response = client.request(method, url, **kwargs)
            try:
                body = response.json()
            except ValueError:
                body = response.text
            found[name] = (response.status_code, body)
        return found

    def same(self, method: str, url: str, **kwargs: Any) -> tuple[int, Any]:
        """Both frameworks' (status, JSON) for the request; they must be equal."""
        found = self.answers(method, url, **kwargs)
        assert found["pronghorn"] == found["fastapi"], (
            f"{method} {url} {kwargs}:\n  fastapi:   {found['fastapi']}\n"
            f"  pronghorn: {found['pronghorn']}")
        return found["pronghorn"]

    def close(self) -> None:
        for client in self.clients.values():
            client.close()
