"""`/docs`: Swagger UI from files this service serves itself.

FastAPI's default page loads Swagger UI from a CDN, so it stays blank offline, on a network
that blocks the CDN, or under a Content-Security-Policy that allows only this origin. Here
the assets come from the `swagger-ui-bundle-v2` package (Swagger UI's own release files) and
are served under `/docs/assets`. ReDoc, which would need its CDN too, is off.
"""

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

DOCS = "/docs"
ASSETS = f"{DOCS}/assets"


def add_api_docs(app: FastAPI) -> None:
    """Serve the interactive API docs at /docs (the OpenAPI document stays at /openapi.json)."""
    app.mount(ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get(DOCS, include_in_schema=False)
    async def api_docs(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - API docs",
            swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS}/favicon-32x32.png",
        )
