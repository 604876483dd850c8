"""Server configuration: every setting and its default, in one place.

Owns: ``ServerConfig`` (the defaults here are the only copy: the CLI reads
them for its flags and help text), the engine limits derived from it, and
loading the application from an import string.

Must not know about: argument parsing, sockets, the event loop.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import sys
from dataclasses import dataclass
from typing import Any

__all__ = ["AppLoadError", "INTERFACES", "LIFESPANS", "LOG_LEVELS", "LOOPS", "MAX_HEADERS_CAP", "MIN_HEAD_SIZE",
           "MIN_REQUEST_LINE", "ServerConfig",
           "import_from_string", "load_app", "parse_import_string"]

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
LOOPS = ("auto", "asyncio", "uvloop")
INTERFACES = ("auto", "native", "asgi")
LIFESPANS = ("auto", "on", "off")
MAX_HEADERS_CAP = 256  # the engine's hard bound on header fields per request
MIN_REQUEST_LINE = 16  # the engine's lower bounds on its limits
MIN_HEAD_SIZE = 64


@dataclass
class ServerConfig:
    """Everything the server and the supervisor need to run an app.

    ``app`` is an import string ``"module:attr"`` (``attr`` may be dotted) or
    the application object itself. With ``factory``, the attribute is called
    with no arguments to build the application.
    """

    app: Any = None
    factory: bool = False
    app_dir: str = "."
    host: str = "127.0.0.1"
    port: int = 8000
    backlog: int = 2048
    workers: int = 1
    header_timeout: float = 10.0
    keep_alive_timeout: float = 5.0
    graceful_timeout: float = 30.0
    max_body_size: int = 16 * 1024 * 1024
    max_request_line: int = 8190
    max_head_size: int = 64 * 1024
    max_headers: int = 100
    access_log: bool = True
    log_level: str = "info"
    loop: str = "auto"
    interface: str = "auto"
    root_path: str = ""
    lifespan: str = "auto"
    proxy_headers: bool = False
    forwarded_allow_ips: str = "127.0.0.1"
    # WebSocket sessions of ASGI apps (a Pronghorn app sets them per route).
    ws_max_size: int = 16 * 1024 * 1024
    ws_max_queue: int = 32
    ws_ping_interval: float = 20.0
    ws_ping_timeout: float = 20.0
    ws_per_message_deflate: bool = True

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ValueError for a setting out of range."""
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be in 0..65535, got {self.port}")
        for name in ("backlog", "workers", "max_body_size", "max_request_line", "max_head_size",
                     "max_headers", "ws_max_size", "ws_max_queue"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}")
        if self.max_headers > MAX_HEADERS_CAP:
            raise ValueError(f"max_headers must be at most {MAX_HEADERS_CAP}")
        if self.max_request_line < MIN_REQUEST_LINE:
            raise ValueError(f"max_request_line must be at least {MIN_REQUEST_LINE}")
        if self.max_head_size < MIN_HEAD_SIZE:
            raise ValueError(f"max_head_size must be at least {MIN_HEAD_SIZE}")
        for name in ("header_timeout", "keep_alive_timeout"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number of seconds, got {value}")
        for name in ("ws_ping_interval", "ws_ping_timeout"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be >= 0 seconds (0: off), got {value}")
        if not (math.isfinite(self.graceful_timeout) and self.graceful_timeout >= 0):
            raise ValueError(f"graceful_timeout must be >= 0 seconds, got {self.graceful_timeout}")
        if self.log_level not in LOG_LEVELS:
            raise ValueError(f"log_level must be one of {', '.join(LOG_LEVELS)}")
        if self.loop not in LOOPS:
            raise ValueError(f"loop must be one of {', '.join(LOOPS)}")
        if self.interface not in INTERFACES:
            raise ValueError(f"interface must be one of {', '.join(INTERFACES)}")
        if self.lifespan not in LIFESPANS:
            raise ValueError(f"lifespan must be one of {', '.join(LIFESPANS)}")
        if self.root_path and (not self.root_path.startswith("/") or self.root_path.endswith("/")):
            raise ValueError("root_path must start with '/' and not end with '/'")

    def replace(self, **changes: Any) -> ServerConfig:
        return dataclasses.replace(self, **changes)

    def websocket_options(self) -> dict[str, Any]:
        """Keyword arguments of ``Request._ws_accept`` for the WebSockets of an ASGI app."""
        return {
            "max_message_size": self.ws_max_size,
            "max_queue": self.ws_max_queue,
            "ping_interval": self.ws_ping_interval,
            "ping_timeout": self.ws_ping_timeout,
            "compression": self.ws_per_message_deflate,
        }

    def core_options(self) -> dict[str, Any]:
        """Keyword arguments for ``pronghorn._core.Server`` (access_log excluded)."""
        return {
            "max_request_line": self.max_request_line,
            "max_head": self.max_head_size,
            "max_headers": self.max_headers,
            "max_body": self.max_body_size,
            "header_timeout": self.header_timeout,
            "keep_alive_timeout": self.keep_alive_timeout,
        }


class AppLoadError(Exception):
    """The application named by an import string could not be loaded."""


def load_app(config: ServerConfig) -> Any:
    """Import (or return) the configured application; raise AppLoadError if impossible."""
    target = config.app
    if isinstance(target, str):
        if config.app_dir is not None and config.app_dir not in sys.path:
            sys.path.insert(0, config.app_dir)
        target = import_from_string(target)
    if config.factory:
        if not callable(target):
            raise AppLoadError(f"the app factory {config.app!r} is not callable")
        target = target()  # its exceptions propagate with their traceback
    if not (callable(target) or hasattr(target, "_handle")):
        raise AppLoadError(
            f"{config.app!r} is not an application: expected a Pronghorn instance or a callable"
        )
    return target


def parse_import_string(import_str: str) -> tuple[str, str]:
    """Split ``"module:attr"`` into its two parts; AppLoadError if malformed."""
    module_name, sep, attrs = import_str.partition(":")
    if (not sep or not all(part.isidentifier() for part in module_name.split("."))
            or not all(part.isidentifier() for part in attrs.split("."))):
        raise AppLoadError(
            f'import string "{import_str}" must be in the form "<module>:<attribute>", '
            'for example "main:app"'
        )
    return module_name, attrs


def import_from_string(import_str: str) -> Any:
    """Resolve ``"package.module:attr.sub"`` to the object it names."""
    module_name, attrs = parse_import_string(import_str)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        # Only a missing module named by the import string itself is the user's
        # typo; a missing dependency inside it propagates with its traceback.
        if exc.name is None or not (module_name == exc.name
                                    or module_name.startswith(exc.name + ".")):
            raise
        raise AppLoadError(f'could not import module "{module_name}": {exc}') from None
    obj: Any = module
    for attr in attrs.split("."):
        try:
            obj = getattr(obj, attr)
        except AttributeError:
            raise AppLoadError(
                f'attribute "{attrs}" not found in module "{module_name}"'
            ) from None
    return obj
