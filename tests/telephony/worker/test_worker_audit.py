"""Every way a supervisor's command ends writes exactly one audit row, and
the rows real commands write through the worker (against the embedded
RingCentral) form a chain `verify_audit` proves, until an edit in the
database breaks it."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from io import StringIO
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import OperationalError, connection

from telephony.history import services
from telephony.models import CommandAudit
from telephony.ringcentral.exceptions import TelephonyRejected
from telephony.worker import commands
from telephony.worker.commands import USER_BURST
from tests.support import WAIT
from tests.support.worker import command

# A fixture: pytest finds it by the test's parameter of that name.
from tests.telephony.worker.test_worker_commands import talking_call  # noqa: F401

Row = tuple[str, str, int | None, str]  # username, outcome, status, error code


@pytest.fixture
def audited(monkeypatch: pytest.MonkeyPatch) -> asyncio.Queue[str]:
    """Each audit row written (its action and identity), once it is
    written (the worker replies first, then audits)."""
    written: asyncio.Queue[str] = asyncio.Queue()
    write = commands.AuditBacklog.write

    async def audit(self: Any, row: dict[str, Any]) -> None:
        await write(self, row)
        written.put_nowait(f"{row['action']}@{id(row):x}")

    monkeypatch.setattr(commands.AuditBacklog, "write", audit)
    return written


async def drained(written: asyncio.Queue[str], count: int) -> list[str]:
    async with asyncio.timeout(WAIT):
        return [await written.get() for _ in range(count)]


def rows() -> list[Row]:
    return [
        (r.username, r.outcome, r.http_status, r.error_code)
        for r in CommandAudit.objects.order_by("pk")
    ]


async def accepted(worker: Any, layer: Any, session: str, party: str) -> int:
    _, reply = await command(layer, "hold", session, party, request_id="r-1")
    assert reply["ok"] is True, reply
    return 1


async def rejected_by_ringcentral(worker: Any, layer: Any, session: str, party: str):
    params = {"extensionNumber": "999"}
    _, reply = await command(layer, "transfer", session, party, params, request_id="r")
    assert (reply["status"], reply["error_code"]) == (404, "CMN-102"), reply
    return 1


async def refused_by_allow_list(worker: Any, layer: Any, session: str, party: str):
    params = {"phoneNumber": "+14155550199"}
    _, reply = await command(layer, "transfer", session, party, params, request_id="r")
    assert (reply["status"], reply["error_code"]) == (403, None), reply
    return 1


async def not_connected(worker: Any, layer: Any, session: str, party: str) -> int:
    worker.fatal = TelephonyRejected(
        status=401, error_code="OAU-213", message="Token is expired"
    )
    _, reply = await command(layer, "hold", session, party, request_id="r-1")
    assert reply["message"].startswith("Not connected to RingCentral"), reply
    return 1


async def refused_by_user_limit(worker: Any, layer: Any, session: str, party: str):
    sent = USER_BURST + 3
    replies = await asyncio.gather(
        *(
            command(layer, "mute", session, party, request_id=f"flood-{n}")
            for n in range(sent)
        )
    )
    refused = [r for _, r in replies if r["status"] == 429 and not r["error_code"]]
    assert refused, replies
    return sent


PATHS: dict[str, tuple[Callable[..., Awaitable[int]], set[Row]]] = {
    "accepted": (accepted, {("alice", "accepted", 200, "")}),
    "rejected by RingCentral": (
        rejected_by_ringcentral,
        {("alice", "rejected", 404, "CMN-102")},
    ),
    "refused by the transfer allow-list": (
        refused_by_allow_list,
        {("alice", "rejected", 403, "")},
    ),
    "RingCentral not connected": (not_connected, {("alice", "failed", None, "")}),
    "refused by the per-user limit": (
        refused_by_user_limit,
        {("alice", "rejected", 429, ""), ("alice", "accepted", 200, "")},
    ),
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", PATHS)
async def test_every_command_path_writes_exactly_one_audit_row(
    path,
    talking_call,  # noqa: F811
    audited,
):
    worker, layer, _, session_id, party_id = talking_call
    send, kinds = PATHS[path]
    sent = await send(worker, layer, session_id, party_id)
    ids = await drained(audited, sent)
    assert all(n == 1 for n in Counter(ids).values()), ids
    written = await database_sync_to_async(rows)()
    assert len(written) == sent
    assert set(written) <= kinds and kinds & set(written)
    assert audited.empty()


def verify() -> str:
    out = StringIO()
    call_command("verify_audit", stdout=out)
    return out.getvalue()


def tamper(sql: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(sql.format(table=CommandAudit._meta.db_table), [pk])
    with pytest.raises(CommandError) as broken:
        verify()
    return str(broken.value)


@pytest.mark.django_db(transaction=True)
async def test_verify_audit_proves_the_chain_real_commands_wrote_until_it_is_edited(
    talking_call,  # noqa: F811
    audited,
):
    _, layer, _, session_id, party_id = talking_call
    # Each by another supervisor: one may have only 3 awaiting RingCentral.
    for n, action in enumerate(("hold", "unhold", "mute", "unmute", "hold")):
        _, reply = await command(
            layer, action, session_id, party_id, user=f"sup-{n}", request_id=f"r-{n}"
        )
        assert reply["ok"] is True, reply["message"]
    await drained(audited, 5)
    assert (await database_sync_to_async(verify)()).startswith(
        "Audit trail intact: 5 rows"
    )
    ids = await database_sync_to_async(
        lambda: list(CommandAudit.objects.order_by("pk").values_list("pk", flat=True))
    )()
    edited = await database_sync_to_async(tamper)(
        "UPDATE {table} SET message = 'nothing happened' WHERE id = %s", ids[3]
    )
    assert edited.startswith(f"Audit trail broken: row #{ids[3]} (")
    assert "its hash does not match its content" in edited
    # A deleted earlier row: the first break is now the gap it left.
    gap = await database_sync_to_async(tamper)(
        "DELETE FROM {table} WHERE id = %s", ids[1]
    )
    assert gap.startswith(f"Audit trail broken: row #{ids[2]} (")
    assert f"a row is missing (a gap in the chain after #{ids[0]}" in gap


@pytest.mark.django_db(transaction=True)
async def test_audit_rows_wait_for_a_database_that_is_away_and_none_is_lost(
    monkeypatch,
):
    """The database refuses writes for a while (a fault provoked by
    replacing the write, which an in-process test cannot get otherwise):
    the rows wait in order, keep their own times, and are all written once
    it is back; a full backlog drops the oldest, loudly."""
    write = services.command_audit_create
    away = {"on": True}
    failures = []

    def flaky(**row: Any) -> Any:
        if away["on"]:
            failures.append(row["action"])
            raise OperationalError("the database is away")
        return write(**row)

    monkeypatch.setattr(services, "command_audit_create", flaky)
    backlog = commands.AuditBacklog(limit=3, retry_every=0.01)
    for n, action in enumerate(["hold", "unhold", "mute", "unmute"]):
        await backlog.write(
            {
                "username": "alice",
                "action": action,
                "telephony_session_id": f"s-{n}",
                "party_id": "p-1",
                "outcome": "accepted",
                "requested_at": datetime(2026, 11, 29, 10, n, tzinfo=UTC),
            }
        )
    assert [r["action"] for r in backlog.rows] == ["unhold", "mute", "unmute"]
    assert backlog.dropped == 1  # the fourth row pushed out the first
    away["on"] = False
    async with asyncio.timeout(WAIT):
        await backlog._retrying  # type: ignore[misc]

    def stored() -> list[tuple[str, int]]:
        return [
            (r.action, r.requested_at.minute)
            for r in CommandAudit.objects.order_by("pk")
        ]

    assert await database_sync_to_async(stored)() == [
        ("unhold", 1),
        ("mute", 2),
        ("unmute", 3),
    ]
    report = await database_sync_to_async(verify)()
    assert report.startswith("Audit trail intact: 3 rows"), report
