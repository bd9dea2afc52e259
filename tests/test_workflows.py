"""The GitHub workflows (the template's and every rendered one), Dependabot and the Dockerfile,
checked as a reviewer and an attacker would: the workflow schema (check-jsonschema's
vendored copy, no network), zizmor's security audits (offline) and hadolint.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from harness import MEMORY_MODES, RENDERS, TEMPLATE_ROOT, Rendered, all_options

RenderFn = Callable[[dict[str, Any]], Rendered]
BIN = Path(sys.executable).parent
# Every mode with every option on, the defaults and the newest Python.
RENDERED = [all_options(mode, True) for mode in MEMORY_MODES] + ["default", "py313"]
TEMPLATE_WORKFLOWS = sorted((TEMPLATE_ROOT / ".github" / "workflows").glob("*.yml"))


def _tool(name: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    executable = shutil.which(name, path=str(BIN)) or shutil.which(name)
    assert executable, f"{name} is not installed (a dev dependency: uv sync)"
    return subprocess.run(
        [executable, *map(str, args)], capture_output=True, text=True, timeout=120, check=False
    )


def _assert_clean(result: subprocess.CompletedProcess[str], what: str) -> None:
    assert result.returncode == 0, f"{what}:\n{result.stdout}{result.stderr}"


def _zizmor(*paths: Path) -> subprocess.CompletedProcess[str]:
    return _tool("zizmor", "--offline", "--no-progress", *paths)


def test_the_template_has_workflows_and_dependabot() -> None:
    assert [path.name for path in TEMPLATE_WORKFLOWS] == ["template.yml"]
    assert (TEMPLATE_ROOT / ".github" / "dependabot.yml").is_file()


@pytest.mark.parametrize("path", TEMPLATE_WORKFLOWS, ids=lambda path: path.name)
def test_template_workflows_follow_the_schema_and_pass_zizmor(path: Path) -> None:
    _assert_clean(
        _tool("check-jsonschema", "--builtin-schema", "vendor.github-workflows", path), "schema"
    )
    _assert_clean(_zizmor(path), "zizmor")


def test_template_dependabot_follows_the_schema() -> None:
    path = TEMPLATE_ROOT / ".github" / "dependabot.yml"
    _assert_clean(_tool("check-jsonschema", "--builtin-schema", "vendor.dependabot", path), path.name)


def test_the_template_workflow_tests_a_sample_of_every_mode_and_runs_the_suite() -> None:
    workflow = yaml.safe_load((TEMPLATE_ROOT / ".github" / "workflows" / "template.yml").read_text())
    config = yaml.safe_load((TEMPLATE_ROOT / "copier.yml").read_text())
    modes = set(config["memory_mode"]["choices"].values())
    assert set(workflow["jobs"]["sample"]["strategy"]["matrix"]["memory-mode"]) == modes
    suite = " ".join(step.get("run", "") for step in workflow["jobs"]["suite"]["steps"])
    assert "uv run pytest" in suite  # the README's (and .ci/run's) command
    sample = " ".join(step.get("run", "") for step in workflow["jobs"]["sample"]["steps"])
    for command in ("copier copy", "ruff check", "mypy", "uv run pytest"):
        assert command in sample
    uses = [step["uses"] for step in workflow["jobs"]["sample"]["steps"] if "uses" in step]
    assert any(action.startswith("actions/upload-artifact@") for action in uses)


@pytest.mark.parametrize("name", RENDERED)
def test_rendered_workflow_follows_the_schema_and_passes_zizmor(render: RenderFn, name: str) -> None:
    project = render(RENDERS[name]).path
    workflow = project / ".github" / "workflows" / "ci.yml"
    _assert_clean(
        _tool("check-jsonschema", "--builtin-schema", "vendor.github-workflows", workflow),
        f"{name}: schema",
    )
    dependabot = project / ".github" / "dependabot.yml"
    _assert_clean(
        _tool("check-jsonschema", "--builtin-schema", "vendor.dependabot", dependabot),
        f"{name}: dependabot schema",
    )
    _assert_clean(_zizmor(workflow), f"{name}: zizmor")
    steps = " ".join(
        step.get("run", "") for job in yaml.safe_load(workflow.read_text())["jobs"].values()
        for step in job["steps"]
    )
    for command in ("uv run ruff check", "uv run mypy", "uv run pytest", "uv sync --locked"):
        assert command in steps, f"{name}: the workflow no longer runs {command!r}"


@pytest.mark.parametrize("name", RENDERED)
def test_rendered_dockerfile_passes_hadolint(render: RenderFn, name: str) -> None:
    dockerfile = render(RENDERS[name]).path / "Dockerfile"
    _assert_clean(_tool("hadolint", "--no-color", dockerfile), f"{name}: hadolint")
    assert "--locked" in dockerfile.read_text()  # a committed uv.lock is what gets installed


def test_the_checks_catch_what_they_are_for(tmp_path: Path) -> None:
    """Each checker fails on the kind of mistake it is here for (so a pass means something)."""
    unpinned = tmp_path / "unpinned.yml"
    unpinned.write_text(
        "name: x\non: push\npermissions: {}\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - uses: actions/checkout@v4\n"
    )
    assert _zizmor(unpinned).returncode != 0
    broken = tmp_path / "broken.yml"
    broken.write_text("name: x\non: push\njobs:\n  a:\n    steps: []\n")  # no runs-on
    schema = _tool("check-jsonschema", "--builtin-schema", "vendor.github-workflows", broken)
    assert schema.returncode != 0
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM python:latest\nRUN apt-get install curl\n")
    assert _tool("hadolint", "--no-color", dockerfile).returncode != 0
