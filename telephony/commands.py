"""Supervisor commands, executed by the worker: RingCentral call -> reply
to the asking console -> audit row. Consumers never call RingCentral."""

from __future__ import annotations

import logging
from typing import Any

from channels.db import database_sync_to_async

from telephony import broadcast, services
from telephony.client import RingCentralClient
from telephony.exceptions import TelephonyRejected, TelephonyUnavailable

logger = logging.getLogger("telephony.commands")

# What each status means to a supervisor, in plain words; RingCentral's own
# code and message follow in brackets.
PLAIN_WORDS = {
    400: "RingCentral did not accept the request",
    401: "Switchboard is not signed in to RingCentral",
    403: "RingCentral does not allow this for this account or user",
    404: "The call or party no longer exists",
    409: "The call is not in a state that allows this",
    429: "Rate-limited by RingCentral",
}


def describe_rejection(action: str, exc: TelephonyRejected) -> str:
    """A sentence a supervisor can act on, with RingCentral's error code."""
    words = PLAIN_WORDS.get(exc.status, "RingCentral refused the request")
    if exc.status == 429 and exc.retry_after is not None:
        words = f"{words}, retry in {exc.retry_after:.0f} s"
    code = f"{exc.error_code}: " if exc.error_code else ""
    return f"{action.capitalize()} failed. {words} ({code}{exc.message})."


async def execute(
    *, client: RingCentralClient, layer: Any, request: broadcast.CommandRequested
) -> None:
    """Run one command, reply to its console, then write the audit row."""
    action, session_id = request["action"], request["session_id"]
    party_id = request["party_id"]
    outcome, status, code, retry = "accepted", 200, None, None
    try:
        if action == "hold":
            await client.hold(session_id, party_id)
        elif action == "unhold":
            await client.unhold(session_id, party_id)
        else:  # the consumer validates actions; this is a contract breach
            raise ValueError(f"unknown action {action!r}")
        message = f"{action.capitalize()} accepted by RingCentral."
    except TelephonyRejected as exc:
        outcome, status, code, retry = (
            "rejected",
            exc.status,
            exc.error_code,
            exc.retry_after,
        )
        message = describe_rejection(action, exc)
    except TelephonyUnavailable as exc:
        outcome, status = "failed", None
        message = f"{action.capitalize()} failed: RingCentral is unreachable ({exc})."
    logger.info(
        "%s %s %s/%s: %s", request["user"], action, session_id, party_id, outcome
    )
    await broadcast.reply_command(
        layer,
        channel=request["reply_to"],
        request_id=request["request_id"],
        ok=outcome == "accepted",
        action=action,
        session_id=session_id,
        status=status,
        error_code=code,
        message=message,
        retry_after=retry,
    )
    await database_sync_to_async(services.command_audit_create)(
        user=request["user"],
        action=action,
        telephony_session_id=session_id,
        party_id=party_id,
        outcome=outcome,
        http_status=status,
        error_code=code,
        message=message,
    )
