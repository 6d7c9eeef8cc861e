"""The admin of the live call wall's links (wall tokens): create one (its
link is shown once), list them, revoke them. Only users with the model's
permissions see it (the Administrator role: telephony/roles.py)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse

from dashboard.models import PANELS, WallToken
from dashboard.wall_tokens import wall_tokens_revoke
from telephony.models import Extension

# RingCentral's extension type of a call queue (docs/ringcentral.md 8.3).
CALL_QUEUE = "Department"


def _queue_choices(current: list[str]) -> list[tuple[str, str]]:
    queues = Extension.objects.filter(type=CALL_QUEUE).order_by("name")
    choices = [(q.extension_id, f"{q.name} (ext {q.extension_number})") for q in queues]
    known = {value for value, _ in choices}
    return choices + [
        (ext, f"Queue {ext} (not in the directory)")
        for ext in current
        if ext not in known
    ]


class WallTokenForm(forms.ModelForm):
    """Queues chosen by name from the directory; panels as checkboxes."""

    queues = forms.MultipleChoiceField(
        label="Queues",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="The wall shows only these queues' calls; none chosen: every "
        "call. A display choice, not a privacy boundary: the wall's page "
        "receives the whole floor.",
    )
    panels = forms.MultipleChoiceField(
        label="Panels",
        choices=PANELS,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="What the wall shows; none chosen: every panel.",
    )

    class Meta:
        model = WallToken
        fields: tuple[str, ...] = (
            "name",
            "expires_at",
            "queues",
            "panels",
            "mask_numbers",
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        current = [str(q) for q in self.instance.queues or []]
        field = self.fields["queues"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = _queue_choices(current)
        if self.instance.pk is None:
            self.initial.setdefault("panels", [name for name, _ in PANELS])

    def clean_panels(self) -> list[str]:
        chosen = self.cleaned_data.get("panels") or []
        return [name for name, _ in PANELS if name in chosen] or [
            name for name, _ in PANELS
        ]


class RevokableForm(WallTokenForm):
    class Meta(WallTokenForm.Meta):
        fields = (
            "name",
            "revoked_at",
            "expires_at",
            "queues",
            "panels",
            "mask_numbers",
        )


@admin.register(WallToken)
class WallTokenAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "state",
        "scope",
        "shown_panels",
        "mask_numbers",
        "expires_at",
        "last_seen_at",
        "created_by",
        "created_at",
    )
    list_filter = ("mask_numbers", "revoked_at", "expires_at")
    search_fields = ("name",)
    actions = ("revoke",)
    readonly_fields = ("fingerprint", "created_at", "created_by", "last_seen_at")

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        kwargs["form"] = RevokableForm if obj is not None else WallTokenForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        form = RevokableForm if obj is not None else WallTokenForm
        fields = list(form.Meta.fields)
        return fields + list(self.readonly_fields) if obj is not None else fields

    def save_model(
        self, request: HttpRequest, obj: Any, form: Any, change: bool
    ) -> None:
        if not change:
            obj.created_by = request.user
            # The secret exists only in this request: shown on the page
            # response_add renders, never stored or put in a message.
            request._wall_token = obj.issue()  # type: ignore[attr-defined]
        super().save_model(request, obj, form, change)

    def response_add(
        self, request: HttpRequest, obj: Any, post_url_continue: Any = None
    ) -> HttpResponse:
        raw = getattr(request, "_wall_token", None)
        if raw is None:
            return super().response_add(request, obj, post_url_continue)
        link = request.build_absolute_uri(f"{reverse('wall')}?token={raw}")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Wall token created",
            "token": obj,
            "link": link,
        }
        response = TemplateResponse(
            request, "admin/dashboard/walltoken/created.html", context
        )
        response["Cache-Control"] = "no-store"
        response["Referrer-Policy"] = "no-referrer"
        return response

    @admin.action(description="Revoke selected wall tokens", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: Any) -> None:
        count = wall_tokens_revoke(queryset)
        self.message_user(
            request,
            f"{count} wall token{'s' if count != 1 else ''} revoked: "
            "their open walls go dark within seconds.",
            messages.SUCCESS,
        )

    @admin.display(description="state")
    def state(self, obj: WallToken) -> str:
        return obj.state()

    @admin.display(description="queues")
    def scope(self, obj: WallToken) -> str:
        if not obj.queues:
            return "every call"
        names = dict(
            Extension.objects.filter(extension_id__in=obj.queues).values_list(
                "extension_id", "name"
            )
        )
        return ", ".join(names.get(q, q) for q in obj.queues)

    @admin.display(description="panels")
    def shown_panels(self, obj: WallToken) -> str:
        labels = dict(PANELS)
        return ", ".join(labels.get(p, p) for p in obj.panels or [])
