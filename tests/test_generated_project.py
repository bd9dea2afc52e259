"""Run the rendered project's own tooling the way its owner would, in a real `uv sync`ed env.

Every combination of the matrix (memory mode x the yes/no options) is linted and
type-checked; for every mode, the all-on combination runs the whole generated suite (so every
option runs with every mode). The options' off side runs, without the `durability` tests
(kill -9, outages, SIGTERM, the scaled topology, which the all-on runs cover), in two all-off
renders: the hosted one and Ollama's (embedded Qdrant, the self-hosted code with the other
model provider). A store's code does not depend on the options (the few test fixtures that
combine a mode with an option are linted and type-checked in every combination), so the other
all-off renders would repeat those runs. Tools run once per distinct tree (see `tree_tool` in conftest.py): each test id below
asserts on the result recorded for its render's tree, so combinations that render the same
project share one run, and combinations that differ get their own.

Scheduling (`--dist loadgroup`): the tests of one memory mode share an xdist group, so a
mode's combinations run on one worker and never wait on each other's tree lock, while the
other worker handles another mode. The lock and the results file are what make the sharing
correct; the groups only keep the workers from waiting. The suite tests come first in this
file, so that a group's long runs start its turn and its quick lookups end it: xdist hands a
worker its next group when the current one is nearly done.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from harness import MATRIX, MEMORY_MODES, ToolResult, all_options, missing_dependencies

ToolFn = Callable[[str, str], ToolResult]

# Renders outside the matrix that also go through the tools: Ollama's settings and backend
# (suite too), and odd answers that must still give clean code (lint and types only).
EXTRA_SUITE_RENDERS = ["ollama"]
EXTRA_LINT_RENDERS = [*EXTRA_SUITE_RENDERS, "quirky"]

LINT_RENDERS = [*MATRIX, *EXTRA_LINT_RENDERS]
# The whole generated suite, durability tests included: the all-on render of every mode.
SUITE_RENDERS = [all_options(mode, True) for mode in MEMORY_MODES]
# The suite without its `durability` tests: every option off, hosted and self-hosted (Ollama's
# render is embedded Qdrant with every option off).
CORE_SUITE_RENDERS = [all_options("hosted", False), *EXTRA_SUITE_RENDERS]
CHECKS = ["ruff-check", "ruff-format", "mypy"]


def _group(name: str) -> str:
    return f"mode-{MATRIX[name]['memory_mode']}" if name in MATRIX else f"render-{name}"


def _cases(names: list[str]) -> list[pytest.param]:
    return [pytest.param(name, marks=pytest.mark.xdist_group(_group(name)), id=name) for name in names]


def _assert_ok(result: ToolResult, render_name: str) -> None:
    if not result.ok:
        pytest.fail(result.describe(render_name), pytrace=False)


def _assert_nothing_skipped_for_want_of_a_program(result: ToolResult, render_name: str) -> None:
    """A suite that skipped tests because a program is missing has not shown they pass."""
    if missing := missing_dependencies(result.output):
        pytest.fail(
            f"the {render_name} suite passed but skipped tests for a missing system "
            f"dependency: {'; '.join(missing)}. Install it (README.md lists the prerequisites).",
            pytrace=False,
        )


@pytest.mark.slow
@pytest.mark.parametrize("render_name", _cases(SUITE_RENDERS))
def test_generated_suite_passes(render_name: str, tree_tool: ToolFn) -> None:
    result = tree_tool(render_name, "suite")
    _assert_ok(result, render_name)
    _assert_nothing_skipped_for_want_of_a_program(result, render_name)


@pytest.mark.slow
@pytest.mark.parametrize("render_name", _cases(CORE_SUITE_RENDERS))
def test_generated_suite_passes_without_durability_tests(
    render_name: str, tree_tool: ToolFn
) -> None:
    result = tree_tool(render_name, "suite-core")
    _assert_ok(result, render_name)
    _assert_nothing_skipped_for_want_of_a_program(result, render_name)


@pytest.mark.slow
@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("render_name", _cases(LINT_RENDERS))
def test_lint_and_types(render_name: str, check: str, tree_tool: ToolFn) -> None:
    _assert_ok(tree_tool(render_name, check), render_name)
