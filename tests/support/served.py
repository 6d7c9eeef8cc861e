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
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from telephony.simulator.defaults import LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET, LOCAL_JWT

ROOT = Path(__file__).resolve().parents[2]
# Everything the served processes printed, for debugging a failed test.
OUTPUT: list[str] = []
# The embedded RingCentral's public local credentials, for a serve that
# follows one running in another process.
# /metrics wants a bearer token (METRICS_TOKEN) or a staff session; the
# served apps of the tests and benchmarks scrape it with this one.
METRICS_TOKEN = "metrics-test-only"
METRICS_HEADERS = {"Authorization": f"Bearer {METRICS_TOKEN}"}

SIMULATOR_CREDENTIALS = {
    "RINGCENTRAL_CLIENT_ID": LOCAL_CLIENT_ID,
    "RINGCENTRAL_CLIENT_SECRET": LOCAL_CLIENT_SECRET,
    "RINGCENTRAL_JWT": LOCAL_JWT,
}
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
    # The embedded RingCentral in a process of its own (start_split_app).
    simulator: Process | None = None
    # How serve was started (stop_serve, start_serve).
    command: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    ready_line: str = "Embedded RingCentral:"

    def stop(self) -> None:
        try:
            self._stop_serve()
        finally:
            if self.simulator is not None:
                self.simulator.stop()

    def stop_serve(self) -> None:
        """Stop `serve` (a server going away), keeping its database."""
        self._stop_serve()

    def start_serve(self) -> None:
        """Start `serve` again as before: the same ports, the same database
        (an embedded RingCentral starts afresh with it). Bounded waits."""
        self.process = subprocess.Popen(
            self.command,
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        read_banner(self.process, self.ready_line)  # no login line this time
        wait_until_up(self)

    def _stop_serve(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()


def read_banner(
    process: subprocess.Popen[str], ready_line: str = "Embedded RingCentral:"
) -> tuple[str, str] | None:
    """Wait (bounded: 60 s) for serve's login line and `ready_line` (the
    simulator URL; with an external RingCentral, serve's own address).

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
            if ready_line in line:
                ready.set()
        ready.set()  # the process ended

    threading.Thread(target=drain, daemon=True).start()
    ready.wait(timeout=60)
    if "user" not in found:
        return None
    return found["user"], found["pw"]


# Writes the embedded RingCentral's extension list into the directory, as
# the worker's sync would (telephony/worker/upkeep.py): records shaped like
# RingCentral's, stored by the product's own service.
SEED_DIRECTORY = """
from telephony.history.services import (
    extension_directory_replace, queue_members_replace,
)
from telephony.simulator.engine.account import build_account
from telephony.simulator.floor.profiles import PROFILES

profile = PROFILES[{profile!r}]
account = build_account(profile.agents, profile.queues)
records = [
    {{"id": a.extension_id, "extensionNumber": a.extension_number,
      "name": a.name, "type": "User", "status": "Enabled"}}
    for a in account.agents
] + [
    {{"id": q.extension_id, "extensionNumber": q.extension_number,
      "name": q.name, "type": "Department", "status": "Enabled"}}
    for q in account.queues
]
extension_directory_replace(records=records)
queue_members_replace(members={{
    q.extension_id: [a.extension_id for a in q.members] for q in account.queues
}})
"""


def start_served_app(
    tmp: Path,
    *,
    profile: str = "none",
    seed_directory: bool = False,
    extra_env: dict[str, str] | None = None,
    simulator: Process | None = None,
    simulator_url: str = "",
    setup: str = "",
) -> ServedApp:
    """Migrate a fresh SQLite file and start `manage.py serve --profile P`
    (default `none`: calls only through the simulator's control API).
    With `simulator_url` (a RingCentral already running: start_split_app)
    serve starts no simulator and follows that one.

    `seed_directory` fills the extension directory before serving, as an
    earlier run's sync would have: the worker pages through RingCentral's
    extension list at the Medium group's pace (100 extensions a page), so
    on a 10,000-agent floor its own sync lands minutes after start.

    `setup` is Python run by `manage.py shell -c` before serving (users,
    thresholds a test needs).

    Reads the one-time demo password from the command's output, as a
    person following the README would.
    """
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite3'}",
        "DJANGO_SECRET_KEY": "browser-test-only",
        "METRICS_TOKEN": METRICS_TOKEN,
        "PYTHONUNBUFFERED": "1",
        "RINGCENTRAL_SERVER_URL": simulator_url,
        # Tests and benchmarks open hundreds of consoles with one login.
        "SWITCHBOARD_CONSOLES_PER_USER": "0",
        **(SIMULATOR_CREDENTIALS if simulator_url else {}),
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
    if seed_directory:
        seed = SEED_DIRECTORY.format(profile=profile)
        subprocess.run(
            [python, "manage.py", "shell", "-c", seed],
            cwd=ROOT,
            env=env,
            check=True,
            timeout=120,
        )
    if setup:
        subprocess.run(
            [python, "manage.py", "shell", "-c", setup],
            cwd=ROOT,
            env=env,
            check=True,
            timeout=120,
        )
    port, sim_port = free_port(), free_port()
    command = [
        python,
        "manage.py",
        "serve",
        "--port",
        str(port),
        "--simulator-port",
        str(sim_port),
        "--profile",
        profile,
    ]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    ready_line = "Switchboard: http" if simulator_url else "Embedded RingCentral:"
    banner = read_banner(process, ready_line)
    if banner is None:
        process.kill()
        process.wait(timeout=10)
        raise RuntimeError("serve did not print the demo login or did not start")
    user, password = banner
    app = ServedApp(
        process,
        f"http://127.0.0.1:{port}",
        simulator_url or f"http://127.0.0.1:{sim_port}",
        user,
        password,
        simulator,
        command,
        env,
        ready_line,
    )
    wait_until_up(app)
    return app


def start_split_app(
    tmp: Path,
    *,
    profile: str,
    speed: float = 1.0,
    seed: int | None = 1,
    seed_directory: bool = False,
    extra_env: dict[str, str] | None = None,
    setup: str = "",
) -> ServedApp:
    """The embedded RingCentral in a process of its own
    (`manage.py ringcentral_simulator --profile P --speed S`), and
    `manage.py serve` (daphne + worker) following it through
    RINGCENTRAL_SERVER_URL: so the dashboard process's CPU and memory are
    the dashboard's and the worker's, not the floor generator's."""
    sim_port = free_port()
    simulator = Process(
        [
            sys.executable,
            "manage.py",
            "ringcentral_simulator",
            "--port",
            str(sim_port),
            "--profile",
            profile,
            "--speed",
            str(speed),
            *(["--seed", str(seed)] if seed is not None else []),
        ],
        {**os.environ, "DJANGO_SECRET_KEY": "bench-only", **SIMULATOR_CREDENTIALS},
    )
    try:
        simulator.wait_for("listening on")
        return start_served_app(
            tmp,
            profile=profile,
            seed_directory=seed_directory,
            extra_env=extra_env,
            simulator=simulator,
            simulator_url=f"http://127.0.0.1:{sim_port}",
            setup=setup,
        )
    except BaseException:
        simulator.stop()
        raise


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
