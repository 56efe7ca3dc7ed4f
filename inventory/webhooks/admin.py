"""Admin pages for webhook endpoints (the secret is shown once, never again) and their deliveries."""

from __future__ import annotations

import re

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from inventory.models import WebhookDelivery, WebhookEndpoint
from inventory.webhooks import patterns, services
from inventory.webhooks.signing import generate_secret


class WebhookEndpointForm(forms.ModelForm):
    events = forms.CharField(
        help_text="Comma-separated: event types (inventory.updated), families (reservation.*) or *.",
        widget=forms.TextInput(attrs={"size": 80}),
    )
    # Not named "secret": the model field stays out of the form, so it is never rendered.
    custom_secret = forms.CharField(
        required=False,
        label="Secret",
        help_text="Leave blank to generate one. It is shown once, after saving.",
    )
    rotate_secret = forms.BooleanField(
        required=False,
        label="Generate a new secret",
        help_text="The old one stops working at once; the new one is shown once, after saving.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "events", "description", "is_active"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.initial["events"] = ", ".join(self.instance.events)

    def clean_url(self) -> str:
        return services.clean_url(self.cleaned_data["url"])

    def clean_events(self) -> list[str]:
        return patterns.clean_events([p for p in re.split(r"[\s,]+", self.cleaned_data["events"]) if p])

    def clean_custom_secret(self) -> str:
        secret = self.cleaned_data.get("custom_secret", "")
        return services.clean_secret(secret) if secret else ""


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ("url", "subscribed_events", "is_active", "consecutive_failures", "disabled_reason", "created_at")
    list_filter = ("is_active",)
    search_fields = ("url", "description")
    readonly_fields = ("consecutive_failures", "disabled_reason", "created_by", "created_at", "updated_at")

    @admin.display(description="Events")
    def subscribed_events(self, obj: WebhookEndpoint) -> str:
        return ", ".join(obj.events)

    def get_fields(self, request: HttpRequest, obj: WebhookEndpoint | None = None) -> list[str]:
        if obj is None:
            return ["url", "events", "description", "is_active", "custom_secret"]
        return ["url", "events", "description", "is_active", "rotate_secret", *self.readonly_fields]

    def get_readonly_fields(self, request: HttpRequest, obj: WebhookEndpoint | None = None) -> tuple[str, ...]:
        return self.readonly_fields if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: WebhookEndpoint, form: WebhookEndpointForm, change: bool) -> None:
        data = form.cleaned_data
        if change:
            changes = {f: data[f] for f in ("url", "events", "description", "is_active") if f in form.changed_data}
            if data.get("rotate_secret"):
                changes["secret"] = generate_secret()
            endpoint = services.update_endpoint(endpoint_id=obj.pk, changes=changes)
        else:
            endpoint = services.create_endpoint(
                url=data["url"],
                events=data["events"],
                secret=data["custom_secret"] or None,
                is_active=data["is_active"],
                description=data["description"],
                user=request.user,
            )
            obj.pk = endpoint.pk
        if not change or data.get("rotate_secret"):
            self.message_user(
                request,
                format_html(
                    "Signing secret of {}: <code>{}</code> — copy it now, it is not shown again.",
                    endpoint.url,
                    endpoint.secret,
                ),
                messages.WARNING,
            )


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """Deliveries are made by the system; staff only look and retry."""

    list_display = (
        "id",
        "endpoint",
        "event_id",
        "event_type",
        "status",
        "attempts",
        "last_status_code",
        "last_error",
        "next_attempt_at",
        "created_at",
        "delivered_at",
    )
    list_filter = ("status", ("endpoint", admin.RelatedOnlyFieldListFilter), "event_type")
    list_select_related = ("endpoint",)
    date_hierarchy = "created_at"
    actions = ["retry_selected"]

    @admin.action(description="Retry selected deliveries", permissions=["retry"])
    def retry_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        selected = list(queryset.values_list("pk", flat=True))
        done = services.retry_deliveries(delivery_ids=selected)
        message = f"{done} deliver{'y' if done == 1 else 'ies'} will be sent again now."
        if done < len(selected):
            message += f" {len(selected) - done} skipped: their endpoint is inactive (activate it first)."
        self.message_user(request, message, messages.SUCCESS if done else messages.WARNING)

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("inventory.change_webhookdelivery")

    def get_readonly_fields(self, request: HttpRequest, obj: WebhookDelivery | None = None) -> list[str]:
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: WebhookDelivery | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: WebhookDelivery | None = None) -> bool:
        return False
