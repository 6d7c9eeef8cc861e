"""Floor replay: the console as it was, from the call journal, read-only.

The page is the console itself (templates/dashboard/console.html with a
replay bar) whose store is fed from here instead of a WebSocket
(static/dashboard/replay.js): the floor at a moment (`/replay/floor.json`), then
the changes of each step of the replay clock (`/replay/changes.json`), coalesced
per call as the live feed coalesces them, in the browser protocol's wire
form. Times are milliseconds since 1970, as in the live frames.

Who may read the call history (`telephony.view_callrecord`) may replay it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from dashboard import protocol
from dashboard.history import may_read_history
from dashboard.selectors import (
    call_queues_get,
    extension_directory_get,
    floor_at_get,
    floor_changes_list,
    replay_window_get,
)
from telephony import actions

# Who may read the call history may replay it (dashboard.history).
replayers = may_read_history(what="replay the floor", subject="floor replay")
# One step of the replay clock may cover at most this much of the floor's
# time (60x speed, a quarter-second step, with room to spare).
MAX_STEP_MS = 60_000


def _ms(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp() * 1000)  # floor


def _moment(request: HttpRequest, name: str) -> datetime:
    """The end of the millisecond named: the journal keeps microseconds,
    the page milliseconds, and "at 10:42:05.123" includes 10:42:05.1237."""
    raw = request.GET.get(name, "")
    if not raw.isdigit() or len(raw) > 15:
        raise ValueError(f"{name} must be milliseconds since 1970")
    return datetime.fromtimestamp(int(raw) / 1000, tz=UTC) + timedelta(microseconds=999)


@replayers
@require_GET
def replay_page(request: HttpRequest) -> HttpResponse:
    """The console in replay mode: no buttons, the journal's window."""
    first, last = replay_window_get()
    directory = extension_directory_get()
    return render(
        request,
        "dashboard/console.html",
        {
            "directory": directory,
            "queues": call_queues_get(directory),
            "actions": actions.page_registry(),
            "access": {"actions": [], "acknowledge": False},
            "replay": {"first": _ms(first), "last": _ms(last)},
        },
    )


@replayers
@never_cache
@require_GET
def floor_json(request: HttpRequest) -> HttpResponse:
    """The floor at `at` (ms): {time, calls, first, last}; first and last
    bound what the journal holds now."""
    try:
        at = _moment(request, "at")
    except ValueError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    calls = [protocol.call_wire(call) for call in floor_at_get(at=at)]
    first, last = replay_window_get()  # it grows while the page is open
    return JsonResponse(
        {"time": _ms(at), "calls": calls, "first": _ms(first), "last": _ms(last)}
    )


@replayers
@never_cache
@require_GET
def changes_json(request: HttpRequest) -> HttpResponse:
    """Each call's latest change in (after, until] (ms): {time, calls,
    ended}; a step longer than MAX_STEP_MS is refused (seek instead)."""
    try:
        after, until = _moment(request, "after"), _moment(request, "until")
    except ValueError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    span = (until - after).total_seconds() * 1000
    if not 0 <= span <= MAX_STEP_MS:
        return JsonResponse(
            {"error": f"a step covers 0 to {MAX_STEP_MS} ms of the floor"},
            status=400,
        )
    updated, ended = floor_changes_list(after=after, until=until)
    body: dict[str, Any] = {
        "time": _ms(until),
        "calls": [protocol.call_wire(call) for call in updated],
        "ended": ended,
    }
    return JsonResponse(body)
