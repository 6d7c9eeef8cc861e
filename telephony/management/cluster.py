"""The scaled deployment of docs/deploy.md on one machine (`make cluster`).

Redis and PostgreSQL are the machine's own (REDIS_URL, DATABASE_URL); this
starts the rest, each in a process of its own: the embedded RingCentral
(`manage.py ringcentral_simulator`, unless RINGCENTRAL_SERVER_URL names a
real one), the telephony workers (`manage.py telephony_worker`: one leads,
the others stand by), the dashboard processes (daphne, as docs/deploy
runs them) and Debian's nginx in front of them, with a generated
configuration under var/cluster. The scaled tests start it the same way.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import httpx

from telephony.management import nginx

ROOT = Path(__file__).resolve().parents[2]
# Pending connections each daphne's listening socket queues (Twisted's
# default is 50): every console reconnects at once after a restart.
LISTEN_BACKLOG = 1024
# Seconds a WebSocket handshake may wait (daphne's default is 5): in a
# reconnect stampede handshakes queue behind the session lookups.
HANDSHAKE_TIMEOUT = 20
# Bounds on start-up and shut-down, so neither can hang.
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
PR_SET_PDEATHSIG = 1
# The dashboard processes run at a lower CPU priority than the workers (as
# docs/deploy/systemd's units set it): a leader starved of CPU while a
# thousand consoles connect at once cannot renew its 3 s lease in time,
# and loses it. Consoles wait a little longer instead.
DASHBOARD_NICE = 5


class Out(Protocol):
    """Where the parts' output goes (a command's stdout)."""

    def write(self, text: str) -> object: ...
    def flush(self) -> object: ...


def nginx_executable() -> str | None:
    """Debian's nginx; /usr/sbin is not on a normal user's PATH."""
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    return found


def daphne_args(port: int, interface: str = "127.0.0.1") -> list[str]:
    """One dashboard process's command line (docs/deploy/Procfile)."""
    return [
        "daphne",
        "-e",
        f"tcp:port={port}:interface={interface}:backlog={LISTEN_BACKLOG}",
        "--websocket_connect_timeout",
        str(HANDSHAKE_TIMEOUT),
        "dashboard.asgi:application",
    ]


@dataclass(frozen=True)
class Layout:
    """Where each part listens, and how many of each."""

    port: int = 8080
    daphne_ports: Sequence[int] = (8001, 8002)
    workers: int = 2
    simulator_port: int = 9100
    profile: str = "demo"
    speed: float = 1.0
    directory: Path = ROOT / "var" / "cluster"
    static_root: Path = ROOT / "var" / "static"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _die_with_parent() -> None:
    """In the child: SIGTERM when the launcher dies, however it dies."""
    if sys.platform == "linux":
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _dashboard_child() -> None:
    """In a dashboard process: as any child, and a lower CPU priority."""
    _die_with_parent()
    os.nice(DASHBOARD_NICE)


@dataclass
class Child:
    """A process of the cluster; its output prefixed with its name, kept
    for `wait_for`, and copied to `out`."""

    name: str
    popen: subprocess.Popen[str]
    out: Out
    lines: list[str] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)
    started: float = field(default_factory=time.time)  # wall clock

    @classmethod
    def start(
        cls,
        name: str,
        args: list[str],
        env: dict[str, str],
        out: Out,
        *,
        preexec: Callable[[], None] = _die_with_parent,
    ) -> Child:
        popen = subprocess.Popen(
            args,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            # Its own process group: Ctrl-C reaches the launcher alone,
            # which stops the parts in order.
            start_new_session=True,
            preexec_fn=preexec,
        )
        child = cls(name, popen, out)
        threading.Thread(target=child._drain, name=name, daemon=True).start()
        return child

    def _drain(self) -> None:
        assert self.popen.stdout is not None
        with self.popen.stdout:  # closed at the end of the output
            for line in self.popen.stdout:
                self.out.write(f"{self.name:>10} | {line}")
                self.out.flush()
                with self.changed:
                    self.lines.append(line)
                    self.changed.notify_all()
        with self.changed:
            self.changed.notify_all()

    def wait_for(self, pattern: str, timeout: float = START_TIMEOUT) -> None:
        """Return once a line of output matches `pattern` (bounded)."""
        regex, deadline = re.compile(pattern), time.monotonic() + timeout
        with self.changed:
            while not any(regex.search(line) for line in self.lines):
                left = deadline - time.monotonic()
                if left <= 0 or self.popen.poll() is not None:
                    raise RuntimeError(f"{self.name} never said {pattern!r}")
                self.changed.wait(left)

    def stop(self) -> int:
        """SIGTERM, then SIGKILL after STOP_TIMEOUT; the exit code."""
        if self.popen.poll() is None:
            self.popen.terminate()
        try:
            return self.popen.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.out.write(f"{self.name:>10} | did not stop in time: killed\n")
            self.popen.kill()
            return self.popen.wait(timeout=STOP_TIMEOUT)


def answers(url: str, timeout: float = START_TIMEOUT) -> bool:
    """Poll `url` until it answers 200; a server starting up in another
    process has no event to await. False after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    return False


class Cluster:
    """Start the parts in dependency order; stop them in reverse."""

    def __init__(self, layout: Layout, env: dict[str, str], out: Out) -> None:
        self.layout, self.env, self.out = layout, dict(env), out
        self.children: list[Child] = []

    def manage(self, *args: str) -> list[str]:
        return [sys.executable, "manage.py", *args]

    def start(self) -> None:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    @property
    def workers(self) -> list[Child]:
        """Every telephony worker started, in order (exited ones too)."""
        return [c for c in self.children if c.name.startswith("worker-")]

    def start_worker(self) -> Child:
        """One more `telephony_worker` (it leads, or stands by)."""
        name = f"worker-{len(self.workers) + 1}"
        return self._spawn(name, self.manage("telephony_worker"), self.env)

    def _start(self) -> None:
        layout, env = self.layout, self.env
        if not env.get("RINGCENTRAL_SERVER_URL"):
            sim = self._spawn(
                "simulator",
                self.manage(
                    "ringcentral_simulator",
                    "--port",
                    str(layout.simulator_port),
                    "--profile",
                    layout.profile,
                    "--speed",
                    f"{layout.speed:g}",
                ),
                env,
            )
            sim.wait_for("listening on")
            env["RINGCENTRAL_SERVER_URL"] = f"http://127.0.0.1:{layout.simulator_port}"
        self._wait_for_leader([self.start_worker() for _ in range(layout.workers)])
        for n, port in enumerate(layout.daphne_ports):
            python_m = [sys.executable, "-m", *daphne_args(port)]
            self._spawn(f"daphne-{n + 1}", python_m, env, preexec=_dashboard_child)
        for port in layout.daphne_ports:
            if not answers(f"http://127.0.0.1:{port}/login/"):
                raise RuntimeError(f"no dashboard process answered on port {port}")
        self._spawn("nginx", self._nginx_args(), env)
        if not answers(f"{layout.url}/login/"):
            raise RuntimeError(f"nginx did not answer on {layout.url}")

    def _spawn(
        self,
        name: str,
        args: list[str],
        env: dict[str, str],
        *,
        preexec: Callable[[], None] = _die_with_parent,
    ) -> Child:
        env = {**env, "PYTHONUNBUFFERED": "1"}
        child = Child.start(name, args, env, self.out, preexec=preexec)
        self.children.append(child)
        return child

    def _wait_for_leader(self, workers: list[Child]) -> None:
        """Until one worker's stream is connected (the others stand by)."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            for worker in workers:
                try:
                    worker.wait_for("stream connected", timeout=0.2)
                    return
                except RuntimeError:
                    if worker.popen.poll() is not None:
                        raise RuntimeError(f"{worker.name} exited") from None
        said = "".join(f"{w.name}: {line}" for w in workers for line in w.lines[-10:])
        raise RuntimeError(f"no worker connected to RingCentral; they said:\n{said}")

    def _nginx_args(self) -> list[str]:
        layout = self.layout
        directory = layout.directory.resolve()
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (directory / "tmp" / kind).mkdir(parents=True, exist_ok=True)
        conf = directory / "nginx.conf"
        conf.write_text(
            nginx.cluster_conf(
                directory=directory,
                port=layout.port,
                daphne_ports=layout.daphne_ports,
                static_root=layout.static_root,
            )
        )
        # -e: its own error log from the first line, before the
        # configuration names one (Debian's default path wants root).
        error_log = str(directory / "error.log")
        executable = nginx_executable() or "nginx"
        return [executable, "-p", str(directory), "-c", str(conf), "-e", error_log]

    def exited(self) -> list[Child]:
        return [c for c in self.children if c.popen.poll() is not None]

    def stop(self) -> None:
        """nginx first (no new requests), then the dashboards, the workers
        (the leader gives its lease up) and RingCentral, each bounded."""
        for child in reversed(self.children):
            child.stop()
        self.children.clear()
