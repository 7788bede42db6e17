"""/api/v1/notifications/: every message Klaxon sent or tried (the Outbox page as JSON),
newest first, for every signed-in user."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.exceptions import ValidationError

from accounts.models import User
from config.ids import parse_id
from notifications import messages
from notifications.models import Notification


class NotificationUserSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = User
        fields = ["id", "username"]
        read_only_fields = fields


class NotificationSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    user = NotificationUserSerializer(read_only=True)

    class Meta:
        model = Notification
        fields = [
            "id",
            "incident",
            "user",
            "contact_method",
            "purpose",
            "channel",
            "destination",
            "status",
            "attempts",
            "provider_id",
            "provider_status",
            "error_code",
            "error",
            "outbox",
            "due_at",
            "sent_at",
            "created_at",
        ]
        read_only_fields = fields


class NotificationDetailSerializer(NotificationSerializer):
    body = serializers.SerializerMethodField(
        help_text="The text sent (empty until it is written, when sent). A verification "
        "code is shown to its own user only."
    )

    class Meta(NotificationSerializer.Meta):
        fields = [*NotificationSerializer.Meta.fields, "reason", "subject", "body"]
        read_only_fields = fields

    def get_body(self, row: Notification) -> str:
        viewer = getattr(self.context.get("request"), "user", None)
        return messages.body_seen_by(row, getattr(viewer, "pk", None))


# Query parameters that take an id, and the ones that take one of a model's choices.
ID_FILTERS = {
    "incident": "An incident id (a whole number).",
    "user": "A user id (a whole number).",
}
CHOICE_FILTERS: dict[str, list[str]] = {
    "status": Notification.Status.values,
    "channel": Notification.Channel.values,
    "purpose": Notification.Purpose.values,
}


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("incident", int, description="Only this incident's messages"),
            OpenApiParameter("user", int, description="Only messages to this user"),
            *(OpenApiParameter(name, str, enum=values) for name, values in CHOICE_FILTERS.items()),
        ]
    )
)
class NotificationViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,  # type: ignore[type-arg]
):
    """Every message Klaxon sent, tried or recorded in the outbox, newest first. The
    detail adds the text (body)."""

    def get_serializer_class(self) -> type[NotificationSerializer]:
        return NotificationDetailSerializer if self.action != "list" else NotificationSerializer

    def get_queryset(self) -> QuerySet[Notification]:
        rows = Notification.objects.select_related("user")
        if self.action != "list":
            return rows  # filters narrow the list, never a lookup
        rows = rows.defer("body", "subject", "reason", "dedup_key")
        params: Any = self.request.query_params
        errors: dict[str, list[str]] = {}
        # A filter we cannot apply is an error, not "every row".
        for name, problem in ID_FILTERS.items():
            raw = params.get(name, "")
            if not raw:
                continue
            pk = parse_id(raw)
            if pk is None:
                errors[name] = [problem]
            else:
                rows = rows.filter(**{f"{name}_id": pk})
        for name, values in CHOICE_FILTERS.items():
            value = params.get(name, "")
            if not value:
                continue
            if value not in values:
                errors[name] = [f"Not one of {', '.join(values)}."]
            else:
                rows = rows.filter(**{name: value})
        if errors:
            raise ValidationError(errors)
        return rows.order_by("-id")
