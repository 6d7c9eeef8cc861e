from django.contrib import admin

from telephony.models import CommandAudit


@admin.register(CommandAudit)
class CommandAuditAdmin(admin.ModelAdmin):
    list_display = (
        "requested_at",
        "user",
        "action",
        "telephony_session_id",
        "outcome",
        "error_code",
    )
    list_filter = ("outcome", "action")
    search_fields = ("user", "telephony_session_id", "error_code")
    readonly_fields = [f.name for f in CommandAudit._meta.fields]

    def has_add_permission(self, request):  # an audit trail is append-only
        return False

    def has_change_permission(self, request, obj=None):
        return False
