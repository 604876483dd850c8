"""Parameter markers: where a handler argument comes from and how it is checked.

Owns: ``Path``, ``Query``, ``Header``, ``Cookie``, ``Body``, ``Form``,
``File`` (request data, with FastAPI's names, arguments and meaning) and
``Depends``/``Security`` (values computed by other callables). Each is used
either as a parameter's default (``q: str = Query(None, max_length=5)``)
or inside ``Annotated`` (``q: Annotated[str | None, Query(max_length=5)] =
None``).

Invariants: a marker is plain, immutable-by-convention data, read once when
a route is compiled (``dependencies.compile_plan``); nothing here runs per
request. ``...`` (``Ellipsis``) as the default means "required", as in
FastAPI.

Must not know about: requests, validation, OpenAPI rendering (which reads
the attributes kept here: ``title``, ``description``, ``examples``,
``deprecated``, ``include_in_schema``, ``json_schema_extra``...).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

__all__ = [
    "Body", "Cookie", "Depends", "File", "Form", "Header", "Param", "Path", "Query", "Security",
]

# The constraints a marker may carry, in the order validation checks them.
CONSTRAINTS = ("gt", "ge", "lt", "le", "multiple_of", "min_length", "max_length", "pattern",
               "max_digits", "decimal_places", "allow_inf_nan", "strict")


class _Unset:
    """"No default given" (distinct from ``None`` and from ``...``)."""

    _instance: _Unset | None = None

    def __new__(cls) -> _Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<unset>"

    def __bool__(self) -> bool:
        return False


UNSET: Any = _Unset()


class Param:
    """A request parameter: its source (``path``, ``query``...), default and constraints."""

    source: str = ""

    def __init__(
        self,
        default: Any = UNSET,
        *,
        default_factory: Callable[[], Any] | None = None,
        annotation: Any = None,
        alias: str | None = None,
        alias_priority: int | None = None,
        validation_alias: str | None = None,
        serialization_alias: str | None = None,
        title: str | None = None,
        description: str | None = None,
        gt: float | None = None,
        ge: float | None = None,
        lt: float | None = None,
        le: float | None = None,
        min_length: int | None = None,
        max_length: int | None = None,
        pattern: str | None = None,
        regex: str | None = None,
        discriminator: str | None = None,
        strict: bool | None = None,
        multiple_of: float | None = None,
        allow_inf_nan: bool | None = None,
        max_digits: int | None = None,
        decimal_places: int | None = None,
        examples: list[Any] | None = None,
        example: Any = UNSET,
        openapi_examples: dict[str, Any] | None = None,
        deprecated: bool | str | None = None,
        include_in_schema: bool = True,
        json_schema_extra: dict[str, Any] | None = None,
        **extra: Any,
    ) -> None:
        if default is not UNSET and default_factory is not None:
            raise TypeError("cannot specify both default and default_factory")
        if regex is not None:
            warnings.warn("`regex` is deprecated: use `pattern` instead",
                          DeprecationWarning, stacklevel=3)
            pattern = pattern if pattern is not None else regex
        if example is not UNSET:
            warnings.warn("`example` is deprecated: use `examples` instead",
                          DeprecationWarning, stacklevel=3)
        if extra:
            warnings.warn("unknown keyword arguments to a parameter are deprecated: use "
                          "`json_schema_extra` instead", DeprecationWarning, stacklevel=3)
            json_schema_extra = {**(json_schema_extra or {}), **extra}
        self.default = default
        self.default_factory = default_factory
        self.annotation = annotation
        self.alias = alias or validation_alias
        self.alias_priority = alias_priority
        self.serialization_alias = serialization_alias
        self.title = title
        self.description = description
        self.gt = gt
        self.ge = ge
        self.lt = lt
        self.le = le
        self.min_length = min_length
        self.max_length = max_length
        self.pattern = pattern
        self.discriminator = discriminator
        self.strict = strict
        self.multiple_of = multiple_of
        self.allow_inf_nan = allow_inf_nan
        self.max_digits = max_digits
        self.decimal_places = decimal_places
        self.examples = examples
        self.example = example
        self.openapi_examples = openapi_examples
        self.deprecated = deprecated
        self.include_in_schema = include_in_schema
        self.json_schema_extra = json_schema_extra

    @property
    def required(self) -> bool:
        """True when the request must carry this parameter."""
        return (self.default is UNSET or self.default is ...) and self.default_factory is None

    def get_default(self) -> Any:
        if self.default_factory is not None:
            return self.default_factory()
        return self.default

    def constraints(self) -> dict[str, Any]:
        """The constraints that are set, by name (``{"ge": 1, "max_length": 10}``)."""
        return {name: value for name in CONSTRAINTS
                if (value := getattr(self, name)) is not None}

    def copy(self, **changes: Any) -> Param:
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new.__dict__.update(changes)
        return new

    def __repr__(self) -> str:
        default = "..." if self.required else repr(self.default)
        return f"{type(self).__name__}({default})"


class Path(Param):
    """A ``{name}`` segment of the route's path. Always required."""

    source = "path"

    def __init__(self, default: Any = ..., **kwargs: Any) -> None:
        if default is not ... and default is not UNSET:
            raise AssertionError("Path parameters cannot have a default value")
        super().__init__(..., **kwargs)


class Query(Param):
    """A query string parameter; ``list[...]`` types read every repeated value."""

    source = "query"


class Header(Param):
    """A header field. Its name is the parameter's with ``_`` turned into ``-``
    (``x_token`` reads ``x-token``) unless ``alias`` is given or
    ``convert_underscores=False``; lookup ignores case."""

    source = "header"

    def __init__(self, default: Any = UNSET, *, convert_underscores: bool = True,
                 **kwargs: Any) -> None:
        super().__init__(default, **kwargs)
        self.convert_underscores = convert_underscores


class Cookie(Param):
    """A cookie of the request's ``Cookie`` header."""

    source = "cookie"


class Body(Param):
    """The JSON body, or with several body parameters (or ``embed=True``) one key of it."""

    source = "body"

    def __init__(self, default: Any = UNSET, *, embed: bool | None = None,
                 media_type: str = "application/json", **kwargs: Any) -> None:
        super().__init__(default, **kwargs)
        self.embed = embed
        self.media_type = media_type


class Form(Body):
    """A field of a form body (``application/x-www-form-urlencoded`` or multipart)."""

    source = "form"

    def __init__(self, default: Any = UNSET, *,
                 media_type: str = "application/x-www-form-urlencoded", **kwargs: Any) -> None:
        super().__init__(default, embed=True, media_type=media_type, **kwargs)


class File(Form):
    """An uploaded file of a ``multipart/form-data`` body."""

    source = "file"

    def __init__(self, default: Any = UNSET, *, media_type: str = "multipart/form-data",
                 **kwargs: Any) -> None:
        super().__init__(default, media_type=media_type, **kwargs)


class Depends:
    """The value returned by ``dependency`` (called with its own parameters, solved the
    same way); ``use_cache=False`` calls it again even when another parameter of the
    same request already did. ``scope="function"`` ends a ``yield`` dependency as soon
    as the handler returns, instead of after the response is sent."""

    __slots__ = ("dependency", "use_cache", "scope")

    def __init__(self, dependency: Callable[..., Any] | None = None, *, use_cache: bool = True,
                 scope: str | None = None) -> None:
        if scope not in (None, "function", "request"):
            raise ValueError("scope must be 'function' or 'request'")
        self.dependency = dependency
        self.use_cache = use_cache
        self.scope = scope

    @property
    def scopes(self) -> Sequence[str]:
        return ()

    def __repr__(self) -> str:
        name = getattr(self.dependency, "__name__", type(self.dependency).__name__)
        cache = "" if self.use_cache else ", use_cache=False"
        return f"{type(self).__name__}({name}{cache})"


class Security(Depends):
    """``Depends`` for a security scheme, naming the OAuth2 ``scopes`` it requires
    (read by dependencies through a ``SecurityScopes`` parameter, and by OpenAPI)."""

    __slots__ = ("_scopes",)

    def __init__(self, dependency: Callable[..., Any] | None = None, *,
                 scopes: Sequence[str] | None = None, use_cache: bool = True,
                 scope: str | None = None) -> None:
        super().__init__(dependency, use_cache=use_cache, scope=scope)
        self._scopes = tuple(scopes or ())

    @property
    def scopes(self) -> Sequence[str]:
        return self._scopes
