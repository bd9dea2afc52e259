"""Dependencies the routes share: the settings of the app that serves the request.

Two rules keep dependencies cheap under load (both measured with the burst benchmark):
- Routes read settings from the app (`create_app` stores them on `app.state`), not through
  `app.dependency_overrides`: while any override is set, FastAPI re-analyses every
  dependency's signature on every request.
- Dependencies are `async def`: FastAPI runs a plain `def` dependency in a worker thread, a
  thread hop per request that waits behind the jobs' threads when the service is busy.
"""

from typing import Annotated

from fastapi import Depends, Request

from .settings import Settings


async def app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


AppSettings = Annotated[Settings, Depends(app_settings)]
