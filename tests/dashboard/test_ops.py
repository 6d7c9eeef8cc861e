"""Operations endpoints: /healthz, /metrics, the admin, --metrics-port."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from channels.layers import get_channel_layer
from django.contrib.auth.models import AnonymousUser, User
from django.core.management import call_command
from django.test import AsyncClient, AsyncRequestFactory, Client

from dashboard import views
from telephony import broadcast, metrics
from telephony.admin import duration
from telephony.history import services
from telephony.live.model import LiveModel
from telephony.management.commands.telephony_worker import Command
from telephony.models import CallRecord, CommandAudit, Extension
from telephony.ringcentral.events import parse_session_event
from telephony.worker import TelephonyWorker
from tests.support import WAIT
from tests.support.paths import CAPTURED

HEALTH = {
    "connected": True,
    "subscription_active": True,
    "error": None,
    "live_calls": 3,
    "seconds_since_last_event": 0.5,
    "seconds_since_connected": 12.0,
    "reconnects": 1,
    "resyncs": 2,
}
PUBLIC_KEYS = {"worker_connected", "worker_answered", *views.HEALTH_FIELDS}


@contextlib.asynccontextmanager
async def fake_worker(health: dict[str, Any]) -> AsyncIterator[None]:
    """Answer health requests on the worker's inbox as the worker does."""
    layer = get_channel_layer()

    async def serve() -> None:
        while True:
            message = await layer.receive(broadcast.WORKER_INBOX)
            await broadcast.send_health(
                layer, channel=message["reply_to"], health=health
            )

    task = asyncio.create_task(serve())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_healthz_is_200_when_the_worker_is_connected() -> None:
    async with fake_worker({**HEALTH, "calls": [{"id": "s-1"}]}):
        response = await AsyncClient().get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == PUBLIC_KEYS  # no call details, whatever the worker says
    assert body["worker_connected"] is True
    assert (body["live_calls"], body["reconnects"]) == (3, 1)
    assert "no-cache" in response["Cache-Control"]


async def test_healthz_is_503_when_the_worker_is_disconnected() -> None:
    error = "RingCentral rejected the credentials (400 OAU-251: bad JWT)"
    async with fake_worker({**HEALTH, "connected": False, "error": error}):
        response = await AsyncClient().get("/healthz")
    assert response.status_code == 503
    assert (response.json()["worker_connected"], response.json()["error"]) == (
        False,
        error,
    )


async def test_healthz_is_503_when_no_worker_answers(monkeypatch) -> None:
    monkeypatch.setattr(views, "HEALTH_TIMEOUT", 0.05)
    response = await AsyncClient().get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert set(body) == PUBLIC_KEYS
    assert (body["worker_answered"], body["worker_connected"]) == (False, False)
    assert "did not answer" in body["error"]


def no_delay():
    return itertools.repeat(0.0)


async def test_healthz_asks_the_real_worker(rc_client) -> None:
    layer = get_channel_layer()
    probe = await layer.new_channel()
    await layer.group_add(broadcast.SUPERVISORS, probe)
    worker = TelephonyWorker(client=rc_client, layer=layer, reconnect_delays=no_delay)
    task = asyncio.create_task(worker.run())
    try:
        async with asyncio.timeout(WAIT):
            while (await layer.receive(probe))["type"] != "telephony.worker_status":
                pass
        response = await AsyncClient().get("/healthz")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert response.status_code == 200, response.json()
    assert response.json()["subscription_active"] is True
    assert response.json()["live_calls"] == 0


class Watched:
    def __init__(self) -> None:
        self.model = LiveModel()

    def health(self) -> dict[str, Any]:
        return {**HEALTH, "live_calls": len(self.model)}


def watched_worker() -> Watched:
    worker = Watched()
    envelope = json.loads((CAPTURED / "internal-ext-to-ext-hold.json").read_text())[0]
    event = parse_session_event(envelope)
    worker.model.apply(event)
    worker.model.apply(event)  # a duplicate
    metrics.watch(worker)
    return worker


async def test_metrics_for_a_scraper_with_the_bearer_token(settings) -> None:
    settings.METRICS_TOKEN = "scrape-me"
    worker = watched_worker()
    metrics.EVENTS.inc()
    metrics.command_done(action="hold", outcome="accepted")
    metrics.publish_observed(0.0)
    response = await AsyncClient().get(
        "/metrics", headers={"Authorization": "Bearer scrape-me"}
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert "switchboard_telephony_live_calls 1.0" in text
    assert 'switchboard_telephony_events_dropped_total{reason="duplicate"} 1.0' in text
    assert "switchboard_telephony_reconnects_total 1.0" in text
    assert "switchboard_telephony_resyncs_total 2.0" in text
    assert (
        'switchboard_telephony_commands_total{action="hold",outcome="accepted"}' in text
    )
    assert "switchboard_telephony_publish_latency_seconds_count" in text
    assert "switchboard_history_batch_write_seconds_count" in text
    del worker


async def scrape_from(remote: str, user: Any = None, **headers: str) -> Any:
    """The view alone: the test client cannot set the peer address."""
    request = AsyncRequestFactory().get("/metrics", headers=headers)
    request.META["REMOTE_ADDR"] = remote

    async def auser() -> Any:
        return user or AnonymousUser()

    request.auser = auser
    return await views.metrics(request)


@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong", "Basic c2NyYXBlLW1l", "Bearer"]
)
async def test_metrics_refuses_a_missing_or_wrong_token(
    settings, authorization
) -> None:
    settings.METRICS_TOKEN = "scrape-me"
    headers = {"Authorization": authorization} if authorization else {}
    response = await AsyncClient().get("/metrics", headers=headers)
    assert response.status_code == 403


async def test_metrics_trusts_no_address_only_staff_or_the_token(settings) -> None:
    settings.METRICS_TOKEN = ""
    # Loopback without a proxy header used to be let in: a proxy on the
    # same host that adds no header made every visitor look local.
    assert (await scrape_from("127.0.0.1")).status_code == 403
    assert (await scrape_from("::1")).status_code == 403
    # No token configured: a bearer header opens nothing.
    assert (await scrape_from("10.1.2.3", Authorization="Bearer ")).status_code == 403
    agent = User(username="agent", is_active=True)
    assert (await scrape_from("10.1.2.3", agent)).status_code == 403
    staff = User(username="ops", is_active=True, is_staff=True)
    assert (await scrape_from("10.1.2.3", staff)).status_code == 200


@pytest.mark.django_db
def test_admin_shows_history_directory_and_audit_read_only(
    admin_client: Client,
) -> None:
    services.extension_directory_replace(
        records=[{"id": 1, "extensionNumber": "101", "name": "Alice Agent"}]
    )
    services.command_audit_create(
        username="alice",
        action="hold",
        telephony_session_id="s-1",
        party_id="p-1",
        outcome="accepted",
    )
    now = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
    call = CallRecord.objects.create(
        telephony_session_id="s-1",
        started_at=now,
        last_seen_at=now,
        agent_name="Alice Agent",
        customer_number="+14155550100",
        talk_seconds=3725.4,
        result="answered",
    )
    call.parties.create(party_id="p-1", status="Disconnected", first_status="Setup")
    pages = {
        "/admin/telephony/callrecord/": "1:02:05",
        "/admin/telephony/callrecord/?q=%2B14155550100&result__exact=answered": (
            "Alice Agent"
        ),
        f"/admin/telephony/callrecord/{call.pk}/change/": "p-1",
        "/admin/telephony/extension/?q=Alice": "Alice Agent",
        "/admin/telephony/commandaudit/?q=alice": "s-1",
    }
    for url, expected in pages.items():
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert expected in response.content.decode(), url
    for model in ("callrecord", "extension", "commandaudit"):
        assert admin_client.get(f"/admin/telephony/{model}/add/").status_code == 403
    assert Extension.objects.count() == CommandAudit.objects.count() == 1


@pytest.mark.django_db
def test_admin_shows_queue_members_by_name_read_only(admin_client: Client) -> None:
    services.extension_directory_replace(
        records=[
            {"id": 101, "extensionNumber": "101", "name": "Alice Agent"},
            {"id": 102, "extensionNumber": "102", "name": "Bob Builder"},
            {
                "id": 201,
                "extensionNumber": "201",
                "name": "Sales",
                "type": "Department",
            },
            {"id": 202, "extensionNumber": "202", "name": "VIP", "type": "Department"},
        ]
    )
    services.queue_members_replace(members={"201": ["101", "102"], "202": ["102"]})
    listing = admin_client.get("/admin/telephony/queuemember/")
    assert listing.status_code == 200
    page = listing.content.decode()
    assert "Alice Agent" in page and "Sales" in page
    assert "VIP" in page  # offered as a filter, by name
    only_vip = admin_client.get("/admin/telephony/queuemember/?queue=202").content
    assert b"Bob Builder" in only_vip and b"Alice Agent" not in only_vip
    by_name = admin_client.get("/admin/telephony/queuemember/?q=alice").content
    assert b"Alice Agent" in by_name and b"Bob Builder" not in by_name
    assert admin_client.get("/admin/telephony/queuemember/add/").status_code == 403


def test_duration_format() -> None:
    assert [duration(s) for s in (None, 0, 65, 3725.4)] == [
        "",
        "0:00",
        "1:05",
        "1:02:05",
    ]


def test_worker_command_serves_metrics_on_its_own_port(settings, monkeypatch) -> None:
    settings.RINGCENTRAL_SERVER_URL = "http://127.0.0.1:9"  # never contacted
    command = Command()
    scraped: list[httpx.Response] = []

    async def run(self: TelephonyWorker) -> None:
        host, port = command.metrics_server.server_address[:2]
        async with httpx.AsyncClient(timeout=WAIT) as http:
            scraped.append(await http.get(f"http://{host}:{port}/metrics"))

    monkeypatch.setattr(TelephonyWorker, "run", run)
    call_command(command, "--metrics-port", "0")
    assert command.metrics_server.server_address[0] == "127.0.0.1"
    assert scraped[0].status_code == 200
    assert "switchboard_telephony_events_total" in scraped[0].text
