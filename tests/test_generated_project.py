"""Run the rendered project's own tooling the way its owner would, in a real `uv sync`ed env.

Each render's tests share one xdist group, so they run in order on one worker, in one
synced copy of the render, while another worker handles the other render.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from conftest import Rendered, run_tool, tail

SyncedFn = Callable[[str], Rendered]

# Renders whose generated suite runs; every one of them is also linted and type-checked.
SUITE_RENDERS = ["default", "ollama", "chroma", "pinecone"]
# Renders that are only linted and type-checked: odd answers must still give clean code.
LINT_RENDERS = [*SUITE_RENDERS, "quirky"]

CHECKS = {
    "ruff-check": ["uv", "run", "ruff", "check", "."],
    "ruff-format": ["uv", "run", "ruff", "format", "--check", "."],
    "mypy": ["uv", "run", "mypy"],
}


def _cases(names: list[str]) -> list[pytest.param]:
    return [
        pytest.param(name, marks=pytest.mark.xdist_group(f"render-{name}"), id=name)
        for name in names
    ]


@pytest.mark.slow
@pytest.mark.parametrize("check", list(CHECKS))
@pytest.mark.parametrize("render_name", _cases(LINT_RENDERS))
def test_lint_and_types(render_name: str, check: str, synced_project: SyncedFn) -> None:
    project = synced_project(render_name)
    result = run_tool(CHECKS[check], project.path)
    if result.returncode != 0:
        pytest.fail(
            f"`{' '.join(CHECKS[check])}` failed in the {render_name} render "
            f"(exit {result.returncode}):\n{tail(result.stdout + result.stderr)}",
            pytrace=False,
        )


@pytest.mark.slow
@pytest.mark.parametrize("render_name", _cases(SUITE_RENDERS))
def test_generated_suite_passes(render_name: str, synced_project: SyncedFn) -> None:
    project = synced_project(render_name)
    cmd = ["uv", "run", "pytest", "-q", "-p", "no:cacheprovider"]
    result = run_tool(cmd, project.path)
    if result.returncode != 0:
        pytest.fail(
            f"the generated test suite failed in the {render_name} render "
            f"(exit {result.returncode}):\n{tail(result.stdout + result.stderr, 120)}",
            pytrace=False,
        )
