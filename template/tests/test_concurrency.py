"""Many users at once, over a real socket: no 5xx, no dropped connection, nothing lost or doubled.

The service runs under uvicorn, as in production. Each round, every user sends a
conversation (202, stored in the background), a preference (201), a search and a listing,
all at the same time. Afterwards every acknowledged write must be readable exactly once, by
its own user only, and the service must still be ready. Run with `-s` to see the figures
(requests, 5xx, latency percentiles); nothing here asserts on time.
"""

import asyncio
import functools
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import JWT_SECRET, auth_headers
from tests.helpers import API
from tests.processes import Running, running_service

pytestmark = pytest.mark.anyio

USERS = 24
ROUNDS = 4
# Bounds, so that a stuck service fails the test instead of hanging it (not timing checks).
REQUEST_SECONDS = 15
LOAD_SECONDS = 60
# Conversations are stored after their 202; how long they may take to become readable.
SETTLE_SECONDS = 30
# One topic per round, so that no two writes of a user read alike (mem0 would merge them).
TOPICS = ["juggling", "astronomy", "pottery", "kayaking", "origami", "beekeeping"]
EXPECTED = {"conversation": 202, "preference": 201, "search": 200, "list": 200}


@pytest.fixture
def server(service_overrides: dict[str, Any], tmp_path: Path) -> Iterator[Running]:
    with running_service(service_overrides, JWT_SECRET, tmp_path) as running:
        yield running


@dataclass
class Load:
    """Every answer of the load phase: status, latency, and what went wrong."""

    statuses: Counter[int] = field(default_factory=Counter)
    latencies: dict[str, list[float]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    async def send(
        self, http: httpx.AsyncClient, operation: str, method: str, path: str, **kwargs: Any
    ) -> httpx.Response | None:
        started = time.perf_counter()
        try:
            response = await http.request(method, API + path, **kwargs)
        except httpx.TransportError as exc:  # a reset or refused connection, a timeout
            self.problems.append(f"{operation}: {type(exc).__name__}: {exc}")
            return None
        self.latencies.setdefault(operation, []).append((time.perf_counter() - started) * 1000)
        self.statuses[response.status_code] += 1
        if response.status_code != EXPECTED[operation]:
            self.problems.append(f"{operation}: {response.status_code} {response.text[:300]}")
        return response


@dataclass
class User:
    number: int
    user_id: str
    headers: dict[str, str]
    sent: set[str] = field(default_factory=set)  # every text sent, acknowledged or not
    conversations: list[str] = field(default_factory=list)  # acknowledged with 202
    preferences: dict[str, str] = field(default_factory=dict)  # id -> text, 201

    def foreign(self, results: list[dict[str, Any]]) -> list[str]:
        """Texts in an answer that this user never sent."""
        return [item["memory"] for item in results if item["memory"] not in self.sent]

    async def round(self, http: httpx.AsyncClient, load: Load, number: int) -> None:
        topic = TOPICS[number % len(TOPICS)]
        said = f"Member {self.number} took up {topic} in season {number}"
        prefers = f"Member {self.number} prefers {topic} kits from shop {number}"
        self.sent |= {said, prefers}
        conversation = {"messages": [{"role": "user", "content": said}]}
        preference = {"preference": prefers, "category": "load"}
        send = functools.partial(load.send, http, headers=self.headers)
        stored, created, found, listed = await asyncio.gather(
            send("conversation", "POST", "/conversation", json=conversation),
            send("preference", "POST", "/preferences", json=preference),
            send("search", "POST", "/search", json={"query": topic}),
            send("list", "GET", "/memories", params={"limit": 100}),
        )
        if stored is not None and stored.status_code == 202:
            self.conversations.append(said)
        if created is not None and created.status_code == 201:
            self.preferences[created.json()["id"]] = prefers
        for answer in (found, listed):
            leaked = self.foreign(answer.json()["results"]) if answer and answer.is_success else []
            if leaked:
                load.problems.append(f"{self.user_id} was shown {leaked}")


async def _stored(http: httpx.AsyncClient, user: User) -> list[dict[str, Any]]:
    response = await http.get(f"{API}/memories", params={"limit": 100}, headers=user.headers)
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()["results"]
    return results


async def _settled(http: httpx.AsyncClient, user: User) -> list[dict[str, Any]]:
    """The user's memories once every acknowledged conversation is readable (or time is up)."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        results = await _stored(http, user)
        texts = {item["memory"] for item in results}
        if set(user.conversations) <= texts or time.monotonic() > deadline:
            return results
        await asyncio.sleep(0.25)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _report(load: Load, seconds: float) -> None:
    every = [ms for values in load.latencies.values() for ms in values]
    errors = sum(count for status, count in load.statuses.items() if status >= 500)
    print(
        f"\nconcurrency: {USERS} users x {ROUNDS} rounds: {sum(load.statuses.values())} answers"
        f" in {seconds:.1f} s, {errors} 5xx, {len(load.problems)} problems;"
        f" p50 {_percentile(every, 0.5):.0f} ms, p99 {_percentile(every, 0.99):.0f} ms"
    )
    for operation, values in load.latencies.items():
        print(
            f"  {operation:<12} {len(values):>4}  p50 {_percentile(values, 0.5):>6.0f} ms"
            f"  p99 {_percentile(values, 0.99):>6.0f} ms"
        )


async def test_many_users_at_once_lose_nothing_and_see_only_their_own(server: Running) -> None:
    run = uuid.uuid4().hex[:8]
    users = [User(n, f"load-{run}-{n}", auth_headers(f"load-{run}-{n}")) for n in range(USERS)]
    load = Load()
    # Idle connections close on the client's side first (uvicorn drops them after 5 s), so no
    # request races a server closing its end.
    limits = httpx.Limits(
        max_connections=4 * USERS, max_keepalive_connections=4 * USERS, keepalive_expiry=2
    )
    async with httpx.AsyncClient(
        base_url=server.base_url, timeout=REQUEST_SECONDS, limits=limits
    ) as http:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(LOAD_SECONDS):
                for number in range(ROUNDS):
                    await asyncio.gather(*(user.round(http, load, number) for user in users))
        except TimeoutError:
            load.problems.append(f"the {ROUNDS} rounds did not finish in {LOAD_SECONDS} s")
        _report(load, time.perf_counter() - started)
        assert not load.problems, "\n".join(load.problems[:20])

        for user in users:
            results = await _settled(http, user)
            texts = Counter(item["memory"] for item in results)
            assert not user.foreign(results), (user.user_id, user.foreign(results))
            missing = [text for text in user.conversations if texts[text] == 0]
            assert not missing, f"{user.user_id}: acknowledged but never stored: {missing}"
            ids = {item["id"]: item["memory"] for item in results}
            for memory_id, text in user.preferences.items():
                assert ids.get(memory_id) == text, f"{user.user_id}: preference {text!r} is gone"
            expected = Counter([*user.conversations, *user.preferences.values()])
            assert texts == expected, f"{user.user_id}: stored {texts}, acknowledged {expected}"

        assert (await http.get("/readyz")).status_code == 200

    failures = [e for e in server.stop() if e.get("level") in ("error", "critical")]
    assert not failures, failures[:5]
