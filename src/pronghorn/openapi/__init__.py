"""OpenAPI 3.1 for pronghorn apps: the document, Swagger UI and ReDoc.

``generate(app)`` builds the document of an app from its routes' compiled
plans (``app.openapi()`` caches it until a route is added); ``get_openapi``
is the same for any list of routes, with FastAPI's arguments. The ``docs``
module serves it, with the Swagger UI and ReDoc pages, from the app itself.
See docs/openapi.md.
"""

from pronghorn.openapi.document import generate, generate_unique_id, get_openapi
from pronghorn.openapi.docs import redoc_html, swagger_ui_html, swagger_ui_oauth2_redirect_html

__all__ = ["generate", "generate_unique_id", "get_openapi", "redoc_html", "swagger_ui_html",
           "swagger_ui_oauth2_redirect_html"]
