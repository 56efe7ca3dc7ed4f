"""Shapes of the webhook API. Types only here; ``services`` validates URLs, patterns and secrets."""

from __future__ import annotations

from rest_framework import serializers

from inventory.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from inventory.webhooks.addresses import MAX_URL_LENGTH
from inventory.webhooks.patterns import MAX_PATTERNS
from inventory.webhooks.signing import MAX_SECRET_LENGTH


class WebhookEndpointSerializer(serializers.ModelSerializer):
    """An endpoint as read and written; the secret is write-only."""

    url = serializers.CharField(max_length=MAX_URL_LENGTH)
    events = serializers.ListField(
        child=serializers.CharField(max_length=60),
        allow_empty=False,
        max_length=MAX_PATTERNS,
        help_text='Event types or patterns: "inventory.updated", "reservation.*", "*".',
    )
    secret = serializers.CharField(
        max_length=MAX_SECRET_LENGTH,
        write_only=True,
        required=False,
        help_text="Signing secret (16+ characters); generated when absent. Returned only by the create call.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "events",
            "secret",
            "is_active",
            "description",
            "consecutive_failures",
            "disabled_reason",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "consecutive_failures", "disabled_reason", "created_at", "updated_at"]


class CreatedWebhookEndpointSerializer(WebhookEndpointSerializer):
    """The answer to a create: the endpoint plus its secret, the only time the secret is shown."""

    secret = serializers.CharField(read_only=True)


class WebhookDeliverySerializer(serializers.ModelSerializer):
    endpoint_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "endpoint_id",
            "event_id",
            "event_type",
            "status",
            "attempts",
            "last_status_code",
            "last_error",
            "next_attempt_at",
            "created_at",
            "delivered_at",
        ]
        read_only_fields = fields


class DeliveryQuery(serializers.Serializer):
    status = serializers.ChoiceField(choices=DeliveryStatus.values, required=False)
