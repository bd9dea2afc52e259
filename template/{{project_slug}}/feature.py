"""What an optional part of the service adds to it, described the same way for every part.

Each optional part lives in its own package and describes itself with one `Feature` in its
`feature.py`; `features.py` lists the ones this service has. `main.py` applies them all
alike, and the worker builds its memory service through them, so that a feature that builds
the service builds it there too.
"""

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, FastAPI, params

from .ingest.model import JobQueue
from .memory.domain import MemoryBackend
from .memory.service import MemoryService
from .settings import Settings

ServiceFactory = Callable[[MemoryBackend, JobQueue, Settings], MemoryService]
Resources = Callable[[FastAPI, Settings], AbstractAsyncContextManager[None]]


@dataclass(frozen=True)
class Feature:
    routers: Sequence[APIRouter] = ()
    """Its routes, included beside the memory routes (with the dependencies of every feature)."""
    dependencies: Sequence[params.Depends] = ()
    """Run before every API route (not the health probes): the memory routes and all features'."""
    responses: Mapping[int | str, dict[str, Any]] = field(default_factory=dict)
    """What those dependencies may answer, for the OpenAPI document."""
    resources: Resources | None = None
    """Opened in the app's lifespan once the memory service is ready; closed before it."""
    build_service: ServiceFactory | None = None
    """Builds the memory service in place of the plain one (at most one feature does)."""
