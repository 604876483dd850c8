"""Shared fixtures: one app, two transports.

``connect(app)`` gives an httpx client for ``app`` over the transport the
test is parametrised with (the ``transport`` fixture):

- ``"testclient"``: ``pronghorn.testclient.TestClient`` (the engine in memory),
- ``"socket"``: the engine serving a real loopback socket, in this process,
  on an event loop in a background thread, with a plain ``httpx.Client``.

Tests that use ``connect`` therefore check the same behaviour on the wire
through both. Both run the app's startup/shutdown hooks.
"""

from __future__ import annotations

import asyncio
import re
import socket
import sys
import threading
import types
from pathlib import Path
from typing import Any

import httpx
import pytest

from pronghorn import _core
from pronghorn.testclient import TestClient

ROOT = Path(__file__).resolve().parent.parent
IO_TIMEOUT = 5.0


class LiveServer:
    """The engine on 127.0.0.1:<free port>, its event loop in a daemon thread."""

    def __init__(self, app: Any, **engine_options: Any) -> None:
        self.app = app
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        try:
            self.engine = self.call(self._start(engine_options))
        except BaseException:  # e.g. a failing startup: leave nothing running
            self._stop_loop()
            raise

    def call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(IO_TIMEOUT)

    async def _start(self, engine_options: dict[str, Any]) -> Any:
        await self.app.startup()
        # Served exactly as `pronghorn run` serves it: with the app's C router fast path.
        engine = _core.Server(self.app._handle, **{**self.app.engine_options(), **engine_options})
        engine.listen(self.sock.fileno())
        engine.start(asyncio.get_running_loop())
        return engine

    async def _stop(self) -> None:
        self.engine.close_all()
        await self.app.shutdown()

    def close(self) -> None:
        if self.loop.is_closed():
            return
        try:
            self.call(self._stop())
        finally:
            self._stop_loop()

    def _stop_loop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(IO_TIMEOUT)
        self.loop.close()
        self.sock.close()

    def raw_request(self, data: bytes) -> bytes:
        """Send raw bytes, return everything the server sends until it closes."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=IO_TIMEOUT) as conn:
            conn.sendall(data)
            chunks = []
            while chunk := conn.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks)


class LiveClient(httpx.Client):
    """A plain httpx client for a LiveServer; closing it stops the server."""

    def __init__(self, app: Any, **kwargs: Any) -> None:
        self.server = LiveServer(app)
        kwargs.setdefault("follow_redirects", True)  # as the TestClient
        super().__init__(base_url=self.server.url, timeout=IO_TIMEOUT, **kwargs)

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.server.close()


@pytest.fixture(params=["testclient", "socket"])
def transport(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def connect(transport: str):
    """connect(app, **client_kwargs) -> an httpx.Client for app over ``transport``."""
    opened: list[httpx.Client] = []

    def connect(app: Any, **kwargs: Any) -> httpx.Client:
        if transport == "testclient":
            client: httpx.Client = TestClient(app, **kwargs)
            client.__enter__()
        else:
            client = LiveClient(app, **kwargs)
        opened.append(client)
        return client

    yield connect
    for client in opened:
        if isinstance(client, TestClient):
            client.__exit__(None, None, None)
        client.close()


def markdown_python_blocks(relative_path: str) -> list[str]:
    """The ```python blocks of a docs page, in order."""
    text = (ROOT / relative_path).read_text()
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def run_markdown_examples(relative_path: str) -> dict[str, Any]:
    """Execute a docs page's python blocks in one namespace, then call its ``test_*`` functions.

    Async test functions run with ``asyncio.run``. Returns the namespace.
    """
    # A real (temporary) module: dataclasses and pickling look classes up in sys.modules.
    module = types.ModuleType(f"docs_{Path(relative_path).stem}")
    namespace: dict[str, Any] = module.__dict__
    sys.modules[module.__name__] = module
    text = (ROOT / relative_path).read_text()
    try:
        for match in re.finditer(r"^```python\n(.*?)^```", text, flags=re.S | re.M):
            # Padded so that tracebacks give the line numbers of the page.
            padding = "\n" * text.count("\n", 0, match.start(1))
            exec(compile(padding + match.group(1), str(ROOT / relative_path), "exec"), namespace)
    finally:
        del sys.modules[module.__name__]
    tests = [value for name, value in namespace.items()
             if name.startswith("test_") and callable(value)]
    assert tests, f"{relative_path} defines no test_* example"
    for test in tests:
        result = test()
        if asyncio.iscoroutine(result):
            asyncio.run(result)
    return namespace
