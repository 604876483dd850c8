"""pronghorn: a Python web framework whose engine is written in C."""

from pronghorn.app import Pronghorn
from pronghorn.background import BackgroundTask, BackgroundTasks
from pronghorn.exceptions import HTTPException, RequestValidationError, ResponseValidationError
from pronghorn.params import Body, Cookie, Depends, File, Form, Header, Path, Query, Security
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

__all__ = ["APIRouter", "BackgroundTask", "BackgroundTasks", "Body", "ClientDisconnect", "Cookie",
           "Depends", "File", "FileResponse", "Form", "HTMLResponse", "HTTPException", "Header",
           "JSONResponse", "Path", "PlainTextResponse", "Pronghorn", "Query", "RedirectResponse",
           "Request", "RequestValidationError", "Response", "ResponseValidationError", "Security",
           "StreamingResponse", "__version__"]
