"""The AWS security pack's API.

- ``POST /api/v1/filter-patterns/test/``: try a CloudWatch Logs filter pattern on log
  events. Any signed-in user may call it (it reads nothing stored). Body problems (a
  missing pattern, events that are not strings, too many or too large) answer 400 with
  the usual field errors; an invalid pattern answers 400 ``{"valid": false, "error",
  "position"}``.
- ``GET /api/v1/detections/`` and ``/api/v1/detections/<id>/``: the detection pack.
- ``GET /api/v1/integrations/<id>/aws-setup/``: the generated AWS setup as a file.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
)
from rest_framework import serializers, status, viewsets
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from aws.detections import DETECTIONS, SEVERITIES, detection_by_id
from aws.filter_patterns import MAX_PATTERN_LENGTH, FilterPatternError, LogEvent, parse
from aws.setup_files import FORMATS, SetupParameterError, attachment_response, setup_file
from config.openapi import FieldErrorsSerializer
from integrations.models import Integration

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


# ------------------------------------------------------------------ the detection pack


class DetectionSerializer(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.CharField(help_text="Stable id, e.g. cis-cloudwatch-6.")
    title = serializers.CharField()
    severity = serializers.ChoiceField(choices=list(SEVERITIES))
    why = serializers.CharField(help_text="Why it matters.")
    metric_name = serializers.CharField()
    namespace = serializers.CharField(help_text="The CloudWatch metric namespace.")
    threshold = serializers.IntegerField(
        help_text="The alarm fires when the metric's Sum over a period reaches this."
    )
    period = serializers.IntegerField(help_text="Seconds.")
    evaluation_periods = serializers.IntegerField()
    filter_pattern = serializers.CharField(
        help_text="The CloudWatch Logs filter pattern, exactly as deployed."
    )
    remediation = serializers.CharField(help_text="What to do when it fires.")
    security_hub_control = serializers.CharField(
        allow_null=True, help_text="AWS Security Hub control, e.g. CloudWatch.6."
    )
    cis_control = serializers.CharField(
        allow_null=True, help_text="CIS AWS Foundations Benchmark 1.2.0 recommendation."
    )
    opsgenie_alarm = serializers.CharField(
        allow_null=True, help_text="The alarm of Opsgenie's CloudTrail template it replaces."
    )
    in_lecture = serializers.BooleanField(help_text="One of the CloudTrail lecture's checks.")
    references = serializers.ListField(child=serializers.CharField())
    must_match = serializers.ListField(
        child=serializers.CharField(), help_text="Sample records it fires on."
    )
    must_not_match = serializers.ListField(
        child=serializers.CharField(), help_text="Sample records it must not fire on."
    )


@extend_schema_view(
    list=extend_schema(
        summary="The detection pack",
        description="Every detection (a plain list, not paged), in the pack's order.",
        responses=DetectionSerializer(many=True),
    ),
    retrieve=extend_schema(summary="One detection", responses=DetectionSerializer),
)
class DetectionViewSet(viewsets.ViewSet):
    """The detection pack (aws/detections.py): CIS CloudWatch.1-14, the lecture's checks,
    Opsgenie's 10 alarms and Klaxon's own. Any signed-in user may read it."""

    lookup_field = "id"
    lookup_value_regex = "[^/]+"
    serializer_class = DetectionSerializer

    def list(self, request: Request) -> Response:
        return Response(DetectionSerializer(DETECTIONS, many=True).data)

    def retrieve(self, request: Request, id: str) -> Response:
        try:
            detection = detection_by_id(id)
        except KeyError:
            raise NotFound(f"No detection with id {id!r}.") from None
        return Response(DetectionSerializer(detection).data)


# ------------------------------------------------------------- generated AWS setup


class _FileNegotiation(DefaultContentNegotiation):
    """``format`` names the file to generate here, not a DRF renderer: errors are JSON."""

    def select_renderer(
        self,
        request: Request,
        renderers: Iterable[BaseRenderer],
        format_suffix: str | None = None,
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


_SETUP_PARAMETERS = [
    OpenApiParameter(
        "format", str, required=True, enum=list(FORMATS), description="The file to generate."
    ),
    OpenApiParameter(
        "log_group",
        str,
        required=True,
        description="The CloudWatch Logs log group the CloudTrail trail writes to.",
    ),
    OpenApiParameter(
        "detections",
        str,
        description="Detection ids, comma-separated (default: every CIS detection, "
        "Security Hub CloudWatch.1-14).",
    ),
    OpenApiParameter("region", str, description="AWS region (default: AWS_REGION)."),
    OpenApiParameter(
        "prefix", str, description="Names every resource (default klaxon); one per integration."
    ),
    OpenApiParameter(
        "eventbridge", bool, description="Also send CloudTrail events by an EventBridge rule."
    ),
    OpenApiParameter(
        "alarm_email", str, description="Also email the dead-letter queue's alarm here."
    ),
]


class AwsSetupView(APIView):
    content_negotiation_class = _FileNegotiation

    @extend_schema(
        operation_id="integrations_aws_setup",
        summary="Generated AWS setup for an Amazon SNS integration",
        description=(
            "A CloudFormation template (JSON), an AWS CLI script (bash) or a Terraform file "
            "creating the chosen detections' metric filters and alarms (ALARM and OK "
            "actions), the SNS topic, the HTTPS subscription to this integration's URL "
            "(retrying for about an hour), a dead-letter queue with its alarm, and "
            "optionally an EventBridge rule. Sent as an attachment (Content-Disposition) "
            "with a file name. Any signed-in user may download it (it holds the "
            "integration URL, which they can read anyway). A parameter it cannot use "
            "answers 400 naming it."
        ),
        parameters=_SETUP_PARAMETERS,
        responses={
            (200, "application/json"): OpenApiResponse(
                OpenApiTypes.OBJECT, description="format=cloudformation: the template."
            ),
            (200, "text/plain"): OpenApiResponse(
                OpenApiTypes.STR, description="format=cli or terraform: the file."
            ),
        },
    )
    def get(self, request: Request, id: int) -> HttpResponse:
        integration = get_object_or_404(Integration, pk=id)
        try:
            file = setup_file(integration=integration, params=dict(request.query_params.lists()))
        except SetupParameterError as exc:
            raise ValidationError({exc.parameter: [exc.message]}) from None
        return attachment_response(file)


aws_setup = AwsSetupView.as_view()
