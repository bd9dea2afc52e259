"""Looked at in a real browser: headless Chromium (Debian's package) opens a running render's
/docs, where Swagger UI draws the operations with JavaScript, so they appear in the page only
if its assets loaded (from the service itself: no network here).

Without Chromium the test skips locally, saying so; with CI set it fails (.ci/run installs it).
"""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from harness import RENDERS, Rendered, ToolResult, chromium, dump_dom, trees_dir, tool_env

pytestmark = pytest.mark.slow

TIMEOUT = 60


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def running_render(
    tree_tool: Callable[[str, str], ToolResult],
    render: Callable[[dict[str, object]], Rendered],
    shared_root: Path,
    tmp_path: Path,
) -> Iterator[str]:
    """The default render's service under uvicorn on a free port, in its synced environment."""
    chromium()  # skip (or, with CI set, fail) before syncing and starting anything
    synced = tree_tool("default", "ruff-check")  # syncs the tree's copy (once per run)
    assert synced.ok, synced.output
    project = trees_dir(shared_root) / render(RENDERS["default"]).tree / "project"
    port = _free_port()
    env = {
        **tool_env(),
        "JWT_SECRET": "browser-check-secret-0123456789abcdef-xyz",
        "OPENAI_API_KEY": "not-used-by-the-docs-page",
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
        "DATA_DIR": str(tmp_path / "data"),
        "PORT": str(port),
    }
    server = subprocess.Popen(
        [str(project / ".venv" / "bin" / "python"), "-m", "memory_service"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            assert server.poll() is None, "the service exited during startup"
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=1) as answer:
                    if answer.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        else:
            pytest.fail("the service did not start")
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def test_swagger_ui_shows_the_operations_in_chromium(running_render: str, tmp_path: Path) -> None:
    dom = dump_dom(f"{running_render}/docs", tmp_path)
    assert "swagger-ui" in dom
    assert 'class="opblock' in dom, "Swagger UI drew no operation: its assets did not load"
    for path in ("/api/v1/memory/search", "/api/v1/memory/conversation", "/api/v1/memory/memories"):
        assert path in dom, f"{path} is not shown"
