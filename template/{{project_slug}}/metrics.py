"""Prometheus metrics: what is counted (the route, `/metrics`, is in health.py).

No label carries a user id, a memory id or any text: routes are labelled by their template
(`/api/v1/memory/memories/{memory_id}`), operations by their OpenAPI operation id.

- `http_requests_total`, `http_request_duration_seconds`: per method, route and status
  (a request that matched no route counts under the route `unmatched`).
- `memory_operation_duration_seconds`: each memory operation by outcome (`ok`, `rejected`,
  `unavailable`, `error`); `store_conversation` is the queued work behind a 202, timed when
  the job's attempt ends, with the outcome `done`, `retrying`, `failed` or `cancelled`.
- `memory_jobs_total`: queued-conversation attempts by how they ended (the same outcomes).
- `memory_jobs_pending`, `memory_jobs_failed`: the job queue now, read at each scrape
  (NaN while the queue cannot be read).
- `memory_provider_failures_total`: a provider (the model API, the memory store, the
  identity provider, the job queue) unavailable to a request or a job, per component.
- Optional parts count their own next to their code (the search cache's lookups, the rate
  limits' rejections): all of them land in the same registry.

Access: open unless METRICS_TOKEN is set; then a scrape needs `Authorization: Bearer <it>`.
Open is the default because scrapers inside a cluster rarely carry tokens and nothing here
identifies a user; set the token (or keep the path off your public ingress) when the port
is reachable from outside.

Each process counts what it does, so scrape every API process (one per container, as
compose.yaml runs them: with WORKERS > 1 a scrape reaches one of the processes). With
JOB_QUEUE_URL the jobs run in `worker` processes, which do not serve metrics: there the job
counters stay at zero and the queue gauges (the whole queue's, read from Redis) show the work.
"""

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from pydantic import SecretStr, field_validator

from .config import EnvSettings

UNMATCHED = "unmatched"
# Label values come from a bounded set: any other method a client makes up counts as "other"
# (every made-up method would otherwise be a new series, held in memory for good).
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

HTTP_REQUESTS = Counter(
    "http_requests_total", "HTTP requests answered.", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds", "Time to answer an HTTP request.", ["method", "route"]
)
OPERATION_LATENCY = Histogram(
    "memory_operation_duration_seconds",
    "Time a memory operation took, by outcome.",
    ["operation", "outcome"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
JOBS = Counter("memory_jobs_total", "Queued-conversation attempts, by outcome.", ["outcome"])
JOBS_PENDING = Gauge("memory_jobs_pending", "Accepted conversations not stored yet.")
JOBS_FAILED = Gauge("memory_jobs_failed", "Failed jobs kept for inspection.")
PROVIDER_FAILURES = Counter(
    "memory_provider_failures_total", "A provider was unavailable, per component.", ["component"]
)


class MetricsSettings(EnvSettings):
    metrics_token: SecretStr | None = None

    @field_validator("metrics_token")
    @classmethod
    def _strong_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if len(value.get_secret_value()) < 16:
            raise ValueError("METRICS_TOKEN must be at least 16 characters (or empty: open)")
        return value


def observe_request(method: str, route: str | None, status_code: int, seconds: float) -> None:
    label = route or UNMATCHED
    method = method if method in _METHODS else "other"
    HTTP_REQUESTS.labels(method, label, str(status_code)).inc()
    HTTP_LATENCY.labels(method, label).observe(seconds)


def observe_operation(operation: str, outcome: str, seconds: float) -> None:
    OPERATION_LATENCY.labels(operation, outcome).observe(seconds)


def observe_job(outcome: str, seconds: float) -> None:
    JOBS.labels(outcome).inc()
    OPERATION_LATENCY.labels("store_conversation", outcome).observe(seconds)


def provider_failed(component: str) -> None:
    PROVIDER_FAILURES.labels(component).inc()


def set_queue_depth(pending: float, failed: float) -> None:
    JOBS_PENDING.set(pending)
    JOBS_FAILED.set(failed)


def exposition() -> tuple[bytes, str]:
    """Everything counted, in Prometheus' text format, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
