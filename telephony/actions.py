"""Every supervisor action, in one registry.

The consumer validates a browser's command against it (name, parameters,
permission), the worker's command desk executes it and waits for the event
it names (`confirms`), and the console draws its buttons from it (the
registry reaches the page through `json_script`, see `page_registry`).
Adding an action means adding one `Action` here and one executor in
`telephony.worker.commands`; a test checks that both sides agree.

Pure: no I/O, no Django.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from telephony.live.views import CallView, PartyView, party_of

# Watching the floor needs VIEW_FLOOR (checked when a console connects);
# each action needs its own permission (checked by the consumer on every
# command, and drawn by the page: a console shows only the buttons its user
# may press). The roles holding them: telephony/migrations/0007_roles.py.
VIEW_FLOOR = "telephony.view_floor"
ACKNOWLEDGE_ALERTS = "telephony.acknowledge_alerts"
_HOLD = "telephony.hold_calls"
_MUTE = "telephony.mute_calls"
_RECORD = "telephony.record_calls"
# Parameter values are short tokens: extension numbers, E.164 numbers with
# `*` and `#` for extensions and codes, opaque recording ids.
# `\Z`, not `$`: `$` also matches before a final newline.
PARAM_VALUE = re.compile(r"^[A-Za-z0-9_.:=*#+-]{1,64}\Z")
TRANSFER_TARGETS = ("extensionNumber", "phoneNumber", "voicemail", "parkOrbit")
_ENGAGED = ("Answered", "Hold")
# Party statuses a live leg can have (every status but the final ones).
_LIVE = ("Setup", "Proceeding", "Answered", "Hold", "Parked", "Voicemail",
         "VoiceMailScreening", "FaxReceive")  # fmt: skip

Kind = Literal["updated", "ended"]


class InvalidParams(ValueError):
    """The parameters do not fit the action; the message says why."""


@dataclass(frozen=True, slots=True)
class Action:
    """One thing a supervisor can do to a call.

    `label` names its button (kept stable: tests and habits rely on it),
    `pending` is shown while it is under way, `title` starts the sentences
    that report its outcome. The button is offered on the agent's leg when
    its status is in `statuses` and, where set, its `muted` flag and its
    recording state (`recording`: "none", "active" or "paused") match.
    `confirm` is the question asked before it is sent (None: none).
    `confirms` tests a change of the call for the event that proves the
    action worked; an ended call proves only actions that `ends_call`.
    """

    name: str
    label: str
    pending: str
    title: str
    statuses: tuple[str, ...]
    confirms: Callable[[Kind, CallView, PartyView | None, Mapping[str, str]], bool]
    params: tuple[str, ...] = ()
    muted: bool | None = None
    recording: Literal["none", "active", "paused"] | None = None
    confirm: str | None = None
    permission: str = ""  # "telephony.<codename>", set for each in _REGISTRY
    ends_call: bool = False  # the call ending proves it too

    def clean(self, raw: Any) -> dict[str, str]:
        """The action's parameters from a command, or InvalidParams."""
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise InvalidParams("Command params must be an object.")
        params: dict[str, str] = {}
        for name, value in raw.items():
            if name not in self.params:
                # Quoted short: a browser may send any size of name.
                raise InvalidParams(f"Unknown command parameter {name[:40]!r}.")
            if not isinstance(value, str) or not PARAM_VALUE.match(value):
                raise InvalidParams(f"Invalid value for {name}.")
            params[name] = value
        _check_required(self, params)
        return params

    def page(self) -> dict[str, Any]:
        """What the console needs to draw and label the action."""
        return {
            "name": self.name,
            "label": self.label,
            "pending": self.pending,
            "title": self.title,
            "statuses": list(self.statuses),
            "params": list(self.params),
            "muted": self.muted,
            "recording": self.recording,
            "confirm": self.confirm,
        }


def _check_required(action: Action, params: dict[str, str]) -> None:
    if action.name == "transfer" and len(params) != 1:
        raise InvalidParams(
            "Transfer needs exactly one target: an extension number, a phone "
            "number, a voicemail box or a park orbit."
        )
    if action.name in ("record_pause", "record_resume") and not params:
        raise InvalidParams("No recording to pause or resume on this call.")


# --- what proves each action (the telephony event that follows it) ---------


def _status_is(code: str) -> Callable[..., bool]:
    return lambda kind, call, party, params: bool(party) and party["status"] == code


def _muted_is(muted: bool) -> Callable[..., bool]:
    return lambda kind, call, party, params: bool(party) and party["muted"] is muted


def _recording_is(active: bool) -> Callable[..., bool]:
    def test(kind: Kind, call: CallView, party: PartyView | None, params: Any) -> bool:
        wanted = params.get("recordingId")
        return any(
            r["active"] is active and wanted in (None, r["id"])
            for r in (party["recordings"] if party else [])
        )

    return test


def _left(kind: Kind, call: CallView, party: PartyView | None, params: Any) -> bool:
    return party is None or party["status"] in ("Disconnected", "Gone")


def _never(kind: Kind, call: CallView, party: PartyView | None, params: Any) -> bool:
    return False


_REGISTRY = (
    Action(
        "hold", "Hold", "holding…", "Hold",
        statuses=("Answered",), confirms=_status_is("Hold"), permission=_HOLD,
    ),
    Action(
        "unhold", "Unhold", "resuming…", "Unhold",
        statuses=("Hold",), confirms=_status_is("Answered"), permission=_HOLD,
    ),
    Action(
        "mute", "Mute", "muting…", "Mute",
        statuses=_ENGAGED, muted=False, confirms=_muted_is(True), permission=_MUTE,
    ),
    Action(
        "unmute", "Unmute", "unmuting…", "Unmute",
        statuses=_ENGAGED, muted=True, confirms=_muted_is(False), permission=_MUTE,
    ),
    Action(
        "record_start", "Record", "starting recording…", "Recording",
        statuses=_ENGAGED, recording="none", confirms=_recording_is(True),
        permission=_RECORD,
    ),
    Action(
        "record_pause", "Pause rec", "pausing recording…", "Pause recording",
        statuses=_ENGAGED, recording="active", params=("recordingId",),
        confirms=_recording_is(False), permission=_RECORD,
    ),
    Action(
        "record_resume", "Resume rec", "resuming recording…", "Resume recording",
        statuses=_ENGAGED, recording="paused", params=("recordingId",),
        confirms=_recording_is(True), permission=_RECORD,
    ),
    Action(
        "listen", "Listen", "connecting you…", "Listen",
        statuses=_ENGAGED, confirms=_never,  # a new party: see `confirmation`
        permission="telephony.listen_calls",
    ),
    Action(
        "transfer", "Transfer", "transferring…", "Transfer",
        statuses=_ENGAGED, params=TRANSFER_TARGETS, confirms=_left, ends_call=True,
        permission="telephony.transfer_calls",
    ),
    Action(
        "end", "End", "ending…", "End call",
        statuses=_LIVE, confirms=_never, ends_call=True,
        permission="telephony.end_calls",
        confirm="This ends the call for everyone on it, the customer included.",
    ),
)  # fmt: skip
ACTIONS: dict[str, Action] = {action.name: action for action in _REGISTRY}


def confirmation(
    name: str, party_id: str, params: Mapping[str, str], before: CallView | None
) -> Callable[[Kind, CallView], bool]:
    """A test on (change kind, call) that is true once the action shows.

    Listen is proven by a party the call did not have before (the
    supervisor's leg); every other action by its `confirms` on the party.
    """
    action = ACTIONS[name]
    known = {p["id"] for p in before["parties"]} if before else set()

    def confirmed(kind: Kind, call: CallView) -> bool:
        if kind == "ended":
            return action.ends_call
        if name == "listen":
            return any(p["id"] not in known for p in call["parties"])
        return action.confirms(kind, call, party_of(call, party_id), params)

    return confirmed


def page_registry() -> list[dict[str, Any]]:
    """The registry as the console reads it (JSON-ready, in button order)."""
    return [action.page() for action in ACTIONS.values()]


def allowed(has_perm: Callable[[str], bool]) -> list[str]:
    """The names of the actions a user may take (`has_perm`: the user's)."""
    return [action.name for action in ACTIONS.values() if has_perm(action.permission)]
