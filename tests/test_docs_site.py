"""The documentation site: mkdocs-material over docs/, built with --strict; its API page is
what a render's OpenAPI says; its home page opens in headless Chromium."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from harness import (
    RENDERS,
    TEMPLATE_ROOT,
    Rendered,
    ToolResult,
    all_options,
    dump_dom,
    tool_env,
    trees_dir,
)

API_RENDER = all_options("qdrant", True)  # every route: all options on


def _build(site: Path, root: Path = TEMPLATE_ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(site)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        env={**tool_env(), "NO_MKDOCS_2_WARNING": "1"},
        check=False,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("site")
    built = _build(site)
    assert built.returncode == 0, built.stdout + built.stderr
    return site


def test_the_site_builds_strictly_with_every_page(site: Path) -> None:
    for page in ("index", "options", "modes", "architecture", "api", "security", "operations",
                 "updating", "benchmarks", "troubleshooting"):
        assert (site / page / "index.html").is_file() or (site / f"{page}.html").is_file(), page
    assert "fonts.googleapis.com" not in (site / "index.html").read_text()


def test_a_broken_link_fails_the_build(tmp_path: Path) -> None:
    root = tmp_path / "copy"
    shutil.copytree(TEMPLATE_ROOT / "docs", root / "docs")
    shutil.copy(TEMPLATE_ROOT / "mkdocs.yml", root / "mkdocs.yml")
    security = root / "docs" / "security.md"
    security.write_text(security.read_text() + "\nSee [nothing](no-such-page.md).\n")
    broken = _build(tmp_path / "site", root)
    assert broken.returncode != 0
    assert "no-such-page.md" in broken.stdout + broken.stderr


@pytest.mark.slow
def test_the_api_page_is_what_a_render_serves(
    tree_tool: Callable[[str, str], ToolResult],
    render: Callable[[dict[str, object]], Rendered],
    shared_root: Path,
    tmp_path: Path,
) -> None:
    synced = tree_tool(API_RENDER, "ruff-check")  # the tree's synced copy (once per run)
    assert synced.ok, synced.output
    project = trees_dir(shared_root) / render(RENDERS[API_RENDER]).tree / "project"
    dump = (
        "import json\n"
        "from memory_service.main import create_app\n"
        "from memory_service.settings import Settings\n"
        "print(json.dumps(create_app(Settings(_env_file=None)).openapi()))\n"
    )
    env = {
        key: value for key, value in tool_env().items() if not key.startswith(("MEMORY_", "JWT_"))
    }
    result = subprocess.run(
        [str(project / ".venv" / "bin" / "python"), "-c", dump],
        cwd=tmp_path,
        env={**env, "JWT_SECRET": "x" * 40, "OPENAI_API_KEY": "not-used"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    spec = tmp_path / "openapi.json"
    spec.write_text(result.stdout)
    assert json.loads(result.stdout)["paths"]
    generated = subprocess.run(
        [sys.executable, str(TEMPLATE_ROOT / "docs" / "gen_api.py"), str(spec)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    committed = (TEMPLATE_ROOT / "docs" / "api.md").read_text()
    assert generated == committed, (
        "docs/api.md is stale: regenerate it with docs/gen_api.py from a render's OpenAPI"
    )


@pytest.fixture
def served_site(site: Path) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "-d", str(site)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(base, timeout=1):
                    break
            except (urllib.error.URLError, OSError):
                assert time.monotonic() < deadline, "the site server did not start"
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.slow
def test_the_home_page_opens_in_chromium(served_site: str, tmp_path: Path) -> None:
    dom = dump_dom(served_site, tmp_path)
    assert "Getting started" in dom
    for entry in ("Memory modes", "Security model", "Troubleshooting"):
        assert entry in dom, f"the navigation lacks {entry!r}"
