from __future__ import annotations

from collections.abc import Callable

from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import User
from accounts.roles import NotAllowed, ResponderOrReadOnly
from config.ids import parse_id
from escalation.engine import escalation_escalate_now
from incidents import selectors, services
from incidents.models import Incident, IncidentEvent

Via = IncidentEvent.Via


class IncidentEventSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = IncidentEvent
        fields = ["id", "kind", "at", "message", "actor", "channel", "inbound_message"]

    # The API's name for the field since before it was IncidentEvent.via (how the line
    # came: web, api, sms, voice, email, source, escalation).
    channel = serializers.CharField(
        source="via",
        max_length=16,
        required=False,
        allow_blank=True,
        help_text="How the line came: web, api, sms, voice, email, source or escalation.",
    )
    inbound_message = serializers.SerializerMethodField(
        help_text="Id of the Inbound Log row that wrote this line, if any."
    )

    def get_inbound_message(self, event: IncidentEvent) -> int | None:
        row = getattr(event, "inbound_message", None)
        return row.pk if row is not None else None


class IncidentSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = Incident
        fields = [
            "id",
            "integration",
            "dedup_key",
            "title",
            "description",
            "state",
            "details",
            "alarm_count",
            "created_at",
            "last_seen_at",
            "acknowledged_at",
            "acknowledged_by",
            "resolved_at",
            "resolved_by",
        ]
        read_only_fields = fields


class IncidentDetailSerializer(IncidentSerializer):
    events = IncidentEventSerializer(many=True, read_only=True)

    class Meta(IncidentSerializer.Meta):
        fields = [*IncidentSerializer.Meta.fields, "events"]
        read_only_fields = fields


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("integration", int, description="Only this integration's incidents"),
            OpenApiParameter(
                "state",
                str,
                enum=[state for state in selectors.LIST_STATES if state != "all"],
                description='One state, or "open" for triggered and acknowledged ones',
            ),
        ]
    )
)
class IncidentViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,  # type: ignore[type-arg]
):
    """Incidents, newest first; acknowledge, resolve and escalate them.

    Everyone signed in reads; acting needs a responder or an admin (viewers get 403)."""

    permission_classes = [ResponderOrReadOnly]

    def get_queryset(self) -> QuerySet[Incident]:
        if self.action != "list":
            # Filters narrow the list, never a lookup.
            return selectors.incident_list().prefetch_related(
                Prefetch("events", IncidentEvent.objects.select_related("inbound_message"))
            )
        params = self.request.query_params
        state = params.get("state", "")
        integration = params.get("integration", "")
        integration_id = parse_id(integration)
        # A filter we cannot apply is an error, not "everything": a script asking for
        # ?state=triggred must not page through every incident believing it filtered.
        if state and state not in selectors.LIST_STATES:
            raise ValidationError({"state": [f"Not one of {', '.join(selectors.LIST_STATES)}."]})
        if integration and integration_id is None:
            raise ValidationError({"integration": ["An integration id (a whole number)."]})
        return selectors.incident_list(state=state, integration_id=integration_id)

    def get_serializer_class(self) -> type[IncidentSerializer]:
        return IncidentDetailSerializer if self.action != "list" else IncidentSerializer

    def _act(self, request: Request, change: Callable[..., Incident]) -> Response:
        incident = self.get_object()
        try:
            incident = change(incident_id=incident.pk, user=_actor(request), via=Via.API)
        except NotAllowed as refusal:
            # The permission class lets only responders here; the service checks again.
            raise PermissionDenied(refusal.sentence) from None
        return Response(IncidentDetailSerializer(incident).data)

    @extend_schema(request=None, responses=IncidentDetailSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, pk: str | None = None) -> Response:
        """Acknowledge a triggered incident (stops escalation); idempotent."""
        return self._act(request, services.incident_acknowledge)

    @extend_schema(request=None, responses=IncidentDetailSerializer)
    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, pk: str | None = None) -> Response:
        """Resolve an open incident; idempotent."""
        return self._act(request, services.incident_resolve)

    @extend_schema(
        request=None,
        responses={
            200: IncidentDetailSerializer,
            409: OpenApiResponse(description="Nothing to escalate; `detail` says why."),
        },
    )
    @action(detail=True, methods=["post"])
    def escalate(self, request: Request, pk: str | None = None) -> Response:
        """Run the incident's next escalation step now instead of after its delay.

        409 when there is nothing to escalate: the incident is not triggered, every step
        of its policy has run, or its integration has no policy."""
        incident = self.get_object()
        try:
            escalated = escalation_escalate_now(
                incident_id=incident.pk, user=_actor(request), via=Via.API
            )
        except NotAllowed as refusal:
            raise PermissionDenied(refusal.sentence) from None
        if not escalated:
            incident = self.get_object()
            reason = selectors.incident_escalation_blocker(incident=incident)
            return Response(
                {"detail": reason or "Nothing to escalate."}, status=status.HTTP_409_CONFLICT
            )
        return Response(IncidentDetailSerializer(self.get_object()).data)


def _actor(request: Request) -> User:
    user = request.user
    assert isinstance(user, User), "the permission class admits only signed-in users"
    return user
