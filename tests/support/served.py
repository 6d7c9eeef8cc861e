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

ROOT = Path(__file__).resolve().parents[2]
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
    if not answers(f"{app.url}/login/"):
        app.stop()
        raise RuntimeError("serve did not answer on /login/ within 30 s")


def answers(url: str, timeout: float = 30) -> bool:
    """Poll `url` until it answers 200 (a server starting up has no event
    to await from outside its process); False after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    return False


class Process:
    """A product process (worker, simulator, daphne) with its output drained
    by a thread, so tests can wait for a line without blocking the pipe."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self.popen = subprocess.Popen(
            args,
            cwd=ROOT,
            env={**env, "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            with self._cond:
                self.lines.append(line)
                OUTPUT.append(line)
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def wait_for(self, pattern: str, timeout: float = 60) -> re.Match[str]:
        """The first output line matching `pattern` (bounded wait)."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines:
                    if match := regex.search(line):
                        return match
                left = deadline - time.monotonic()
                if left <= 0 or self.popen.poll() is not None:
                    raise RuntimeError(
                        f"no line matching {pattern!r}:\n" + "".join(self.lines[-30:])
                    )
                self._cond.wait(left)

    def finish(self, timeout: float = 120) -> int:
        """Wait for a one-shot command to exit; return its exit code."""
        code = self.popen.wait(timeout=timeout)
        self.stop()
        return code

    def stop(self) -> None:
        self.popen.terminate()
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=10)
        if self.popen.stdout is not None:
            self.popen.stdout.close()


def login_cookie(url: str, username: str, password: str) -> str:
    """Log in through the real login form; return the Cookie header value."""
    with httpx.Client(base_url=url, timeout=10) as http:
        page = http.get("/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert token, "no CSRF token on the login page"
        response = http.post(
            "/login/",
            data={
                "username": username,
                "password": password,
                "csrfmiddlewaretoken": token[1],
            },
            headers={"Referer": f"{url}/login/"},
        )
        assert response.status_code == 302, "login failed"
        return "; ".join(f"{k}={v}" for k, v in http.cookies.items())
