from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.roles import AdminOrReadOnly
from config.ids import parse_id
from integrations import services
from integrations.masking import display_body
from integrations.models import InboundMessage, Integration
from integrations.text import valid_data


class IntegrationSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    url = serializers.CharField(read_only=True, help_text="The inbound URL to subscribe.")

    class Meta:
        model = Integration
        fields = [
            "id",
            "name",
            "kind",
            "url",
            "team",
            "escalation_policy",
            "enabled",
            "subscription_status",
            "topic_arn",
            "subscription_arn",
            "insufficient_data_as_alarm",
            "security_mode",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "subscription_status",
            "topic_arn",
            "subscription_arn",
            "created_at",
            "updated_at",
        ]


class IntegrationViewSet(viewsets.ModelViewSet):  # type: ignore[type-arg]
    """Integrations and their inbound URLs. POST {"name": ..., "kind": "aws_sns"}.
    Everyone signed in reads; admins create, change, delete and rotate URLs."""

    queryset = Integration.objects.all().order_by("id")
    serializer_class = IntegrationSerializer
    permission_classes = [AdminOrReadOnly]

    # Writes go through the services so each one is audited with its author.
    def perform_create(self, serializer: IntegrationSerializer) -> None:  # type: ignore[override]
        integration = Integration(**serializer.validated_data)
        serializer.instance = services.integration_create(
            actor=self.request.user, integration=integration
        )

    def perform_update(self, serializer: IntegrationSerializer) -> None:  # type: ignore[override]
        integration = serializer.instance
        assert isinstance(integration, Integration)
        for field, value in serializer.validated_data.items():
            setattr(integration, field, value)
        serializer.instance = services.integration_update(
            actor=self.request.user, integration=integration
        )

    def perform_destroy(self, instance: Integration) -> None:
        services.integration_delete(actor=self.request.user, integration=instance)

    @extend_schema(request=None, responses=IntegrationSerializer)
    @action(detail=True, methods=["post"], url_path="rotate-url")
    def rotate_url(self, request: Request, pk: str | None = None) -> Response:
        """Replace the inbound URL; the old one answers 404 from now on."""
        integration = services.integration_rotate_token(
            integration=self.get_object(), actor=request.user
        )
        return Response(self.get_serializer(integration).data)


class ValidTextJSONField(serializers.JSONField):
    """JSON whose strings are valid text (see integrations.text): a stored row must never
    make the answer impossible to encode."""

    def to_representation(self, value: Any) -> Any:
        return valid_data(super().to_representation(value))


class InboundMessageSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    outcome_text = serializers.CharField(read_only=True)
    headers = ValidTextJSONField(required=False)  # as the model field maps (same schema)
    body = serializers.SerializerMethodField(help_text="Raw body; UnsubscribeURL masked.")

    class Meta:
        model = InboundMessage
        fields = [
            "id",
            "integration",
            "received_at",
            "source_ip",
            "message_type",
            "message_id",
            "topic_arn",
            "subscribe_url",
            "outcome",
            "reason",
            "outcome_text",
            "incident",
            "confirm_status",
            "confirm_result",
            "body_size",
            "headers",
            "body",
        ]

    def get_body(self, row: InboundMessage) -> str:
        return display_body(row.body)


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("integration", int, description="Only this integration's rows"),
            OpenApiParameter("outcome", str, enum=InboundMessage.Outcome.values),
        ]
    )
)
class InboundMessageViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,  # type: ignore[type-arg]
):
    """The Inbound Log: every request to an integration URL, newest first."""

    serializer_class = InboundMessageSerializer

    def get_queryset(self) -> QuerySet[InboundMessage]:
        rows = InboundMessage.objects.all()
        if self.action != "list":
            return rows  # filters narrow the list, never a lookup
        params: Any = self.request.query_params
        integration = params.get("integration", "")
        outcome = params.get("outcome", "")
        integration_id = parse_id(integration)
        # A filter we cannot apply is an error, not "every row".
        if integration and integration_id is None:
            raise ValidationError({"integration": ["An integration id (a whole number)."]})
        if outcome and outcome not in InboundMessage.Outcome.values:
            raise ValidationError(
                {"outcome": [f"Not one of {', '.join(InboundMessage.Outcome.values)}."]}
            )
        if integration_id is not None:
            rows = rows.filter(integration_id=integration_id)
        if outcome:
            rows = rows.filter(outcome=outcome)
        return rows.order_by("-id")
