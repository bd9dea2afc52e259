"""What every settings class is built from.

Each part of the service owns the settings it reads (the job queue `ingest/settings.py`, the
memory limits `memory/limits.py`, the backend and its store their own module, each optional
feature its package); `settings.py` composes them into the one `Settings` the app runs with.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, SecretStr, ValidationError
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

from . import NAME


class EnvSettings(BaseSettings):
    """Read from the environment, then `.env`; names are case-insensitive."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )


_EMPTY_KEY = "empty_api_key"


def _present(value: SecretStr) -> SecretStr:
    if not value.get_secret_value().strip():
        raise PydanticCustomError(_EMPTY_KEY, "empty (set it in .env or the environment)")
    return value


ApiKey = Annotated[SecretStr, AfterValidator(_present)]
"""A required secret that must not be blank (an empty `KEY=` line in `.env` is refused)."""


@dataclass(frozen=True)
class SettingsProblem:
    """One invalid or missing setting, as a person fixing `.env` needs to read it."""

    name: str  # the environment variable
    message: str
    missing_key: bool  # an API key that is not set: the offline fakes can stand in for it

    def __str__(self) -> str:
        return f"{self.name}: {self.message}"


def settings_problems(error: ValidationError) -> list[SettingsProblem]:
    """One line per problem, without the values (they may be secrets) or pydantic's links."""
    problems = []
    for item in error.errors(include_url=False, include_input=False):
        name = "_".join(str(part) for part in item["loc"]).upper() or "SETTINGS"
        if item["type"] == "missing":
            message, missing_key = "not set (add it to .env or the environment)", True
        else:
            message = item["msg"].removeprefix("Value error, ").removeprefix(f"{name} ")
            missing_key = item["type"] == _EMPTY_KEY
        problems.append(SettingsProblem(name, message, missing_key and name.endswith("_KEY")))
    return problems


class ServiceSettings(EnvSettings):
    """The process: where it listens, what it logs, where it keeps its data."""

    app_name: str = NAME
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["console", "json"] = "console"
    data_dir: Path = Path("data")
    max_request_bytes: int = Field(1_048_576, ge=1024)
    provider_retry_after_seconds: int = Field(30, ge=1)
    workers: int = Field(1, ge=1, le=64)
    shutdown_grace_seconds: float = Field(20.0, ge=0, le=600)

    @property
    def mem0_dir(self) -> Path:
        return self.data_dir / "mem0"
