"""Security schemes as dependencies: read credentials, refuse requests without them.

Owns: the helpers FastAPI users know, with the same names, arguments and
answers — ``HTTPBasic``, ``HTTPBearer``, ``HTTPDigest`` (the
``Authorization`` header), ``APIKeyHeader``/``APIKeyQuery``/``APIKeyCookie``,
``OAuth2PasswordBearer``, ``OAuth2AuthorizationCodeBearer``, ``OAuth2``,
``OpenIdConnect`` — their result types (``HTTPAuthorizationCredentials``,
``HTTPBasicCredentials``), ``SecurityScopes`` (the scopes a dependency is
required with) and ``OAuth2PasswordRequestForm``. Each helper is a callable
taking the request: use it with ``Depends(scheme)`` or
``Security(scheme, scopes=[...])``. Missing credentials are answered ``401
Not authenticated`` with a ``WWW-Authenticate`` header (FastAPI >= 0.118),
or give ``None`` when ``auto_error=False``.

Invariants: ``scheme.model`` is the scheme's OpenAPI Security Scheme
Object (a dict) and ``scheme.scheme_name`` its name in
``components.securitySchemes``: the OpenAPI generator reads both from
``route.plan.security``. The helpers are plain sync callables, so a route
using them stays on the engine's synchronous fast path.

Must not know about: routing, how dependencies are solved.
"""

from __future__ import annotations

import binascii
from base64 import b64decode
from typing import Annotated, Any

import msgspec

from pronghorn.exceptions import HTTPException
from pronghorn.params import Form
from pronghorn.requests import Request

__all__ = [
    "APIKeyCookie", "APIKeyHeader", "APIKeyQuery", "HTTPAuthorizationCredentials", "HTTPBasic",
    "HTTPBasicCredentials", "HTTPBearer", "HTTPDigest", "OAuth2", "OAuth2AuthorizationCodeBearer",
    "OAuth2PasswordBearer", "OAuth2PasswordRequestForm", "OAuth2PasswordRequestFormStrict",
    "OpenIdConnect", "SecurityBase", "SecurityScopes", "get_authorization_scheme_param",
]


class HTTPBasicCredentials(msgspec.Struct):
    """What ``HTTPBasic`` gives: the decoded user name and password."""

    username: str
    password: str


class HTTPAuthorizationCredentials(msgspec.Struct):
    """What ``HTTPBearer`` gives: ``Authorization: <scheme> <credentials>``."""

    scheme: str
    credentials: str


class SecurityScopes:
    """A dependency parameter of this type receives the OAuth2 scopes required by every
    ``Security(..., scopes=[...])`` on the way from the endpoint to it."""

    def __init__(self, scopes: list[str] | None = None) -> None:
        self.scopes: list[str] = list(scopes or [])
        self.scope_str: str = " ".join(self.scopes)

    def __repr__(self) -> str:
        return f"SecurityScopes({self.scopes!r})"


def get_authorization_scheme_param(value: str | None) -> tuple[str, str]:
    """``"Bearer abc"`` -> ``("Bearer", "abc")``; ``("", "")`` when absent."""
    if not value:
        return "", ""
    scheme, _, param = value.partition(" ")
    return scheme, param.strip()


def _without_none(**fields: Any) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value is not None}


class SecurityBase:
    """A security scheme: ``model`` (OpenAPI Security Scheme Object) and ``scheme_name``."""

    model: dict[str, Any]
    scheme_name: str
    auto_error: bool

    def _refuse(self, headers: dict[str, str]) -> None:
        """Raise 401 (``auto_error``), or let the caller return None."""
        if self.auto_error:
            raise HTTPException(401, "Not authenticated", headers=headers)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(scheme_name={self.scheme_name!r})"


# ---- HTTP authentication (RFC 9110 §11) ------------------------------------------------

class HTTPBase(SecurityBase):
    def __init__(self, *, scheme: str, scheme_name: str | None = None,
                 description: str | None = None, auto_error: bool = True) -> None:
        self.model = _without_none(type="http", scheme=scheme, description=description)
        self.scheme_name = scheme_name or type(self).__name__
        self.auto_error = auto_error

    def make_authenticate_headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": self.model["scheme"].title()}

    def __call__(self, request: Request) -> HTTPAuthorizationCredentials | None:
        authorization = request.headers.get("authorization")
        scheme, credentials = get_authorization_scheme_param(authorization)
        if not (authorization and scheme and credentials):
            return self._refuse(self.make_authenticate_headers())
        return HTTPAuthorizationCredentials(scheme=scheme, credentials=credentials)


class HTTPBasic(HTTPBase):
    """HTTP Basic authentication (RFC 7617): gives ``HTTPBasicCredentials``."""

    def __init__(self, *, scheme_name: str | None = None, realm: str | None = None,
                 description: str | None = None, auto_error: bool = True) -> None:
        super().__init__(scheme="basic", scheme_name=scheme_name, description=description,
                         auto_error=auto_error)
        self.realm = realm

    def make_authenticate_headers(self) -> dict[str, str]:
        if self.realm:
            return {"WWW-Authenticate": f'Basic realm="{self.realm}"'}
        return {"WWW-Authenticate": "Basic"}

    def __call__(self, request: Request) -> HTTPBasicCredentials | None:  # type: ignore[override]
        authorization = request.headers.get("authorization")
        scheme, param = get_authorization_scheme_param(authorization)
        if not authorization or scheme.lower() != "basic":
            return self._refuse(self.make_authenticate_headers())
        try:
            data = b64decode(param).decode("ascii")
        except (ValueError, UnicodeDecodeError, binascii.Error):
            raise HTTPException(401, "Not authenticated",
                                headers=self.make_authenticate_headers()) from None
        username, separator, password = data.partition(":")
        if not separator:
            raise HTTPException(401, "Not authenticated", headers=self.make_authenticate_headers())
        return HTTPBasicCredentials(username=username, password=password)


class HTTPBearer(HTTPBase):
    """``Authorization: Bearer <token>``: gives ``HTTPAuthorizationCredentials``."""

    def __init__(self, *, bearerFormat: str | None = None, scheme_name: str | None = None,
                 description: str | None = None, auto_error: bool = True) -> None:
        super().__init__(scheme="bearer", scheme_name=scheme_name, description=description,
                         auto_error=auto_error)
        if bearerFormat is not None:
            self.model["bearerFormat"] = bearerFormat

    def __call__(self, request: Request) -> HTTPAuthorizationCredentials | None:
        authorization = request.headers.get("authorization")
        scheme, credentials = get_authorization_scheme_param(authorization)
        if not (authorization and scheme and credentials) or scheme.lower() != "bearer":
            return self._refuse(self.make_authenticate_headers())
        return HTTPAuthorizationCredentials(scheme=scheme, credentials=credentials)


class HTTPDigest(HTTPBase):
    """Declares HTTP Digest (RFC 7616) for OpenAPI and reads the header; checking the
    digest is the application's job."""

    def __init__(self, *, scheme_name: str | None = None, description: str | None = None,
                 auto_error: bool = True) -> None:
        super().__init__(scheme="digest", scheme_name=scheme_name, description=description,
                         auto_error=auto_error)

    def __call__(self, request: Request) -> HTTPAuthorizationCredentials | None:
        authorization = request.headers.get("authorization")
        scheme, credentials = get_authorization_scheme_param(authorization)
        if not (authorization and scheme and credentials) or scheme.lower() != "digest":
            return self._refuse(self.make_authenticate_headers())
        return HTTPAuthorizationCredentials(scheme=scheme, credentials=credentials)


# ---- API keys ------------------------------------------------------------------------

class APIKeyBase(SecurityBase):
    location = ""

    def __init__(self, *, name: str, scheme_name: str | None = None,
                 description: str | None = None, auto_error: bool = True) -> None:
        self.model = _without_none(type="apiKey", name=name, description=description)
        self.model["in"] = self.location
        self.scheme_name = scheme_name or type(self).__name__
        self.auto_error = auto_error
        self.name = name

    def check_api_key(self, api_key: str | None) -> str | None:
        if not api_key:
            return self._refuse({"WWW-Authenticate": "APIKey"})
        return api_key


class APIKeyQuery(APIKeyBase):
    """An API key in the query string parameter ``name``."""

    location = "query"

    def __call__(self, request: Request) -> str | None:
        return self.check_api_key(request.query_params.get(self.name))


class APIKeyHeader(APIKeyBase):
    """An API key in the header ``name``."""

    location = "header"

    def __call__(self, request: Request) -> str | None:
        return self.check_api_key(request.headers.get(self.name))


class APIKeyCookie(APIKeyBase):
    """An API key in the cookie ``name``."""

    location = "cookie"

    def __call__(self, request: Request) -> str | None:
        return self.check_api_key(request.cookies.get(self.name))


# ---- OAuth2 and OpenID Connect ------------------------------------------------------------

class OAuth2(SecurityBase):
    """OAuth2 with the given ``flows`` (OpenAPI OAuth Flows Object); gives the raw
    ``Authorization`` header."""

    def __init__(self, *, flows: dict[str, Any] | None = None, scheme_name: str | None = None,
                 description: str | None = None, auto_error: bool = True) -> None:
        self.model = _without_none(type="oauth2", flows=dict(flows or {}), description=description)
        self.scheme_name = scheme_name or type(self).__name__
        self.auto_error = auto_error

    def __call__(self, request: Request) -> str | None:
        authorization = request.headers.get("authorization")
        if not authorization:
            return self._refuse({"WWW-Authenticate": "Bearer"})
        return authorization

    def _bearer_token(self, request: Request) -> str | None:
        authorization = request.headers.get("authorization")
        scheme, param = get_authorization_scheme_param(authorization)
        if not authorization or scheme.lower() != "bearer":
            return self._refuse({"WWW-Authenticate": "Bearer"})
        return param


class OAuth2PasswordBearer(OAuth2):
    """OAuth2 password flow: gives the bearer token; ``tokenUrl`` is where clients get one."""

    def __init__(self, tokenUrl: str, scheme_name: str | None = None,
                 scopes: dict[str, str] | None = None, description: str | None = None,
                 auto_error: bool = True, refreshUrl: str | None = None) -> None:
        flow = _without_none(tokenUrl=tokenUrl, refreshUrl=refreshUrl)
        flow["scopes"] = dict(scopes or {})
        super().__init__(flows={"password": flow}, scheme_name=scheme_name,
                         description=description, auto_error=auto_error)

    def __call__(self, request: Request) -> str | None:
        return self._bearer_token(request)


class OAuth2AuthorizationCodeBearer(OAuth2):
    """OAuth2 authorization code flow: gives the bearer token."""

    def __init__(self, authorizationUrl: str, tokenUrl: str, refreshUrl: str | None = None,
                 scheme_name: str | None = None, scopes: dict[str, str] | None = None,
                 description: str | None = None, auto_error: bool = True) -> None:
        flow = _without_none(authorizationUrl=authorizationUrl, tokenUrl=tokenUrl,
                             refreshUrl=refreshUrl)
        flow["scopes"] = dict(scopes or {})
        super().__init__(flows={"authorizationCode": flow}, scheme_name=scheme_name,
                         description=description, auto_error=auto_error)

    def __call__(self, request: Request) -> str | None:
        return self._bearer_token(request)


class OpenIdConnect(SecurityBase):
    """OpenID Connect discovery at ``openIdConnectUrl``; gives the raw ``Authorization``."""

    def __init__(self, *, openIdConnectUrl: str, scheme_name: str | None = None,
                 description: str | None = None, auto_error: bool = True) -> None:
        self.model = _without_none(type="openIdConnect", openIdConnectUrl=openIdConnectUrl,
                                   description=description)
        self.scheme_name = scheme_name or type(self).__name__
        self.auto_error = auto_error

    def __call__(self, request: Request) -> str | None:
        authorization = request.headers.get("authorization")
        if not authorization:
            return self._refuse({"WWW-Authenticate": "Bearer"})
        return authorization


class OAuth2PasswordRequestForm:
    """The form of an OAuth2 password-flow token request, as a class dependency:
    ``form: Annotated[OAuth2PasswordRequestForm, Depends()]``. ``scopes`` is the
    space-separated ``scope`` field, split."""

    def __init__(
        self,
        *,
        grant_type: Annotated[str | None, Form(pattern="^password$")] = None,
        username: Annotated[str, Form()],
        password: Annotated[str, Form(json_schema_extra={"format": "password"})],
        scope: Annotated[str, Form()] = "",
        client_id: Annotated[str | None, Form()] = None,
        client_secret: Annotated[str | None, Form(json_schema_extra={"format": "password"})] = None,
    ) -> None:
        self.grant_type = grant_type
        self.username = username
        self.password = password
        self.scopes = scope.split()
        self.client_id = client_id
        self.client_secret = client_secret


class OAuth2PasswordRequestFormStrict(OAuth2PasswordRequestForm):
    """``OAuth2PasswordRequestForm`` requiring ``grant_type=password``, as the spec does."""

    def __init__(
        self,
        grant_type: Annotated[str, Form(pattern="^password$")],
        username: Annotated[str, Form()],
        password: Annotated[str, Form()],
        scope: Annotated[str, Form()] = "",
        client_id: Annotated[str | None, Form()] = None,
        client_secret: Annotated[str | None, Form()] = None,
    ) -> None:
        super().__init__(grant_type=grant_type, username=username, password=password,
                         scope=scope, client_id=client_id, client_secret=client_secret)
