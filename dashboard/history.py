"""Call history for supervisors: the History list with its search, the
streamed CSV export of the same search, and a call's page with its
timeline. For users with `telephony.view_callrecord` (the Supervisor and
Administrator roles); anyone else logged in gets a 403 page saying so.

Reads only through dashboard.selectors: CallRecord and PartyRecord (what
the history writer stored of each call), CallEvent (the call journal) and
CommandAudit (the supervisors' commands). Dates are the site's
TIME_ZONE days."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from dashboard.selectors import (
    HistoryFilters,
    call_page_get,
    call_record_export_rows,
    call_record_list,
    extension_numbers_get,
)
from telephony.csvexport import csv_stream_response
from telephony.models import CallRecord

VIEW_HISTORY = "telephony.view_callrecord"
PAGE_SIZE = 50
FILTER_FIELDS = ("number", "agent", "queue", "date_from", "date_to", "result")
RESULTS = [
    (value, label)
    for value, label in CallRecord.Result.choices
    if value != CallRecord.Result.IN_PROGRESS
]
RESULT_LABELS = dict(CallRecord.Result.choices)
# The export's columns (telephony.csvexport defuses formula-like cells).
EXPORT_HEADER = (
    "started",
    "telephony session id",
    "direction",
    "agent",
    "agent extension id",
    "agent number",
    "customer number",
    "customer name",
    "queue",
    "ring seconds",
    "talk seconds",
    "hold seconds",
    "holds",
    "recordings",
    "result",
    "final reason",
)


def _text(placeholder: str) -> forms.TextInput:
    return forms.TextInput(attrs={"placeholder": placeholder})


class HistorySearch(forms.Form):
    number = forms.CharField(
        required=False, max_length=64, help_text="Customer's or agent's, or part"
    )
    agent = forms.CharField(
        required=False, max_length=200, help_text="Name or extension"
    )
    queue = forms.CharField(
        required=False, max_length=200, help_text="Name or extension"
    )
    date_from = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )
    result = forms.ChoiceField(required=False, choices=[("", "Any result"), *RESULTS])

    def filters(self) -> HistoryFilters:
        """The valid fields as a search (an invalid one is left out)."""
        self.is_valid()  # cleaned_data holds the valid fields only
        data = self.cleaned_data
        zone = timezone.get_current_timezone()

        def day_start(day: Any) -> datetime | None:
            if day is None:
                return None
            return timezone.make_aware(datetime.combine(day, time.min), zone)

        date_to = data.get("date_to")
        return HistoryFilters(
            number=data.get("number") or "",
            agent=data.get("agent") or "",
            queue=data.get("queue") or "",
            started_from=day_start(data.get("date_from")),
            started_before=day_start(date_to + timedelta(days=1)) if date_to else None,
            result=data.get("result") or "",
        )


def may_read_history(
    view: Callable[..., HttpResponseBase] | None = None,
    *,
    what: str = "read the call history",
    subject: str = "the call history",
) -> Any:
    """Logged in (else the login page) and allowed to read the history
    (else a 403 page saying the user may not `what`). Used bare, or with
    the page's words (floor replay, dashboard.replay)."""

    def decorate(
        view: Callable[..., HttpResponseBase],
    ) -> Callable[..., HttpResponseBase]:
        @wraps(view)
        def checked(
            request: HttpRequest, *args: Any, **kwargs: Any
        ) -> HttpResponseBase:
            if not request.user.has_perm(VIEW_HISTORY):
                return render(
                    request,
                    "dashboard/history_forbidden.html",
                    {"what": what, "subject": subject},
                    status=403,
                )
            return view(request, *args, **kwargs)

        return login_required(checked)

    return decorate if view is None else decorate(view)


def _search(request: HttpRequest) -> tuple[HistorySearch, str]:
    """The search form bound to the query, and the query string of its
    filled fields (for the export link and the page links)."""
    form = HistorySearch(request.GET)
    form.is_valid()
    query = urlencode(
        [(k, request.GET[k]) for k in FILTER_FIELDS if request.GET.get(k, "")]
    )
    return form, query


def _cursor(request: HttpRequest, name: str) -> int | None:
    value = request.GET.get(name, "")
    return int(value) if value.isdigit() else None


def duration(seconds: float | None) -> str:
    """Seconds as "m:ss" (or "h:mm:ss")."""
    total = round(seconds or 0)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"


@never_cache
@require_GET
@may_read_history
def history_list(request: HttpRequest) -> HttpResponse:
    """Finished calls, newest first, 50 a page, searched by the form."""
    form, query = _search(request)
    page = call_record_list(
        filters=form.filters(),
        before=_cursor(request, "before"),
        after=_cursor(request, "after"),
        limit=PAGE_SIZE,
    )
    numbers = extension_numbers_get(
        extension_ids={r["agent_extension_id"] for r in page.rows}
    )
    for row in page.rows:
        row["agent_ext"] = numbers.get(row["agent_extension_id"], "")
        row["result_label"] = RESULT_LABELS.get(row["result"], row["result"])
        for field in ("ring", "talk", "hold"):
            row[f"{field}_shown"] = duration(row[f"{field}_seconds"])
    prefix = f"{query}&" if query else ""
    return render(
        request,
        "dashboard/history_list.html",
        {
            "form": form,
            "page": page,
            "query": query,
            "older_url": f"?{prefix}before={page.older}" if page.older else "",
            "newer_url": f"?{prefix}after={page.newer}" if page.newer else "",
            "newest_url": f"?{query}" if page.newer else "",
            "export_url": f"export.csv?{query}" if query else "export.csv",
        },
    )


@never_cache
@require_GET
@may_read_history
def history_export(request: HttpRequest) -> StreamingHttpResponse:
    """The search's finished calls as a CSV file, streamed: rows are read
    2,000 at a time as plain dicts and written as they go."""
    form, _ = _search(request)
    zone = timezone.get_current_timezone()

    def cells(row: dict[str, Any]) -> list[Any]:
        recordings = row["recordings"]
        return [
            row["started_at"].astimezone(zone).isoformat(timespec="seconds"),
            row["telephony_session_id"],
            row["direction"],
            row["agent_name"],
            row["agent_extension_id"],
            row["agent_number"],
            row["customer_number"],
            row["customer_name"],
            row["queue_name"],
            round(row["ring_seconds"], 1),
            round(row["talk_seconds"], 1),
            round(row["hold_seconds"], 1),
            row["hold_count"],
            len(recordings) if isinstance(recordings, list) else 0,
            row["result"],
            row["final_reason"],
        ]

    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return csv_stream_response(
        request,
        call_record_export_rows(filters=form.filters()),
        header=EXPORT_HEADER,
        cells=cells,
        filename=f"call-history-{stamp}.csv",
    )


@never_cache
@require_GET
@may_read_history
def history_call(request: HttpRequest, telephony_session_id: str) -> HttpResponse:
    """One call: its facts, its parties and its timeline (a live call's
    too: "in progress")."""
    page = call_page_get(telephony_session_id=telephony_session_id)
    if page is None:
        raise Http404("No call with this id in the history.")
    record = page.record
    facts = None
    if record is not None:
        facts = {
            "ring": duration(record.ring_seconds),
            "talk": duration(record.talk_seconds),
            "hold": duration(record.hold_seconds),
            "result": RESULT_LABELS.get(record.result, record.result),
            "agent_ext": extension_numbers_get(
                extension_ids={record.agent_extension_id}
            ).get(record.agent_extension_id, ""),
        }
    return render(
        request,
        "dashboard/history_call.html",
        {"call": page, "record": record, "facts": facts, "latest": page.latest},
    )
