"""Dependencies the routes share: the settings and the memory service of the app at hand.

Two rules keep dependencies cheap under load (both measured with the burst benchmark):
- Routes read settings from the app (`create_app` stores them on `app.state`), not through
  `app.dependency_overrides`: while any override is set, FastAPI re-analyses every
  dependency's signature on every request.
- Dependencies are `async def`: FastAPI runs a plain `def` dependency in a worker thread, a
  thread hop per request that waits behind the jobs' threads when the service is busy.
"""

from typing import Annotated

from fastapi import Depends, Request

from .memory.schemas import set_limits
from .memory.service import MemoryService
from .settings import Settings


async def app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


AppSettings = Annotated[Settings, Depends(app_settings)]


async def memory_service(request: Request) -> MemoryService:
    service: MemoryService = request.app.state.memory_service  # set by the lifespan
    return service


Service = Annotated[MemoryService, Depends(memory_service)]


async def request_limits(settings: AppSettings) -> None:
    """Router dependency: validate this request's body against this app's limits.

    FastAPI solves a route's dependencies before it validates the body, in the same context.
    """
    set_limits(settings)
