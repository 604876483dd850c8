"""The routes an app serves its API description on: JSON, Swagger UI, ReDoc.

Owns: ``install(app)`` — ``app.openapi_url`` (the document, encoded once per
generated document and root path), ``app.docs_url`` (Swagger UI),
``app.swagger_ui_oauth2_redirect_url`` (where an OAuth2 login comes back to
Swagger UI), ``app.redoc_url`` (ReDoc) and the pages' script and style
files under ``<docs_url or redoc_url>/static/``. Any URL set to None turns
that route off; without ``openapi_url`` there are no docs at all.

The script and style files come from the ``openapi-ui-bundles`` package
(Swagger UI 5.17.14 and ReDoc 2.2.0, Apache-2.0/MIT) and are served by the app
itself, so the pages work without network access. When that package is
missing, the pages answer 503 with an explanation instead.

Invariants: the docs routes are in the app's route table and in
``app.docs_routes``, not in ``app.routes`` (which lists the user's routes);
they are raw (``endpoint(request)``), sync, hidden from the document and
untouched by router defaults; a static file is served only if its resolved
path lies inside the directory of the bundle its URL names.

Must not know about: how the document is generated.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import msgspec

from pronghorn.fileresponse import FileResponse
from pronghorn.responses import HTMLResponse, PlainTextResponse, Response
from pronghorn.routing import Route

__all__ = ["asset_dirs", "install", "redoc_html", "swagger_ui_html",
           "swagger_ui_oauth2_redirect_html"]

# Swagger UI options used unless swagger_ui_parameters says otherwise.
SWAGGER_UI_DEFAULTS: dict[str, Any] = {
    "dom_id": "#swagger-ui",
    "layout": "BaseLayout",
    "deepLinking": True,
    "showExtensions": True,
    "showCommonExtensions": True,
}


def asset_dirs() -> dict[str, Path] | None:
    """``{"swagger-ui": dir, "redoc": dir}`` from openapi-ui-bundles, or None if not installed."""
    try:
        import openapi_ui_bundles
    except ImportError:
        return None
    return {"swagger-ui": Path(openapi_ui_bundles.swagger_ui.static_path).resolve(),
            "redoc": Path(openapi_ui_bundles.redoc.static_path).resolve()}


def _script_json(value: Any) -> str:
    """``value`` as JSON that is safe inside a ``<script>`` element."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace(
        "&", "\\u0026")


def swagger_ui_html(*, openapi_url: str, title: str, static_url: str,
                    oauth2_redirect_url: str | None = None,
                    init_oauth: dict[str, Any] | None = None,
                    parameters: dict[str, Any] | None = None) -> str:
    """The Swagger UI page for the document at ``openapi_url``."""
    config = {**SWAGGER_UI_DEFAULTS, **(parameters or {}), "url": openapi_url}
    static = html.escape(static_url + "/swagger-ui", quote=True)
    redirect = ("" if oauth2_redirect_url is None else
                f"config.oauth2RedirectUrl = window.location.origin + "
                f"{_script_json(oauth2_redirect_url)};")
    oauth = "" if init_oauth is None else f"ui.initOAuth({_script_json(init_oauth)});"
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<link rel="stylesheet" href="{static}/swagger-ui.css">
<link rel="icon" type="image/png" href="{static}/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{static}/swagger-ui-bundle.js"></script>
<script>
const config = {_script_json(config)};
config.presets = [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset];
{redirect}
const ui = SwaggerUIBundle(config);
{oauth}
window.ui = ui;
</script>
</body>
</html>
"""


def redoc_html(*, openapi_url: str, title: str, static_url: str) -> str:
    """The ReDoc page for the document at ``openapi_url``."""
    script = html.escape(static_url + "/redoc/redoc.standalone.js", quote=True)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>body {{ margin: 0; padding: 0; }}</style>
</head>
<body>
<noscript>ReDoc needs JavaScript to show this API's documentation.</noscript>
<redoc spec-url="{html.escape(openapi_url, quote=True)}"></redoc>
<script src="{script}"></script>
</body>
</html>
"""


# Where an OAuth2 authorization server sends the browser back to. The login window was
# opened by Swagger UI, which left `swaggerUIRedirectOauth2` on itself for this page.
_OAUTH2_REDIRECT = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Swagger UI: OAuth2 redirect</title></head>
<body>
<script>
(function () {
  "use strict";
  var waiting = window.opener && window.opener.swaggerUIRedirectOauth2;
  if (!waiting) {
    document.body.textContent = "No Swagger UI window is waiting for this OAuth2 login.";
    return;
  }
  var auth = waiting.auth;
  var fragment = window.location.hash.substring(1);
  var raw = /(^|&)(code|token|access_token|error)=/.test(fragment)
    ? fragment : window.location.search.substring(1);
  var answer = {};
  new URLSearchParams(raw).forEach(function (value, key) { answer[key] = value; });
  var stateMatches = answer.state === waiting.state;
  var flow = auth.schema.get("flow");
  var codeFlow = ["accessCode", "authorizationCode", "authorization_code"].indexOf(flow) >= 0;
  if (codeFlow && !auth.code) {
    if (!stateMatches) {
      waiting.errCb({authId: auth.name, source: "auth", level: "warning",
                     message: "The state returned by the authorization server is not the one " +
                              "sent: this login may not be safe."});
    }
    if (answer.code) {
      delete waiting.state;
      auth.code = answer.code;
      waiting.callback({auth: auth, redirectUrl: waiting.redirectUrl});
    } else {
      var reason = answer.error
        ? "[" + answer.error + "]: " + (answer.error_description || "no code received") +
          (answer.error_uri ? " (" + answer.error_uri + ")" : "")
        : "[Authorization failed]: no code received from the authorization server.";
      waiting.errCb({authId: auth.name, source: "auth", level: "error", message: reason});
    }
  } else {
    waiting.callback({auth: auth, token: answer, isValid: stateMatches,
                      redirectUrl: waiting.redirectUrl});
  }
  window.close();
})();
</script>
</body>
</html>
"""


def swagger_ui_oauth2_redirect_html() -> str:
    return _OAUTH2_REDIRECT


def _missing_assets_page(title: str, openapi_url: str) -> Response:
    link = html.escape(openapi_url, quote=True)
    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title></head>
<body>
<h1>API documentation unavailable</h1>
<p>The Swagger UI and ReDoc pages are served from the files of the Python package
<code>openapi-ui-bundles</code> (a dependency of pronghorn), which is not installed here.
Install it with <code>pip install openapi-ui-bundles</code> and restart the server.</p>
<p>The OpenAPI document itself is at <a href="{link}">{link}</a>.</p>
</body></html>
"""
    return HTMLResponse(body, 503)


def _with_server(document: dict[str, Any], root_path: str) -> dict[str, Any]:
    """``document`` listing ``root_path`` first among its servers (unless empty or listed)."""
    servers = document.get("servers") or []
    if not root_path or root_path in [server.get("url") for server in servers]:
        return document
    head = {"openapi": document["openapi"], "info": document["info"],
            "servers": [{"url": root_path}, *servers]}
    return {**head, **{key: value for key, value in document.items() if key not in head}}


def _static_prefix(app: Any) -> str | None:
    base = app.docs_url or app.redoc_url
    return None if base is None else base.rstrip("/") + "/static"


def install(app: Any) -> None:
    """Add the openapi/docs/redoc routes configured on ``app`` (a Pronghorn app)."""
    if not app.openapi_url:
        return
    openapi_url: str = app.openapi_url
    encoded: dict[Any, bytes] = {}

    def openapi(request: Any) -> Response:
        document = app.openapi()
        if encoded.get(None) is not document:  # generated again since last encoded
            encoded.clear()
            encoded[None] = document
        root = request.root_path if app.root_path_in_servers else ""
        body = encoded.get(root)
        if body is None:
            body = encoded[root] = msgspec.json.encode(_with_server(document, root))
        return Response(body, media_type="application/json")

    def add(route: Route) -> None:
        # Into the app's route table, not app.routes: these are the app's own, not the user's.
        app._table.add(route)
        app.docs_routes.append(route)

    add(Route(openapi_url, openapi, name="openapi", raw=True, include_in_schema=False))
    static = _static_prefix(app)
    dirs = asset_dirs() if static is not None else None

    if app.docs_url:
        def swagger_ui(request: Any) -> Response:
            root = request.root_path
            title = f"{app.title} - Swagger UI"
            if dirs is None:
                return _missing_assets_page(title, root + openapi_url)
            redirect = app.swagger_ui_oauth2_redirect_url
            return HTMLResponse(swagger_ui_html(
                openapi_url=root + openapi_url, title=title, static_url=root + static,
                oauth2_redirect_url=None if redirect is None else root + redirect,
                init_oauth=app.swagger_ui_init_oauth, parameters=app.swagger_ui_parameters))

        add(Route(app.docs_url, swagger_ui, name="swagger_ui_html", raw=True,
                  include_in_schema=False))
        if app.swagger_ui_oauth2_redirect_url:
            def oauth2_redirect(request: Any) -> Response:
                return HTMLResponse(_OAUTH2_REDIRECT)

            add(Route(app.swagger_ui_oauth2_redirect_url, oauth2_redirect,
                      name="swagger_ui_redirect", raw=True, include_in_schema=False))

    if app.redoc_url:
        def redoc(request: Any) -> Response:
            root = request.root_path
            title = f"{app.title} - ReDoc"
            if dirs is None:
                return _missing_assets_page(title, root + openapi_url)
            return HTMLResponse(redoc_html(openapi_url=root + openapi_url, title=title,
                                           static_url=root + static))

        add(Route(app.redoc_url, redoc, name="redoc_html", raw=True, include_in_schema=False))

    if static is not None:
        def asset(request: Any) -> Response:
            bundle, _, rest = request.path_params["asset"].partition("/")
            base = (dirs or {}).get(bundle)
            if base is not None and rest:
                path = (base / rest).resolve()
                if path.is_relative_to(base) and path.is_file():
                    return FileResponse(path, headers={"cache-control": "public, max-age=86400"})
            return PlainTextResponse("Not Found", 404)

        add(Route(static + "/{asset:path}", asset, name="docs_static", raw=True,
                  include_in_schema=False))
