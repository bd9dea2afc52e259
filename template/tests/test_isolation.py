"""A user's memories are reachable only by that user."""

from collections.abc import Callable

import httpx
import pytest

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
