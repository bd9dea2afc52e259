"""/docs works offline: Swagger UI's page and assets come from this service, not a CDN."""

import re

import httpx
import pytest

pytestmark = pytest.mark.anyio

TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png"}


async def test_the_docs_page_loads_only_assets_this_service_serves(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert assets, page.text
    assert not [url for url in assets if "://" in url or url.startswith("//")], assets
    assert "'/openapi.json'" in page.text or '"/openapi.json"' in page.text
    for url in assets:
        response = await client.get(url)
        assert response.status_code == 200, url
        suffix = url[url.rindex(".") :]
        assert TYPES[suffix] in response.headers["content-type"], (url, response.headers)
        assert response.content


async def test_redoc_is_off_since_it_would_need_a_cdn(client: httpx.AsyncClient) -> None:
    assert (await client.get("/redoc")).status_code == 404
    assert (await client.get("/openapi.json")).status_code == 200
