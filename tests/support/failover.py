"""Two telephony workers (a leader and a standby), two daphnes, the embedded
RingCentral in a process of its own, Redis and PostgreSQL: for the
failover test and benchmark. Each helper's wait is bounded."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import redis

from telephony.management import cluster as launch
from telephony.simulator.defaults import LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET, LOCAL_JWT
from tests.support import WAIT
from tests.support.served import METRICS_TOKEN, Process, free_port

POSTGRES = os.environ.get(
    "SWITCHBOARD_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432"
)
MANAGE = [sys.executable, "manage.py"]
LEADING = re.compile(r"^(\S+ \S+) INFO telephony\.worker: leading: (\S+) holds")
CONNECTED = re.compile(r"^(\S+ \S+) INFO \S+: stream connected")


@dataclass
class Cluster:
    """The launcher's cluster (telephony.management.cluster, what `make
    cluster` runs), as the tests see it: `url` is nginx's, `urls` each
    daphne's (to attach consoles to a given one)."""

    launcher: launch.Cluster
    url: str
    urls: list[str]
    simulator: str
    database: str
    env: dict[str, str]

    @property
    def workers(self) -> list[launch.Child]:
        return self.launcher.workers

    def start_worker(self) -> launch.Child:
        return self.launcher.start_worker()

    def cold_start(self) -> float:
        """Seconds from starting the first worker to its subscription."""
        started = self.workers[0].started
        return logged_at(self.workers[0], CONNECTED, started) - started

    def leader(self, *, timeout: float = WAIT) -> launch.Child:
        """The one live worker that says it leads (the last to say so)."""
        deadline = time.monotonic() + timeout
        while True:
            leading = [
                w
                for w in self.workers
                if w.popen.poll() is None and _last(w, "leading:", "lost the lease")
            ]
            if len(leading) == 1:
                return leading[0]
            assert time.monotonic() < deadline, f"{len(leading)} leaders"
            time.sleep(0.05)  # nothing to await across processes: a bounded poll

    def kill(self, worker: launch.Child) -> float:
        return kill(worker)

    def subscriptions(self) -> list[dict[str, Any]]:
        return subscriptions(self.simulator)

    def audit_rows(self, session_id: str, action: str) -> list[tuple[str, ...]]:
        with psycopg.connect(self.database) as conn:
            return conn.execute(
                "SELECT outcome, username FROM telephony_commandaudit"
                " WHERE telephony_session_id = %s AND action = %s",
                [session_id, action],
            ).fetchall()


def kill(worker: launch.Child | Process) -> float:
    """kill -9 a worker; return the wall-clock moment."""
    killed = time.time()
    os.kill(worker.popen.pid, signal.SIGKILL)
    worker.popen.wait(timeout=WAIT)
    return killed


def subscriptions(simulator: str) -> list[dict[str, Any]]:
    """The embedded RingCentral's open subscriptions."""
    response = httpx.get(f"{simulator}/_sim/subscriptions", timeout=WAIT)
    assert response.status_code == 200, response.text
    return list(response.json()["subscriptions"])


def _last(worker: launch.Child, yes: str, no: str) -> bool:
    """Whether `yes` was said after the last `no` in a worker's output."""
    for line in reversed(list(worker.lines)):
        if no in line:
            return False
        if yes in line:
            return True
    return False


def logged_at(
    worker: launch.Child | Process, pattern: re.Pattern[str], after: float
) -> float:
    """The wall-clock time of the first line matching `pattern` logged
    after `after` (bounded wait)."""
    deadline = time.monotonic() + WAIT * 2
    while True:
        for line in list(worker.lines):
            match = pattern.search(line)
            if match:
                stamp = datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S,%f")
                if stamp.timestamp() >= after:
                    return stamp.timestamp()
        assert time.monotonic() < deadline, "".join(worker.lines[-20:])
        time.sleep(0.05)  # nothing to await across processes: a bounded poll


@contextlib.contextmanager
def database() -> Iterator[str]:
    name = f"switchboard_failover_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES}/{name}"
    finally:
        with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


class _Discard:
    """Where the parts' output goes besides their `lines`: nowhere."""

    def write(self, text: str) -> None:
        pass

    def flush(self) -> None:
        pass


@contextlib.contextmanager
def cluster(
    *, redis_url: str, password: str, workers: int = 2, directory: Path
) -> Iterator[Cluster]:
    """docs/deploy.md's layout, started by `make cluster`'s launcher on
    free ports: a migrated database with user `sup` (`password`), the
    embedded RingCentral, the workers (the first leads), two daphnes and
    nginx in front of them (its files under `directory`)."""
    with redis.Redis.from_url(redis_url) as client:
        client.flushdb()
    with database() as db:
        layout = launch.Layout(
            port=free_port(),
            daphne_ports=(free_port(), free_port()),
            workers=1,
            simulator_port=free_port(),
            profile="none",
            directory=directory,
            static_root=directory / "static",
        )
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("RINGCENTRAL_")},
            "DATABASE_URL": db,
            "REDIS_URL": redis_url,
            "DJANGO_SECRET_KEY": "failover-test-only",
            "METRICS_TOKEN": METRICS_TOKEN,
            "SWITCHBOARD_CONSOLES_PER_USER": "0",
            # As `manage.py cluster` configures the dashboards behind nginx.
            "DJANGO_SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto",
            "SWITCHBOARD_CLIENT_ADDRESS_HEADER": "X-Real-IP",
            "RINGCENTRAL_CLIENT_ID": LOCAL_CLIENT_ID,
            "RINGCENTRAL_CLIENT_SECRET": LOCAL_CLIENT_SECRET,
            "RINGCENTRAL_JWT": LOCAL_JWT,
        }
        setup = Process([*MANAGE, "migrate", "--noinput", "-v", "0"], env)
        assert setup.finish() == 0, "".join(setup.lines)
        make_user = (
            "from django.contrib.auth.models import User, Group;"
            f"u = User.objects.create_user('sup', password='{password}');"
            "u.groups.add(Group.objects.get(name='Supervisor'))"
        )
        user = Process([*MANAGE, "shell", "-c", make_user], env)
        assert user.finish() == 0, "".join(user.lines)
        launcher = launch.Cluster(layout, env, _Discard())
        built = Cluster(
            launcher=launcher,
            url=layout.url,
            urls=[f"http://127.0.0.1:{port}" for port in layout.daphne_ports],
            simulator=f"http://127.0.0.1:{layout.simulator_port}",
            database=db,
            env=launcher.env,
        )
        launcher.start()  # the first worker leads before the daphnes start
        try:
            for _ in range(workers - 1):
                built.start_worker().wait_for("standing by")
            yield built
        finally:
            launcher.stop()
