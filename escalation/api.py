"""Escalation policies over the API: ``/api/v1/escalation-policies/``."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Team, User
from accounts.roles import AdminOrReadOnly
from escalation import services
from escalation.models import EscalationPolicy, EscalationStep
from schedules.models import Schedule


class EscalationStepSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = EscalationStep
        fields = ["id", "position", "delay_minutes", "users", "schedules", "teams"]


class EscalationPolicySerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    steps = EscalationStepSerializer(many=True, read_only=True)

    class Meta:
        model = EscalationPolicy
        fields = ["id", "name", "team", "repeat", "steps"]


class EscalationStepInputSerializer(serializers.Serializer):  # type: ignore[type-arg]
    delay_minutes = serializers.IntegerField(min_value=0, max_value=10_000, default=5)
    users = serializers.PrimaryKeyRelatedField(
        many=True, queryset=User.objects.all(), required=False, default=list
    )
    schedules = serializers.PrimaryKeyRelatedField(
        many=True, queryset=Schedule.objects.all(), required=False, default=list
    )
    teams = serializers.PrimaryKeyRelatedField(
        many=True, queryset=Team.objects.all(), required=False, default=list
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not (attrs["users"] or attrs["schedules"] or attrs["teams"]):
            raise ValidationError("A step needs at least one user, schedule or team to page.")
        return attrs


class EscalationPolicyInputSerializer(serializers.Serializer):  # type: ignore[type-arg]
    name = serializers.CharField(max_length=100)
    team = serializers.PrimaryKeyRelatedField(
        queryset=Team.objects.all(), required=False, allow_null=True, default=None
    )
    repeat = serializers.IntegerField(min_value=0, max_value=9, default=0)
    steps = EscalationStepInputSerializer(many=True, allow_empty=False)


class EscalationPolicyViewSet(
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.ReadOnlyModelViewSet,  # type: ignore[type-arg]
):
    """Escalation policies. POST creates one; PUT replaces its fields and steps (admins;
    everyone signed in reads)."""

    queryset = EscalationPolicy.objects.prefetch_related(
        "steps__users", "steps__schedules", "steps__teams"
    ).order_by("id")
    serializer_class = EscalationPolicySerializer
    permission_classes = [AdminOrReadOnly]
    http_method_names = ["get", "post", "put", "head", "options"]

    def _save(self, request: Request, policy: EscalationPolicy) -> EscalationPolicy:
        """The same service as the pages: POST and PUT replace the fields and every step."""
        data = EscalationPolicyInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        policy.name, policy.team, policy.repeat = fields["name"], fields["team"], fields["repeat"]
        steps = [
            services.StepInput(
                delay_minutes=step["delay_minutes"],
                targets=services.StepTargets(
                    users=step["users"], schedules=step["schedules"], teams=step["teams"]
                ),
            )
            for step in fields["steps"]
        ]
        saved = services.policy_save(actor=request.user, policy=policy, steps=steps)
        reloaded: EscalationPolicy = self.get_queryset().get(pk=saved.pk)
        return reloaded

    @extend_schema(
        request=EscalationPolicyInputSerializer, responses={201: EscalationPolicySerializer}
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        policy = self._save(request, EscalationPolicy())
        return Response(self.get_serializer(policy).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=EscalationPolicyInputSerializer, responses=EscalationPolicySerializer)
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        policy = self._save(request, self.get_object())
        return Response(self.get_serializer(policy).data)
