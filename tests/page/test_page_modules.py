"""The page's DOM-free modules (static/dashboard/live.js, floor-index.js,
calls.js, header.js's texts) under Node's own test runner: the protocol's
edge cases (parts, gaps, epochs, backoff, clock, pending commands) are
cheaper to pin down here than through a browser."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.support.paths import ROOT

NODE = shutil.which("node")


@pytest.mark.skipif(NODE is None, reason="Node.js is not installed")
def test_page_modules_under_node() -> None:
    result = subprocess.run(
        [NODE, "--test", "tests/page/"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
