"""Browser clients: a preflight from an allowed origin passes, any other origin gets nothing."""

from pathlib import Path
from typing import Any

import httpx
import pydantic
import pytest

from tests.conftest import auth_headers, make_settings, serve
from tests.helpers import API

pytestmark = pytest.mark.anyio

ALLOWED = "https://app.example.com"
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
}


async def test_an_allowed_origin_may_call_the_api_from_a_browser(
    service_overrides: dict[str, Any], tmp_path: Path
) -> None:
    settings = make_settings(
        tmp_path, **service_overrides, cors_allow_origins=f"{ALLOWED}, http://localhost:5173"
    )
    async with serve(settings) as http:
        preflight = await http.options(f"{API}/search", headers={"Origin": ALLOWED, **PREFLIGHT})
        assert preflight.status_code == 200, preflight.text
        assert preflight.headers["access-control-allow-origin"] == ALLOWED
        allowed = preflight.headers["access-control-allow-headers"].lower()
        assert {"authorization", "content-type", "idempotency-key"} <= set(allowed.split(", "))
        assert "POST" in preflight.headers["access-control-allow-methods"]
        assert "access-control-allow-credentials" not in preflight.headers

        listed = await http.get(
            f"{API}/memories", headers={"Origin": ALLOWED, **auth_headers("cors-user")}
        )
        assert listed.status_code == 200
        assert listed.headers["access-control-allow-origin"] == ALLOWED
        assert "retry-after" in listed.headers["access-control-expose-headers"].lower()

        refused = await http.options(
            f"{API}/search", headers={"Origin": "https://evil.example.com", **PREFLIGHT}
        )
        assert refused.status_code == 400
        assert "access-control-allow-origin" not in refused.headers
        answered = await http.get(
            f"{API}/memories",
            headers={"Origin": "https://evil.example.com", **auth_headers("cors-user")},
        )
        assert "access-control-allow-origin" not in answered.headers


async def test_without_origins_no_cors_headers_are_sent(client: httpx.AsyncClient) -> None:
    preflight = await client.options(f"{API}/search", headers={"Origin": ALLOWED, **PREFLIGHT})
    assert preflight.status_code == 405  # no CORS: OPTIONS is just a method the route lacks
    assert "access-control-allow-origin" not in preflight.headers


@pytest.mark.parametrize(
    "origins", ["*", "https://app.example.com/", "https://app.example.com/path", "app.example.com"]
)
def test_what_is_not_an_exact_origin_is_refused(
    service_overrides: dict[str, Any], tmp_path: Path, origins: str
) -> None:
    with pytest.raises(pydantic.ValidationError, match="is not an origin"):
        make_settings(tmp_path, **service_overrides, cors_allow_origins=origins)
