"""pronghorn: a Python web framework whose engine is written in C."""

from pronghorn.app import Pronghorn
from pronghorn.exceptions import HTTPException
from pronghorn.requests import ClientDisconnect, Request
from pronghorn.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

__version__ = "0.1.0"

__all__ = ["ClientDisconnect", "HTMLResponse", "HTTPException", "JSONResponse", "PlainTextResponse",
           "Pronghorn", "Request", "Response", "__version__"]
