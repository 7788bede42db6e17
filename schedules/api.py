from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Team, User
from accounts.roles import AdminOrReadOnly, ResponderOrReadOnly
from config.ids import MAX_ID
from schedules import oncall, services
from schedules.feeds import feed_url
from schedules.models import (
    Layer,
    Override,
    Schedule,
    validate_schedule_date,
    validate_time_zone,
)
from schedules.selectors import schedules_with_rotations, users_on_call

MAX_TURN_HOURS = 24 * 28
LOCAL_TIME = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$"


@extend_schema_field({"type": "string", "pattern": LOCAL_TIME})
class LocalTimeField(serializers.TimeField):
    """A wall-clock time in the schedule's own time zone: "09:00" or "09:00:00".

    Not OpenAPI's "time" format, which requires a UTC offset: an offset would be
    meaningless here (09:00 in Europe/London is +00:00 in winter, +01:00 in summer), so
    one is refused rather than silently dropped."""

    default_error_messages = {
        "invalid": (
            "Give a local time as HH:MM (or HH:MM:SS) without a UTC offset: it is read in "
            "the schedule's time zone."
        )
    }

    def to_internal_value(self, value: Any) -> Any:
        if not isinstance(value, str) or not re.fullmatch(LOCAL_TIME, value):
            self.fail("invalid")
        return super().to_internal_value(value)


# ------------------------------------------------------------------------ schedules: out


class LayerSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    users = serializers.SerializerMethodField()
    handoff_time = LocalTimeField(help_text="Local time of day when the turn passes on.")
    restrict_start = LocalTimeField(allow_null=True)
    restrict_end = LocalTimeField(allow_null=True)

    class Meta:
        model = Layer
        fields = [
            "id",
            "name",
            "position",
            "start",
            "turn",
            "turn_hours",
            "handoff_time",
            "users",
            "restrict_weekdays",
            "restrict_start",
            "restrict_end",
        ]

    def get_users(self, layer: Layer) -> list[int]:
        return [m.user_id for m in sorted(layer.members.all(), key=lambda m: m.position)]


class ScheduleSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    layers = LayerSerializer(many=True, read_only=True)
    ical_url = serializers.SerializerMethodField(help_text="Secret iCal feed of the schedule.")

    class Meta:
        model = Schedule
        fields = ["id", "name", "team", "time_zone", "layers", "ical_url"]

    def get_ical_url(self, schedule: Schedule) -> str:
        return feed_url("schedule", schedule.ical_token)


# ------------------------------------------------------------------------- schedules: in


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "enum": [oncall.DAILY, oncall.WEEKLY]},
            {"type": "integer", "minimum": 1, "maximum": MAX_TURN_HOURS},
        ]
    }
)
class TurnField(serializers.Field):  # type: ignore[type-arg]
    """ "daily", "weekly", or a whole number of hours; parsed to (turn, turn_hours)."""

    default_error_messages = {
        "invalid": f'Use "daily", "weekly" or a whole number of hours (1-{MAX_TURN_HOURS}).'
    }

    def to_internal_value(self, data: object) -> tuple[str, int | None]:
        if data in (oncall.DAILY, oncall.WEEKLY):
            return str(data), None
        if isinstance(data, int) and not isinstance(data, bool) and 1 <= data <= MAX_TURN_HOURS:
            return oncall.HOURS, data
        self.fail("invalid")
        raise AssertionError  # pragma: no cover  (fail() raises)

    def to_representation(self, value: Any) -> Any:
        return value


class LayerInputSerializer(serializers.Serializer):  # type: ignore[type-arg]
    name = serializers.CharField(max_length=100)
    position = serializers.IntegerField(
        min_value=0,
        max_value=32767,
        required=False,
        help_text="Higher layers win; default: the layer's index in the list.",
    )
    start = serializers.DateField(
        help_text="First day, in the schedule's time zone.",
        validators=[validate_schedule_date],
    )
    turn = TurnField(help_text='"daily", "weekly" or a number of hours.')
    handoff_time = LocalTimeField(help_text="Local time of the handoff, HH:MM.")
    users = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID), allow_empty=False
    )
    restrict_weekdays = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6), required=False, default=list
    )
    restrict_start = LocalTimeField(required=False, allow_null=True, default=None)
    restrict_end = LocalTimeField(required=False, allow_null=True, default=None)

    def validate_users(self, value: list[int]) -> list[int]:
        known = set(User.objects.filter(pk__in=value).values_list("pk", flat=True))
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValidationError(f"Unknown user id(s): {', '.join(map(str, unknown))}.")
        return value


class ScheduleInputSerializer(serializers.Serializer):  # type: ignore[type-arg]
    name = serializers.CharField(max_length=100)
    team = serializers.PrimaryKeyRelatedField(
        queryset=Team.objects.all(), required=False, allow_null=True, default=None
    )
    time_zone = serializers.CharField(max_length=64, default="UTC")
    layers = LayerInputSerializer(many=True, allow_empty=False)

    def validate_time_zone(self, value: str) -> str:
        try:
            validate_time_zone(value)
        except DjangoValidationError as exc:
            raise ValidationError(exc.messages) from exc
        return value


class OverrideSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = Override
        fields = ["id", "user", "start", "end"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["end"] <= attrs["start"]:
            raise ValidationError({"end": ["The end must be after the start."]})
        return attrs


def parse_at(raw: str | None) -> datetime:
    """``?at=`` as an aware datetime; now when absent. Raises ValidationError naming it."""
    if not raw:
        return timezone.now()
    # An unencoded "+" in a query string arrives as a space: "09:00:00 01:00".
    text = raw.strip().replace(" ", "+")
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(
            {"at": [f"{raw!r} is not an ISO 8601 time, e.g. 2026-03-29T09:00:00+01:00."]}
        ) from None
    if at.tzinfo is None:
        raise ValidationError({"at": ["Give the time with a UTC offset, e.g. +01:00 or Z."]})
    if not 1970 <= at.year <= 2200:  # keeps turn arithmetic short and clear of date.max
        raise ValidationError({"at": ["Give a year between 1970 and 2200."]})
    return at


ONCALL_RESPONSE = inline_serializer(
    name="OnCall",
    fields={
        "users": inline_serializer(
            name="OnCallUser",
            fields={"id": serializers.IntegerField(), "username": serializers.CharField()},
            many=True,
        ),
        "until": serializers.DateTimeField(allow_null=True),
    },
)


CALENDAR_URL = inline_serializer(name="CalendarUrl", fields={"url": serializers.URLField()})


class ScheduleViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):  # type: ignore[type-arg]
    """On-call schedules. POST {"name", "time_zone", "layers": [...]} creates one (admins);
    responders and admins add overrides; everyone signed in reads."""

    queryset = schedules_with_rotations().order_by("id")
    serializer_class = ScheduleSerializer

    def get_permissions(self) -> list[permissions.BasePermission]:
        # A responder covering someone's shift is normal; changing the rotation is not.
        if self.action == "overrides":
            return [ResponderOrReadOnly()]
        if self.action == "rotate_my_calendar":  # everyone owns their own feed
            return [permissions.IsAuthenticated()]
        return [AdminOrReadOnly()]

    def get_queryset(self) -> QuerySet[Schedule]:
        return schedules_with_rotations().order_by("id")

    @extend_schema(request=ScheduleInputSerializer, responses={201: ScheduleSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = ScheduleInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        schedule = services.schedule_create(actor=request.user, **data.validated_data)
        schedule = self.get_queryset().get(pk=schedule.pk)
        return Response(self.get_serializer(schedule).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        methods=["get"], request=None, responses=OverrideSerializer(many=True), summary="Overrides"
    )
    @extend_schema(
        methods=["post"], request=OverrideSerializer, responses={201: OverrideSerializer}
    )
    # A plain list, not a page: the schema says so too.
    @action(
        detail=True,
        methods=["get", "post"],
        serializer_class=OverrideSerializer,
        pagination_class=None,
    )
    def overrides(self, request: Request, pk: str | None = None) -> Response:
        """GET lists the schedule's overrides; POST {"user", "start", "end"} adds one."""
        schedule = self.get_object()
        if request.method == "GET":
            rows = schedule.overrides.order_by("start", "id")
            return Response(OverrideSerializer(rows, many=True).data)
        data = OverrideSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        override = services.override_create(
            actor=request.user, override=Override(schedule=schedule, **data.validated_data)
        )
        return Response(OverrideSerializer(override).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=None,
        responses=ONCALL_RESPONSE,
        parameters=[
            OpenApiParameter(
                "at", OpenApiTypes.DATETIME, description="ISO 8601 with offset; default now."
            )
        ],
    )
    @action(detail=True, methods=["get"])
    def oncall(self, request: Request, pk: str | None = None) -> Response:
        """Who is on call at ``at`` and until when the answer holds (null: for good)."""
        at = parse_at(request.query_params.get("at"))
        schedule = self.get_object()
        answer = users_on_call(schedule, at)
        return Response(
            {
                "users": [{"id": u.pk, "username": u.username} for u in answer.users],
                "until": answer.until.isoformat() if answer.until else None,
            }
        )

    @extend_schema(request=None, responses=CALENDAR_URL)
    @action(detail=False, methods=["get"], url_path="my-calendar")
    def my_calendar(self, request: Request) -> Response:
        """The secret iCal URL of the caller's own shifts across all schedules."""
        user = request.user
        assert isinstance(user, User)  # IsAuthenticated ran first
        return Response({"url": feed_url("user", user.ical_token)})

    @extend_schema(request=None, responses=CALENDAR_URL)
    @action(detail=False, methods=["post"], url_path="my-calendar/rotate")
    def rotate_my_calendar(self, request: Request) -> Response:
        """A new secret URL for the caller's own iCal feed; the old one answers 404."""
        user = request.user
        assert isinstance(user, User)  # IsAuthenticated ran first
        services.user_rotate_feed(actor=user, user=user)
        return Response({"url": feed_url("user", user.ical_token)})

    @extend_schema(request=None, responses=ScheduleSerializer)
    @action(detail=True, methods=["post"], url_path="rotate-feed")
    def rotate_feed(self, request: Request, pk: str | None = None) -> Response:
        """A new secret URL for the schedule's iCal feed (admins); the old one answers
        404. Answers the schedule with its new ``ical_url``."""
        schedule = services.schedule_rotate_feed(actor=request.user, schedule=self.get_object())
        return Response(self.get_serializer(schedule).data)
