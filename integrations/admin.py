from __future__ import annotations

from django.contrib import admin

from integrations.masking import display_body
from integrations.models import InboundMessage, Integration


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "kind", "enabled", "subscription_status", "topic_arn"]
    list_filter = ["kind", "enabled", "subscription_status"]
    readonly_fields = ["token_hash"]
    exclude = ["token"]


@admin.register(InboundMessage)
class InboundMessageAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["id", "received_at", "integration", "message_type", "outcome", "incident"]
    list_filter = ["outcome", "message_type"]
    raw_id_fields = ["incident"]
    exclude = ["body"]
    readonly_fields = ["shown_body"]

    @admin.display(description="Body (UnsubscribeURL masked)")
    def shown_body(self, row: InboundMessage) -> str:
        return display_body(row.body)

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False
