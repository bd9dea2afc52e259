"""Fixtures for the template's own test suite (the machinery behind them: harness.py).

Rendering goes through pytest-copie's session fixture (`copie_session`), with the render
cache of harness.py on top: each answer combination is rendered once per run for all
pytest-xdist workers, and the tools run once per distinct rendered tree.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from harness import (
    RENDERS,
    Rendered,
    ToolResult,
    render_cached,
    shared_root_of,
    snapshot_template,
    summary_lines,
    tool_result,
    trees_dir,
)
from pytest_copie.plugin import Copie


def pytest_configure(config: pytest.Config) -> None:
    # No user-level copier settings (defaults, trusted repositories) reach the renders.
    os.environ["COPIER_SETTINGS_PATH"] = str(Path(__file__).with_name("copier-settings.yml"))


@pytest.fixture(scope="session")
def shared_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_root_of(tmp_path_factory)


@pytest.fixture(scope="session")
def template_snapshot(shared_root: Path) -> Path:
    """The template's working tree as a plain (non-git) directory, made once per run."""
    return snapshot_template(shared_root)


@pytest.fixture(scope="session")
def render(
    shared_root: Path, template_snapshot: Path, copie_session: Copie
) -> Callable[[dict[str, Any]], Rendered]:
    """`render(data)`: the project copier renders for these answers (cached per run)."""

    def _copy(data: dict[str, Any], dst: Path) -> None:
        result = copie_session.copy(extra_answers=data, template_dir=template_snapshot)
        if result.exception is not None:
            raise result.exception
        assert result.project_dir is not None
        shutil.move(result.project_dir, dst)

    def _render(data: dict[str, Any]) -> Rendered:
        return render_cached(shared_root, data, _copy)

    return _render


@pytest.fixture(scope="session")
def default_project(render: Callable[[dict[str, Any]], Rendered]) -> Rendered:
    return render(RENDERS["default"])


@pytest.fixture(scope="session")
def tree_tool(
    shared_root: Path, render: Callable[[dict[str, Any]], Rendered]
) -> Callable[[str, str], ToolResult]:
    """`tree_tool(render_name, check)`: the result of TOOL_COMMANDS[check] for that render's
    tree, run once per distinct tree (see `harness.tool_result`)."""

    def _result(name: str, check: str) -> ToolResult:
        return tool_result(shared_root, render(RENDERS[name]), name, check)

    return _result


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Where the tool time went: one line per distinct tree the tools ran in."""
    factory = getattr(config, "_tmp_path_factory", None)
    if factory is None or os.environ.get("PYTEST_XDIST_WORKER"):
        return
    trees = trees_dir(factory.getbasetemp())
    if not trees.is_dir():
        return
    lines, total = summary_lines(trees)
    if lines:
        title = f"tool runs: {len(lines)} distinct trees, {total:.0f}s of tool time"
        terminalreporter.write_sep("-", title)
        for line in lines:
            terminalreporter.write_line(line)
