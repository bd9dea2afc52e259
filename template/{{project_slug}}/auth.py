"""Who is calling: the user id comes from a Bearer JWT (HS256, `sub` claim), never from the
request body or query. Every memory operation is scoped to that id.

A user id may hold any printable characters (stores see it encoded, see memory/scope.py), but
no spaces and no control, format, surrogate, private-use or unassigned code points (Unicode
categories Z* and C*): those would forge log lines or hide what an id really is.
"""

import unicodedata
from typing import Annotated, TypeGuard

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .deps import AppSettings
from .settings import AuthSettings

ALGORITHM = "HS256"
MAX_SUBJECT_LENGTH = 128

_bearer = HTTPBearer(
    auto_error=False, description="A JWT signed with JWT_SECRET; `sub` is the user id."
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


def decode_user_id(token: str, settings: AuthSettings) -> str:
    """Validate the token and return its subject, or raise a 401 that says what is wrong."""
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret.get_secret_value(),
            algorithms=[ALGORITHM],
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
    user_id = decode_user_id(credentials.credentials, settings)
    request.state.user_id = user_id
    return user_id


UserId = Annotated[str, Depends(current_user_id)]
