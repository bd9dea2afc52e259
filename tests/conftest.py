"""Shared fixtures for the template's own test suite.

Renders are expensive (copier itself is quick, but `uv sync` in a render is not), so:

- every answer combination is rendered ONCE per test run, into a directory shared by all
  pytest-xdist workers, under a file lock keyed by the answers (`render`);
- a render that tools run in (uv sync, ruff, mypy, the generated suite) is a separate copy
  of the pristine render, synced once per run (`synced_project`), so the static checks
  never see `.venv`, caches or `uv.lock`.

Renders come from a snapshot of the template's working tree (tracked and untracked files,
minus what .gitignore ignores), copied to a plain directory: uncommitted changes are
tested, and copier never picks an older release tag instead of the working tree.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import copier
import pytest
import yaml
from filelock import FileLock

TEMPLATE_ROOT = Path(__file__).resolve().parent.parent

# Git identity for the commits copier and the tests make; set per call, never globally.
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Template Tests",
    "GIT_AUTHOR_EMAIL": "template-tests@example.com",
    "GIT_COMMITTER_NAME": "Template Tests",
    "GIT_COMMITTER_EMAIL": "template-tests@example.com",
}

# Answer combinations the suite renders; tests refer to them by name.
RENDERS: dict[str, dict[str, Any]] = {
    "default": {},
    "acme": {"project_name": "Acme Recall"},
    "ollama": {"model_provider": "ollama"},
    "chroma": {"memory_mode": "chroma"},
    "pinecone": {"memory_mode": "pinecone"},
    "py313": {"python_version": "3.13"},
    # Answers with characters that break naive templating: quotes, backslashes, non-ASCII,
    # a description longer than a line.
    "quirky": {
        "project_name": 'Bob\'s "Recall" Service',
        "description": (
            'Remembers "things" for O\'Brien, with a backslash \\ and a check mark \u2713, '
            "in a sentence long enough that it has to be wrapped where it lands in code."
        ),
        "author_name": "Zoë O'Brien",
    },
}

# Directories created by tools inside a render; never part of the rendered tree.
TOOL_DIRS = {".venv", ".git", ".mypy_cache", ".ruff_cache", ".pytest_cache", "__pycache__"}

SYNC_TIMEOUT = 900
TOOL_TIMEOUT = 900


def _shared_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory common to every xdist worker of this run (fresh for each run)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def answers_key(data: dict[str, Any]) -> str:
    blob = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def git_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, **GIT_IDENTITY, **extra}
    # No user or system git config (signing, hooks, default branch...) leaks into the tests.
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    env["GIT_CONFIG_GLOBAL"] = os.devnull
    return env


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", *args], cwd=cwd, env=git_env(), capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"git {' '.join(args)} failed in {cwd}:\n{result.stderr}"
    return result.stdout


def copy_template_tree(dst: Path) -> Path:
    """Copy the template's working tree (uncommitted changes included) to `dst`."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=TEMPLATE_ROOT,
        capture_output=True,
        check=False,
    )
    if listed.returncode == 0:
        dst.mkdir(parents=True)
        for name in sorted(set(listed.stdout.decode().split("\0")) - {""}):
            src = TEMPLATE_ROOT / name
            if not src.is_file():  # deleted in the working tree but still in the index
                continue
            target = dst / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
    else:  # not a git checkout (e.g. an unpacked archive)
        shutil.copytree(
            TEMPLATE_ROOT,
            dst,
            ignore=shutil.ignore_patterns(*TOOL_DIRS, "*.pyc", "tmp"),
        )
    return dst


def tool_env() -> dict[str, str]:
    """Environment for uv and the rendered project's tools: this suite's venv stays out."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTEST_", "UV_PROJECT", "PYTHON"))
        and key not in {"VIRTUAL_ENV", "UV_FROZEN", "UV_NO_SYNC", "UV_LOCKED"}
    }
    env["UV_PYTHON_DOWNLOADS"] = "never"
    return env


def run_tool(cmd: list[str], cwd: Path, timeout: int = TOOL_TIMEOUT) -> subprocess.CompletedProcess[str]:
    """Run `cmd` in a render with its own TMPDIR.

    A private TMPDIR keeps the rendered suite's pytest temp dirs (and their cleanup of
    old `pytest-N` dirs) away from this run's, and concurrent renders away from each other.
    """
    tmpdir = tempfile.mkdtemp(prefix="tpl-tool-")
    try:
        return subprocess.run(
            cmd,
            cwd=cwd,
            env={**tool_env(), "TMPDIR": tmpdir},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def tail(text: str, lines: int = 60) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


@dataclass(frozen=True)
class Rendered:
    path: Path
    data: dict[str, Any]

    @property
    def answers(self) -> dict[str, Any]:
        loaded = yaml.safe_load((self.path / ".copier-answers.yml").read_text())
        assert isinstance(loaded, dict)
        return loaded

    @property
    def slug(self) -> str:
        return str(self.answers["project_slug"])

    def files(self) -> Iterator[Path]:
        """Every file of the rendered tree (tool output excluded)."""
        for path in sorted(self.path.rglob("*")):
            rel = path.relative_to(self.path)
            if path.is_file() and not TOOL_DIRS.intersection(rel.parts):
                yield path


@pytest.fixture(scope="session")
def shared_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _shared_root(tmp_path_factory)


@pytest.fixture(scope="session")
def template_snapshot(shared_root: Path) -> Path:
    """The template's working tree as a plain (non-git) directory, made once per run."""
    snapshot = shared_root / "template-snapshot"
    with FileLock(str(shared_root / "template-snapshot.lock")):
        if not (snapshot / ".complete").exists():
            if snapshot.exists():
                shutil.rmtree(snapshot)
            copy_template_tree(snapshot)
            (snapshot / ".complete").touch()
    return snapshot


@pytest.fixture(scope="session")
def render(shared_root: Path, template_snapshot: Path) -> Callable[[dict[str, Any]], Rendered]:
    """`render(data)`: the project copier renders for these answers (cached per run)."""

    def _render(data: dict[str, Any]) -> Rendered:
        key = answers_key(data)
        dst = shared_root / "renders" / key
        dst.parent.mkdir(exist_ok=True)
        with FileLock(str(dst) + ".lock"):
            if not dst.exists():
                partial = dst.with_name(key + ".partial")
                if partial.exists():
                    shutil.rmtree(partial)
                copier.run_copy(
                    str(template_snapshot),
                    partial,
                    data=data,
                    defaults=True,
                    unsafe=False,
                    quiet=True,
                    settings=copier.Settings(),  # no user-level copier defaults
                )
                partial.rename(dst)
        return Rendered(dst, data)

    return _render


@pytest.fixture(scope="session")
def default_project(render: Callable[[dict[str, Any]], Rendered]) -> Rendered:
    return render(RENDERS["default"])


@pytest.fixture(scope="session")
def synced_project(
    shared_root: Path, render: Callable[[dict[str, Any]], Rendered]
) -> Callable[[str], Rendered]:
    """`synced_project(name)`: a copy of the render RENDERS[name] after `uv sync` (once per run).

    A failed sync is recorded, so that every test that needs it fails at once with the
    same output instead of syncing again.
    """

    def _synced(name: str) -> Rendered:
        pristine = render(RENDERS[name])
        work = shared_root / "work" / pristine.path.name
        work.parent.mkdir(exist_ok=True)
        done = work.with_name(work.name + ".synced")
        failed = work.with_name(work.name + ".sync-failed")
        with FileLock(str(work) + ".lock"):
            if not done.exists() and not failed.exists():
                if work.exists():
                    shutil.rmtree(work)
                shutil.copytree(pristine.path, work, symlinks=True)
                result = run_tool(["uv", "sync"], work, timeout=SYNC_TIMEOUT)
                if result.returncode == 0:
                    done.touch()
                else:
                    failed.write_text(tail(result.stdout + result.stderr))
        if failed.exists():
            pytest.fail(f"`uv sync` failed in the {name} render:\n{failed.read_text()}")
        return Rendered(work, pristine.data)

    return _synced
