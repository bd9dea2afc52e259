"""Write docs/api.md from a rendered service's OpenAPI document.

    python docs/gen_api.py openapi.json > docs/api.md

`tests/test_docs_site.py` renders a project with every option on, reads its OpenAPI and
fails when the committed page differs from what this writes.
"""

from __future__ import annotations

import json
import sys
from typing import Any

HEADER = """# API

Generated from the OpenAPI document of a render with every option on
(`include_cache`, `include_rate_limit`, `include_examples`) by `docs/gen_api.py`; a running
service shows the same at `/docs` and `/openapi.json`. Routes marked with an option exist
only in renders with it. Every route under `/api/v1` needs `Authorization: Bearer <JWT>`
(see [the security model](security.md)).
"""

OPTION_OF_PATH = {
    "/api/v1/memory/cache/stats": "include_cache",
    "/api/v1/chat": "include_examples",
}


def _schema_name(schema: dict[str, Any] | None) -> str:
    if not schema:
        return ""
    if "$ref" in schema:
        return "`" + schema["$ref"].rsplit("/", 1)[-1] + "`"
    if schema.get("type") == "array":
        return f"list of {_schema_name(schema.get('items'))}"
    return f"`{schema.get('type', 'object')}`"


def _body(operation: dict[str, Any]) -> str:
    content = operation.get("requestBody", {}).get("content", {})
    for media in content.values():
        return _schema_name(media.get("schema"))
    return ""


def render(spec: dict[str, Any]) -> str:
    lines = [HEADER]
    groups: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            tag = (operation.get("tags") or ["other"])[0]
            groups.setdefault(tag, []).append((method.upper(), path, operation))
    for tag in sorted(groups):
        lines.append(f"## {tag}\n")
        lines.append("| Method | Path | What it does | Body | Answers |")
        lines.append("| --- | --- | --- | --- | --- |")
        for method, path, operation in groups[tag]:
            summary = (operation.get("summary") or operation.get("operationId", "")).strip()
            if path in OPTION_OF_PATH:
                summary += f" ({OPTION_OF_PATH[path]})"
            answers = ", ".join(sorted(operation.get("responses", {})))
            lines.append(
                f"| `{method}` | `{path}` | {summary.replace('|', '/')} | {_body(operation)} "
                f"| {answers} |"
            )
        lines.append("")
    schemas = spec.get("components", {}).get("schemas", {})
    lines.append("## Schemas\n")
    for name in sorted(schemas):
        schema = schemas[name]
        lines.append(f"### `{name}`\n")
        description = " ".join((schema.get("description") or "").split())
        if description:
            lines.append(description + "\n")
        properties = schema.get("properties", {})
        if properties:
            required = set(schema.get("required", []))
            lines.append("| Field | Type | Required |")
            lines.append("| --- | --- | --- |")
            for field, spec_field in properties.items():
                kind = _schema_name(spec_field) or "`any`"
                if "anyOf" in spec_field:
                    kind = " or ".join(_schema_name(option) for option in spec_field["anyOf"])
                lines.append(f"| `{field}` | {kind} | {'yes' if field in required else ''} |")
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as handle:
        sys.stdout.write(render(json.load(handle)))
