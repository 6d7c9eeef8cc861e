"""The audit in the admin: nobody changes or deletes a row there,
superusers included; the list filters by supervisor, action, outcome,
date and call, and exports what it shows as streamed, defused CSV."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission, User
from django.test import AsyncClient, Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from telephony.admin import CommandAuditAdmin
from telephony.history import services
from telephony.models import CommandAudit

EXPORT = reverse("admin:telephony_commandaudit_export")
LIST = reverse("admin:telephony_commandaudit_changelist")


def audit(**fields: Any) -> CommandAudit:
    values = {
        "username": "alice",
        "action": "hold",
        "telephony_session_id": "s-1",
        "party_id": "p-1",
        "outcome": "accepted",
        "http_status": 200,
        **fields,
    }
    return services.command_audit_create(**values)


def auditor(username: str = "auditor", *, may_view: bool = True) -> User:
    user = User.objects.create_user(username, is_staff=True)
    if may_view:
        user.user_permissions.add(Permission.objects.get(codename="view_commandaudit"))
    return user


def rows_of(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode())))


def exported(client: Client, query: str = "") -> list[dict[str, str]]:
    response = client.get(EXPORT + query)
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-')
    return rows_of(b"".join(response.streaming_content))


@pytest.mark.django_db
def test_a_superuser_may_not_add_change_or_delete_audit_rows(admin_client):
    row = audit()
    change = reverse("admin:telephony_commandaudit_change", args=[row.pk])
    delete = reverse("admin:telephony_commandaudit_delete", args=[row.pk])
    assert (
        admin_client.get(reverse("admin:telephony_commandaudit_add")).status_code == 403
    )
    assert admin_client.post(change, {"message": "nothing"}).status_code == 403
    assert admin_client.get(delete).status_code == 403
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert CommandAudit.objects.get(pk=row.pk).message == ""
    page = admin_client.get(change)  # shown, read-only
    assert page.status_code == 200 and b'name="message"' not in page.content


@pytest.mark.django_db
def test_the_audit_list_offers_no_actions_so_no_bulk_delete(admin_client, admin_user):
    audit()
    listing = admin_client.get(LIST)
    assert listing.context["action_form"] is None
    assert b"delete_selected" not in listing.content
    bulk = {"action": "delete_selected", "_selected_action": ["1"], "post": "yes"}
    admin_client.post(LIST, bulk)
    assert CommandAudit.objects.count() == 1
    request = RequestFactory().get(LIST)
    request.user = admin_user
    model_admin = CommandAuditAdmin(CommandAudit, admin.site)
    assert model_admin.get_actions(request) == {}
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, CommandAudit.objects.get())
    assert not model_admin.has_delete_permission(request, CommandAudit.objects.get())


@pytest.mark.django_db
def test_the_list_filters_by_supervisor_action_outcome_date_and_call(client):
    audit(username="alice", action="hold", telephony_session_id="s-1")
    audit(username="bob", action="end", telephony_session_id="s-2")
    audit(username="bob", action="hold", outcome="rejected", http_status=404)
    client.force_login(auditor())
    listing = client.get(LIST)
    filters = {spec.title for spec in listing.context["cl"].filter_specs}
    assert filters == {"outcome", "action", "requested at", "supervisor"}
    assert b"Export CSV" in listing.content

    def shown(query: str) -> list[tuple[str, str, str]]:
        page = client.get(LIST + query)
        assert page.status_code == 200
        return sorted(
            (r.username, r.action, r.outcome) for r in page.context["cl"].result_list
        )

    assert shown("?username=bob&action=hold") == [("bob", "hold", "rejected")]
    assert shown("?outcome__exact=accepted") == [
        ("alice", "hold", "accepted"),
        ("bob", "end", "accepted"),
    ]
    assert shown("?q=s-2") == [("bob", "end", "accepted")]
    today = timezone.localdate()
    day = f"requested_at__year={today.year}&requested_at__month={today.month}"
    assert len(shown(f"?{day}&requested_at__day={today.day}")) == 3
    assert shown("?requested_at__year=2000") == []


@pytest.mark.django_db
def test_the_export_streams_the_filtered_list_with_its_hashes(client):
    first = audit(username="alice", params={"phoneNumber": "+14155550199"})
    audit(username="bob", action="end", telephony_session_id="s-2")
    client.force_login(auditor())
    rows = exported(client, "?username=alice")
    assert len(rows) == 1
    assert rows[0]["id"] == str(first.pk)
    assert rows[0]["username"] == "alice"
    assert rows[0]["params"] == '{"phoneNumber": "+14155550199"}'
    assert rows[0]["row_hash"] == first.row_hash
    assert rows[0]["prev_hash"] == first.prev_hash
    assert [r["telephony_session_id"] for r in exported(client, "?q=s-2")] == ["s-2"]
    assert len(exported(client)) == 2


@pytest.mark.django_db
def test_the_export_defuses_cells_a_spreadsheet_would_run(client):
    audit(
        username="=HYPERLINK(1)",
        party_id="+1-555",
        error_code="-2+3",
        message="@SUM(A1:A9)",
        telephony_session_id="\tcmd",
    )
    client.force_login(auditor())
    (row,) = exported(client)
    assert row["username"] == "'=HYPERLINK(1)"
    assert row["party_id"] == "'+1-555"
    assert row["error_code"] == "'-2+3"
    assert row["message"] == "'@SUM(A1:A9)"
    assert row["telephony_session_id"] == "'\tcmd"
    assert row["action"] == "hold"


@pytest.mark.django_db
def test_only_users_who_may_view_the_audit_may_export_it(client):
    audit()
    assert client.get(EXPORT).status_code == 302  # to the login page
    client.force_login(auditor("clerk", may_view=False))
    assert client.get(EXPORT).status_code == 403
    assert client.get(LIST).status_code == 403


@pytest.mark.django_db
def test_an_unknown_filter_is_refused_not_ignored(client):
    client.force_login(auditor())
    assert client.get(EXPORT + "?no_such_field=1").status_code == 400


@pytest.mark.django_db(transaction=True)
async def test_under_asgi_the_export_streams_without_buffering():
    """Daphne serves Switchboard: Django would buffer a sync body whole
    (with a warning, an error here); the export hands it an async one."""
    from channels.db import database_sync_to_async

    def setup() -> User:
        for n in range(5):
            audit(telephony_session_id=f"s-{n}")
        return auditor()

    user = await database_sync_to_async(setup)()
    client = AsyncClient()
    await client.aforce_login(user)
    response = await client.get(EXPORT)
    assert response.status_code == 200 and response.streaming
    body = b"".join([chunk async for chunk in response.streaming_content])
    assert [r["telephony_session_id"] for r in rows_of(body)] == [
        f"s-{n}" for n in range(5)
    ]
