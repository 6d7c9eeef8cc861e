"""Roles and access on an open console: who may watch, which buttons, and
what happens at once when an administrator changes it, a session expires
or a user opens too many consoles (docs/security.md "Roles")."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Group, Permission, User
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from dashboard import access
from dashboard.consumers import (
    ACCESS_ENDED,
    NOT_PERMITTED,
    TOO_MANY_CONSOLES,
    SupervisorConsumer,
)
from telephony import actions
from tests.dashboard.test_consumers import (
    ALL_ACTIONS,
    answer_snapshot,
    create_user,
    inbox,
    open_as,
)
from tests.support import WAIT
from tests.support.calls import call_view
from tests.support.frames import receive_frame

CALL = call_view("s-1", agent_party_id="p-1-2")


def command(action: str, request_id: str = "r-1") -> dict[str, Any]:
    return {
        "type": "command",
        "requestId": request_id,
        "action": action,
        "sessionId": "s-1",
        "partyId": "p-1-2",
    }


async def closed_with(console: WebsocketCommunicator, code: int) -> str:
    """The reason the console was given, then its close with `code`."""
    frame = await receive_frame(console)
    while frame["type"] != "error":
        frame = await receive_frame(console)
    assert await console.receive_output(timeout=WAIT) == {
        "type": "websocket.close",
        "code": code,
    }
    return str(frame["message"])


async def next_access(console: WebsocketCommunicator) -> dict[str, Any]:
    frame = await receive_frame(console)
    while frame["type"] != "access":
        frame = await receive_frame(console)
    return frame


def in_role(username: str, role: str | None) -> None:
    user = User.objects.get(username=username)
    user.groups.set([Group.objects.get(name=role)] if role else [])


@pytest.mark.django_db(transaction=True)
async def test_a_user_without_a_role_may_not_open_a_console():
    user = await database_sync_to_async(User.objects.create_user)("nobody")
    console = WebsocketCommunicator(SupervisorConsumer.as_asgi(), "/ws/console/")
    console.scope["user"] = user
    assert (await console.connect(timeout=WAIT))[0]
    assert await closed_with(console, NOT_PERMITTED) == access.NO_VIEW


@pytest.mark.django_db(transaction=True)
async def test_a_role_taken_away_closes_the_console_and_one_changed_redraws_it():
    user = await database_sync_to_async(create_user)("sup", control=True)
    console = await open_as(user)
    await answer_snapshot([CALL])
    assert (await receive_frame(console))["type"] == "snapshot"
    await database_sync_to_async(in_role)("sup", "Viewer")
    assert await next_access(console) == {
        "type": "access",
        "actions": [],
        "acknowledge": False,
    }
    await database_sync_to_async(in_role)("sup", None)
    assert await closed_with(console, NOT_PERMITTED) == access.NO_VIEW


@pytest.mark.django_db(transaction=True)
async def test_editing_a_groups_permissions_redraws_its_members_consoles():
    user = await database_sync_to_async(create_user)("sup", control=True)
    console = await open_as(user)

    def no_end_for_supervisors() -> None:
        Group.objects.get(name="Supervisor").permissions.remove(
            Permission.objects.get(codename="end_calls")
        )

    await database_sync_to_async(no_end_for_supervisors)()
    frame = await next_access(console)
    assert frame["actions"] == [a for a in ALL_ACTIONS if a != "end"]
    await console.send_json_to(command("end"))
    reply = await receive_frame(console)
    while reply["type"] != "error":
        reply = await receive_frame(console)
    assert reply["message"] == (
        "You do not have permission to end live calls. Ask an administrator."
    )


@pytest.mark.django_db(transaction=True)
async def test_each_action_needs_its_own_permission():
    def holder() -> User:
        user = User.objects.create_user("holder")
        user.user_permissions.add(
            *Permission.objects.filter(codename__in=["view_floor", "hold_calls"])
        )
        return User.objects.get(pk=user.pk)

    console = await open_as(await database_sync_to_async(holder)())
    assert console.access["actions"] == ["hold", "unhold"]  # type: ignore[attr-defined]
    await answer_snapshot([CALL])
    await receive_frame(console)  # the snapshot
    await console.send_json_to(command("hold"))
    sent = await inbox()
    assert (sent["type"], sent["action"], sent["user"]) == (
        "telephony.command_requested",
        "hold",
        "holder",
    )
    assert sent["user_id"] == console.scope["user"].pk
    for name in ("mute", "record_start", "transfer", "listen", "end"):
        await console.send_json_to(command(name, request_id=f"r-{name}"))
        reply = await receive_frame(console)
        assert reply["type"] == "error" and "permission" in reply["message"]
    await console.send_json_to({"type": "ack", "alertId": "long_hold:s-1"})
    reply = await receive_frame(console)
    assert reply["message"].startswith(
        "You do not have permission to acknowledge alerts"
    )
    await console.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_superuser_status_granted_gives_every_button_at_once():
    user = await database_sync_to_async(User.objects.create_user)("boss")
    await database_sync_to_async(lambda: in_role("boss", "Viewer"))()
    console = await open_as(await database_sync_to_async(User.objects.get)(pk=user.pk))

    def promote() -> None:
        boss = User.objects.get(username="boss")
        boss.is_superuser = True
        boss.save()

    await database_sync_to_async(promote)()
    assert (await next_access(console))["actions"] == ALL_ACTIONS
    await console.disconnect()


def root_session(client: Client) -> str:
    return str(client.cookies["sessionid"].value)


def session_of(user: User, seconds: float) -> SessionStore:
    """A login session of `user` whose row expires in `seconds`."""
    session = SessionStore()
    session["_auth_user_id"] = str(user.pk)
    session.create()
    Session.objects.filter(session_key=session.session_key).update(
        expire_date=timezone.now() + timedelta(seconds=seconds)
    )
    return session


@pytest.mark.django_db(transaction=True)
async def test_a_console_closes_when_its_login_session_expires():
    user = await database_sync_to_async(create_user)("sup", control=True)
    session = await database_sync_to_async(session_of)(user, 1.0)
    console = await open_as(user, session=session)
    # Nothing is deleted: the session's expiry date simply passes.
    assert await closed_with(console, ACCESS_ENDED) == access.SESSION_ENDED


@pytest.mark.django_db(transaction=True)
async def test_an_expired_session_may_not_open_a_console():
    user = await database_sync_to_async(create_user)("sup", control=True)
    session = await database_sync_to_async(session_of)(user, -1.0)
    console = WebsocketCommunicator(SupervisorConsumer.as_asgi(), "/ws/console/")
    console.scope["user"] = user
    console.scope["session"] = session
    assert (await console.connect(timeout=WAIT))[0]
    assert await closed_with(console, ACCESS_ENDED) == access.SESSION_ENDED


@pytest.mark.django_db(transaction=True)
async def test_a_users_consoles_are_capped_per_process(settings):
    settings.CONSOLES_PER_USER = 2
    user = await database_sync_to_async(create_user)("sup", control=False)
    first, second = await open_as(user), await open_as(user)
    third = WebsocketCommunicator(SupervisorConsumer.as_asgi(), "/ws/console/")
    third.scope["user"] = user
    assert (await third.connect(timeout=WAIT))[0]
    reason = await closed_with(third, TOO_MANY_CONSOLES)
    assert reason.startswith("Too many consoles are open for your user (2")
    # Another user is not counted against this one.
    other = await open_as(
        await database_sync_to_async(create_user)("sup2", control=False)
    )
    assert other.access["type"] == "access"  # type: ignore[attr-defined]
    # One closed: room for one again.
    await first.disconnect()
    again = await open_as(user)
    assert again.access["type"] == "access"  # type: ignore[attr-defined]
    for console in (second, other, again):
        await console.disconnect()


def test_the_roles_hold_what_their_names_say():
    from telephony import roles

    assert roles.ROLES["Viewer"] == ["view_floor"]
    supervisor = set(roles.ROLES["Supervisor"])
    assert {a.permission.split(".")[1] for a in actions.ACTIONS.values()} <= supervisor
    assert "view_commandaudit" not in supervisor
    assert supervisor < set(roles.ROLES["Administrator"])


@pytest.mark.django_db(transaction=True)
async def test_an_administrator_logs_a_user_out_everywhere_from_the_admin():
    user = await database_sync_to_async(create_user)("sup", control=True)
    session = await database_sync_to_async(session_of)(user, 3600)
    console = await open_as(user, session=session)

    def end_it() -> None:
        root = User.objects.create_user("root", is_staff=True)
        root.groups.add(Group.objects.get(name="Administrator"))
        client = Client()
        client.force_login(root)
        listing = client.get("/admin/auth/user/")
        assert b"Log the selected users out everywhere" in listing.content
        ended = client.post(
            "/admin/auth/user/",
            {"action": "end_logins", "_selected_action": [user.pk]},
        )
        assert ended.status_code == 302
        # Sessions get no admin page of their own (it would show their keys).
        assert client.get("/admin/sessions/session/").status_code == 404
        assert Session.objects.filter(session_key=root_session(client)).exists()

    await database_sync_to_async(end_it)()
    reason = await closed_with(console, ACCESS_ENDED)
    assert reason.startswith("Your login session ended.")


def test_the_access_read_before_answers_while_the_database_is_away():
    """What a console falls back on when the database cannot be asked."""
    viewer = access.ConsoleAccess(None, [], False, None)
    supervisor = access.ConsoleAccess(None, ["hold", "unhold"], True, None)
    refused = access.ConsoleAccess(access.NO_VIEW, ["hold"], True, None)
    hold = actions.ACTIONS["hold"].permission
    assert supervisor.may(hold) and supervisor.may(actions.ACKNOWLEDGE_ALERTS)
    assert not viewer.may(hold) and not viewer.may(actions.ACKNOWLEDGE_ALERTS)
    assert not supervisor.may(actions.ACTIONS["transfer"].permission)
    assert not refused.may(hold) and not refused.may(actions.ACKNOWLEDGE_ALERTS)
