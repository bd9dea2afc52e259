"""The cache's route, beside the memory routes: how well the cache serves."""

from fastapi import APIRouter
from pydantic import BaseModel

from ...auth import UserId
from ...deps import Service
from ...errors import error_responses
from ..router import MEMORY_PREFIX
from .service import CachingMemoryService


class CacheStats(BaseModel):
    backend: str
    hits: int
    misses: int
    errors: int
    hit_rate: float | None


router = APIRouter(prefix=MEMORY_PREFIX, tags=["memory"])


@router.get(
    "/cache/stats",
    response_model=CacheStats,
    summary="Search cache hits and misses",
    responses=error_responses(401),
)
async def get_cache_stats(_user_id: UserId, service: Service) -> CacheStats:
    """Counters for the whole service (all workers, with Redis); they name no user."""
    if not isinstance(service, CachingMemoryService):  # main.py builds it when caching
        raise TypeError("the search cache's routes need the caching memory service")
    counters = await service.cache_counters()
    lookups = counters["hits"] + counters["misses"]
    return CacheStats(
        backend=service.cache.name,
        hits=counters["hits"],
        misses=counters["misses"],
        errors=counters["errors"],
        hit_rate=round(counters["hits"] / lookups, 4) if lookups else None,
    )
