"""One worker: sockets, event loop, the C engine, lifespan hooks and signals.

Owns the life of a serving process: bind (or take) the listening sockets,
load the app, pick the event loop, run the startup hooks, hand the sockets
to ``pronghorn._core.Server``, serve until SIGTERM/SIGINT, drain gracefully,
run the shutdown hooks. Also owns the log format of the ``pronghorn.*``
loggers (set up by the CLI).

Invariants: the listening sockets are bound before the loop exists (a
bind error fails fast) and start listening only after startup succeeded;
once a stop is requested no new connection is accepted and the process
exits within ``graceful_timeout`` (plus the shutdown hooks' time). A second
signal cuts the drain short.

Must not know about: HTTP parsing and writing (the engine), routing (the
app), other worker processes (the supervisor).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable
from typing import Any

from pronghorn.app import Pronghorn
from pronghorn.config import AppLoadError, ServerConfig, load_app

__all__ = ["EXIT_APP_LOAD", "EXIT_ERROR", "EXIT_OK", "EXIT_STARTUP", "Server", "bind_socket",
           "configure_logging", "run"]

logger = logging.getLogger("pronghorn.error")
access_logger = logging.getLogger("pronghorn.access")

EXIT_OK = 0
EXIT_ERROR = 1      # could not bind, or another error before serving
EXIT_APP_LOAD = 2   # the app could not be imported / built
EXIT_STARTUP = 3    # a startup hook failed

_DRAIN_POLL = 0.02      # seconds between checks of the open connection count
_PARENT_POLL = 1.0      # seconds between checks that the supervisor is alive

LOG_FORMAT = "[%(asctime)s] [%(process)d] [%(levelname)s] %(message)s"
ACCESS_FORMAT = "[%(asctime)s] [%(process)d] %(message)s"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S %z"


def configure_logging(config: ServerConfig) -> None:
    """Give the ``pronghorn.error``/``pronghorn.access`` loggers a stderr handler.

    Loggers that already have handlers (configured by the user) are only
    given their level.
    """
    level = getattr(logging, config.log_level.upper())
    for name, fmt in (("pronghorn.error", LOG_FORMAT), ("pronghorn.access", ACCESS_FORMAT)):
        log = logging.getLogger(name)
        log.setLevel(level)
        if not log.handlers:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter(fmt, DATE_FORMAT))
            log.addHandler(handler)
            log.propagate = False


def _access_log(client: str, method: str, target: str, http_version: str, status: int,
                size: int) -> None:
    access_logger.info('%s - "%s %s HTTP/%s" %d %d', client, method, target, http_version,
                       status, size)


def bind_socket(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    """A bound, non-blocking, not yet listening TCP socket (IPv4 or IPv6 by host)."""
    family, type_, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, type_, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    if sock.family == socket.AF_INET6:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop]:
    """The event loop constructor for ``--loop`` (auto: uvloop when importable)."""
    if name != "asyncio":
        try:
            import uvloop
        except ImportError:
            if name == "uvloop":
                raise
        else:
            return uvloop.new_event_loop
    return asyncio.new_event_loop


def _accepts(app: Any, count: int) -> bool | None:
    """Whether ``app`` can be called with ``count`` positional arguments (None: unknown)."""
    try:
        signature = inspect.signature(app)
    except (TypeError, ValueError):
        return None
    try:
        signature.bind(*([None] * count))
    except TypeError:
        return False
    return True


def app_interface(app: Any, requested: str = "auto") -> str:
    """``native`` (a Pronghorn app, or a plain ``handler(request)``) or ``asgi``."""
    if requested != "auto":
        return requested
    if isinstance(app, Pronghorn):
        return "native"
    if _accepts(app, 3):
        return "asgi"
    if _accepts(app, 1) is False:
        raise AppLoadError(
            f"{app!r} is neither an ASGI application (scope, receive, send) nor a "
            "handler(request): expected a Pronghorn app, an ASGI app or a handler"
        )
    return "native"


class Serving:
    """What the engine runs for one app: the handler, engine options and lifespan."""

    def __init__(self, app: Any, config: ServerConfig) -> None:
        from pronghorn.asgi import ASGIHandler, Lifespan, ProxyHeaders

        self.interface = app_interface(app, config.interface)
        proxy = ProxyHeaders(config.forwarded_allow_ips) if config.proxy_headers else None
        self.lifespan: Any = None
        self.options: dict[str, Any] = {}
        if self.interface == "asgi":
            self.lifespan = Lifespan(app, config.lifespan)
            self.handler: Any = ASGIHandler(app, root_path=config.root_path,
                                            state=self.lifespan.state, proxy=proxy,
                                            websocket=config.websocket_options())
            self.options = {"app": app}
            return
        if isinstance(app, Pronghorn):
            self.handler = app._handle
            self.options = app.engine_options()
            if config.lifespan != "off":
                self.lifespan = app
        else:
            self.handler = app
        if proxy is not None:
            self.handler = _behind_proxy(self.handler, proxy)
            self.options.pop("router", None)  # every request passes the proxy check first

    async def startup(self) -> None:
        if self.lifespan is not None:
            await self.lifespan.startup()
        if self.interface == "asgi" and not self.lifespan.supported:
            self.handler.state = None

    async def shutdown(self) -> None:
        if self.lifespan is not None:
            await self.lifespan.shutdown()


def _behind_proxy(handler: Callable[[Any], Any], proxy: Any) -> Callable[[Any], Any]:
    apply = proxy.apply

    def handle(request: Any) -> Any:
        apply(request)
        return handler(request)

    return handle


class Server:
    """Serve one app in this process until told to stop.

    ``sockets``: already bound sockets to use instead of binding
    ``config.host:config.port``. ``ready_fd``: a pipe end to write one byte
    to once serving (for the supervisor). ``supervised``: running under the
    supervisor: SIGINT and SIGHUP are ignored (the master handles them) and
    the worker stops by itself if the master goes away.
    """

    def __init__(
        self,
        config: ServerConfig,
        *,
        sockets: list[socket.socket] | None = None,
        ready_fd: int | None = None,
        supervised: bool = False,
    ) -> None:
        self.config = config
        self.sockets = sockets
        self.ready_fd = ready_fd
        self.supervised = supervised
        self.app: Any = None
        self.serving: Any = None
        self.engine: Any = None
        self._parent_pid = os.getppid()
        self._should_exit: asyncio.Event | None = None
        self._force_exit = False
        self._signals = 0

    # ---- entry point ----------------------------------------------------

    def run(self) -> int:
        """Serve until stopped; return the process exit code."""
        config = self.config
        if self.sockets is None:
            try:
                self.sockets = [bind_socket(config.host, config.port,
                                            reuse_port=config.workers > 1)]
            except OSError as exc:
                logger.error("Could not bind to %s:%d: %s", config.host, config.port,
                             exc.strerror or exc)
                return EXIT_ERROR
        try:
            try:
                self.app = load_app(config)
                self.serving = Serving(self.app, config)
            except AppLoadError as exc:
                logger.error("Error loading app: %s", exc)
                return EXIT_APP_LOAD
            except Exception:
                logger.exception("Error loading app %r", config.app)
                return EXIT_APP_LOAD
            if self.supervised:
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                signal.signal(signal.SIGHUP, signal.SIG_IGN)
            try:
                factory = loop_factory(config.loop)
            except ImportError:
                logger.error("--loop uvloop was asked for but uvloop is not installed")
                return EXIT_ERROR
            with asyncio.Runner(loop_factory=factory) as runner:
                return runner.run(self.serve())
        finally:
            for sock in self.sockets:
                sock.close()
            if self.ready_fd is not None:
                os.close(self.ready_fd)
                self.ready_fd = None

    # ---- the serving coroutine -----------------------------------------

    async def serve(self) -> int:
        from pronghorn import _core

        loop = asyncio.get_running_loop()
        self._should_exit = asyncio.Event()
        signals = [signal.SIGTERM] if self.supervised else [signal.SIGTERM, signal.SIGINT]
        for sig in signals:
            loop.add_signal_handler(sig, self._on_signal, sig)

        serving = self.serving
        try:
            await serving.startup()
        except Exception:
            logger.exception("Application startup failed; exiting")
            return EXIT_STARTUP

        config = self.config
        access = _access_log if config.access_log and access_logger.isEnabledFor(
            logging.INFO) else None
        self.engine = engine = _core.Server(serving.handler, access_log=access,
                                            **serving.options, **config.core_options())
        assert self.sockets is not None
        for sock in self.sockets:
            sock.listen(config.backlog)
            engine.listen(sock.fileno())
        engine.start(loop)
        for sock in self.sockets:
            logger.info("Listening on %s (pid %d)", _url(sock), os.getpid())
        self._notify_ready()

        await self._wait_for_exit()
        await self._drain(loop, engine)
        await serving.shutdown()
        logger.info("Stopped (pid %d)", os.getpid())
        return EXIT_OK

    def _notify_ready(self) -> None:
        if self.ready_fd is not None:
            try:
                os.write(self.ready_fd, b"1")
            except OSError:
                pass  # the supervisor is gone; the parent check stops us
            os.close(self.ready_fd)
            self.ready_fd = None

    def _on_signal(self, sig: int) -> None:
        self._signals += 1
        if self._signals == 1:
            logger.info("Received %s: shutting down gracefully", signal.Signals(sig).name)
            assert self._should_exit is not None
            self._should_exit.set()
        else:
            logger.warning("Received %s again: closing all connections now",
                           signal.Signals(sig).name)
            self._force_exit = True

    async def _wait_for_exit(self) -> None:
        assert self._should_exit is not None
        if not self.supervised:
            await self._should_exit.wait()
            return
        while not self._should_exit.is_set():
            try:
                await asyncio.wait_for(self._should_exit.wait(), _PARENT_POLL)
            except TimeoutError:
                if os.getppid() != self._parent_pid:
                    logger.warning("Supervisor process is gone: shutting down")
                    return

    async def _drain(self, loop: asyncio.AbstractEventLoop, engine: Any) -> None:
        """Stop accepting, let in-flight responses finish, then close everything."""
        engine.stop_accepting()
        assert self.sockets is not None
        for sock in self.sockets:
            sock.close()  # new connections are refused from now on
        engine.shutdown()
        deadline = loop.time() + self.config.graceful_timeout
        if engine.connections:
            logger.info("Waiting for %d connection(s) to finish (at most %gs)",
                        engine.connections, self.config.graceful_timeout)
        while engine.connections and not self._force_exit and loop.time() < deadline:
            await asyncio.sleep(_DRAIN_POLL)
        if engine.connections:
            logger.warning("Closing %d connection(s) still open", engine.connections)
        engine.close_all()


def run(config: ServerConfig, **kwargs: Any) -> int:
    """Serve ``config.app`` in this process; return the exit code."""
    return Server(config, **kwargs).run()
