"""POST /api/v1/filter-patterns/test/: try a CloudWatch Logs filter pattern on log events.

Any signed-in user may call it (it reads nothing stored). Body problems (a missing
pattern, events that are not strings, too many or too large) answer 400 with the usual
field errors; an invalid pattern answers 400 ``{"valid": false, "error", "position"}``.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from aws.filter_patterns import MAX_PATTERN_LENGTH, FilterPatternError, LogEvent, parse
from config.openapi import FieldErrorsSerializer

MAX_EVENTS = 100
MAX_EVENTS_CHARS = 1_000_000  # all events together


class StrictCharField(serializers.CharField):
    """A CharField that takes JSON strings only (DRF's turns 5 into "5")."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class FilterPatternTestInputSerializer(serializers.Serializer):  # type: ignore[type-arg]
    pattern = StrictCharField(
        allow_blank=True,
        trim_whitespace=False,
        help_text=f"A CloudWatch Logs filter pattern (at most {MAX_PATTERN_LENGTH} characters; "
        "the empty pattern matches every event).",
    )
    events = serializers.ListField(
        child=StrictCharField(allow_blank=True, trim_whitespace=False),
        max_length=MAX_EVENTS,
        help_text=f"Log event messages as CloudWatch Logs stores them (a CloudTrail record: "
        f"its JSON on one line); at most {MAX_EVENTS}, {MAX_EVENTS_CHARS:,} characters in all.",
    )

    def validate_events(self, events: list[str]) -> list[str]:
        size = sum(len(event) for event in events)
        if size > MAX_EVENTS_CHARS:
            raise serializers.ValidationError(
                f"The events hold {size:,} characters; at most {MAX_EVENTS_CHARS:,} in all."
            )
        return events


class FilterPatternMatchesSerializer(serializers.Serializer):  # type: ignore[type-arg]
    valid = serializers.BooleanField(help_text="Always true here.")
    matches = serializers.ListField(
        child=serializers.BooleanField(),
        help_text="One answer per event, in order: whether the pattern matches it.",
    )


class FilterPatternInvalidSerializer(serializers.Serializer):  # type: ignore[type-arg]
    valid = serializers.BooleanField(help_text="Always false here.")
    error = serializers.CharField(help_text="What is wrong, or what was expected.")
    position = serializers.IntegerField(
        help_text="0-based character offset into the pattern where the problem is."
    )


class FilterPatternTestView(APIView):
    @extend_schema(
        operation_id="filter_patterns_test",
        tags=["filter-patterns"],
        summary="Test a CloudWatch Logs filter pattern on log events",
        description=(
            "Parses the pattern (terms, JSON, space-delimited or %regex%, as CloudWatch "
            "Logs has them) and tells, for each event, whether it matches. Nothing is "
            "stored."
        ),
        request=FilterPatternTestInputSerializer,
        responses={
            200: FilterPatternMatchesSerializer,
            400: OpenApiResponse(
                # Either body, as the description says: both are in the schema.
                PolymorphicProxySerializer(
                    component_name="FilterPatternRefusal",
                    serializers=[FilterPatternInvalidSerializer, FieldErrorsSerializer],
                    resource_type_field_name=None,
                ),
                description="The pattern is invalid: the error and its position. A "
                "malformed body (no pattern, events not a list of strings, over the "
                "limits) answers the usual field errors instead.",
            ),
        },
        examples=[
            OpenApiExample(
                "CIS console sign-in failures",
                request_only=True,
                value={
                    "pattern": '{ ($.eventName = ConsoleLogin) && ($.errorMessage = "Failed '
                    'authentication") }',
                    "events": [
                        '{"eventName":"ConsoleLogin","errorMessage":"Failed authentication"}',
                        '{"eventName":"ConsoleLogin","responseElements":{"ConsoleLogin":'
                        '"Success"}}',
                    ],
                },
            ),
            OpenApiExample(
                "Matches",
                response_only=True,
                status_codes=["200"],
                value={"valid": True, "matches": [True, False]},
            ),
            OpenApiExample(
                "Invalid pattern",
                response_only=True,
                status_codes=["400"],
                value={
                    "valid": False,
                    "error": "expected a comparison operator after $.eventName (= != < > <= "
                    ">=, IS NULL, IS TRUE, IS FALSE or NOT EXISTS)",
                    "position": 14,
                },
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        body = FilterPatternTestInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            pattern = parse(body.validated_data["pattern"])
        except FilterPatternError as exc:
            return Response(
                {"valid": False, "error": exc.message, "position": exc.position},
                status=status.HTTP_400_BAD_REQUEST,
            )
        events = body.validated_data["events"]
        return Response(
            {"valid": True, "matches": [pattern.matches_event(LogEvent(e)) for e in events]}
        )


filter_pattern_test = FilterPatternTestView.as_view()
