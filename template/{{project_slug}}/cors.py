"""Browser clients: which other origins may call the API (CORS). None by default.

Server-to-server callers need nothing here. A web app served from another origin needs its
origin in CORS_ALLOW_ORIGINS (comma-separated, exact `scheme://host[:port]`, no wildcard):
its browser then may send the Bearer token and read the answers. No cookies are involved
(the token travels in `Authorization`), so credentials mode stays off.
"""

import re
from typing import Annotated

from fastapi import FastAPI
from pydantic import Field, field_validator
from pydantic_settings import NoDecode
from starlette.middleware.cors import CORSMiddleware

from .config import EnvSettings

_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$")
# What the API reads from a request and what a client needs to read from an answer.
ALLOWED_HEADERS = ["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"]
EXPOSED_HEADERS = ["Location", "Retry-After", "X-Request-ID"]


class CorsSettings(EnvSettings):
    cors_allow_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    cors_max_age_seconds: int = Field(600, ge=0, le=86_400)

    @field_validator("cors_allow_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> object:
        if isinstance(value, str):
            value = [origin.strip() for origin in value.split(",") if origin.strip()]
        if isinstance(value, list):
            for origin in value:
                if not isinstance(origin, str) or not _ORIGIN.match(origin):
                    raise ValueError(
                        f"{origin!r} is not an origin: give scheme://host[:port], such as "
                        "https://app.example.com (no path, no trailing slash, no wildcard)"
                    )
        return value


def add_cors(app: FastAPI, settings: CorsSettings) -> None:
    """Answer preflights and mark answers for the allowed origins (nothing when there are none)."""
    if not settings.cors_allow_origins:
        return
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_allow_origins,
        allow_methods=["GET", "POST", "PUT", "DELETE"],
        allow_headers=ALLOWED_HEADERS,
        expose_headers=EXPOSED_HEADERS,
        allow_credentials=False,
        max_age=settings.cors_max_age_seconds,
    )
