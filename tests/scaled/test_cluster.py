"""The documented deployment is the tested one: `manage.py cluster`, what
`make cluster` runs (nginx in front of two daphnes, two workers, the
embedded RingCentral, this machine's Redis and PostgreSQL), on free ports,
used as a supervisor uses it, through nginx only."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
import redis

from telephony.management import nginx
from telephony.management.cluster import daphne_args
from tests.support import WAIT
from tests.support.console import Console
from tests.support.served import ROOT, Process, free_port, login_cookie

POSTGRES = os.environ.get(
    "SWITCHBOARD_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432"
)
# A database of its own: the workers' lease is one key per Redis database.
REDIS = os.environ.get("SWITCHBOARD_TEST_CLUSTER_REDIS", "redis://127.0.0.1:6379/11")
DEPLOY = ROOT / "docs" / "deploy"
PASSWORD_LINE = r"Log in as 'supervisor' with password '([^']+)'"


@pytest.fixture(scope="module")
def cluster() -> Iterator[dict[str, Any]]:
    # Not created here: the launcher creates a missing database.
    name = f"switchboard_cluster_{uuid.uuid4().hex[:8]}"
    with redis.Redis.from_url(REDIS) as client:
        client.flushdb()
    ports = {"nginx": free_port(), "sim": free_port()}
    daphnes = [free_port(), free_port()]
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("RINGCENTRAL_", "DJANGO_SECRET_KEY"))
    }
    env.update(DATABASE_URL=f"{POSTGRES}/{name}", REDIS_URL=REDIS)
    launcher = Process(
        [
            *(sys.executable, "manage.py", "cluster"),
            *("--port", str(ports["nginx"]), "--simulator-port", str(ports["sim"])),
            *("--daphne-ports", ",".join(map(str, daphnes)), "--profile", "none"),
        ],
        env,
    )
    try:
        url = launcher.wait_for(r"Switchboard \(cluster\): (http://\S+)/", 90)[1]
        yield {
            "url": url,
            "simulator": f"http://127.0.0.1:{ports['sim']}",
            "password": launcher.wait_for(PASSWORD_LINE, 1)[1],
            "ports": [*ports.values(), *daphnes],
            "launcher": launcher,
        }
    finally:
        launcher.stop()
        with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def state_of(session_id: str, state: str) -> Any:
    return lambda c: c.calls.get(session_id, {}).get("state") == state


async def test_a_supervisor_holds_a_call_through_nginx(cluster):
    url = cluster["url"]
    cookie = await asyncio.to_thread(
        login_cookie, url, "supervisor", cluster["password"]
    )
    # The WebSocket upgrade through nginx, origin checked against the Host
    # and scheme nginx passes on.
    console = await (await Console.open(url, cookie)).synced()
    assert console.worker["connected"] is True
    async with httpx.AsyncClient(base_url=cluster["simulator"], timeout=WAIT) as sim:
        created = await sim.post(
            "/_sim/calls",
            json={"scenario": "inbound", "auto_answer": False, "talk_seconds": None},
        )
        session_id = created.json()["telephonySessionId"]
        await sim.post(f"/_sim/calls/{session_id}/phone", json={"action": "answer"})
    await console.until(state_of(session_id, "talking"))
    await console.send(
        {
            "type": "command",
            "requestId": "cluster-hold",
            "action": "hold",
            "sessionId": session_id,
            "partyId": console.calls[session_id]["agent"]["id"],
        }
    )
    reply = await console.reply(type="command_result", requestId="cluster-hold")
    assert reply["ok"] is True, reply
    assert (await console.reply(type="command_confirmed"))["confirmed"] is True
    await console.until(state_of(session_id, "held"))
    await console.close()

    async with httpx.AsyncClient(base_url=url, timeout=WAIT) as http:
        health = await http.get("/healthz")
        script = await http.get("/static/dashboard/live.js")
    assert health.status_code == 200, health.text
    assert health.headers["server"].startswith("nginx")
    assert health.json()["worker_connected"] is True
    assert health.json()["live_calls"] == 1
    # Static files come from collectstatic's STATIC_ROOT, by nginx itself
    # (its `expires`, not Django's headers).
    assert script.status_code == 200
    assert script.headers["cache-control"] == "max-age=3600"
    assert script.content == (ROOT / "static/dashboard/live.js").read_bytes()


def test_ctrl_c_stops_every_part_and_frees_its_ports(cluster):
    """Runs last: it stops the module's cluster."""
    launcher: Process = cluster["launcher"]
    launcher.popen.send_signal(signal.SIGINT)
    assert launcher.popen.wait(timeout=60) == 0, "".join(launcher.lines[-30:])
    for port in cluster["ports"]:
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0, port


def directives(text: str) -> list[str]:
    """The configuration's lines without comments or blank lines."""
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [line for line in lines if line]


def test_the_documented_nginx_site_is_the_one_the_cluster_runs():
    example = directives((DEPLOY / "nginx.conf").read_text())
    site = directives(nginx.locations("/srv/switchboard/var/static"))
    start = example.index(site[0])
    assert example[start : start + len(site)] == site


def test_the_documented_daphne_command_is_the_one_the_cluster_runs():
    procfile = (DEPLOY / "Procfile").read_text()
    unit = (DEPLOY / "systemd" / "switchboard-daphne@.service").read_text()
    assert " ".join(daphne_args(8001)) in procfile
    templated = " ".join(daphne_args(0)).replace("port=0", "port=%i")
    assert templated in re.sub(r"\s*\\\n\s*", " ", unit)  # continued lines joined
