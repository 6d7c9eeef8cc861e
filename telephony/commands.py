"""Supervisor commands, executed by the worker: RingCentral call -> reply
to the asking console -> audit row. Consumers never call RingCentral.

Each action also names the telephony event that proves it worked
(`expectation`): RingCentral's 2xx says the request was taken, the event
says the call really changed. The inbox waits for it (see telephony.inbox).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from channels.db import database_sync_to_async

from telephony import broadcast, metrics, services
from telephony.client import RingCentralClient
from telephony.exceptions import (
    TelephonyRejected,
    TelephonyTimeout,
    TelephonyUnavailable,
)
from telephony.state import CallDict

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
LABELS = {
    "hold": "Hold",
    "unhold": "Unhold",
    "mute": "Mute",
    "unmute": "Unmute",
    "record_start": "Recording",
    "record_pause": "Pause recording",
    "record_resume": "Resume recording",
    "end": "End call",
    "transfer": "Transfer",
    "listen": "Listen",
}
TRANSFER_TARGETS = ("extensionNumber", "phoneNumber", "voicemail", "parkOrbit")


class CommandError(ValueError):
    """A command the worker cannot even send (bad params, no device)."""


@dataclass(frozen=True, slots=True)
class Context:
    """What an action needs besides the request."""

    client: RingCentralClient
    supervisor_device_id: str | None
    call: CallDict | None  # the call as the model knows it now


def _party(call: CallDict | None, party_id: str) -> dict[str, Any] | None:
    if call is None:
        return None
    return next((p for p in call["parties"] if p["id"] == party_id), None)


def _recording_id(params: dict[str, Any]) -> str:
    recording_id = params.get("recordingId")
    if not isinstance(recording_id, str) or not recording_id:
        raise CommandError("No recording to pause or resume on this call.")
    return recording_id


def _transfer_target(params: dict[str, Any]) -> dict[str, str]:
    targets = {k: v for k, v in params.items() if k in TRANSFER_TARGETS}
    if len(targets) != 1 or not all(isinstance(v, str) and v for v in targets.values()):
        raise CommandError(
            "Transfer needs exactly one target: an extension number, a phone "
            "number, a voicemail box or a park orbit."
        )
    return targets


async def _listen(ctx: Context, session_id: str, party_id: str, _: Any) -> None:
    party = _party(ctx.call, party_id)
    if not ctx.supervisor_device_id:
        raise CommandError("No supervisor device is configured for listening in.")
    if party is None or not party.get("extensionId"):
        raise CommandError("Listening needs the agent's party on a live call.")
    await ctx.client.supervise(
        session_id,
        device_id=ctx.supervisor_device_id,
        agent_extension_id=party["extensionId"],
    )


Action = Callable[[Context, str, str, dict[str, Any]], Awaitable[Any]]
ACTIONS: dict[str, Action] = {
    "hold": lambda c, s, p, _: c.client.hold(s, p),
    "unhold": lambda c, s, p, _: c.client.unhold(s, p),
    "mute": lambda c, s, p, _: c.client.set_muted(s, p, True),
    "unmute": lambda c, s, p, _: c.client.set_muted(s, p, False),
    "record_start": lambda c, s, p, _: c.client.start_recording(s, p),
    "record_pause": lambda c, s, p, a: c.client.set_recording(
        s, p, _recording_id(a), active=False
    ),
    "record_resume": lambda c, s, p, a: c.client.set_recording(
        s, p, _recording_id(a), active=True
    ),
    "end": lambda c, s, p, _: c.client.end_call(s),
    "transfer": lambda c, s, p, a: c.client.transfer(s, p, _transfer_target(a)),
    "listen": _listen,
}


def expectation(
    action: str, party_id: str, params: dict[str, Any], before: CallDict | None
) -> Callable[[str, CallDict], bool]:
    """A test on (change kind, call) that is true once the action shows."""
    known = {p["id"] for p in before["parties"]} if before else set()

    def party(call: CallDict) -> dict[str, Any] | None:
        return _party(call, party_id)

    def recording(call: CallDict, active: bool) -> bool:
        p = party(call) or {}
        wanted = params.get("recordingId")
        return any(
            r["active"] is active and wanted in (None, r["id"])
            for r in p.get("recordings", [])
        )

    tests: dict[str, Callable[[CallDict], bool]] = {
        "hold": lambda c: (party(c) or {}).get("status") == "Hold",
        "unhold": lambda c: (party(c) or {}).get("status") == "Answered",
        "mute": lambda c: (party(c) or {}).get("muted") is True,
        "unmute": lambda c: (party(c) or {}).get("muted") is False,
        "record_start": lambda c: recording(c, True),
        "record_pause": lambda c: recording(c, False),
        "record_resume": lambda c: recording(c, True),
        "transfer": lambda c: (
            (party(c) or {}).get("status") in (None, "Disconnected", "Gone")
        ),
        "listen": lambda c: any(p["id"] not in known for p in c["parties"]),
    }
    test = tests.get(action)

    def confirmed(kind: str, call: CallDict) -> bool:
        if kind == "ended":
            return action in ("end", "transfer")
        return test is not None and test(call)

    return confirmed


def describe_rejection(action: str, exc: TelephonyRejected) -> str:
    """A sentence a supervisor can act on, with RingCentral's error code."""
    words = PLAIN_WORDS.get(exc.status, "RingCentral refused the request")
    if exc.status == 429 and exc.retry_after is not None:
        words = f"{words}, retry in {exc.retry_after:.0f} s"
    code = f"{exc.error_code}: " if exc.error_code else ""
    return f"{LABELS.get(action, action)} failed. {words} ({code}{exc.message})."


async def execute(
    *, ctx: Context, layer: Any, request: broadcast.CommandRequested
) -> bool:
    """Run one command, reply to its console, write the audit row.

    Returns True when RingCentral accepted it, or may have (no answer in
    time): then the confirming event decides.
    """
    action, session_id = request["action"], request["session_id"]
    party_id, label = request["party_id"], LABELS.get(request["action"], "Command")
    outcome, code, retry = "accepted", None, None
    status: int | None = 200
    try:
        await ACTIONS[action](ctx, session_id, party_id, request.get("params") or {})
        message = f"{label}: accepted by RingCentral, waiting for the call to change."
    except CommandError as exc:
        outcome, status, message = "rejected", None, f"{label} failed. {exc}"
    except TelephonyRejected as exc:
        outcome, status, code = "rejected", exc.status, exc.error_code
        retry, message = exc.retry_after, describe_rejection(action, exc)
    except TelephonyTimeout:
        # Maybe done: say so, and let the telephony event decide. A retry
        # could transfer or end a call twice.
        outcome, status = "unknown", None
        message = (
            f"{label}: RingCentral did not answer in time; it may still have "
            "done it. Watching the call before you retry."
        )
    except TelephonyUnavailable as exc:
        outcome, status = "failed", None
        message = f"{label} failed: RingCentral is unreachable ({exc})."
    logger.info(
        "%s %s %s/%s: %s", request["user"], action, session_id, party_id, outcome
    )
    metrics.command_done(action=action, outcome=outcome)
    await broadcast.reply_command(
        layer,
        channel=request["reply_to"],
        request_id=request["request_id"],
        ok=outcome in ("accepted", "unknown"),
        action=action,
        session_id=session_id,
        status=status,
        error_code=code,
        message=message,
        retry_after=retry,
    )
    try:
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
    except Exception:  # the audit must not undo what RingCentral did
        logger.exception("could not write the audit row of %s", request["request_id"])
    return outcome in ("accepted", "unknown")
