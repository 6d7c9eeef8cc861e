"""Helpers for tests that run the product as a user would: `manage.py serve`
in a subprocess on free loopback ports."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
# Everything the served processes printed, for debugging a failed test.
OUTPUT: list[str] = []
PASSWORD_LINE = re.compile(r"Log in as '(?P<user>[^']+)' with password '(?P<pw>[^']+)'")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServedApp:
    process: subprocess.Popen[str]
    url: str
    simulator_url: str
    username: str
    password: str

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()


def read_banner(process: subprocess.Popen[str]) -> tuple[str, str] | None:
    """Wait (bounded: 60 s) for serve's login line and the simulator URL.

    A thread keeps draining the output afterwards (into `output`), so a
    chatty server never blocks on a full pipe.
    """
    found: dict[str, str] = {}
    ready = threading.Event()

    def drain() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            OUTPUT.append(line)
            if match := PASSWORD_LINE.search(line):
                found.update(match.groupdict())
            if "Embedded RingCentral:" in line:
                ready.set()
        ready.set()  # the process ended

    threading.Thread(target=drain, daemon=True).start()
    ready.wait(timeout=60)
    if "user" not in found:
        return None
    return found["user"], found["pw"]


def start_served_app(
    tmp: Path, *, extra_env: dict[str, str] | None = None
) -> ServedApp:
    """Migrate a fresh SQLite file and start `manage.py serve --profile none`.

    Reads the one-time demo password from the command's output, as a
    person following the README would.
    """
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite3'}",
        "DJANGO_SECRET_KEY": "browser-test-only",
        "PYTHONUNBUFFERED": "1",
        "RINGCENTRAL_SERVER_URL": "",
        **(extra_env or {}),
    }
    python = sys.executable
    subprocess.run(
        [python, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=120,
    )
    port, sim_port = free_port(), free_port()
    process = subprocess.Popen(
        [
            python,
            "manage.py",
            "serve",
            "--port",
            str(port),
            "--simulator-port",
            str(sim_port),
            "--profile",
            "none",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    banner = read_banner(process)
    if banner is None:
        process.kill()
        process.wait(timeout=10)
        raise RuntimeError("serve did not print the demo login or did not start")
    user, password = banner
    app = ServedApp(
        process,
        f"http://127.0.0.1:{port}",
        f"http://127.0.0.1:{sim_port}",
        user,
        password,
    )
    wait_until_up(app)
    return app


def wait_until_up(app: ServedApp) -> None:
    """Poll the login page until daphne answers (bounded: 30 s)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{app.url}/login/", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    app.stop()
    raise RuntimeError("serve did not answer on /login/ within 30 s")
