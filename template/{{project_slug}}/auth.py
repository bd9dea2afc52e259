"""Who is calling: the user id comes from a Bearer JWT's `sub` claim, never from the request
body or query. Every memory operation is scoped to that id.

Two kinds of token are accepted: HS256, signed with JWT_SECRET (this service's own, e.g.
`python -m <package>.tokens`), and, with JWT_JWKS_URL set, RS256 or ES256 tokens from an
identity provider, verified with the public key its JWKS names by the token's `kid`. The
key set is cached (JWT_JWKS_CACHE_SECONDS) and fetched again for a `kid` it does not hold,
at most once per JWT_JWKS_REFRESH_COOLDOWN_SECONDS, so that made-up `kid`s cannot flood
the provider. Which key verifies a token follows from its `alg` header, and an HS256 token
is only ever checked against JWT_SECRET: a provider's public key can never act as an HMAC
secret. JWT_ISSUER and JWT_AUDIENCE apply to both kinds.

A user id may hold any printable characters (stores see it encoded, see memory/scope.py), but
no spaces and no control, format, surrogate, private-use or unassigned code points (Unicode
categories Z* and C*): those would forge log lines or hide what an id really is.
"""

import asyncio
import functools
import unicodedata
from typing import Annotated, Any, TypeGuard

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .deps import AppSettings
from .errors import ProviderUnavailableError
from .settings import AuthSettings

ALGORITHM = "HS256"
PROVIDER_ALGORITHMS = ("RS256", "ES256")
MAX_SUBJECT_LENGTH = 128
_JWKS_TIMEOUT_SECONDS = 5

_bearer = HTTPBearer(
    auto_error=False,
    description="A JWT whose `sub` is the user id: HS256 signed with JWT_SECRET, or RS256/ES256 "
    "from the identity provider at JWT_JWKS_URL.",
)


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail=detail,
        headers={"WWW-Authenticate": 'Bearer realm="api"'},
    )


def is_valid_user_id(subject: object) -> TypeGuard[str]:
    """Whether a `sub` claim is a user id this service accepts."""
    return (
        isinstance(subject, str)
        and 0 < len(subject) <= MAX_SUBJECT_LENGTH
        and not any(unicodedata.category(char)[0] in "CZ" for char in subject)
    )


@functools.cache
def _jwks_client(url: str, cache_seconds: int, cooldown_seconds: float) -> jwt.PyJWKClient:
    """One client (and so one key cache) per JWKS URL and policy, for the whole process."""
    return jwt.PyJWKClient(
        url,
        lifespan=cache_seconds,
        cooldown_duration=cooldown_seconds,
        timeout=_JWKS_TIMEOUT_SECONDS,
    )


async def _verification_key(token: str, settings: AuthSettings) -> tuple[Any, list[str]]:
    """The key that may verify this token, and the one algorithm it may be verified with."""
    try:
        algorithm = jwt.get_unverified_header(token).get("alg")
    except jwt.InvalidTokenError as exc:
        raise _unauthorized("The access token is invalid.") from exc
    if algorithm == ALGORITHM:
        return settings.jwt_secret.get_secret_value(), [ALGORITHM]
    if algorithm not in PROVIDER_ALGORITHMS or settings.jwt_jwks_url is None:
        raise _unauthorized("The access token is invalid.")
    client = _jwks_client(
        str(settings.jwt_jwks_url),
        settings.jwt_jwks_cache_seconds,
        settings.jwt_jwks_refresh_cooldown_seconds,
    )
    try:  # a fetch blocks (urllib): off the event loop
        key = await asyncio.to_thread(client.get_signing_key_from_jwt, token)
    except jwt.PyJWKClientConnectionError as exc:
        raise ProviderUnavailableError(
            "identity provider",
            "its signing keys (JWT_JWKS_URL) cannot be fetched",
        ) from exc
    except (jwt.PyJWKClientError, jwt.InvalidTokenError) as exc:
        raise _unauthorized(
            "The access token is signed by a key this service does not know."
        ) from exc
    return key, [algorithm]


async def decode_user_id(token: str, settings: AuthSettings) -> str:
    """Validate the token and return its subject, or raise a 401 that says what is wrong."""
    key, algorithms = await _verification_key(token, settings)
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=algorithms,
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            leeway=settings.jwt_leeway_seconds,
            options={"require": ["sub", "exp"], "verify_aud": settings.jwt_audience is not None},
        )
    except jwt.ExpiredSignatureError as exc:
        raise _unauthorized("The access token has expired.") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise _unauthorized(f"The access token lacks the '{exc.claim}' claim.") from exc
    except jwt.InvalidTokenError as exc:
        raise _unauthorized("The access token is invalid.") from exc
    subject = claims["sub"]
    if not is_valid_user_id(subject):
        raise _unauthorized(
            f"The access token's 'sub' must be a user id of 1-{MAX_SUBJECT_LENGTH} characters "
            "without spaces, control or format characters."
        )
    return subject


async def current_user_id(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    settings: AppSettings,
) -> str:
    if credentials is None:
        raise _unauthorized("Missing access token: send 'Authorization: Bearer <token>'.")
    user_id = await decode_user_id(credentials.credentials, settings)
    request.state.user_id = user_id
    return user_id


UserId = Annotated[str, Depends(current_user_id)]
