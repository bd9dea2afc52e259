"""harness.py's own tests: the matrix it renders, the tree hash that dedupes tools, the render
cache and the tool runner."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import yaml
import harness
import pytest
from harness import (
    ANSWERS_FILE,
    MATRIX,
    MEMORY_MODES,
    OPTIONS,
    TEMPLATE_ROOT,
    missing_dependencies,
    render_cached,
    tool_result,
    tree_hash,
)


def test_matrix_covers_every_mode_and_option() -> None:
    config = yaml.safe_load((TEMPLATE_ROOT / "copier.yml").read_text())
    assert set(MEMORY_MODES) == set(config["memory_mode"]["choices"].values())
    assert {name for name, spec in config.items() if name.startswith("include_")} == set(OPTIONS)
    assert all(config[name]["type"] == "bool" for name in OPTIONS)
    assert len(MATRIX) == len(MEMORY_MODES) * 2 ** len(OPTIONS)
    combinations = {tuple(sorted(data.items())) for data in MATRIX.values()}
    assert len(combinations) == len(MATRIX), "two matrix names render the same answers"


def _tree(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "main.py").write_text("print('hello')\n")
    (root / "run.sh").write_text("#!/bin/sh\n")
    (root / "run.sh").chmod(0o755)
    (root / ANSWERS_FILE).write_text("memory_mode: qdrant\n")
    return root


def test_tree_hash_ignores_only_the_answers_file(tmp_path: Path) -> None:
    base = tree_hash(_tree(tmp_path / "base"))

    same = _tree(tmp_path / "answers")
    (same / ANSWERS_FILE).write_text("memory_mode: qdrant\ninclude_cache: true\n")
    (same / ".venv").mkdir()  # tool output is not part of the tree
    (same / ".venv" / "x").write_text("x")
    assert tree_hash(same) == base

    def changed(name: str, edit: Callable[[Path], object]) -> str:
        root = _tree(tmp_path / name)
        edit(root)
        return tree_hash(root)

    variants = {
        "content": changed("content", lambda r: (r / "pkg" / "main.py").write_text("print('bye')\n")),
        "mode": changed("mode", lambda r: (r / "run.sh").chmod(0o644)),
        "added": changed("added", lambda r: (r / "pkg" / "cache.py").write_text("")),
        "renamed": changed("renamed", lambda r: (r / "pkg" / "main.py").rename(r / "pkg" / "app.py")),
        "empty-dir": changed("empty-dir", lambda r: (r / "examples").mkdir()),
        "removed": changed("removed", lambda r: shutil.rmtree(r / "pkg")),
        "symlink": changed("symlink", lambda r: os.symlink("pkg/main.py", r / "link.py")),
    }
    for what, digest in variants.items():
        assert digest != base, f"tree_hash missed a {what} change"
    assert len(set(variants.values())) == len(variants)


def test_each_answer_set_is_rendered_once_and_a_crashed_render_is_redone(tmp_path: Path) -> None:
    copies: list[dict[str, object]] = []

    def copy(data: dict[str, object], dst: Path) -> None:
        copies.append(data)
        dst.mkdir()
        (dst / ANSWERS_FILE).write_text(f"memory_mode: {data['memory_mode']}\n")
        (dst / "main.py").write_text("print('hello')\n")

    first = render_cached(tmp_path, {"memory_mode": "qdrant"}, copy)
    again = render_cached(tmp_path, {"memory_mode": "qdrant"}, copy)
    other = render_cached(tmp_path, {"memory_mode": "chroma"}, copy)
    assert copies == [{"memory_mode": "qdrant"}, {"memory_mode": "chroma"}]
    assert first == again
    assert other.path != first.path
    assert other.tree == first.tree  # the answers file is not part of the tree

    def crash(data: dict[str, object], dst: Path) -> None:
        dst.mkdir()
        raise RuntimeError("copier failed halfway")

    with pytest.raises(RuntimeError):
        render_cached(tmp_path, {"memory_mode": "pinecone"}, crash)
    redone = render_cached(tmp_path, {"memory_mode": "pinecone"}, copy)
    assert (redone.path / "main.py").is_file()
    assert copies[-1] == {"memory_mode": "pinecone"}


def test_a_tool_runs_once_per_tree_and_its_result_is_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = tmp_path / "runs.txt"
    monkeypatch.setattr(harness, "SYNC_COMMAND", ["sh", "-c", f"echo sync >> {runs}"])
    monkeypatch.setattr(
        harness,
        "TOOL_COMMANDS",
        {"ok": ["sh", "-c", f"echo ok >> {runs}; echo checked"], "bad": ["sh", "-c", "exit 3"]},
    )

    def copy(data: dict[str, object], dst: Path) -> None:
        dst.mkdir()
        (dst / ANSWERS_FILE).write_text(f"name: {data['name']}\n")

    one = render_cached(tmp_path, {"name": "one"}, copy)
    two = render_cached(tmp_path, {"name": "two"}, copy)  # same tree
    first = tool_result(tmp_path, one, "one", "ok")
    second = tool_result(tmp_path, two, "two", "ok")
    assert first.ok and "checked" in first.output
    assert second == first  # read back, not run again
    assert second.ran_in == "one"
    assert runs.read_text().split() == ["sync", "ok"]
    failed = tool_result(tmp_path, two, "two", "bad")
    assert failed.returncode == 3
    assert "exit 3" in failed.describe("two")
    assert runs.read_text().split() == ["sync", "ok"]  # one sync per tree


GROUPED_TESTS = """
import os
from pathlib import Path

import pytest


@pytest.mark.parametrize(
    "n", [pytest.param(n, marks=pytest.mark.xdist_group(f"g{n % 2}")) for n in range(8)]
)
def test_grouped(n):
    ran = Path(__file__).parent / "ran"
    ran.mkdir(exist_ok=True)
    (ran / str(n)).write_text(f"g{n % 2} {os.environ['PYTEST_XDIST_WORKER']}")
"""


def test_xdist_groups_stay_on_one_worker(tmp_path: Path) -> None:
    """`--dist loadgroup` must really group: the scheduling of the tool tests relies on it.

    (pytest 9.2 with pytest-xdist 3.8 silently ignores the groups: pytest-xdist#1386.)
    """
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_grouped.py").write_text(GROUPED_TESTS)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-p", "no:cacheprovider",
         "-q", "test_grouped.py"],
        cwd=tmp_path,
        env={key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    workers: dict[str, set[str]] = {}
    for record in (tmp_path / "ran").iterdir():
        group, worker = record.read_text().split()
        workers.setdefault(group, set()).add(worker)
    assert set(workers) == {"g0", "g1"}, result.stdout
    split = {group: sorted(names) for group, names in workers.items() if len(names) > 1}
    assert not split, f"xdist_group did not keep groups on one worker: {split}"


def test_a_skip_for_a_missing_program_is_read_from_a_real_pytest_summary(tmp_path: Path) -> None:
    """The rendered suites' skip reason, as pytest prints it with -q -ra (rendered addopts)."""
    (tmp_path / "conftest.py").write_text(
        "import pytest\n\n\n"
        "@pytest.fixture\n"
        "def redis_url():\n"
        "    pytest.skip(\n"
        "        'missing system dependency: redis-server '\n"
        "        '(apt-get install redis-server, or brew install redis)'\n"
        "    )\n"
    )
    (tmp_path / "test_it.py").write_text(
        "import pytest\n\n\n"
        "def test_uses_redis(redis_url): pass\n\n\n"
        "def test_also_uses_redis(redis_url): pass\n\n\n"
        "def test_other(): pytest.skip('a vector-store server admits many processes')\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-ra", "-p", "no:cacheprovider", "-p", "no:xdist"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "80"},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert missing_dependencies(result.stdout) == [
        "redis-server (apt-get install redis-server, or brew install redis)"
    ]
    assert missing_dependencies(result.stdout.replace("missing system", "absent system")) == []
