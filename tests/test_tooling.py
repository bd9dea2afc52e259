"""The rendered project's day-one tooling: poe tasks, pre-commit, as its owner runs them."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from harness import GIT_IDENTITY, RENDERS, Rendered, ToolResult, git, tool_env, trees_dir

RenderFn = Callable[[dict[str, Any]], Rendered]


@pytest.mark.parametrize("name", ["default", "hosted-cache+rate_limit+examples"])
def test_every_task_the_readme_names_exists(render: RenderFn, name: str) -> None:
    project = render(RENDERS[name]).path
    tasks = tomllib.loads((project / "pyproject.toml").read_text())["tool"]["poe"]["tasks"]
    named = set(re.findall(r"uv run poe ([a-z-]+)", (project / "README.md").read_text()))
    assert named, "the README names no task"
    assert named <= set(tasks), named - set(tasks)
    assert {"test", "lint", "typecheck", "check", "cov"} <= set(tasks)


@pytest.mark.slow
def test_pre_commit_and_the_tasks_pass_on_a_fresh_render(
    tree_tool: Callable[[str, str], ToolResult],
    render: RenderFn,
    shared_root: Path,
    tmp_path: Path,
) -> None:
    synced = tree_tool("default", "ruff-check")  # the tree's synced environment
    assert synced.ok, synced.output
    pristine = render(RENDERS["default"])
    venv = trees_dir(shared_root) / pristine.tree / "project" / ".venv"
    project = tmp_path / "project"
    shutil.copytree(pristine.path, project)
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    env = {
        **tool_env(),
        **GIT_IDENTITY,
        "UV_PROJECT_ENVIRONMENT": str(venv),
        "PRE_COMMIT_HOME": str(shared_root / "pre-commit-home"),
    }

    def run(*command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["uv", "run", "--no-sync", *command], cwd=project, env=env, capture_output=True,
            text=True, timeout=900, check=False, stdin=subprocess.DEVNULL,
        )

    hooks = run("pre-commit", "run", "--all-files")
    assert hooks.returncode == 0, hooks.stdout[-4000:] + hooks.stderr[-2000:]
    assert "Failed" not in hooks.stdout
    for task in ("lint", "typecheck"):
        result = run("poe", task)
        assert result.returncode == 0, f"poe {task}:\n{result.stdout[-3000:]}{result.stderr[-2000:]}"
