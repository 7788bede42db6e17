from __future__ import annotations

from rest_framework import serializers, viewsets

from schedules.models import EscalationPolicy, EscalationStep, Layer, Schedule


class LayerSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    users = serializers.SerializerMethodField()

    class Meta:
        model = Layer
        fields = ["id", "name", "position", "start", "turn", "turn_hours", "handoff_time", "users"]

    def get_users(self, layer: Layer) -> list[int]:
        return [m.user_id for m in layer.members.all()]


class ScheduleSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    layers = LayerSerializer(many=True, read_only=True)

    class Meta:
        model = Schedule
        fields = ["id", "name", "team", "time_zone", "layers"]


class ScheduleViewSet(viewsets.ReadOnlyModelViewSet):  # type: ignore[type-arg]
    """On-call schedules (read-only until the schedules work lands)."""

    queryset = Schedule.objects.prefetch_related("layers__members").order_by("id")
    serializer_class = ScheduleSerializer


class EscalationStepSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = EscalationStep
        fields = ["id", "position", "delay_minutes", "users", "schedules", "teams"]


class EscalationPolicySerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    steps = EscalationStepSerializer(many=True, read_only=True)

    class Meta:
        model = EscalationPolicy
        fields = ["id", "name", "team", "repeat", "steps"]


class EscalationPolicyViewSet(viewsets.ReadOnlyModelViewSet):  # type: ignore[type-arg]
    """Escalation policies (read-only until the escalation work lands)."""

    queryset = EscalationPolicy.objects.prefetch_related(
        "steps__users", "steps__schedules", "steps__teams"
    ).order_by("id")
    serializer_class = EscalationPolicySerializer
