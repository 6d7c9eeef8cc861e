"""Call history for supervisors: who may read it, the search, keyset pages,
the streamed CSV export and a call's page with its timeline, on history
generated through the ORM (docs/architecture.md "History pages")."""

from __future__ import annotations

import csv
import io
import itertools
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Group, User
from django.test import AsyncClient, Client
from django.urls import reverse

from telephony.history.services import command_audit_create
from telephony.models import CallEvent, CallRecord, Extension, PartyRecord
from tests.support.calls import call_view, endpoint, party

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
_ids = itertools.count(1)


def as_role(client: Client, role: str) -> User:
    user = User.objects.create_user(f"{role.lower()}-{next(_ids)}", password="pw-1")
    user.groups.add(Group.objects.get(name=role))
    client.force_login(user)
    return user


@pytest.fixture
def supervisor(client: Client) -> Client:
    as_role(client, "Supervisor")
    return client


def call_record(**fields: Any) -> CallRecord:
    n = next(_ids)
    started = fields.pop("started_at", T0 + timedelta(minutes=n))
    values: dict[str, Any] = {
        "telephony_session_id": f"s-{n}",
        "direction": "Inbound",
        "started_at": started,
        "answered_at": started + timedelta(seconds=5),
        "ended_at": started + timedelta(seconds=65),
        "ring_seconds": 5.0,
        "talk_seconds": 50.0,
        "hold_seconds": 10.0,
        "hold_count": 1,
        "agent_extension_id": "1000000102",
        "agent_name": "Bob Builder",
        "agent_number": "+16505550102",
        "customer_number": f"+1415555{n:04d}",
        "customer_name": "Wireless Caller",
        "queue_name": "Sales",
        "queue_extension_id": "1000000201",
        "recordings": ["rec-1"],
        "result": CallRecord.Result.ANSWERED,
        "final_reason": "CallerHungUp",
        "last_seen_at": started + timedelta(seconds=65),
        "ended": True,
        **fields,
    }
    return CallRecord.objects.create(**values)


def text(html: str) -> str:
    """What a reader sees of `html`: tags out, white space collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html)).strip()


def listed(client: Client, **query: str) -> list[str]:
    """The session ids the History page lists for `query`, in order."""
    response = client.get(reverse("history"), query)
    assert response.status_code == 200
    return re.findall(r'<tr data-session-id="([^"]+)"', response.content.decode())


def exported(client: Client, **query: str) -> list[list[str]]:
    response = client.get(reverse("history_export"), query)
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith(
        'attachment; filename="call-history-'
    )
    text = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(text)))


# --- who may read it -----------------------------------------------------------


@pytest.mark.parametrize("name", ["history", "history_export"])
def test_anonymous_users_are_sent_to_log_in(client: Client, name: str):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


@pytest.mark.parametrize(
    "url",
    [
        reverse("history"),
        reverse("history_export"),
        reverse("history_call", args=["s-1"]),
    ],
)
def test_a_viewer_gets_a_403_page_that_says_why(client: Client, url: str):
    call_record(telephony_session_id="s-1")
    as_role(client, "Viewer")
    response = client.get(url)
    assert response.status_code == 403
    assert "No access to the call history" in response.content.decode()


def test_a_supervisor_reads_the_history(supervisor: Client):
    call_record(telephony_session_id="s-1")
    assert listed(supervisor) == ["s-1"]
    assert supervisor.get(reverse("history_call", args=["s-1"])).status_code == 200


def test_the_top_bar_links_history_for_those_who_may_read_it(client: Client):
    as_role(client, "Supervisor")
    page = client.get(reverse("console")).content.decode()
    assert f'href="{reverse("history")}">History</a>' in page
    client.logout()
    as_role(client, "Viewer")
    page = client.get(reverse("console")).content.decode()
    assert ">History</a>" not in page


# --- the list and its search ---------------------------------------------------


def test_lists_finished_calls_newest_first_with_their_figures(supervisor: Client):
    old = call_record(started_at=T0)
    new = call_record(
        started_at=T0 + timedelta(hours=1),
        ring_seconds=12.4,
        talk_seconds=125.0,
        hold_seconds=3725.0,
        hold_count=3,
        recordings=["r1", "r2"],
        result=CallRecord.Result.TRANSFERRED,
        final_reason="BlindTransfer",
    )
    call_record(ended=False, result=CallRecord.Result.IN_PROGRESS)
    Extension.objects.create(extension_id="1000000102", extension_number="102")
    assert listed(supervisor) == [new.telephony_session_id, old.telephony_session_id]
    page = supervisor.get(reverse("history")).content.decode()
    row = page[page.index(f'data-session-id="{new.telephony_session_id}"') :]
    row = row[: row.index("</tr>")]
    cells = [text("<td" + cell) for cell in row.split("<td")[1:]]
    assert cells == [
        "2026-01-15 11:00:00",
        "Inbound",
        "Bob Builder (ext 102)",
        f"{new.customer_number} Wireless Caller",
        "Sales",
        "0:12",
        "2:05",
        "1:02:05",
        "3",
        "2",
        "Transferred",
        "BlindTransfer",
    ]
    link = reverse("history_call", args=[new.telephony_session_id])
    assert f'href="{link}"' in page


def test_search_by_part_of_the_customers_or_the_agents_number(supervisor: Client):
    customer = call_record(customer_number="+14155550123")
    agent = call_record(agent_number="+16505559876", customer_number="+447700900")
    call_record(customer_number="+33100000000")
    assert listed(supervisor, number="555 0123") == [customer.telephony_session_id]
    assert listed(supervisor, number="(650) 555-9876") == [agent.telephony_session_id]


def test_search_by_agent_name_or_extension(supervisor: Client):
    Extension.objects.create(extension_id="1000000104", extension_number="104")
    vera = call_record(agent_name="Vera Costa", agent_extension_id="1000000104")
    call_record(agent_name="Bob Builder", agent_extension_id="1000000102")
    assert listed(supervisor, agent="vera") == [vera.telephony_session_id]
    assert listed(supervisor, agent="104") == [vera.telephony_session_id]


def test_search_by_queue_name_or_extension(supervisor: Client):
    Extension.objects.create(
        extension_id="1000000202", extension_number="202", type="Department"
    )
    support = call_record(queue_name="Support", queue_extension_id="1000000202")
    call_record(queue_name="Sales", queue_extension_id="1000000201")
    assert listed(supervisor, queue="supp") == [support.telephony_session_id]
    assert listed(supervisor, queue="202") == [support.telephony_session_id]


def test_search_by_dates_of_the_sites_time_zone(supervisor: Client, settings: Any):
    settings.TIME_ZONE = "America/New_York"  # UTC-5 in January
    # 04:30 UTC on the 15th is still the 14th in New York.
    late_14th = call_record(started_at=datetime(2026, 1, 15, 4, 30, tzinfo=UTC))
    on_15th = call_record(started_at=datetime(2026, 1, 15, 5, 30, tzinfo=UTC))
    on_16th = call_record(started_at=datetime(2026, 1, 17, 4, 59, tzinfo=UTC))
    assert listed(supervisor, date_from="2026-01-15") == [
        on_16th.telephony_session_id,
        on_15th.telephony_session_id,
    ]
    assert listed(supervisor, date_to="2026-01-14") == [late_14th.telephony_session_id]
    assert listed(supervisor, date_from="2026-01-15", date_to="2026-01-15") == [
        on_15th.telephony_session_id
    ]


def test_search_by_result(supervisor: Client):
    missed = call_record(result=CallRecord.Result.MISSED)
    call_record(result=CallRecord.Result.ANSWERED)
    assert listed(supervisor, result="missed") == [missed.telephony_session_id]


def test_an_invalid_field_is_reported_and_left_out(supervisor: Client):
    call_record()
    response = supervisor.get(reverse("history"), {"date_from": "soon"})
    assert "From: Enter a valid date." in response.content.decode()
    assert len(listed(supervisor, date_from="soon")) == 1


def test_pages_of_fifty_walk_older_and_back_newer(supervisor: Client):
    # Ties on the start time: the id breaks them, so no call is skipped.
    calls = [call_record(started_at=T0 + timedelta(minutes=i // 3)) for i in range(120)]
    newest_first = [
        c.telephony_session_id
        for c in sorted(calls, key=lambda c: (c.started_at, c.pk), reverse=True)
    ]
    first = supervisor.get(reverse("history"), {"result": "answered"})
    html = first.content.decode()
    assert "Newer" not in html
    older = re.search(r'href="\?(result=answered&amp;before=\d+)"', html)
    assert older is not None
    pages = [listed(supervisor, result="answered")]
    query = older.group(1).replace("&amp;", "&")
    while query:
        response = supervisor.get(f"{reverse('history')}?{query}")
        html = response.content.decode()
        pages.append(re.findall(r'<tr data-session-id="([^"]+)"', html))
        found = re.search(r'href="\?(result=answered&amp;before=\d+)"', html)
        query = found.group(1).replace("&amp;", "&") if found else ""
    assert [len(p) for p in pages] == [50, 50, 20]
    assert [sid for p in pages for sid in p] == newest_first
    # Back from the last page: the middle page again.
    newer = re.search(r'href="\?(result=answered&amp;after=\d+)"', html)
    assert newer is not None
    back = supervisor.get(
        f"{reverse('history')}?{newer.group(1)}".replace("&amp;", "&")
    )
    assert (
        re.findall(r'<tr data-session-id="([^"]+)"', back.content.decode()) == pages[1]
    )


def test_a_page_costs_the_same_queries_whatever_the_rows(
    supervisor: Client, django_assert_max_num_queries: Any
):
    for _ in range(60):
        call_record()
    # The session, the user and their permissions (3), the page's rows, the
    # agents' extension numbers: none per row.
    with django_assert_max_num_queries(6):
        supervisor.get(reverse("history"))


# --- the CSV export ------------------------------------------------------------


def test_export_streams_every_matching_call_with_the_lists_columns(supervisor: Client):
    call_record(started_at=T0, customer_number="+14155550001")
    match = call_record(
        started_at=T0 + timedelta(hours=1),
        customer_number="+14155550002",
        recordings=["a", "b", "c"],
    )
    rows = exported(supervisor, number="0002")
    assert rows[0][:3] == ["started", "telephony session id", "direction"]
    assert rows[1:] == [
        [
            "2026-01-15T11:00:00+00:00",
            match.telephony_session_id,
            "Inbound",
            "Bob Builder",
            "1000000102",
            "'+16505550102",  # E.164 starts with "+": defused as well
            "'+14155550002",
            "Wireless Caller",
            "Sales",
            "5.0",
            "50.0",
            "10.0",
            "1",
            "3",
            "answered",
            "CallerHungUp",
        ]
    ]
    assert len(exported(supervisor)) == 3  # header and both calls


def test_export_defuses_cells_a_spreadsheet_would_run(supervisor: Client):
    call_record(
        customer_name='=HYPERLINK("http://x")',
        agent_name="@SUM(A1)",
        queue_name="-2+3",
        final_reason="\tTab",
        customer_number="+14155550199",
    )
    (row,) = exported(supervisor)[1:]
    assert row[3] == "'@SUM(A1)"
    assert row[6] == "'+14155550199"  # a number that starts with + too
    assert row[7] == '\'=HYPERLINK("http://x")'
    assert row[8] == "'-2+3"
    assert row[15] == "'\tTab"


@pytest.mark.django_db(transaction=True)
async def test_export_streams_under_asgi_as_daphne_serves_it():
    """The body is an async iterator there: rows come from aiterator()."""
    calls = [await sync_to_async(call_record)() for _ in range(3)]
    user = await sync_to_async(as_role)(Client(), "Supervisor")
    client = AsyncClient()
    await client.aforce_login(user)
    response = await client.get(reverse("history_export"))
    assert response.status_code == 200
    assert response.is_async
    body = b"".join([chunk async for chunk in response.streaming_content])
    rows = list(csv.reader(io.StringIO(body.decode())))
    assert [row[1] for row in rows[1:]] == [
        c.telephony_session_id for c in reversed(calls)
    ]


def test_the_lists_export_link_keeps_the_search(supervisor: Client):
    page = supervisor.get(reverse("history"), {"agent": "Bob", "result": "missed"})
    assert 'href="export.csv?agent=Bob&amp;result=missed"' in page.content.decode()


# --- a call's page -------------------------------------------------------------


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def iso(seconds: int) -> str:
    return at(seconds).isoformat().replace("+00:00", ".000Z")


AGENT = {
    "id": "p-agent",
    "role": "agent",
    "extension_id": "1000000104",
    "direction": "Inbound",
    "to": endpoint(name="Vera Costa", extension_id="1000000104"),
}
CUSTOMER = {
    "id": "p-customer",
    "role": "customer",
    "direction": "Outbound",
    "from_": endpoint(phone_number="+14155550123", name="Wireless Caller"),
}


def journal(*states: tuple[int, str, list[Any]], session: str = "s-42") -> None:
    """Store the call's successive states as the journal does."""
    for seconds, kind, parties in states:
        CallEvent.objects.create(
            at=at(seconds),
            telephony_session_id=session,
            kind=kind,
            call=call_view(session, updated_at=iso(seconds), parties=parties),
        )


def agent(status: str, **fields: Any) -> Any:
    return party(**{**AGENT, "status": status, **fields})


def customer(status: str, **fields: Any) -> Any:
    return party(**{**CUSTOMER, "status": status, **fields})


def timeline(client: Client, session: str = "s-42") -> list[str]:
    html = client.get(reverse("history_call", args=[session])).content.decode()
    items = re.findall(r'<li class="tl[^"]*"[^>]*>(.*?)</li>', html, re.S)
    return [text(item) for item in items]


def test_a_calls_timeline_tells_every_change_and_every_command(supervisor: Client):
    Extension.objects.create(
        extension_id="1000000104", extension_number="2582", name="Vera Costa"
    )
    rec = [{"id": "rec-9", "active": True}]
    paused = [{"id": "rec-9", "active": False}]
    talking = customer("Answered")
    hung_up = {"reason": "CallerHungUp"}
    gone = agent("Disconnected", muted=True, recordings=paused, **hung_up)
    journal(
        (0, "updated", [agent("Proceeding"), talking]),
        (5, "updated", [agent("Answered"), talking]),
        (20, "updated", [agent("Hold"), talking]),
        (30, "updated", [agent("Answered"), talking]),
        (35, "updated", [agent("Answered", muted=True), talking]),
        (40, "updated", [agent("Answered", muted=True, recordings=rec), talking]),
        (45, "updated", [agent("Answered", muted=True, recordings=paused), talking]),
        (50, "updated", [gone, talking]),
        (51, "ended", [gone, customer("Disconnected", **hung_up)]),
    )
    user = User.objects.get()
    for seconds, action, outcome, extra in [
        (19, "hold", "accepted", {"http_status": 200}),
        (
            33,
            "unmute",
            "rejected",
            {"http_status": 409, "error_code": "CMN-123", "message": "Not muted"},
        ),
    ]:
        with time_machine.travel(at(seconds), tick=False):
            command_audit_create(
                user_id=user.pk,
                username="sam",
                action=action,
                telephony_session_id="s-42",
                party_id="p-agent",
                outcome=outcome,
                **extra,
            )
    record = call_record(
        telephony_session_id="s-42", started_at=T0, final_reason="CallerHungUp"
    )
    PartyRecord.objects.create(
        call=record, party_id="p-agent", status="Disconnected", to_name="Vera Costa"
    )

    vera = "Agent Vera Costa (ext 2582)"
    assert timeline(supervisor) == [
        "10:00:00 started Call started (Inbound)",
        f"10:00:00 joined {vera} joined: Proceeding",
        "10:00:00 joined Customer Wireless Caller (+14155550123) joined: Answered",
        f"10:00:05 status {vera}: Proceeding → Answered",
        "10:00:19 Command sam: Hold → accepted HTTP 200",
        f"10:00:20 hold {vera}: Answered → Hold (on hold)",
        f"10:00:30 unhold {vera}: Hold → Answered (off hold)",
        "10:00:33 Command sam: Unmute → rejected HTTP 409 CMN-123 Not muted",
        f"10:00:35 muted {vera} muted",
        f"10:00:40 recording {vera}: recording rec-9 started",
        f"10:00:45 recording {vera}: recording rec-9 paused",
        f"10:00:50 left {vera}: Answered → Disconnected (CallerHungUp)",
        "10:00:51 left Customer Wireless Caller (+14155550123): Answered → "
        "Disconnected (CallerHungUp)",
        "10:00:51 ended Call ended (CallerHungUp)",
    ]
    page = supervisor.get(reverse("history_call", args=["s-42"])).content.decode()
    assert "in progress" not in page
    assert "Vera Costa" in page  # the parties table


def test_transfer_join_and_leave_show_in_the_timeline(supervisor: Client):
    other = {
        "id": "p-other",
        "role": "other",
        "to": endpoint(phone_number="+18005550000"),
    }
    journal(
        (0, "updated", [agent("Answered"), customer("Answered")]),
        (10, "updated", [agent("Answered"), customer("Answered"), party(**other)]),
        (12, "updated", [agent("Gone", reason="BlindTransfer"), customer("Answered")]),
    )  # fmt: skip
    lines = timeline(supervisor)
    assert "10:00:10 joined Party +18005550000 joined: Answered" in lines
    assert "10:00:12 left Party +18005550000 left" in lines
    assert (
        "10:00:12 transferred Agent Vera Costa: Answered → Gone "
        "(transferred (BlindTransfer))"
    ) in lines


def test_a_live_call_without_history_yet_is_in_progress(supervisor: Client):
    journal((0, "updated", [agent("Proceeding"), customer("Answered")]))
    page = supervisor.get(reverse("history_call", args=["s-42"])).content.decode()
    assert "in progress" in page
    assert "Agent Vera Costa joined: Proceeding" in page


def test_a_call_whose_history_is_not_ended_is_in_progress(supervisor: Client):
    call_record(telephony_session_id="s-7", ended=False, result="in_progress")
    page = supervisor.get(reverse("history_call", args=["s-7"])).content.decode()
    assert 'class="badge badge-live">in progress' in page


def test_an_unknown_call_is_404(supervisor: Client):
    assert supervisor.get(reverse("history_call", args=["s-none"])).status_code == 404
