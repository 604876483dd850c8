"""pronghorn: a Python web framework whose engine is written in C."""

from pronghorn.app import Pronghorn
from pronghorn.background import BackgroundTask, BackgroundTasks
from pronghorn.exceptions import HTTPException
from pronghorn.requests import ClientDisconnect, Request
from pronghorn.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from pronghorn.routing import APIRouter

__version__ = "0.1.0"

__all__ = ["APIRouter", "BackgroundTask", "BackgroundTasks", "ClientDisconnect", "FileResponse",
           "HTMLResponse", "HTTPException", "JSONResponse", "PlainTextResponse", "Pronghorn",
           "RedirectResponse", "Request", "Response", "StreamingResponse", "__version__"]
