"""No token, a bad token or an expired token: 401 with WWW-Authenticate, and a clear reason."""

import httpx
import jwt
import pytest

from tests.conftest import JWT_SECRET, make_token
from tests.helpers import API

pytestmark = pytest.mark.anyio

PROTECTED = [
    ("POST", f"{API}/conversation"),
    ("POST", f"{API}/search"),
    ("GET", f"{API}/summary"),
    ("POST", f"{API}/preferences"),
    ("GET", f"{API}/preferences"),
    ("GET", f"{API}/memories"),
    ("GET", f"{API}/memories/00000000-0000-4000-8000-000000000000"),
    ("DELETE", f"{API}/memories/00000000-0000-4000-8000-000000000000"),
    ("DELETE", f"{API}/memories"),
]


def _assert_401(response: httpx.Response, reason: str) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert reason in response.json()["detail"]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
async def test_every_memory_route_needs_a_token(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    _assert_401(await client.request(method, path), "Missing access token")


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (make_token("alice", ttl=-3600), "expired"),
        (make_token("alice", secret="another-secret-that-is-long-enough-0123456789"), "invalid"),
        (make_token(None), "'sub'"),
        (jwt.encode({"sub": "alice"}, JWT_SECRET, algorithm="HS256"), "'exp'"),
        (make_token("two words"), "without spaces"),
        (make_token(""), "'sub'"),
        ("not-a-jwt", "invalid"),
        (jwt.encode({"sub": "alice", "exp": 9999999999}, key="", algorithm="none"), "invalid"),
        (make_token("a\u0000b"), "control or format"),
        (make_token("bob\nINFO forged log line"), "control or format"),
        (make_token("\u202eevil"), "control or format"),
        (make_token("ali\u200bce"), "control or format"),
        (make_token("\ud800"), "control or format"),
        (make_token("x" * 129), "1-128 characters"),
        (jwt.encode({"sub": 42, "exp": 9999999999}, JWT_SECRET, algorithm="HS256"), "invalid"),
    ],
    ids=[
        "expired",
        "wrong-secret",
        "no-sub",
        "no-exp",
        "spaces",
        "empty-sub",
        "garbage",
        "alg-none",
        "nul-in-sub",
        "newline-in-sub",
        "bidi-override-in-sub",
        "zero-width-in-sub",
        "lone-surrogate-sub",
        "sub-too-long",
        "sub-not-a-string",
    ],
)
async def test_bad_tokens_are_rejected(client: httpx.AsyncClient, token: str, reason: str) -> None:
    response = await client.get(f"{API}/memories", headers={"Authorization": f"Bearer {token}"})
    _assert_401(response, reason)


async def test_other_schemes_are_rejected(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{API}/memories", headers={"Authorization": "Basic YWxpY2U6cHc="})
    _assert_401(response, "Missing access token")


async def test_health_probes_need_no_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).status_code == 200
    assert (await client.get("/readyz")).status_code == 200
