"""The admin: call history, the extension directory and the command audit,
all read-only (history and audit are evidence; the directory is RingCentral's).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from telephony.models import CallRecord, CommandAudit, Extension, PartyRecord


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


@admin.register(CommandAudit)
class CommandAuditAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = (
        "requested_at",
        "user",
        "action",
        "telephony_session_id",
        "party_id",
        "outcome",
        "http_status",
        "error_code",
    )
    list_filter = ("outcome", "action", "requested_at", "user")
    date_hierarchy = "requested_at"
    search_fields = (
        "user",
        "telephony_session_id",
        "party_id",
        "error_code",
        "message",
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return _field_names(self.model)


def _field_names(model: type[Model]) -> list[str]:
    return [f.name for f in model._meta.fields]
