"""The Request object handlers receive.

The data lives in the C type ``pronghorn._core.Request`` (the raw head plus
offsets, turned into Python objects only when touched). This subclass adds
the Starlette-shaped API on top: ``headers``, ``query_params``, ``cookies``,
``url``, ``client``, ``state`` and the async body API built on the one body
primitive, ``_read()``.

Invariants: nothing here runs unless a handler touches it; each derived
value is computed once and cached in the instance ``__dict__`` (``_lazy``).
Percent-decoding and Cookie parsing are the engine's (``_core.parse_query``,
``_core.parse_cookies``); the Host header was validated by the engine's
parser (at most one, ``host[:port]``).

Must not know about: routing, responses, sockets.
"""
from __future__ import annotations

from typing import Any, AsyncIterator, Callable, Generic, TypeVar

import msgspec

from pronghorn import _core
from pronghorn.datastructures import URL, Address, Headers, QueryParams, State
from pronghorn.exceptions import HTTPException

__all__ = ["ClientDisconnect", "Request"]

ClientDisconnect = _core.ClientDisconnect

_json_decode = msgspec.json.decode
# The engine's getset for the peer address, shadowed below by the Address-typed property.
_engine_client = _core.Request.client

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}

T = TypeVar("T")


class _lazy(Generic[T]):
    """``functools.cached_property`` without its per-access lock on Python 3.11 (3x faster
    first access). A non-data descriptor: once cached, the instance dict answers."""

    def __init__(self, func: Callable[[Any], T]) -> None:
        self.func = func
        self.name = func.__name__
        self.__doc__ = func.__doc__

    def __get__(self, instance: Any, owner: type | None = None) -> T:
        if instance is None:
            return self  # type: ignore[return-value]
        value = instance.__dict__[self.name] = self.func(instance)
        return value


class Request(_core.Request):
    """An HTTP request. ``method``, ``path`` (percent-decoded), ``raw_path``,
    ``query_string``, ``target``, ``http_version``, ``raw_headers`` (list of
    lowercased ``(name, value)`` bytes pairs), ``server``, ``scheme``,
    ``path_params`` and ``app`` come from C."""

    #: The prefix of the mount(s) this request was routed through ("" at the app root).
    root_path = ""

    # ---- head ----------------------------------------------------------------

    @_lazy
    def headers(self) -> Headers:
        """Case-insensitive, read-only view of the header fields (latin-1 strings)."""
        return Headers(raw=self.raw_headers)

    @_lazy
    def query_params(self) -> QueryParams:
        """The query string as a multi-dict: ``+`` is a space, blank values kept.

        More than 1000 fields is answered ``400 Bad Request``.
        """
        try:
            return QueryParams._from_list(_core.parse_query(self.query_string))
        except ValueError as exc:
            raise HTTPException(400, f"Invalid query string: {exc}") from exc

    @_lazy
    def cookies(self) -> dict[str, str]:
        """Cookies from the ``Cookie`` header(s), parsed leniently like browsers do.

        Several Cookie fields are joined with ``"; "`` (RFC 9113 §8.2.3); at most
        200 cookies are read, later ones are ignored. A later cookie of the same
        name wins. Values are not percent-decoded.
        """
        values = [value for name, value in self.raw_headers if name == b"cookie"]
        if not values:
            return {}
        return _core.parse_cookies(values[0] if len(values) == 1 else b"; ".join(values))

    @_lazy
    def client(self) -> Address | None:  # type: ignore[override]
        """``Address(host, port)`` of the peer, or None when unknown."""
        peer = _engine_client.__get__(self)
        return None if peer is None else Address(*peer)

    @_lazy
    def url(self) -> URL:
        """The full URL: scheme, Host (or the server address), raw path and query."""
        url = f"{self.scheme}://{self._authority}{self.raw_path.decode('latin-1')}"
        query = self.query_string
        if query:
            url = f"{url}?{query.decode('latin-1')}"
        return URL(url)

    @_lazy
    def base_url(self) -> URL:
        """The URL of the application root: ``scheme://host/``."""
        return URL(f"{self.scheme}://{self._authority}/")

    @_lazy
    def scope(self) -> dict[str, Any]:
        """The ASGI HTTP scope of this request, built on first use (under ASGI middleware:
        the scope the middleware passed on, with what it added: ``session``, ``user``...)."""
        scope = self._asgi_scope("", None)
        scope["root_path"] = self.root_path
        return scope

    @property
    def session(self) -> dict[str, Any]:
        """The session of Starlette's ``SessionMiddleware`` (``app.add_middleware``)."""
        if "session" not in self.scope:
            raise AssertionError("SessionMiddleware must be installed to access request.session")
        return self.scope["session"]

    @property
    def user(self) -> Any:
        """Set by Starlette's ``AuthenticationMiddleware``."""
        if "user" not in self.scope:
            raise AssertionError("AuthenticationMiddleware must be installed to access request.user")
        return self.scope["user"]

    @property
    def auth(self) -> Any:
        """Set by Starlette's ``AuthenticationMiddleware``."""
        if "auth" not in self.scope:
            raise AssertionError("AuthenticationMiddleware must be installed to access request.auth")
        return self.scope["auth"]

    def url_for(self, name: str, /, **path_params: Any) -> URL:
        """The absolute URL of the route called ``name`` (``app.url_path_for``)."""
        path = self.app.url_path_for(name, **path_params)
        return URL(f"{self.scheme}://{self._authority}{path}")

    @_lazy
    def _authority(self) -> str:
        """host[:port] of the target URI (RFC 9112 §3.3): the request-target's own
        authority in absolute-form (its Host field is ignored, §3.2.2) or
        authority-form, else the Host field, else the server address. The
        engine's parser validated each of them."""
        target = self.target
        if target[:1] != "/":
            scheme_end = target.find("://")
            if scheme_end > 0:
                rest = target[scheme_end + 3:]
                end = len(rest)
                for delimiter in "/?#":
                    found = rest.find(delimiter, 0, end)
                    if found >= 0:
                        end = found
                return rest[:end].rpartition("@")[2]  # userinfo is not part of the host
            if self.method == "CONNECT":
                return target
        for name, value in self.raw_headers:
            if name == b"host":
                if value:
                    return value.decode("latin-1")
                break
        server = self.server
        if server is None:
            return "localhost"
        host, port = server
        if ":" in host:
            host = f"[{host}]"
        if _DEFAULT_PORTS.get(self.scheme) == port:
            return host
        return f"{host}:{port}"

    @_lazy
    def state(self) -> State:
        """Per-request attribute bag for your own data (``request.state.user = ...``).

        It starts as a shallow copy of what the app's lifespan yielded (Starlette).
        """
        initial = getattr(self.app, "lifespan_state", None)
        return State(dict(initial) if initial else None)

    # ---- body ----------------------------------------------------------------

    async def stream(self) -> AsyncIterator[bytes]:
        """Yield the body in chunks as they arrive from the socket (never buffered whole).

        After ``body()`` it yields the cached body; a second ``stream()`` raises
        RuntimeError since the chunks are gone.
        """
        cached = self.__dict__.get("_body")
        if cached is not None:
            if cached:
                yield cached
            return
        if self.__dict__.get("_stream_consumed"):
            raise RuntimeError("the request body was already consumed by stream()")
        self.__dict__["_stream_consumed"] = True
        read = self._read
        while True:
            chunk = read()
            if chunk.__class__ is not bytes:
                await chunk
                continue
            if not chunk:
                return
            yield chunk

    async def body(self) -> bytes:
        """The whole body (bounded by the server's --max-body-size)."""
        state = self.__dict__
        cached = state.get("_body")
        if cached is not None:
            return cached
        if state.get("_stream_consumed"):
            raise RuntimeError("the request body was already consumed by stream()")
        state["_stream_consumed"] = True
        # The same reads as stream(), without an async generator per request.
        read = self._read
        parts = []
        while True:
            chunk = read()
            if chunk.__class__ is not bytes:
                await chunk
                continue
            if not chunk:
                break
            parts.append(chunk)
        body = parts[0] if len(parts) == 1 else b"".join(parts)
        state["_body"] = body
        return body

    async def json(self) -> Any:
        """The body decoded as JSON (msgspec); invalid JSON is answered 400."""
        if "_json" not in self.__dict__:
            body = await self.body()
            try:
                self.__dict__["_json"] = _json_decode(body)
            except msgspec.DecodeError as exc:
                raise HTTPException(400, f"Invalid JSON body: {exc}") from exc
        return self.__dict__["_json"]

    async def is_disconnected(self) -> bool:
        return self._is_disconnected()
