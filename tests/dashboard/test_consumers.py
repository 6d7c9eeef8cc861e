"""SupervisorConsumer with WebsocketCommunicator and a stand-in worker that
reads the worker inbox, so the consumer's side of the contract is exercised
alone. The real worker is covered in tests/telephony/test_worker.py."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser, Group, User

from dashboard import protocol
from dashboard.asgi import application
from dashboard.consumers import ACCESS_ENDED, SupervisorConsumer
from dashboard.feed import FEED_TYPES
from telephony import actions, broadcast
from tests.support import WAIT
from tests.support.calls import call_view
from tests.support.frames import receive_frame

HEADERS = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")]
CALL = call_view("s-1", agent_party_id="p-1-2")
WIRE = protocol.call_wire(CALL)


def create_user(username: str, *, control: bool) -> User:
    """A Supervisor (`control`) or a Viewer (telephony/migrations/0007)."""
    user = User.objects.create_user(username, password="pw-not-used-1")
    user.groups.add(Group.objects.get(name="Supervisor" if control else "Viewer"))
    return User.objects.get(pk=user.pk)  # fresh permission cache


async def inbox() -> dict[str, Any]:
    async with asyncio.timeout(WAIT):
        return await get_channel_layer().receive(broadcast.WORKER_INBOX)


async def answer_snapshot(calls: list[Any], *, seq: int = 7) -> None:
    """Answer the live feed's snapshot request as the worker does."""
    request_msg = await inbox()
    assert request_msg["type"] == "telephony.snapshot_requested"
    await broadcast.send_snapshot(
        get_channel_layer(),
        channel=request_msg["reply_to"],
        epoch="e1",
        seq=seq,
        calls=calls,
        agents=[],
        status={"connected": True, "error": None, "since": None},
    )


ALL_ACTIONS = list(actions.ACTIONS)


async def open_as(user: Any, session: Any = None) -> WebsocketCommunicator:
    """A console of `user`, connected; its first frame (what the user may
    do) is read here and kept as `.access`."""
    communicator = WebsocketCommunicator(SupervisorConsumer.as_asgi(), "/ws/console/")
    communicator.scope["user"] = user
    if session is not None:
        communicator.scope["session"] = session
    connected, _ = await communicator.connect(timeout=WAIT)
    assert connected
    communicator.access = await receive_frame(communicator)  # type: ignore[attr-defined]
    return communicator


@pytest.fixture
async def console(request) -> AsyncIterator[WebsocketCommunicator]:
    control = getattr(request, "param", True)
    user = await database_sync_to_async(create_user)("sup", control=control)
    communicator = await open_as(user)
    assert communicator.access == {  # type: ignore[attr-defined]
        "type": "access",
        "actions": ALL_ACTIONS if control else [],
        "acknowledge": control,
    }
    await answer_snapshot([CALL])
    snapshot = await receive_frame(communicator)
    assert snapshot.pop("time") and snapshot.pop("epoch")
    assert snapshot == {
        "type": "snapshot",
        "n": 0,
        "part": 1,
        "parts": 1,
        "calls": [WIRE],
        "agents": [],
        "alerts": [],
        "attention": [],
        "queues": [],
        "worker": {"connected": True, "error": None, "since": None},
    }
    yield communicator
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_call_updates_are_forwarded_in_numbered_deltas(console):
    held = call_view("s-1", agent_party_id="p-1-2", state="held")
    await broadcast.publish_call_changed(
        get_channel_layer(), kind="updated", epoch="e1", seq=8, call=held
    )
    delta = await receive_frame(console)
    assert (delta["type"], delta["n"], delta["calls"], delta["ended"]) == (
        "delta",
        1,
        [protocol.call_wire(held)],
        [],
    )
    await broadcast.publish_call_changed(
        get_channel_layer(), kind="ended", epoch="e1", seq=9, call=CALL
    )
    delta = await receive_frame(console)
    assert (delta["n"], delta["calls"], delta["ended"]) == (2, [], ["s-1"])


@pytest.mark.django_db(transaction=True)
async def test_hold_click_travels_to_the_worker_and_its_reply_back(console):
    await console.send_json_to(
        {
            "type": "command",
            "requestId": "req-1",
            "action": "hold",
            "sessionId": "s-1",
            "partyId": "p-1-2",
        }
    )
    command = await inbox()
    assert command["type"] == "telephony.command_requested"
    assert (command["action"], command["session_id"], command["party_id"]) == (
        "hold",
        "s-1",
        "p-1-2",
    )
    assert command["user"] == "sup"
    await broadcast.reply_command(
        get_channel_layer(),
        channel=command["reply_to"],
        request_id="req-1",
        ok=False,
        action="hold",
        session_id="s-1",
        status=409,
        error_code="CMN-xyz",
        message="Hold failed.",
    )
    reply = await receive_frame(console)
    assert reply["type"] == "command_result"
    assert (reply["requestId"], reply["ok"], reply["errorCode"]) == (
        "req-1",
        False,
        "CMN-xyz",
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        "[1, 2]",
        '{"type": "dance"}',
        '{"type": "command", "requestId": "r", "action": "explode",'
        ' "sessionId": "s-1", "partyId": "p-1"}',
        '{"type": "command", "requestId": "r", "action": "hold",'
        ' "sessionId": "../../etc", "partyId": "p-1"}',
        '{"type": "command", "action": "hold", "sessionId": "s-1", "partyId": "p-1"}',
    ],
)
async def test_bad_browser_messages_get_an_error_and_the_socket_stays_up(console, raw):
    await console.send_to(text_data=raw)
    reply = await receive_frame(console)
    assert reply["type"] == "error"
    assert reply["message"]
    await console.send_to(text_data="still there?")  # the socket still serves
    assert (await receive_frame(console))["type"] == "error"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("console", [False], indirect=True)
async def test_supervisor_without_permission_cannot_send_commands(console):
    await console.send_json_to(
        {
            "type": "command",
            "requestId": "req-1",
            "action": "hold",
            "sessionId": "s-1",
            "partyId": "p-1-2",
        }
    )
    reply = await receive_frame(console)
    assert reply == {
        "type": "error",
        "message": "You do not have permission to hold and unhold live calls. "
        "Ask an administrator.",
        "requestId": "req-1",  # so the console stops showing it pending
    }


@pytest.mark.django_db(transaction=True)
async def test_command_without_worker_reply_times_out_in_plain_words(console, settings):
    settings.COMMAND_REPLY_TIMEOUT = 0.05
    await console.send_json_to(
        {
            "type": "command",
            "requestId": "req-9",
            "action": "unhold",
            "sessionId": "s-1",
            "partyId": "p-1-2",
        }
    )
    await inbox()  # the worker never answers
    reply = await receive_frame(console)
    assert reply["ok"] is False
    assert "no answer from the telephony worker" in reply["message"]


@pytest.mark.django_db(transaction=True)
async def test_anonymous_websocket_is_refused_through_the_full_stack():
    communicator = WebsocketCommunicator(application, "/ws/console/", headers=HEADERS)
    connected, _ = await communicator.connect(timeout=WAIT)
    assert not connected
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_consumer_alone_refuses_anonymous_user():
    communicator = WebsocketCommunicator(SupervisorConsumer.as_asgi(), "/ws/console/")
    communicator.scope["user"] = AnonymousUser()
    connected, _ = await communicator.connect(timeout=WAIT)
    assert not connected


def test_every_consumer_type_is_handled_by_the_feed_or_the_consumer():
    for type_name in broadcast.CONSUMER_TYPES:
        handled = type_name in FEED_TYPES or hasattr(
            SupervisorConsumer, type_name.replace(".", "_")
        )
        assert handled, type_name


@pytest.mark.django_db
def test_console_page_redirects_anonymous_users_to_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


@pytest.mark.django_db
def test_console_page_renders_for_a_supervisor(client):
    client.force_login(create_user("sup2", control=True))
    response = client.get("/")
    assert response.status_code == 200
    assert json_script(response, "access") == {
        "actions": ALL_ACTIONS,
        "acknowledge": True,
    }


@pytest.mark.django_db
def test_a_viewer_gets_the_console_without_buttons(client):
    client.force_login(create_user("viewer", control=False))
    response = client.get("/")
    assert response.status_code == 200
    assert json_script(response, "access") == {"actions": [], "acknowledge": False}


@pytest.mark.django_db
def test_a_user_without_a_role_gets_a_page_saying_so_not_the_floor(client):
    client.force_login(User.objects.create_user("nobody"))
    for path in ("/", "/directory.json"):
        response = client.get(path)
        assert response.status_code == 403
        assert b"may not watch the live floor" in response.content
        assert b'id="directory"' not in response.content


def json_script(response: Any, element_id: str) -> Any:
    found = re.search(
        rf'<script id="{element_id}" type="application/json">(.*?)</script>',
        response.content.decode(),
    )
    assert found, element_id
    return json.loads(found.group(1))


@pytest.mark.django_db(transaction=True)
async def test_a_withdrawn_permission_applies_to_an_open_console(console):
    def demote() -> None:
        user = User.objects.get(username="sup")
        user.groups.set([Group.objects.get(name="Viewer")])

    await database_sync_to_async(demote)()
    # The console is told at once: no buttons any more.
    assert await receive_frame(console) == {
        "type": "access",
        "actions": [],
        "acknowledge": False,
    }
    await console.send_json_to(
        {
            "type": "command",
            "requestId": "req-2",
            "action": "end",
            "sessionId": "s-1",
            "partyId": "p-1-2",
        }
    )
    reply = await receive_frame(console)
    while reply["type"] == "access":  # groups.set() removes, then adds
        reply = await receive_frame(console)
    assert reply["message"] == (
        "You do not have permission to end live calls. Ask an administrator."
    )


@pytest.mark.django_db(transaction=True)
async def test_absurdly_nested_json_gets_an_error_not_a_crash(console):
    await console.send_to(text_data="[" * 200_000)
    reply = await receive_frame(console)
    assert reply == {
        "type": "error",
        "message": "Messages must be JSON.",
        "requestId": None,
    }


@pytest.mark.django_db(transaction=True)
async def test_a_reused_request_id_is_refused(console):
    command = {
        "type": "command",
        "requestId": "req-3",
        "action": "hold",
        "sessionId": "s-1",
        "partyId": "p-1-2",
    }
    await console.send_json_to(command)
    await inbox()
    await console.send_json_to(command)
    reply = await receive_frame(console)
    assert reply["message"] == "This command was already sent."


def change_user(username: str, **fields: Any) -> None:
    user = User.objects.get(username=username)
    for name, value in fields.items():
        if name == "password":
            user.set_password(value)
        else:
            setattr(user, name, value)
    user.save()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"is_active": False}, "Your account was deactivated."),
        ({"password": "a-new-password-9"}, "Your password changed."),
    ],
)
async def test_a_console_closes_at_once_when_its_users_access_ends(
    console, change, reason
):
    await database_sync_to_async(change_user)("sup", **change)
    frame = await receive_frame(console)
    assert frame["type"] == "error" and frame["message"].startswith(reason)
    closed = await console.receive_output(timeout=WAIT)
    assert closed == {"type": "websocket.close", "code": ACCESS_ENDED}


@pytest.mark.django_db(transaction=True)
async def test_other_changes_to_the_user_leave_the_console_open(console):
    await database_sync_to_async(change_user)("sup", first_name="Sam")
    assert await console.receive_nothing(timeout=0.2)
