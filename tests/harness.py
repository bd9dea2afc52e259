"""The template suite's machinery: the answer matrix, the render cache and the tool runner.

Copier is quick (a fraction of a second per render); the tools that run in a render
(`uv sync`, ruff, mypy, the generated suite) are not. So:

- every answer combination is rendered ONCE per test run, into a directory shared by all
  pytest-xdist workers, under a file lock keyed by the answers (`render_cached`);
- each render knows its tree hash: a digest of every file (path, executable bit, bytes)
  except `.copier-answers.yml`. Renders with the same hash are the same project, so the
  tools run ONCE per distinct tree (`tool_result`), in a separate copy of the render synced
  once, and the result is kept in a results file keyed by the tree hash in the shared
  directory, under a file lock. Every combination still has its own test ids, which look
  up the result of its tree; the static checks never see `.venv`, caches or `uv.lock`.

Renders come from a snapshot of the template's working tree (tracked and untracked files,
minus what .gitignore ignores), copied to a plain directory: uncommitted changes are
tested, and copier never picks an older release tag instead of the working tree.
`conftest.py` turns these into fixtures; `test_harness.py` tests them.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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

MEMORY_MODES = ["qdrant", "chroma", "pinecone", "hosted"]
OPTIONS = ["include_cache", "include_rate_limit", "include_examples"]


def matrix_name(mode: str, options: dict[str, bool]) -> str:
    """`qdrant-none`, `chroma-cache+examples`, `hosted-cache+rate_limit+examples`, ..."""
    on = [name.removeprefix("include_") for name in OPTIONS if options[name]]
    return f"{mode}-{'+'.join(on) or 'none'}"


def all_options(mode: str, value: bool) -> str:
    """The matrix name of `mode` with every option off (False) or on (True)."""
    return matrix_name(mode, dict.fromkeys(OPTIONS, value))


# The matrix: every memory mode x every combination of the yes/no options, answers given
# explicitly (model_provider and the rest take their defaults).
MATRIX: dict[str, dict[str, Any]] = {
    matrix_name(mode, options): {"memory_mode": mode, **options}
    for mode in MEMORY_MODES
    for options in (
        dict(zip(OPTIONS, flags, strict=True))
        for flags in itertools.product([False, True], repeat=len(OPTIONS))
    )
}

# Answer combinations the suite renders; tests refer to them by name.
RENDERS: dict[str, dict[str, Any]] = {
    "default": {},
    "acme": {"project_name": "Acme Recall"},
    "ollama": {"model_provider": "ollama"},
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
        # The longest package name the validator allows, with every option's files.
        "project_slug": "quirky_recall_service_of_32_char",
        "include_cache": True,
        "include_rate_limit": True,
        "include_examples": True,
    },
    **MATRIX,
}

ANSWERS_FILE = ".copier-answers.yml"

# Directories created by tools inside a render; never part of the rendered tree.
TOOL_DIRS = {".venv", ".git", ".mypy_cache", ".ruff_cache", ".pytest_cache", "__pycache__"}

SYNC_TIMEOUT = 900
TOOL_TIMEOUT = 900

# What `tree_tool` runs in a synced render, by check name.
TOOL_COMMANDS: dict[str, list[str]] = {
    "ruff-check": ["uv", "run", "ruff", "check", "."],
    "ruff-format": ["uv", "run", "ruff", "format", "--check", "."],
    "mypy": ["uv", "run", "mypy"],
    "suite": ["uv", "run", "pytest", "-q", "-p", "no:cacheprovider"],
    # The generated suite without its `durability` tests (kill -9, a 20-second outage,
    # SIGTERM, the scaled topology: real processes, a minute or two per render), and on
    # embedded Chroma only (its suite otherwise runs twice, the second time on a Chroma
    # server). Renders that differ from a suite render only in their options run this: the
    # durability tests and the Chroma server still run once per mode (test_generated_project.py).
    "suite-core": [
        "env", "TEST_CHROMA_STORES=embedded",
        "uv", "run", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not durability",
    ],
}
SYNC_COMMAND = ["uv", "sync"]


def shared_root_of(tmp_path_factory: pytest.TempPathFactory) -> Path:
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


def run_tool(
    cmd: list[str], cwd: Path, timeout: int = TOOL_TIMEOUT
) -> subprocess.CompletedProcess[str]:
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


def tree_hash(root: Path) -> str:
    """Digest of a rendered tree: every path, its kind, executable bit and bytes.

    `.copier-answers.yml` is left out (it differs between answer combinations that render
    the same project), and so is tool output. Two renders with the same hash are the same
    project to uv, ruff, mypy and pytest.
    """
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if rel.as_posix() == ANSWERS_FILE or TOOL_DIRS.intersection(rel.parts):
            continue
        if path.is_symlink():
            entry = [b"link", os.readlink(path).encode()]
        elif path.is_file():
            executable = b"x" if path.stat().st_mode & 0o111 else b"-"
            entry = [b"file", executable, hashlib.sha256(path.read_bytes()).hexdigest().encode()]
        elif path.is_dir():
            entry = [b"dir"]
        else:
            entry = [b"other"]
        digest.update(b"\0".join([rel.as_posix().encode(), *entry]) + b"\n")
    return digest.hexdigest()


@dataclass(frozen=True)
class Rendered:
    path: Path
    data: dict[str, Any]
    tree: str  # tree_hash() of the pristine render

    @property
    def answers(self) -> dict[str, Any]:
        loaded = yaml.safe_load((self.path / ANSWERS_FILE).read_text())
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


RenderCopy = Callable[[dict[str, Any], Path], None]
"""Renders `data` into a directory that does not exist yet (conftest: through pytest-copie)."""


def render_cached(shared_root: Path, data: dict[str, Any], copy: RenderCopy) -> Rendered:
    """The render of `data`, made once per run under `shared_root/renders` for every worker."""
    key = answers_key(data)
    dst = shared_root / "renders" / key
    dst.parent.mkdir(exist_ok=True)
    tree_file = dst.with_name(key + ".tree")
    with FileLock(str(dst) + ".lock"):
        if not dst.exists():
            partial = dst.with_name(key + ".partial")
            if partial.exists():
                shutil.rmtree(partial)
            copy(data, partial)
            tree_file.write_text(tree_hash(partial))
            partial.rename(dst)
    return Rendered(dst, data, tree_file.read_text())


def snapshot_template(shared_root: Path) -> Path:
    """The template's working tree as a plain (non-git) directory, made once per run."""
    snapshot = shared_root / "template-snapshot"
    with FileLock(str(shared_root / "template-snapshot.lock")):
        if not (snapshot / ".complete").exists():
            if snapshot.exists():
                shutil.rmtree(snapshot)
            copy_template_tree(snapshot)
            (snapshot / ".complete").touch()
    return snapshot


@dataclass(frozen=True)
class ToolResult:
    """One tool run in the synced copy of a distinct tree, as recorded in the results file."""

    command: str
    returncode: int
    output: str  # the tail of stdout + stderr
    seconds: float
    ran_in: str  # the render whose test asked first; its copy is where the tool ran
    tree: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def describe(self, render_name: str) -> str:
        where = ""
        if self.ran_in != render_name:
            where = f"; run once for the tree, by the {self.ran_in} render"
        return (
            f"`{self.command}` failed in the {render_name} render "
            f"(exit {self.returncode}, tree {self.tree[:12]}{where}):\n{self.output}"
        )


def _timed_tool(cmd: list[str], cwd: Path, timeout: int) -> tuple[int, str, float]:
    started = time.monotonic()
    try:
        result = run_tool(cmd, cwd, timeout=timeout)
        returncode, output = result.returncode, result.stdout + result.stderr
    except subprocess.TimeoutExpired as exc:
        parts = [part.decode(errors="replace") if isinstance(part, bytes) else part or ""
                 for part in (exc.stdout, exc.stderr)]
        returncode, output = -1, "".join(parts) + f"\n(timed out after {timeout} s)"
    return returncode, output, time.monotonic() - started


def _write_json(path: Path, value: dict[str, Any]) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(value, indent=1))
    os.replace(partial, path)  # readers never see half a file


def trees_dir(root: Path) -> Path:
    return root / "trees"


def _log_lookup(home: Path, name: str, check: str, waited: float) -> None:
    """One line per lookup, for the summary: who asked, on which worker, how long it waited."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    with (home / "lookups.txt").open("a") as lookups:  # one short append: atomic enough
        lookups.write(f"{name} {check} {worker} {waited:.1f}\n")


def extra_args(check: str, shared_root: Path) -> list[str]:
    """mypy keeps one cache per xdist worker for all the trees that worker checks.

    Most of mypy's time goes to the same third-party packages in every tree; its cache
    revalidates every module by content hash (the trees' paths differ) and never caches a
    module with errors, so a shared cache cannot hide one. One cache per worker: a worker
    runs one tool at a time, so no two mypy processes write the same cache.
    """
    if check != "mypy":
        return []
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return ["--cache-dir", str(shared_root / "mypy-cache" / worker)]


def tool_result(shared_root: Path, pristine: Rendered, name: str, check: str) -> ToolResult:
    """The result of TOOL_COMMANDS[check] for the tree of `pristine` (the `name` render).

    The first caller for a tree copies the pristine render to `trees/<hash>/project`, runs
    `uv sync` there and records it; the first caller for a check runs it and records it in
    `trees/<hash>/<check>.json`. Everyone else (any xdist worker) reads the recorded result.
    A lock per tree serializes the runs in one copy. A failed `uv sync` is recorded too:
    every check of that tree then fails with its output.
    """
    tree = pristine.tree
    home = trees_dir(shared_root) / tree
    home.mkdir(parents=True, exist_ok=True)
    result_file = home / f"{check}.json"
    if result_file.exists():  # written atomically: complete or absent
        _log_lookup(home, name, check, waited=0.0)
        return ToolResult(**json.loads(result_file.read_text()))
    asked = time.monotonic()
    with FileLock(str(home) + ".lock"):
        _log_lookup(home, name, check, waited=time.monotonic() - asked)
        if not result_file.exists():
            work = home / "project"
            sync_file = home / "sync.json"
            if not sync_file.exists():
                if work.exists():
                    shutil.rmtree(work)
                shutil.copytree(pristine.path, work, symlinks=True)
                code, output, seconds = _timed_tool(SYNC_COMMAND, work, SYNC_TIMEOUT)
                _write_json(sync_file, {"command": " ".join(SYNC_COMMAND), "returncode": code,
                                        "output": tail(output), "seconds": seconds,
                                        "ran_in": name, "tree": tree})
            sync = ToolResult(**json.loads(sync_file.read_text()))
            if not sync.ok:
                return sync
            cmd = TOOL_COMMANDS[check] + extra_args(check, shared_root)
            code, output, seconds = _timed_tool(cmd, work, TOOL_TIMEOUT)
            _write_json(result_file, {"command": " ".join(cmd), "returncode": code,
                                      "output": tail(output, 120), "seconds": seconds,
                                      "ran_in": name, "tree": tree})
    return ToolResult(**json.loads(result_file.read_text()))


MISSING_DEPENDENCY = "missing system dependency: "
"""How a rendered suite's skip reason starts when a program it needs is not installed."""


def missing_dependencies(suite_output: str) -> list[str]:
    """What the skip reasons in a rendered suite's `-ra` summary say is not installed."""
    return sorted(
        {
            line.split(MISSING_DEPENDENCY, 1)[1].strip()
            for line in suite_output.splitlines()
            if line.startswith("SKIPPED") and MISSING_DEPENDENCY in line
        }
    )


def summary_lines(trees: Path) -> tuple[list[str], float]:
    """One line per distinct tree the tools ran in, and the tool time in all."""
    lines = []
    total = 0.0
    for home in sorted(path for path in trees.iterdir() if path.is_dir()):
        runs = {path.stem: json.loads(path.read_text()) for path in home.glob("*.json")}
        if "sync" not in runs:
            continue
        total += sum(run["seconds"] for run in runs.values())
        log = home / "lookups.txt"
        lookups = [line.split() for line in log.read_text().splitlines()] if log.exists() else []
        names = {lookup[0] for lookup in lookups}
        workers = ",".join(sorted({lookup[2] for lookup in lookups}))
        waited = sum(float(lookup[3]) for lookup in lookups)
        ordered = sorted(runs.items(), key=lambda item: -item[1]["seconds"])
        steps = ", ".join(
            f"{step} {run['seconds']:.0f}s" + ("" if run["returncode"] == 0 else " FAILED")
            for step, run in ordered
        )
        shared = f" (+{len(names) - 1} same tree)" if len(names) > 1 else ""
        wait = f"; waited {waited:.0f}s for another worker" if waited >= 1 else ""
        lines.append(f"{home.name[:12]} {runs['sync']['ran_in']}{shared} on {workers}: {steps}{wait}")
    return lines, total


# --- Headless Chromium (Debian's package), for the browser checks -------------------------

BROWSER_TIMEOUT = 60


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    reason = "missing system dependency: chromium (apt-get install chromium)"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run the browser checks")
    pytest.skip(reason)


def dump_dom(url: str, tmp_path: Path) -> str:
    """The page's DOM once its scripts ran (Chromium's virtual time lets them finish)."""
    result = subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'chromium-profile'}",
            "--virtual-time-budget=15000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=BROWSER_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout
