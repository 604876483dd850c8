"""The small value types of the request API: URL, headers, query params, address, state.

Owns: ``URL``, ``Headers``/``MutableHeaders``, ``QueryParams``, ``Address``
and ``State``, shaped like Starlette's so that code written for Starlette
reads the same.

Invariants: ``Headers`` keep the raw ``(name, value)`` byte pairs as given
(names lowercased) and decode latin-1 only on access, so wrapping a request's
headers costs one object. Percent-decoding is done by the engine
(``_core.parse_query``), never by ``urllib.parse``; ``urllib.parse`` is used
here only to split a URL into its parts and to percent-encode.

Must not know about: the engine's request object or sockets.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple, Union
from urllib.parse import SplitResult, urlencode, urlsplit

from pronghorn import _core

__all__ = ["Address", "Headers", "MutableHeaders", "QueryParams", "State", "URL",
           "encode_header_field"]


class Address(NamedTuple):
    """A peer or local socket address."""

    host: str
    port: int


# ---- URL ---------------------------------------------------------------------


class URL:
    """An absolute or relative URL, immutable; ``replace`` and friends return new ones.

    ``path`` and ``query`` stay percent-encoded, as on the wire.
    """

    __slots__ = ("_url", "_parts")

    def __init__(self, url: str = "", **components: Any) -> None:
        if components:
            if url:
                raise ValueError("pass either a URL string or components, not both")
            url = URL("").replace(**components)._url
        self._url = str(url)
        self._parts: SplitResult | None = None

    @property
    def components(self) -> SplitResult:
        if self._parts is None:
            self._parts = urlsplit(self._url)
        return self._parts

    @property
    def scheme(self) -> str:
        return self.components.scheme

    @property
    def netloc(self) -> str:
        return self.components.netloc

    @property
    def path(self) -> str:
        return self.components.path

    @property
    def query(self) -> str:
        return self.components.query

    @property
    def fragment(self) -> str:
        return self.components.fragment

    @property
    def username(self) -> str | None:
        return self.components.username

    @property
    def password(self) -> str | None:
        return self.components.password

    @property
    def hostname(self) -> str | None:
        """The host, lowercased, without the brackets of an IPv6 literal."""
        return self.components.hostname

    @property
    def port(self) -> int | None:
        return self.components.port

    @property
    def is_secure(self) -> bool:
        return self.scheme in ("https", "wss")

    def replace(self, **kwargs: Any) -> URL:
        """A copy with some parts replaced: ``scheme``, ``netloc``, ``path``, ``query``,
        ``fragment``, or the pieces of the netloc: ``username``, ``password``,
        ``hostname``, ``port``."""
        if {"username", "password", "hostname", "port"} & kwargs.keys():
            kwargs["netloc"] = self._netloc(
                kwargs.pop("hostname", None), kwargs.pop("port", self.port),
                kwargs.pop("username", self.username), kwargs.pop("password", self.password))
        return URL(self.components._replace(**kwargs).geturl())

    def _netloc(self, hostname: str | None, port: int | None, username: str | None,
                password: str | None) -> str:
        if hostname is None:  # keep the current host exactly as written
            hostname = self.netloc.rpartition("@")[2]
            if ":" in hostname and not hostname.endswith("]"):
                hostname = hostname.rpartition(":")[0]
        elif ":" in hostname and not hostname.startswith("["):
            hostname = f"[{hostname}]"
        netloc = hostname if port is None else f"{hostname}:{port}"
        if username is not None:
            userinfo = username if password is None else f"{username}:{password}"
            netloc = f"{userinfo}@{netloc}"
        return netloc

    def include_query_params(self, **kwargs: Any) -> URL:
        """Set these query parameters (replacing any with the same name), keep the others."""
        params = [(k, v) for k, v in QueryParams(self.query).multi_items() if k not in kwargs]
        params.extend((str(k), str(v)) for k, v in kwargs.items())
        return self.replace(query=urlencode(params))

    def replace_query_params(self, **kwargs: Any) -> URL:
        """Replace the whole query with these parameters."""
        return self.replace(query=urlencode([(str(k), str(v)) for k, v in kwargs.items()]))

    def remove_query_params(self, keys: str | Sequence[str]) -> URL:
        if isinstance(keys, str):
            keys = (keys,)
        params = [(k, v) for k, v in QueryParams(self.query).multi_items() if k not in keys]
        return self.replace(query=urlencode(params))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (str, URL)):
            return self._url == str(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._url)

    def __str__(self) -> str:
        return self._url

    def __repr__(self) -> str:
        url = self._url
        if self.password:
            url = self.replace(password="********")._url
        return f"{type(self).__name__}({url!r})"


# ---- headers -------------------------------------------------------------------

RawHeaders = list[tuple[bytes, bytes]]

# RFC 9110 §5.1 field-name = token; §5.5 field-value: no CR, LF or NUL.
HEADER_NAME = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
BAD_HEADER_VALUE = re.compile(rb"[\r\n\x00]")


def _name_key(name: str) -> bytes:
    return name.lower().encode("latin-1")


def _as_bytes(part: str | bytes, what: str) -> bytes:
    if isinstance(part, str):
        return part.encode("latin-1")
    if isinstance(part, bytes):
        return part
    raise TypeError(f"header {what} must be str or bytes, not {type(part).__name__}")


def encode_header_field(name: str | bytes, value: str | bytes) -> tuple[bytes, bytes]:
    """The one header-field validator: ``(name, value)`` as lowercase-name byte pairs.

    RFC 9110 §5.1: the name is a token; §5.5: the value holds no CR, LF or NUL
    (ValueError). str parts are encoded as latin-1; other types are a TypeError.
    """
    bname = _as_bytes(name, "name")
    bvalue = _as_bytes(value, "value")
    if HEADER_NAME.fullmatch(bname) is None:
        raise ValueError(f"invalid header name: {name!r}")
    if BAD_HEADER_VALUE.search(bvalue) is not None:
        raise ValueError(f"invalid header value for {name!r}: CR, LF and NUL are not allowed")
    return bname.lower(), bvalue


_encode_field = encode_header_field


class Headers(Mapping[str, str]):
    """Immutable, case-insensitive view of header fields, duplicates kept in order.

    Built from a mapping (``Headers({"Accept": "*/*"})``) or from ``raw``, a
    list of ``(name, value)`` byte pairs with lowercase names (as
    ``request.raw_headers``). Values decode as latin-1. ``headers[name]``
    and ``get`` give the first value; ``getlist`` gives all of them.
    """

    __slots__ = ("_list",)

    def __init__(self, headers: Mapping[str, str] | None = None,
                 raw: RawHeaders | None = None) -> None:
        if headers is not None:
            if raw is not None:
                raise ValueError("pass either headers or raw, not both")
            self._list: RawHeaders = [_encode_field(k, v) for k, v in headers.items()]
        else:
            self._list = raw if raw is not None else []

    @property
    def raw(self) -> RawHeaders:
        return self._list

    def keys(self) -> list[str]:  # type: ignore[override]
        return [k.decode("latin-1") for k, _ in self._list]

    def values(self) -> list[str]:  # type: ignore[override]
        return [v.decode("latin-1") for _, v in self._list]

    def items(self) -> list[tuple[str, str]]:  # type: ignore[override]
        return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in self._list]

    multi_items = items

    def get(self, key: str, default: Any = None) -> Any:
        name = _name_key(key)
        for k, v in self._list:
            if k == name:
                return v.decode("latin-1")
        return default

    def getlist(self, key: str) -> list[str]:
        name = _name_key(key)
        return [v.decode("latin-1") for k, v in self._list if k == name]

    def mutablecopy(self) -> MutableHeaders:
        return MutableHeaders(raw=self._list[:])

    def __getitem__(self, key: str) -> str:
        name = _name_key(key)
        for k, v in self._list:
            if k == name:
                return v.decode("latin-1")
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        name = _name_key(key)
        return any(k == name for k, _ in self._list)

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self._list)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Headers):
            return NotImplemented
        return sorted(self._list) == sorted(other._list)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        items = self.items()
        if len({k for k, _ in items}) == len(items):
            return f"{type(self).__name__}({dict(items)!r})"
        return f"{type(self).__name__}(raw={self._list!r})"


class MutableHeaders(Headers):
    """Headers that can be changed in place; ``raw`` is the live list of byte pairs."""

    __slots__ = ()

    def __setitem__(self, key: str, value: str) -> None:
        """Set ``key`` to a single value: the first field is replaced, the others removed."""
        name, bvalue = _encode_field(key, value)
        found = [i for i, (k, _) in enumerate(self._list) if k == name]
        if not found:
            self._list.append((name, bvalue))
            return
        self._list[found[0]] = (name, bvalue)
        for i in reversed(found[1:]):
            del self._list[i]

    def __delitem__(self, key: str) -> None:
        """Remove every field named ``key`` (no error when there is none, as in Starlette)."""
        name = _name_key(key)
        self._list[:] = [(k, v) for k, v in self._list if k != name]

    def setdefault(self, key: str, value: str) -> str:
        existing = self.get(key)
        if existing is not None:
            return existing
        self._list.append(_encode_field(key, value))
        return value

    def append(self, key: str, value: str) -> None:
        """Add a field, keeping those already present (e.g. several ``set-cookie``)."""
        self._list.append(_encode_field(key, value))

    def update(self, other: Mapping[str, str] | Iterable[tuple[str, str]] = (),
               **kwargs: str) -> None:
        items = other.items() if isinstance(other, Mapping) else other
        for key, value in items:
            self[key] = value
        for key, value in kwargs.items():
            self[key] = value

    def add_vary_header(self, vary: str) -> None:
        existing = self.get("vary")
        self["vary"] = vary if existing is None else f"{existing}, {vary}"

    def __ior__(self, other: Mapping[str, str]) -> MutableHeaders:
        self.update(other)
        return self

    def __or__(self, other: Mapping[str, str]) -> MutableHeaders:
        new = self.mutablecopy()
        new.update(other)
        return new


# ---- query parameters ------------------------------------------------------------

QueryArg = Union["QueryParams", Mapping[str, Any], Iterable[tuple[str, Any]], str, bytes, None]


class QueryParams(Mapping[str, str]):
    """Immutable multi-dict of query parameters, in order.

    Built from a query string (``"a=1&a=2"``, decoded by the engine: ``+`` is
    a space, blank values are kept), a mapping, or a list of pairs.
    ``params[name]`` and ``get`` give the *last* value, as in Starlette;
    ``getlist`` gives all of them. ``str(params)`` re-encodes the query.
    """

    __slots__ = ("_list", "_dict")

    def __init__(self, params: QueryArg = None, **kwargs: Any) -> None:
        if params is None:
            items: list[tuple[str, str]] = []
        elif isinstance(params, (str, bytes)):
            items = _core.parse_query(params, max_fields=sys.maxsize)
        elif isinstance(params, QueryParams):
            items = params.multi_items()
        elif isinstance(params, Mapping):
            items = [(str(k), str(v)) for k, v in params.items()]
        else:
            items = [(str(k), str(v)) for k, v in params]
        items.extend((str(k), str(v)) for k, v in kwargs.items())
        self._list = items
        self._dict = dict(items)  # the last value of each name wins

    @classmethod
    def _from_list(cls, items: list[tuple[str, str]]) -> QueryParams:
        """Adopt a list of decoded pairs (the engine's parse_query result) without copying."""
        self = object.__new__(cls)
        self._list = items
        self._dict = dict(items)
        return self

    def getlist(self, key: str) -> list[str]:
        return [v for k, v in self._list if k == key]

    def multi_items(self) -> list[tuple[str, str]]:
        return list(self._list)

    def keys(self):  # type: ignore[override]
        return self._dict.keys()

    def values(self):  # type: ignore[override]
        return self._dict.values()

    def items(self):  # type: ignore[override]
        return self._dict.items()

    def get(self, key: str, default: Any = None) -> Any:
        return self._dict.get(key, default)

    def __getitem__(self, key: str) -> str:
        return self._dict[key]

    def __contains__(self, key: object) -> bool:
        return key in self._dict

    def __iter__(self) -> Iterator[str]:
        return iter(self._dict)

    def __len__(self) -> int:
        return len(self._dict)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, QueryParams):
            return NotImplemented
        return sorted(self._list) == sorted(other._list)

    __hash__ = None  # type: ignore[assignment]

    def __str__(self) -> str:
        return urlencode(self._list)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


# ---- state ---------------------------------------------------------------------


class State:
    """An attribute bag: ``request.state.user = ...`` and later ``request.state.user``."""

    __slots__ = ("_state",)

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        object.__setattr__(self, "_state", {} if state is None else state)

    def __setattr__(self, key: str, value: Any) -> None:
        self._state[key] = value

    def __getattr__(self, key: str) -> Any:
        if key == "_state":  # not initialised (e.g. a copy being built)
            raise AttributeError(key)
        try:
            return self._state[key]
        except KeyError:
            raise AttributeError(
                f"'{type(self).__name__}' object has no attribute {key!r} "
                f"(nothing has set state.{key} yet)") from None

    def __delattr__(self, key: str) -> None:
        try:
            del self._state[key]
        except KeyError:
            raise AttributeError(
                f"'{type(self).__name__}' object has no attribute {key!r}") from None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._state!r})"
