"""pronghorn: a Python web framework whose engine is written in C."""

from typing import Any

from pronghorn.app import Pronghorn
from pronghorn.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

__version__ = "0.1.0"

__all__ = ["HTMLResponse", "JSONResponse", "PlainTextResponse", "Pronghorn", "Request",
           "Response", "__version__"]


def __getattr__(name: str) -> Any:
    # The Request type, imported on first use so that `import pronghorn` (the
    # CLI, the supervisor) does not load the C extension.
    if name == "Request":
        from pronghorn.requests import Request

        return Request
    raise AttributeError(f"module 'pronghorn' has no attribute {name!r}")
