"""The live call wall's tokens, page and socket (dashboard.wall_tokens,
dashboard.wall): hashed, revocable, expiring tokens that open the wall and
nothing else; a read-only socket whose calls carry numbers masked on the
server. The wall in a browser: tests/browser/test_wall.py."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from datetime import timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Group, Permission, User
from django.utils import timezone

from dashboard import protocol
from dashboard.asgi import application
from dashboard.models import PANELS, WallToken, hash_token
from dashboard.wall import READ_ONLY, WALL_ENDED
from dashboard.wall_tokens import (
    EXPIRED,
    NO_TOKEN,
    REVOKED,
    UNKNOWN,
    wall_access,
    wall_tokens_revoke,
)
from telephony import broadcast
from tests.support import WAIT
from tests.support.calls import call_view, endpoint, party
from tests.support.frames import receive_frame

HEADERS = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")]
CUSTOMER = "+14155550123"
CALL = call_view(
    "s-1",
    agent_party_id="p-1-2",
    customer_party_id="p-1-1",
    parties=[
        party(
            "p-1-1",
            role="customer",
            direction="Outbound",
            from_=endpoint(phone_number=CUSTOMER, name="MUELLER KLAUS"),
            to=endpoint(phone_number="+16505550100"),
        ),
        party(
            "p-1-2",
            role="agent",
            extension_id="1000000102",
            direction="Inbound",
            from_=endpoint(phone_number=CUSTOMER, name="MUELLER KLAUS"),
            to=endpoint(
                phone_number="+16505550102",
                name="Bob Builder",
                extension_id="1000000102",
            ),
        ),
    ],
)


def make_token(**fields: Any) -> tuple[WallToken, str]:
    token = WallToken(name=fields.pop("name", "Sales TV"), **fields)
    raw = token.issue()
    token.save()
    return token, raw


# --- tokens ------------------------------------------------------------------


@pytest.mark.django_db
def test_only_the_tokens_digest_is_stored():
    token, raw = make_token()
    assert len(raw) == 43
    assert token.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    stored = json.dumps(list(WallToken.objects.values()), default=str)
    assert raw not in stored
    assert token.fingerprint == token.token_hash[:8]


@pytest.mark.django_db
def test_a_valid_token_opens_its_wall_with_its_settings():
    token, raw = make_token(queues=["1000000201"], panels=["counts", "calls"])
    access = wall_access(raw, seen=True)
    assert access.ok and access.wall_id == token.pk
    assert access.settings() == {
        "name": "Sales TV",
        "panels": ["counts", "calls"],
        "queues": ["1000000201"],
        "masked": True,
    }
    token.refresh_from_db()
    assert token.last_seen_at is not None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("raw", "status", "reason"),
    [
        (None, 403, NO_TOKEN),
        ("", 403, NO_TOKEN),
        ("short", 403, UNKNOWN),
        ("x" * 43, 403, UNKNOWN),
        ("../../etc/passwd-but-long-enough-to-pass", 403, UNKNOWN),
        ("x" * 43 + "\n", 403, UNKNOWN),  # `$` would match before the newline
    ],
)
def test_a_missing_or_unknown_token_opens_nothing(raw, status, reason):
    make_token()
    access = wall_access(raw)
    assert (access.ok, access.status, access.refusal) == (False, status, reason)


@pytest.mark.django_db
def test_a_revoked_or_expired_token_is_refused_with_410():
    revoked, raw_revoked = make_token(revoked_at=timezone.now())
    expired, raw_expired = make_token(expires_at=timezone.now() - timedelta(seconds=1))
    later, raw_later = make_token(expires_at=timezone.now() + timedelta(hours=1))
    assert (wall_access(raw_revoked).status, wall_access(raw_revoked).refusal) == (
        410,
        REVOKED,
    )
    assert (wall_access(raw_expired).status, wall_access(raw_expired).refusal) == (
        410,
        EXPIRED,
    )
    assert wall_access(raw_later).ok
    assert [t.state() for t in (revoked, expired, later)] == [
        "revoked",
        "expired",
        "active",
    ]


@pytest.mark.django_db
def test_administrators_manage_wall_tokens_and_others_do_not():
    codenames = {"view_walltoken", "add_walltoken", "change_walltoken"}
    codenames.add("delete_walltoken")
    held = {
        name: set(
            Group.objects.get(name=name)
            .permissions.filter(content_type__app_label="dashboard")
            .values_list("codename", flat=True)
        )
        for name in ("Viewer", "Supervisor", "Administrator")
    }
    assert held == {"Viewer": set(), "Supervisor": set(), "Administrator": codenames}
    assert Permission.objects.filter(codename__in=codenames).count() == 4


# --- the masked wire -----------------------------------------------------------


def test_the_masked_wire_keeps_the_last_four_digits_and_no_callers_name():
    wire = protocol.masked_call_wire(CALL)
    text = protocol.dumps(wire)
    assert CUSTOMER not in text and "4155550123" not in text
    assert "MUELLER" not in text
    assert wire["customer"]["number"] == "…0123"
    # The agent keeps their name (an extension of the account).
    assert wire["agent"]["name"] == "Bob Builder"
    assert wire["agent"]["number"] == "…0102"
    plain = protocol.call_wire(CALL)
    assert plain["customer"]["number"] == CUSTOMER
    # Everything else is the console's wire form.
    strip = {"number", "name"}
    for slot in ("agent", "customer"):
        assert {k: v for k, v in wire[slot].items() if k not in strip} == {
            k: v for k, v in plain[slot].items() if k not in strip
        }


# --- the page ------------------------------------------------------------------


@pytest.mark.django_db
def test_the_wall_page_opens_with_its_token_and_no_login(client):
    _, raw = make_token(name="Floor 2 TV")
    response = client.get(f"/wall/?token={raw}")
    assert response.status_code == 200
    assert response["Referrer-Policy"] == "no-referrer"
    assert "no-store" in response["Cache-Control"]
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert "sessionid" not in response.cookies  # nobody logged in
    html = response.content.decode()
    assert "Floor 2 TV" in html and raw not in html
    # No inline script or style (the site's CSP): scripts are files or data.
    for tag in re.findall(r"<script[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert " style=" not in html and "<style" not in html


@pytest.mark.django_db
def test_a_refused_wall_says_why_in_plain_words(client):
    _, revoked = make_token(revoked_at=timezone.now())
    _, expired = make_token(expires_at=timezone.now() - timedelta(minutes=1))
    for path, status, words in [
        (f"/wall/?token={revoked}", 410, "was revoked; ask an administrator"),
        (f"/wall/?token={expired}", 410, "expired; ask an administrator"),
        ("/wall/?token=not-a-real-wall-token-at-all-0000000", 403, "not valid"),
        ("/wall/", 403, "Ask an administrator for the wall"),
    ]:
        response = client.get(path)
        assert response.status_code == status, path
        assert words in response.content.decode(), path
        assert response["Referrer-Policy"] == "no-referrer"


@pytest.mark.django_db
def test_a_wall_token_opens_nothing_but_the_wall(client):
    _, raw = make_token()
    for path in ("/", "/directory.json", "/admin/", "/admin/dashboard/walltoken/"):
        response = client.get(f"{path}?token={raw}")
        assert response.status_code == 302, path
        assert "/login/" in response["Location"], path
    bearer = client.get("/metrics", headers={"Authorization": f"Bearer {raw}"})
    assert bearer.status_code == 403
    # Opening the wall logs nobody in: the console is still closed after.
    client.get(f"/wall/?token={raw}")
    assert client.get("/").status_code == 302


# --- the socket ----------------------------------------------------------------


async def open_wall(raw: str) -> WebsocketCommunicator:
    wall = WebsocketCommunicator(application, f"/ws/wall/?token={raw}", headers=HEADERS)
    connected, _ = await wall.connect(timeout=WAIT)
    assert connected
    return wall


async def answer_snapshot(calls: list[Any]) -> None:
    """Answer the live feed's snapshot request as the worker does."""
    async with asyncio.timeout(WAIT):
        request = await get_channel_layer().receive(broadcast.WORKER_INBOX)
    assert request["type"] == "telephony.snapshot_requested"
    await broadcast.send_snapshot(
        get_channel_layer(),
        channel=request["reply_to"],
        epoch="e1",
        seq=1,
        calls=calls,
        agents=[],
        status={"connected": True, "error": None, "since": None},
    )


async def synced_wall(raw: str) -> tuple[WebsocketCommunicator, dict[str, Any]]:
    wall = await open_wall(raw)
    settings = await receive_frame(wall)
    assert settings["type"] == "wall"
    await answer_snapshot([CALL])
    snapshot = await receive_frame(wall)
    assert snapshot["type"] == "snapshot"
    return wall, snapshot


@pytest.mark.django_db(transaction=True)
async def test_a_wall_socket_gets_the_floor_with_numbers_masked():
    _, raw = await database_sync_to_async(make_token)()
    wall, snapshot = await synced_wall(raw)
    [call] = snapshot["calls"]
    assert call["customer"]["number"] == "…0123"
    assert CUSTOMER not in json.dumps(snapshot)
    # A change reaches it masked too.
    await broadcast.publish_call_changed(
        get_channel_layer(),
        kind="updated",
        epoch="e1",
        seq=2,
        call={**CALL, "state": "held"},
    )
    delta = await receive_frame(wall)
    assert delta["type"] == "delta" and CUSTOMER not in json.dumps(delta)
    await wall.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_an_unmasked_wall_shares_the_consoles_wire_form():
    _, raw = await database_sync_to_async(make_token)(mask_numbers=False)
    wall, snapshot = await synced_wall(raw)
    assert snapshot["calls"][0]["customer"]["number"] == CUSTOMER
    await wall.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_wall_socket_refuses_commands_and_stays_up():
    _, raw = await database_sync_to_async(make_token)()
    wall, _ = await synced_wall(raw)
    for message in (
        {
            "type": "command",
            "requestId": "r1",
            "action": "end",
            "sessionId": "s-1",
            "partyId": "p-1-2",
        },
        {"type": "ack", "alertId": "long_hold:s-1"},
        {"type": "viewing", "sessionId": "s-1"},
        ["not", "an", "object"],
    ):
        await wall.send_json_to(message)
        reply = await receive_frame(wall)
        assert reply == {"type": "error", "message": READ_ONLY, "requestId": None}
    await wall.send_to(text_data="not json")
    assert (await receive_frame(wall))["message"] == "Messages must be JSON."
    # Still up: the floor still reaches it.
    await broadcast.publish_call_changed(
        get_channel_layer(), kind="ended", epoch="e1", seq=2, call=CALL
    )
    delta = await receive_frame(wall)
    assert delta["ended"] == ["s-1"]
    await wall.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("state", ["revoked", "expired", "unknown"])
async def test_a_wall_socket_with_a_bad_token_says_why_and_ends(state):
    fields = {
        "revoked": {"revoked_at": timezone.now()},
        "expired": {"expires_at": timezone.now() - timedelta(seconds=1)},
        "unknown": {},
    }[state]
    _, raw = await database_sync_to_async(make_token)(**fields)
    wall = await open_wall(raw if state != "unknown" else "x" * 43)
    frame = await receive_frame(wall)
    assert frame["type"] == "error"
    assert {"revoked": REVOKED, "expired": EXPIRED, "unknown": UNKNOWN}[state] == (
        frame["message"]
    )
    closed = await wall.receive_output(timeout=WAIT)
    assert closed == {"type": "websocket.close", "code": WALL_ENDED}


@pytest.mark.django_db(transaction=True)
async def test_revoking_a_token_closes_its_open_walls_at_once():
    token, raw = await database_sync_to_async(make_token)()
    _, other_raw = await database_sync_to_async(make_token)(name="Other TV")
    wall, _ = await synced_wall(raw)
    other = await open_wall(other_raw)
    assert (await receive_frame(other))["type"] == "wall"
    assert (await receive_frame(other))["type"] == "snapshot"
    await database_sync_to_async(wall_tokens_revoke)(
        WallToken.objects.filter(pk=token.pk)
    )
    frame = await receive_frame(wall)
    assert frame == {"type": "error", "message": REVOKED, "requestId": None}
    closed = await wall.receive_output(timeout=WAIT)
    assert closed == {"type": "websocket.close", "code": WALL_ENDED}
    assert await other.receive_nothing(timeout=0.2)  # another token's wall stays
    await other.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_an_open_wall_closes_when_its_token_expires():
    _, raw = await database_sync_to_async(make_token)(
        expires_at=timezone.now() + timedelta(seconds=1)
    )
    wall, _ = await synced_wall(raw)
    frame = await receive_frame(wall)
    assert frame["message"] == EXPIRED
    closed = await wall.receive_output(timeout=WAIT)
    assert closed == {"type": "websocket.close", "code": WALL_ENDED}


@pytest.mark.django_db(transaction=True)
async def test_an_edited_token_reaches_its_open_wall():
    token, raw = await database_sync_to_async(make_token)()

    def edit(**fields: Any) -> None:
        fresh = WallToken.objects.get(pk=token.pk)
        for name, value in fields.items():
            setattr(fresh, name, value)
        fresh.save()

    wall, _ = await synced_wall(raw)
    await database_sync_to_async(edit)(panels=["counts"], queues=["1000000201"])
    frame = await receive_frame(wall)
    assert frame["type"] == "wall"
    assert (frame["panels"], frame["queues"]) == (["counts"], ["1000000201"])
    # Masking turned off: served from the consoles' feed, a fresh snapshot.
    await database_sync_to_async(edit)(mask_numbers=False)
    assert (await receive_frame(wall))["masked"] is False
    await answer_snapshot([CALL])
    snapshot = await receive_frame(wall)
    assert snapshot["type"] == "snapshot"
    assert snapshot["calls"][0]["customer"]["number"] == CUSTOMER
    await wall.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_wall_token_does_not_open_the_consoles_socket():
    _, raw = await database_sync_to_async(make_token)()
    console = WebsocketCommunicator(
        application, f"/ws/console/?token={raw}", headers=HEADERS
    )
    connected, _ = await console.connect(timeout=WAIT)
    assert not connected
    await console.disconnect()


# --- the admin -----------------------------------------------------------------


def administrator() -> User:
    user = User.objects.create_user("ada", password="pw-not-used-1", is_staff=True)
    user.groups.add(Group.objects.get(name="Administrator"))
    return user


@pytest.mark.django_db
def test_an_administrator_creates_a_token_and_sees_its_link_once(client):
    client.force_login(administrator())
    response = client.post(
        "/admin/dashboard/walltoken/add/",
        {"name": "Lobby TV", "panels": ["counts", "calls"], "mask_numbers": "on"},
    )
    assert response.status_code == 200, response.content[:2000]
    html = response.content.decode()
    link = re.search(r'value="(http://testserver/wall/\?token=([A-Za-z0-9_-]+))"', html)
    assert link, html[-3000:]
    token = WallToken.objects.get(name="Lobby TV")
    assert token.token_hash == hash_token(link[2])
    assert (token.panels, token.mask_numbers) == (["counts", "calls"], True)
    assert token.created_by is not None and token.created_by.username == "ada"
    assert response["Referrer-Policy"] == "no-referrer"
    # Never again: the token's page shows a fingerprint, not the link.
    page = client.get(f"/admin/dashboard/walltoken/{token.pk}/change/").content
    assert link[2].encode() not in page
    assert token.fingerprint.encode() in page


@pytest.mark.django_db
def test_the_revoke_action_revokes_the_chosen_tokens(client):
    client.force_login(administrator())
    token, raw = make_token()
    kept, _ = make_token(name="Kept TV")
    response = client.post(
        "/admin/dashboard/walltoken/",
        {"action": "revoke", "_selected_action": [token.pk]},
        follow=True,
    )
    assert "1 wall token revoked" in response.content.decode()
    token.refresh_from_db()
    kept.refresh_from_db()
    assert token.revoked_at is not None and kept.revoked_at is None
    assert wall_access(raw).status == 410


@pytest.mark.django_db
def test_a_supervisor_does_not_see_wall_tokens(client):
    user = User.objects.create_user("sup", password="pw-not-used-1", is_staff=True)
    user.groups.add(Group.objects.get(name="Supervisor"))
    client.force_login(user)
    assert client.get("/admin/dashboard/walltoken/").status_code == 403


def test_every_panel_has_a_name():
    assert [name for name, _ in PANELS] == [
        "counts",
        "longest",
        "queues",
        "alerts",
        "calls",
    ]
