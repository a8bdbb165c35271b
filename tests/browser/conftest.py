"""Browser-test fixtures: the demo database (shared builder) and the app served as the README
starts it (`xiaoneng serve --port N`), in headless Debian chromium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.app.conftest import demo_url  # noqa: F401  (the session-scoped demo database)

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def browser_ready() -> None:
    """chromium and a CJK font, installed by scripts/ensure-browser.sh on a fresh machine."""
    subprocess.run(["bash", str(ROOT / "scripts" / "ensure-browser.sh")], check=True)


@pytest.fixture(scope="session")
def served_app(demo_url: str, browser_ready: None) -> Iterator[str]:  # noqa: F811
    port = _free_port()
    exe = Path(sys.executable).with_name("xiaoneng")
    cmd = [str(exe)] if exe.exists() else [shutil.which("xiaoneng") or "xiaoneng"]
    env = {**os.environ, "DATABASE_URL": demo_url, "XIAONENG_DEMO": "1"}  # demo leader
    (ROOT / "artifacts").mkdir(exist_ok=True)
    log = open(ROOT / "artifacts" / "serve.log", "w")  # noqa: SIM115 (open for the session)
    proc = subprocess.Popen([*cmd, "serve", "--port", str(port)], env=env, cwd=ROOT,
                            stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            if urllib.request.urlopen(f"{base}/_stcore/health", timeout=2).status == 200:
                break
        except OSError:
            pass
        if time.time() > deadline or proc.poll() is not None:
            proc.terminate()
            raise RuntimeError("the app did not start (see artifacts/serve.log)")
        time.sleep(0.5)
    try:
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="session")
def screenshots_dir() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
