"""The search cache, as the app and the worker take it in: it builds the memory service."""

import logging

from ...feature import Feature
from ...ingest.model import JobQueue
from ...settings import Settings
from ..domain import MemoryBackend
from ..service import MemoryService
from .router import router
from .service import CachingMemoryService
from .store import build_cache_store

logger = logging.getLogger(__name__)


def caching_service(backend: MemoryBackend, queue: JobQueue, settings: Settings) -> MemoryService:
    store = build_cache_store(settings)
    logger.info("search cache: %s", store.name)
    return CachingMemoryService(backend, queue, store, list_max=settings.memory_list_max)


FEATURE = Feature(routers=[router], build_service=caching_service)
