"""The admin: call history, the extension directory with the call queues'
members, and the command audit, all read-only (history and audit are
evidence; the directory and the membership are RingCentral's); and an
action that logs users out everywhere.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.sessions.models import Session
from django.core.exceptions import PermissionDenied
from django.db.models import Model, OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponseBadRequest
from django.http.response import HttpResponseBase
from django.urls import URLPattern, path
from django.utils import timezone

from telephony.audit import timestamp
from telephony.csvexport import csv_stream_response
from telephony.models import (
    CallRecord,
    CommandAudit,
    Extension,
    PartyRecord,
    QueueMember,
    QueueSettings,
)


def duration(seconds: float | None) -> str:
    """3725.4 -> "1:02:05", 65 -> "1:05"; blank for None."""
    if seconds is None:
        return ""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


class ReadOnlyMixin:
    """Viewable by whoever may view; nobody adds, edits or deletes here."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PartyInline(ReadOnlyMixin, admin.TabularInline):
    model = PartyRecord
    extra = 0
    fields = (
        "party_id",
        "extension_id",
        "direction",
        "from_number",
        "from_name",
        "to_number",
        "to_name",
        "first_status",
        "status",
        "reason",
        "first_seen_at",
        "answered_at",
        "ended_at",
        "muted_ever",
        "missed_call",
        "queue_call",
    )
    readonly_fields = fields


@admin.register(CallRecord)
class CallRecordAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = (
        "started_at",
        "direction",
        "agent_name",
        "agent_number",
        "customer_number",
        "customer_name",
        "queue_name",
        "result",
        "ring",
        "talk",
        "hold",
        "hold_count",
        "ended",
    )
    list_filter = (
        "result",
        "direction",
        "ended",
        ("agent_name", admin.AllValuesFieldListFilter),
        "queue_name",
        "started_at",
    )
    date_hierarchy = "started_at"
    search_fields = (
        "telephony_session_id",
        "session_id",
        "customer_number",
        "customer_name",
        "agent_name",
        "agent_number",
        "parties__from_number",
        "parties__to_number",
    )
    show_full_result_count = False  # COUNT(*) on a large history is slow
    inlines = (PartyInline,)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return _field_names(self.model)

    @admin.display(description="ring", ordering="ring_seconds")
    def ring(self, obj: CallRecord) -> str:
        return duration(obj.ring_seconds)

    @admin.display(description="talk", ordering="talk_seconds")
    def talk(self, obj: CallRecord) -> str:
        return duration(obj.talk_seconds)

    @admin.display(description="hold", ordering="hold_seconds")
    def hold(self, obj: CallRecord) -> str:
        return duration(obj.hold_seconds)


@admin.register(Extension)
class ExtensionAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("extension_number", "name", "type", "status", "email", "updated_at")
    list_filter = ("type", "status")
    search_fields = ("extension_number", "name", "email", "extension_id")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return _field_names(self.model)


def _directory_name(field: str) -> Subquery:
    """The directory's name of the extension in `field` (one subquery in
    the list's query, not one query per row)."""
    names = Extension.objects.filter(extension_id=OuterRef(field)).values("name")
    return Subquery(names[:1])


class QueueFilter(admin.SimpleListFilter):
    """Filter by call queue, named as in the directory."""

    title = "queue"
    parameter_name = "queue"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        queues = Extension.objects.filter(type="Department").order_by("name")
        return list(queues.values_list("extension_id", "name"))

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value():
            return queryset.filter(queue_extension_id=self.value())
        return queryset


@admin.register(QueueMember)
class QueueMemberAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Who belongs to which call queue, as RingCentral's member lists said
    at the last directory refresh."""

    list_display = ("queue", "member", "queue_extension_id", "member_extension_id")
    list_filter = (QueueFilter,)
    # The annotated names (get_queryset) are searchable too.
    search_fields = (
        "queue_name",
        "member_name",
        "queue_extension_id",
        "member_extension_id",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[QueueMember]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                queue_name=_directory_name("queue_extension_id"),
                member_name=_directory_name("member_extension_id"),
            )
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return _field_names(self.model)

    @admin.display(description="queue name", ordering="queue_name")
    def queue(self, obj: Any) -> str:
        return str(obj.queue_name or "")

    @admin.display(description="member name", ordering="member_name")
    def member(self, obj: Any) -> str:
        return str(obj.member_name or "")


class SupervisorFilter(admin.AllValuesFieldListFilter):
    """By username at the time, titled for what it means."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.title = "supervisor"


@admin.register(CommandAudit)
class CommandAuditAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """The append-only trail (telephony.audit): filter by supervisor,
    action, outcome, date and call (search a session id), and export what
    the list shows as CSV. No add, change or delete, superusers included,
    and no actions (so no bulk delete)."""

    list_display = (
        "requested_at",
        "username",
        "action",
        "telephony_session_id",
        "party_id",
        "params",
        "outcome",
        "http_status",
        "error_code",
    )
    list_filter = (
        "outcome",
        "action",
        "requested_at",
        ("username", SupervisorFilter),
    )
    date_hierarchy = "requested_at"
    search_fields = (
        "username",
        "telephony_session_id",
        "party_id",
        "error_code",
        "message",
    )
    actions = None
    show_full_result_count = False  # COUNT(*) on a long trail is slow
    change_list_template = "admin/telephony/commandaudit/change_list.html"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return _field_names(self.model)

    def get_urls(self) -> list[URLPattern]:
        export = path(
            "export.csv",
            self.admin_site.admin_view(self.export_csv),
            name="telephony_commandaudit_export",
        )
        return [export, *super().get_urls()]

    def export_csv(self, request: HttpRequest) -> HttpResponseBase:
        """The list as filtered and searched (same query string), streamed
        as CSV in id order, hashes included so the chain can be checked."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            return HttpResponseBadRequest("Unknown filter.")
        return csv_stream_response(
            request,
            changelist.queryset.order_by("pk"),
            header=AUDIT_COLUMNS,
            cells=_audit_cells,
            filename=f"audit-{timezone.now():%Y%m%d-%H%M%S}.csv",
        )


AUDIT_COLUMNS = (
    *("id", "requested_at", "username", "user_id", "action"),
    *("telephony_session_id", "party_id", "params", "outcome", "http_status"),
    *("error_code", "message", "prev_hash", "row_hash"),
)


def _audit_cells(row: CommandAudit) -> list[Any]:
    values = [getattr(row, column) for column in AUDIT_COLUMNS]
    values[1] = timestamp(row.requested_at)
    values[7] = json.dumps(row.params, sort_keys=True, ensure_ascii=False)
    return values


def _field_names(model: type[Model]) -> list[str]:
    return [f.name for f in model._meta.fields]


class QueueSettingsForm(forms.ModelForm):
    """Pick the queue by name from the directory, not by its raw id."""

    queue_extension_id = forms.ChoiceField(
        label="Queue", required=False, choices=(), help_text=""
    )

    class Meta:
        model = QueueSettings
        fields = (
            "queue_extension_id",
            "service_level_seconds",
            "service_level_target",
            "long_ring_seconds",
            "long_wait_seconds",
            "long_hold_seconds",
            "long_talk_seconds",
            "dnd_too_long_seconds",
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        queues = Extension.objects.filter(type="Department").order_by("name")
        choices = [("", "Defaults (every queue without its own row)")]
        choices += [
            (q.extension_id, f"{q.name} (ext {q.extension_number})") for q in queues
        ]
        current = self.instance.queue_extension_id
        if current and current not in dict(choices):
            choices.append((current, self.instance.queue_name or current))
        field = self.fields["queue_extension_id"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = choices


@admin.register(QueueSettings)
class QueueSettingsAdmin(admin.ModelAdmin):
    """The only settings supervisors' administrators edit here: each
    queue's alert thresholds and service level (read by the worker every
    30 s, so a change reaches every console within half a minute)."""

    form = QueueSettingsForm
    list_display = (
        "__str__",
        "service_level_seconds",
        "service_level_target",
        "long_ring_seconds",
        "long_wait_seconds",
        "long_hold_seconds",
        "long_talk_seconds",
        "dnd_too_long_seconds",
    )

    def save_model(
        self, request: HttpRequest, obj: Any, form: Any, change: bool
    ) -> None:
        queue = Extension.objects.filter(extension_id=obj.queue_extension_id).first()
        obj.queue_name = queue.name if queue else ""
        super().save_model(request, obj, form, change)


class SwitchboardUserAdmin(UserAdmin):
    """Django's user admin, plus ending a user's logins: their sessions are
    deleted, which logs them out and closes their open consoles at once
    (dashboard.access). Sessions get no admin of their own: its links would
    show session keys, which are the logins themselves."""

    actions = ["end_logins"]

    @admin.action(
        description="Log the selected users out everywhere",
        permissions=["delete_session"],
    )
    def end_logins(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        ids = {str(pk) for pk in queryset.values_list("pk", flat=True)}
        ended = 0
        for session in Session.objects.filter(expire_date__gt=timezone.now()):
            if session.get_decoded().get("_auth_user_id") in ids:
                session.delete()  # one by one: each sends its signal
                ended += 1
        self.message_user(request, f"{ended} login session(s) ended.")

    def has_delete_session_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("sessions.delete_session"))


admin.site.unregister(get_user_model())
admin.site.register(get_user_model(), SwitchboardUserAdmin)
