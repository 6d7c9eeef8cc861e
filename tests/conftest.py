"""Shared fixtures: a real embedded RingCentral on loopback, a fresh
in-memory channel layer per test, and a RingCentral client pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from telephony import gc_policy
from telephony.ringcentral.client import RingCentralClient
from telephony.simulator import Simulator, SimulatorConfig
from telephony.simulator.defaults import LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET, LOCAL_JWT
from tests.support import WAIT

# Not in the test process: a cycle frozen while holding an unclosed socket
# would warn (an error here) inside whichever test its collection fell in.
# The processes the tests start (serve, daphne, the worker) keep it.
gc_policy.disabled = True


@pytest.fixture(scope="session", autouse=True)
def no_stray_database_sessions(django_db_setup: Any) -> Any:
    """Before the test database is dropped, end the connections that worker
    threads (database_sync_to_async's executor) still hold: PostgreSQL
    refuses to drop a database in use ("being accessed by other users")."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    import psycopg

    params = connection.settings_dict
    # (Whether the settings name the test database again by now or not.)
    test_name = connection.creation._get_test_db_name()
    with psycopg.connect(
        dbname="postgres",
        user=params["USER"] or None,
        password=params["PASSWORD"] or None,
        host=params["HOST"] or None,
        port=params["PORT"] or None,
        autocommit=True,
    ) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = ANY(%s) AND pid <> pg_backend_pid()",
            [[test_name, params["NAME"]]],
        )


@pytest.fixture(autouse=True)
def channel_layer(settings: Any) -> None:
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "dashboard.layers.InMemoryChannelLayer"}
    }
    # A test's live feed ends with its last console (it lingers 30 s in
    # production, so a page reload keeps the floor).
    settings.FEED_LINGER_SECONDS = 0


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    """A silent embedded RingCentral: calls only via its /_sim/ API."""
    sim = Simulator(
        SimulatorConfig(
            client_id=LOCAL_CLIENT_ID,
            client_secret=LOCAL_CLIENT_SECRET,
            jwt=LOCAL_JWT,
            profile="none",
            speed=1.0,
            seed=1,
        )
    )
    await sim.start(host="127.0.0.1", port=0)
    try:
        yield sim
    finally:
        await sim.stop()


@pytest.fixture
async def rc_client(simulator: Simulator) -> AsyncIterator[RingCentralClient]:
    client = RingCentralClient(
        server_url=simulator.url,
        client_id=LOCAL_CLIENT_ID,
        client_secret=LOCAL_CLIENT_SECRET,
        jwt=LOCAL_JWT,
    )
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def sim_api(simulator: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    """The simulator's control API (/_sim/), for scripting the floor."""
    async with httpx.AsyncClient(base_url=simulator.url, timeout=WAIT) as http:
        yield http
