"""Supervisor commands, executed by the worker: RingCentral call -> reply to
the asking console -> audit row -> the telephony event that proves it.
Consumers never call RingCentral.

RingCentral's 2xx says the request was taken; the event says the call
really changed. `CommandDesk` listens for that event (the registry in
`telephony.actions` says which one) and tells the console either way.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

from telephony import actions, broadcast, metrics
from telephony.history import services
from telephony.live.model import Change
from telephony.live.views import CallView, party_of
from telephony.ringcentral.client import RingCentralClient
from telephony.ringcentral.exceptions import (
    TelephonyRejected,
    TelephonyTimeout,
    TelephonyUnavailable,
    describe_refusal,
)
from telephony.worker.tasks import TaskSet

logger = logging.getLogger("telephony.worker.commands")

# How long an accepted command may wait for its confirming event.
CONFIRM_TIMEOUT = 10.0
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


class CommandError(ValueError):
    """A command the worker cannot even send (bad params, no device)."""


@dataclass(frozen=True, slots=True)
class Context:
    """What an executor needs besides the request."""

    client: RingCentralClient
    supervisor_device_id: str | None
    call: CallView | None  # the call as the model knows it now


async def _listen(ctx: Context, session_id: str, party_id: str, _: Any) -> Any:
    party = party_of(ctx.call, party_id)
    if not ctx.supervisor_device_id:
        raise CommandError("No supervisor device is configured for listening in.")
    if party is None or not party["extension_id"]:
        raise CommandError("Listening needs the agent's party on a live call.")
    return await ctx.client.supervise(
        session_id,
        device_id=ctx.supervisor_device_id,
        agent_extension_id=party["extension_id"],
    )


def _recording(params: Mapping[str, str]) -> str:
    if not params.get("recordingId"):
        raise CommandError("No recording to pause or resume on this call.")
    return params["recordingId"]


Executor = Callable[[Context, str, str, Mapping[str, str]], Awaitable[Any]]
# One executor per action of the registry (a test checks they agree).
EXECUTORS: dict[str, Executor] = {
    "hold": lambda c, s, p, _: c.client.hold(s, p),
    "unhold": lambda c, s, p, _: c.client.unhold(s, p),
    "mute": lambda c, s, p, _: c.client.set_muted(s, p, True),
    "unmute": lambda c, s, p, _: c.client.set_muted(s, p, False),
    "record_start": lambda c, s, p, _: c.client.start_recording(s, p),
    "record_pause": lambda c, s, p, a: c.client.set_recording(
        s, p, _recording(a), active=False
    ),
    "record_resume": lambda c, s, p, a: c.client.set_recording(
        s, p, _recording(a), active=True
    ),
    "end": lambda c, s, p, _: c.client.end_call(s),
    "transfer": lambda c, s, p, a: c.client.transfer(s, p, dict(a)),
    "listen": _listen,
}


# A 404 that blames a field of the request is about that field, not the call.
PLAIN_PARAMETERS = {
    "extensionNumber": "No extension {value} on this account",
    "extensionId": "No such extension on this account",
    "phoneNumber": "RingCentral cannot reach {value}",
    "voicemail": "No such voicemail box",
    "parkOrbit": "No such park location",
    "deviceId": "The supervisor's device is unknown or offline",
    "supervisorDeviceId": "The supervisor's device is unknown or offline",
    "agentExtensionId": "That agent is not on this call",
    "recordingId": "That recording no longer exists",
}


def describe_rejection(
    action: str, exc: TelephonyRejected, params: Mapping[str, str] | None = None
) -> str:
    """A sentence a supervisor can act on, with RingCentral's error code."""
    words = PLAIN_WORDS.get(exc.status, "RingCentral refused the request")
    if exc.status in (400, 404) and exc.parameter in PLAIN_PARAMETERS:
        value = (params or {}).get(exc.parameter, "")
        words = PLAIN_PARAMETERS[exc.parameter].format(value=value).replace("  ", " ")
    if exc.status == 429 and exc.retry_after is not None:
        words = f"{words}, retry in {exc.retry_after:.0f} s"
    code = f"{exc.error_code}: " if exc.error_code else ""
    return f"{actions.ACTIONS[action].title} failed. {words} ({code}{exc.message})."


# One supervisor's share of RingCentral's Call Control budget (the Light
# group: 50 requests a minute for the whole account): a burst of USER_BURST
# commands, then one every USER_REFILL seconds (30 a minute) or, when
# several supervisors act within a minute, an equal part of
# SUPERVISORS_PER_MINUTE (so together they stay under the account's budget,
# with room for the worker's own reads), and at most USER_IN_FLIGHT awaiting
# RingCentral at once. One person's 1,000 clicks can no longer lock every
# other supervisor out for a minute, nor can a few people's.
USER_BURST = 10
USER_REFILL = 2.0
USER_IN_FLIGHT = 3
SUPERVISORS_PER_MINUTE = 40
ACTIVE_WINDOW = 60.0  # a supervisor who acted this recently shares the budget


class UserLimits:
    """A token bucket and an in-flight count per user."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        *,
        burst: int = USER_BURST,
        refill: float = USER_REFILL,
        in_flight: int = USER_IN_FLIGHT,
        per_minute: int = SUPERVISORS_PER_MINUTE,
    ) -> None:
        self.clock, self.burst, self.refill, self.in_flight = (
            clock, burst, refill, in_flight)  # fmt: skip
        self.per_minute = per_minute
        self._tokens: dict[str, tuple[float, float]] = {}  # user -> (tokens, at)
        self._running: dict[str, int] = {}
        self._last: dict[str, float] = {}  # user -> when they last asked

    def interval(self, now: float) -> float:
        """Seconds per command for each supervisor now: USER_REFILL, or an
        equal part of the budget among those who acted within the window."""
        for user, at in list(self._last.items()):
            if now - at > ACTIVE_WINDOW:
                del self._last[user]
        return max(self.refill, len(self._last) * 60.0 / self.per_minute)

    def take(self, user: str) -> Outcome | None:
        """Room for one more command from `user` (None), or the refusal."""
        if self._running.get(user, 0) >= self.in_flight:
            return Outcome(
                "rejected",
                f"You have {self.in_flight} commands waiting for RingCentral; "
                "wait for them before sending more.",
                status=429,
            )
        now = self.clock()
        self._last[user] = now
        refill = self.interval(now)
        tokens, at = self._tokens.get(user, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) / refill)
        if tokens < 1.0:
            wait = (1.0 - tokens) * refill
            self._tokens[user] = (tokens, now)
            return Outcome(
                "rejected",
                "Too many commands from you in a short time (your share of "
                f"RingCentral's budget); try again in {wait:.0f} s.",
                status=429,
                retry_after=round(wait, 1),
            )
        self._tokens[user] = (tokens - 1.0, now)
        self._running[user] = self._running.get(user, 0) + 1
        return None

    def done(self, user: str) -> None:
        left = self._running.get(user, 0) - 1
        if left > 0:
            self._running[user] = left
        else:
            self._running.pop(user, None)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one command, for the reply and the audit row."""

    outcome: str  # accepted, rejected, failed, unknown
    message: str
    status: int | None = None
    error_code: str | None = None
    retry_after: float | None = None
    body: Any = None  # RingCentral's answer, when it accepted

    @property
    def maybe_done(self) -> bool:
        """RingCentral accepted it, or may have: the event decides."""
        return self.outcome in ("accepted", "unknown")


async def run_action(ctx: Context, request: broadcast.CommandRequested) -> Outcome:
    """Call RingCentral for one command; never raises for its errors."""
    name, title = request["action"], actions.ACTIONS[request["action"]].title
    params = request.get("params") or {}
    try:
        body = await EXECUTORS[name](
            ctx, request["session_id"], request["party_id"], params
        )
    except CommandError as exc:
        return Outcome("rejected", f"{title} failed. {exc}")
    except TelephonyRejected as exc:
        return Outcome(
            "rejected",
            describe_rejection(name, exc, params),
            exc.status,
            exc.error_code,
            exc.retry_after,
        )
    except TelephonyTimeout:
        # Maybe done: say so, and let the telephony event decide. A retry
        # could transfer or end a call twice.
        return Outcome(
            "unknown",
            f"{title}: RingCentral did not answer in time; it may still have "
            "done it. Watching the call before you retry.",
        )
    except TelephonyUnavailable as exc:
        return Outcome("failed", f"{title} failed: RingCentral is unreachable ({exc}).")
    return Outcome(
        "accepted",
        f"{title}: accepted by RingCentral, waiting for the call to change.",
        200,
        body=body,
    )


@dataclass(slots=True)
class _Pending:
    request: broadcast.CommandRequested
    confirmed: Callable[[actions.Kind, CallView], bool]
    accepted: bool = False  # RingCentral answered 2xx
    done: bool = False  # the confirming change was seen
    timer: asyncio.TimerHandle | None = None


class CommandDesk:
    """Executes consoles' commands and settles each by its telephony event."""

    def __init__(
        self,
        *,
        client: RingCentralClient,
        layer: Any,
        tasks: TaskSet,
        lookup: Callable[[str], CallView | None],
        refused: Callable[[], TelephonyRejected | None],
        monitor: Callable[[str, str], Awaitable[None]] | None = None,
        reread: Callable[[str], Coroutine[Any, Any, Any]] | None = None,
        busy: Callable[[broadcast.CommandRequested, bool], object] | None = None,
        supervisor_device_id: str | None = None,
        confirm_timeout: float = CONFIRM_TIMEOUT,
    ) -> None:
        self.client = client
        self.layer = layer
        self.tasks = tasks
        self.lookup = lookup  # the live model's current view of a call
        self.refused = refused  # RingCentral's fatal refusal of the worker
        self.monitor = monitor  # told of a supervisor's new listening leg
        self.reread = reread  # re-reads a call from RingCentral
        self.busy = busy  # told when a command starts and stops being pending
        self.supervisor_device_id = supervisor_device_id
        self.confirm_timeout = confirm_timeout
        self._pending: dict[str, list[_Pending]] = {}  # by session id
        self.limits = UserLimits()
        self.audit = AuditBacklog()  # one row per command, none lost

    async def execute(self, request: broadcast.CommandRequested) -> None:
        """Run one command within its user's share, then reply, audit and
        wait for its event."""
        user = request["user"]
        if (refusal := self.limits.take(user)) is not None:
            _log(request, refusal)
            await self._reply(request, refusal)
            await self.audit.write(audit_row(request, refusal))
            return
        try:
            await self._execute(request)
        finally:
            self.limits.done(user)

    async def _execute(self, request: broadcast.CommandRequested) -> None:
        if (fatal := self.refused()) is not None:
            outcome = Outcome(
                "failed", f"Not connected to RingCentral: {describe_refusal(fatal)}"
            )
            await self._reply(request, outcome)
            await self.audit.write(audit_row(request, outcome))
            return
        if (refusal := _destination_refused(request)) is not None:
            _log(request, refusal)
            await self._reply(request, refusal)
            await self.audit.write(audit_row(request, refusal))
            return
        session_id = request["session_id"]
        before = self.lookup(session_id)
        pending = _Pending(
            request,
            actions.confirmation(
                request["action"],
                request["party_id"],
                request.get("params") or {},
                before,
            ),
        )
        # Listen before calling: the confirming event can beat the reply.
        self._pending.setdefault(session_id, []).append(pending)
        if self.busy is not None:
            self.busy(request, True)
        ctx = Context(self.client, self.supervisor_device_id, before)
        accepted = False
        try:
            outcome = await run_action(ctx, request)
            _log(request, outcome)
            await self._listening(request, outcome)
            await self._reply(request, outcome)
            await self.audit.write(audit_row(request, outcome))
            accepted = outcome.maybe_done
        finally:
            if not accepted:  # rejected, or this method failed
                self._drop(session_id, pending)
        if not accepted:
            return
        pending.accepted = True
        if pending.done:
            await self._settle(pending, True)
        else:
            pending.timer = asyncio.get_running_loop().call_later(
                self.confirm_timeout, self._expire, session_id, pending
            )

    async def _listening(
        self, request: broadcast.CommandRequested, outcome: Outcome
    ) -> None:
        """Listen's answer is the supervisor's new leg: mark it before its
        events are taken for the agent's."""
        body = outcome.body
        party_id = body.get("id") if isinstance(body, dict) else None
        if request["action"] == "listen" and self.monitor and party_id:
            await self.monitor(request["session_id"], str(party_id))

    def confirm(self, change: Change) -> None:
        """Called for every published change: settle the commands it proves."""
        session_id = change.call["id"]
        for pending in list(self._pending.get(session_id, ())):
            if not pending.confirmed(change.kind, change.call):
                continue
            pending.done = True
            self._drop(session_id, pending)
            if pending.accepted:  # else execute() settles after the reply
                if pending.timer is not None:
                    pending.timer.cancel()
                self.tasks.spawn(self._settle(pending, True))

    def _expire(self, session_id: str, pending: _Pending) -> None:
        if pending in self._pending.get(session_id, []):
            self._drop(session_id, pending)
            self.tasks.spawn(self._settle(pending, False))
            if self.reread is not None:
                # RingCentral said yes but no event followed: the event may
                # be lost, so read the call again and show the truth.
                self.tasks.spawn(self.reread(session_id))

    def _drop(self, session_id: str, pending: _Pending) -> None:
        waiting = self._pending.get(session_id, [])
        if pending in waiting:
            waiting.remove(pending)
            if self.busy is not None:
                self.busy(pending.request, False)
        if not waiting:
            self._pending.pop(session_id, None)

    async def _reply(
        self, request: broadcast.CommandRequested, outcome: Outcome
    ) -> None:
        await broadcast.reply_command(
            self.layer,
            channel=request["reply_to"],
            request_id=request["request_id"],
            ok=outcome.maybe_done,
            action=request["action"],
            session_id=request["session_id"],
            status=outcome.status,
            error_code=outcome.error_code,
            message=outcome.message,
            retry_after=outcome.retry_after,
        )

    async def _settle(self, pending: _Pending, confirmed: bool) -> None:
        request = pending.request
        title = actions.ACTIONS[request["action"]].title
        if confirmed:
            message = f"{title}: confirmed by RingCentral's telephony event."
        else:
            message = (
                f"{title}: RingCentral accepted it, but no telephony event "
                f"confirmed it within {self.confirm_timeout:.0f} s."
            )
        await broadcast.confirm_command(
            self.layer,
            channel=request["reply_to"],
            request_id=request["request_id"],
            confirmed=confirmed,
            message=message,
        )


def transfer_allowed(number: str, allowed: list[str]) -> bool:
    """Whether an outside number is on the allow-list: an entry equals it,
    or ends in `*` and starts it."""
    for entry in allowed:
        if entry.endswith("*"):
            if number.startswith(entry[:-1]):
                return True
        elif number == entry:
            return True
    return False


def _destination_refused(request: broadcast.CommandRequested) -> Outcome | None:
    """A transfer to an outside number not on the allow-list
    (TRANSFER_ALLOWED_NUMBERS), refused before RingCentral is called:
    an outside number costs money and takes the customer off the account."""
    number = (request.get("params") or {}).get("phoneNumber")
    if request["action"] != "transfer" or number is None:
        return None
    if transfer_allowed(number, settings.TRANSFER_ALLOWED_NUMBERS):
        return None
    return Outcome(
        "rejected",
        f"Transfer refused: {number} is not an allowed outside destination. "
        "Transfer to an extension, or ask an administrator to allow this "
        "number (SWITCHBOARD_TRANSFER_ALLOWED_NUMBERS).",
        403,
    )


def _log(request: broadcast.CommandRequested, outcome: Outcome) -> None:
    logger.info(
        "%s %s %s/%s: %s",
        request["user"],
        request["action"],
        request["session_id"],
        request["party_id"],
        outcome.outcome,
    )
    metrics.command_done(action=request["action"], outcome=outcome.outcome)


def audit_row(request: broadcast.CommandRequested, outcome: Outcome) -> dict[str, Any]:
    """The audit row of one command (services.command_audit_create's)."""
    return {
        "username": request["user"],
        "user_id": request.get("user_id"),
        "params": request.get("params") or {},
        "action": request["action"],
        "telephony_session_id": request["session_id"],
        "party_id": request["party_id"],
        "outcome": outcome.outcome,
        "http_status": outcome.status,
        "error_code": outcome.error_code,
        "message": outcome.message,
        "requested_at": datetime.now(UTC),
    }


class AuditBacklog:
    """Audit rows the database could not take yet, written in order once
    it is back: a database away for a while loses no row (the audit must
    never undo what RingCentral did, nor be lost). Bounded: past
    `limit` rows the oldest is dropped, logged as an error and counted
    (switchboard_audit_dropped_rows)."""

    def __init__(self, *, limit: int = 10_000, retry_every: float = 2.0) -> None:
        self.rows: deque[dict[str, Any]] = deque()
        self.limit = limit
        self.retry_every = retry_every
        self.dropped = 0
        self._retrying: asyncio.Task[None] | None = None

    async def write(self, row: dict[str, Any]) -> None:
        """Write one row now, or queue it behind those already waiting."""
        if not self.rows:
            try:
                await database_sync_to_async(services.command_audit_create)(**row)
                return
            except Exception:
                logger.exception(
                    "could not write an audit row; kept, retried every %.0f s",
                    self.retry_every,
                )
        if len(self.rows) >= self.limit:
            self.rows.popleft()
            self.dropped += 1
            metrics.AUDIT_DROPPED.inc()
            logger.error(
                "audit backlog full (%d rows): the oldest row was DROPPED", self.limit
            )
        self.rows.append(row)
        metrics.AUDIT_BACKLOG.set(len(self.rows))
        if self._retrying is None or self._retrying.done():
            self._retrying = asyncio.get_running_loop().create_task(self._retry())

    async def _retry(self) -> None:
        while self.rows:
            await asyncio.sleep(self.retry_every)
            while self.rows:
                try:
                    await database_sync_to_async(services.command_audit_create)(
                        **self.rows[0]
                    )
                except Exception:
                    break  # still away: next round
                self.rows.popleft()
                metrics.AUDIT_BACKLOG.set(len(self.rows))
        logger.info("audit backlog written")
