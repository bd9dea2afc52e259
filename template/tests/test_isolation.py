"""A user's memories are reachable only by that user."""

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.conftest import auth_headers
from tests.helpers import API, all_memories, remember, search

pytestmark = pytest.mark.anyio

User = tuple[str, dict[str, str]]


async def test_second_user_sees_none_of_the_first_users_memories(
    client: httpx.AsyncClient, new_user: Callable[[], User]
) -> None:
    _, alice = new_user()
    _, bob = new_user()
    await remember(client, alice, "My secret recipe uses saffron and lemon")
    await client.post(
        f"{API}/preferences",
        json={"preference": "Saffron lover", "category": "food"},
        headers=alice,
    )

    assert await search(client, bob, "secret recipe saffron lemon") == []
    assert await all_memories(client, bob) == []
    assert (await client.get(f"{API}/preferences", headers=bob)).json()["count"] == 0
    summary = (await client.get(f"{API}/summary", headers=bob)).json()["summary"]
    assert summary["total_memories"] == 0
    # Alice still has hers.
    found = {r["memory"] for r in await search(client, alice, "secret recipe saffron lemon")}
    assert found == {"My secret recipe uses saffron and lemon", "Saffron lover"}


async def test_someone_elses_memory_id_answers_like_a_missing_one(
    client: httpx.AsyncClient, new_user: Callable[[], User]
) -> None:
    _, alice = new_user()
    _, bob = new_user()
    await remember(client, alice, "My bank PIN hint is the year I moved")
    alice_memory = (await all_memories(client, alice))[0]

    as_bob = await client.get(f"{API}/memories/{alice_memory['id']}", headers=bob)
    missing = await client.get(f"{API}/memories/00000000-0000-4000-8000-000000000000", headers=bob)
    assert as_bob.status_code == missing.status_code == 404
    assert as_bob.json() == missing.json()

    delete_as_bob = await client.delete(f"{API}/memories/{alice_memory['id']}", headers=bob)
    assert delete_as_bob.status_code == 404
    assert [m["id"] for m in await all_memories(client, alice)] == [alice_memory["id"]]


async def test_forgetting_one_user_leaves_the_other_intact(
    client: httpx.AsyncClient, new_user: Callable[[], User]
) -> None:
    _, alice = new_user()
    _, bob = new_user()
    await remember(client, alice, "Alice likes rowing on the river")
    await remember(client, bob, "Bob likes rowing on the lake")

    assert (await client.delete(f"{API}/memories", headers=bob)).json() == {"deleted": 1}
    assert [m["memory"] for m in await all_memories(client, alice)] == [
        "Alice likes rowing on the river"
    ]


async def test_filters_cannot_widen_the_scope(
    client: httpx.AsyncClient, new_user: Callable[[], User]
) -> None:
    alice_id, alice = new_user()
    _, bob = new_user()
    await remember(client, alice, "Alice keeps bees in her garden")
    response = await client.post(
        f"{API}/search",
        json={"query": "bees garden", "filters": {"user_id": alice_id}},
        headers=bob,
    )
    assert response.status_code == 422
    assert "access token" in response.text


async def test_identity_in_the_body_is_refused(
    client: httpx.AsyncClient, new_user: Callable[[], User]
) -> None:
    alice_id, _ = new_user()
    _, bob = new_user()
    body = {"messages": [{"role": "user", "content": "I am Alice now"}], "user_id": alice_id}
    response = await client.post(f"{API}/conversation", json=body, headers=bob)
    assert response.status_code == 422
    meta = {"messages": [{"role": "user", "content": "hi"}], "metadata": {"user_id": alice_id}}
    response = await client.post(f"{API}/conversation", json=meta, headers=bob)
    assert response.status_code == 422
    assert "access token" in response.text


# Subjects a store or a filter language could read as a pattern, an operator or a path; each
# is always tried, besides the random ones.
WILDCARD_LIKE = [
    "*",
    "**",
    "%",
    "_",
    "?",
    ".*",
    "[a-z]*",
    "$ne",
    "$regex",
    '{"$ne":null}',
    "\\*",
    "..",
    "a/../b",
    "null",
    "~Kg",
]
SUBJECTS = st.one_of(
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.@|:+-]{0,40}", fullmatch=True),
    st.text(st.characters(exclude_categories=("C", "Z")), min_size=1, max_size=40),
)
TestFunction = TypeVar("TestFunction", bound=Callable[..., Any])
VICTIM_TEXT = "Victim secret: the vault code is under the blue rug"


@dataclass(frozen=True)
class Victim:
    headers: dict[str, str]
    memories: frozenset[tuple[str, str]]  # (id, text)

    @property
    def memory_ids(self) -> frozenset[str]:
        return frozenset(memory_id for memory_id, _ in self.memories)


@pytest.fixture(scope="module")
async def victims(client: httpx.AsyncClient) -> list[Victim]:
    """Users whose memories no other subject may ever reach (ids no strategy draws)."""
    found = []
    for name in (f"victim-{uuid.uuid4().hex}", f"victimé-{uuid.uuid4().hex}"):
        headers = auth_headers(name)
        await remember(client, headers, VICTIM_TEXT)
        created = await client.post(
            f"{API}/preferences", json={"preference": f"{VICTIM_TEXT} (pref)"}, headers=headers
        )
        assert created.status_code == 201, created.text
        memories = frozenset((m["id"], m["memory"]) for m in await all_memories(client, headers))
        assert len(memories) == 2
        found.append(Victim(headers, memories))
    return found


async def _check_victims_intact(client: httpx.AsyncClient, victims: list[Victim]) -> None:
    for victim in victims:
        listed = await all_memories(client, victim.headers)
        assert {(m["id"], m["memory"]) for m in listed} == victim.memories


def _always_trying(*subjects: str) -> Callable[[TestFunction], TestFunction]:
    def apply(test: TestFunction) -> TestFunction:
        for subject in subjects:
            test = example(subject=subject)(test)
        return test

    return apply


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@_always_trying(*WILDCARD_LIKE)
@given(subject=SUBJECTS)
async def test_any_subject_reaches_only_its_own_memories(
    client: httpx.AsyncClient, victims: list[Victim], subject: str
) -> None:
    headers = auth_headers(subject)
    # Hypothesis may draw a subject twice: start from nothing.
    assert (await client.delete(f"{API}/memories", headers=headers)).status_code == 200
    marker = f"probe{uuid.uuid4().hex[:10]}"
    created = await client.post(
        f"{API}/preferences",
        json={
            "preference": f"Keeps notes on the vault code and the blue rug ({marker})",
            "category": "probe",
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    own = created.json()["id"]

    # The query shares most of its words with the subject's memory and with the victims'
    # (fixed words, so that no random marker's hash can cancel them out): a widened scope
    # would return the victims' memories too.
    found = await search(client, headers, "notes victim secret vault code blue rug")
    assert [r["id"] for r in found] == [own]
    assert [m["id"] for m in await all_memories(client, headers)] == [own]
    preferences = (await client.get(f"{API}/preferences", headers=headers)).json()
    assert [m["id"] for m in preferences["results"]] == [own]
    summary = (await client.get(f"{API}/summary", headers=headers)).json()
    assert summary["user_id"] == subject
    assert summary["summary"]["total_memories"] == 1
    assert (await client.get(f"{API}/memories/{own}", headers=headers)).status_code == 200
    export = await client.get(f"{API}/export", headers=headers)
    assert [json.loads(line).get("id") for line in export.text.splitlines()] == [None, own, None]
    history = await client.get(f"{API}/memories/{own}/history", headers=headers)
    assert [event["event"] for event in history.json()["events"]] == ["ADD"]
    for victim in victims:
        victim_ids = sorted(victim.memory_ids)
        for memory_id in victim_ids:
            response = await client.get(f"{API}/memories/{memory_id}", headers=headers)
            assert response.status_code == 404
            response = await client.get(f"{API}/memories/{memory_id}/history", headers=headers)
            assert response.status_code == 404
            response = await client.put(
                f"{API}/memories/{memory_id}", json={"memory": "overwritten"}, headers=headers
            )
            assert response.status_code == 404
            response = await client.delete(f"{API}/memories/{memory_id}", headers=headers)
            assert response.status_code == 404
        # A batch naming one of the subject's own memories and a victim's deletes neither.
        response = await client.post(
            f"{API}/batch/delete", json={"memory_ids": [own, victim_ids[0]]}, headers=headers
        )
        assert response.status_code == 404
    assert [m["id"] for m in await all_memories(client, headers)] == [own]

    forgotten = await client.delete(f"{API}/memories", headers=headers)
    assert forgotten.json() == {"deleted": 1}
    assert await all_memories(client, headers) == []
    await _check_victims_intact(client, victims)
