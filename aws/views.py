"""Pages of the AWS security pack: try a filter pattern, the detection pack, an
integration's generated AWS setup and its evidence credentials."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from django_htmx.middleware import HtmxDetails

from accounts.roles import ADMIN, role_required
from aws import services
from aws.cloudtrail_samples import SAMPLES, CloudTrailSample
from aws.detections import DETECTIONS, Detection, detection_by_id
from aws.evidence import Evidence, cloudtrail_evidence
from aws.filter_patterns import FilterPatternError, LogEvent, Pattern, parse
from aws.forms import AwsCredentialsForm, PatternTestForm
from aws.models import AwsCredentials
from aws.setup import DELIVERY_POLICY, delivery_retry_seconds
from aws.setup_files import (
    CIS_DETECTIONS,
    DEFAULT_LOG_GROUP,
    DEFAULT_PREFIX,
    FORMATS,
    SetupParameterError,
    attachment_response,
    setup_file,
)
from integrations.models import Integration


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


# ------------------------------------------------------------------ test a pattern

# How the sample library is grouped on the page, by the first part of a sample's id.
SAMPLE_GROUPS = {
    "signin": "Console sign-ins",
    "iam": "IAM",
    "cloudtrail": "CloudTrail",
    "cloudwatch": "CloudWatch",
    "config": "AWS Config",
    "guardduty": "GuardDuty",
    "kms": "KMS",
    "s3": "S3",
    "ec2": "EC2 and networking",
}


@dataclass(frozen=True)
class Caret:
    """Where an invalid pattern goes wrong, for showing: the line holding the position,
    spaces up to it, and the pattern cut around it."""

    line: str
    pad: str
    line_number: int
    before: str
    at: str
    after: str

    @classmethod
    def at_position(cls, pattern: str, position: int) -> Caret:
        position = max(0, min(position, len(pattern)))
        start = pattern.rfind("\n", 0, position) + 1
        end = pattern.find("\n", position)
        line = pattern[start : end if end != -1 else len(pattern)]
        column = position - start
        # Tabs keep their width in the caret line so the caret stays under its character.
        pad = "".join("\t" if ch == "\t" else " " for ch in line[:column])
        return cls(
            line=line,
            pad=pad,
            line_number=pattern.count("\n", 0, position) + 1,
            before=pattern[:position],
            at=pattern[position : position + 1],
            after=pattern[position + 1 :],
        )


@dataclass(frozen=True)
class TestedEvent:
    number: int
    message: str
    sample: CloudTrailSample | None
    matched: bool
    evidence: Evidence | None
    shown: str
    """The message for reading: pretty-printed when it is JSON."""


@dataclass(frozen=True)
class PatternResult:
    events: list[TestedEvent]
    canonical: str = ""
    error: FilterPatternError | None = None
    caret: Caret | None = None

    @property
    def matched(self) -> int:
        return sum(event.matched for event in self.events)


def _tested(
    number: int, message: str, sample: CloudTrailSample | None, pattern: Pattern
) -> TestedEvent:
    event = LogEvent(message)
    matched = pattern.matches_event(event)
    record = event.json
    shown = message
    evidence = None
    if isinstance(record, dict):
        shown = json.dumps(record, indent=2, ensure_ascii=False, default=str)
        if "eventName" in record:
            # From plain JSON: the engine's copy keeps numbers as Decimals.
            evidence = cloudtrail_evidence(json.loads(message))
    return TestedEvent(number, message, sample, matched, evidence, shown)


def pattern_result(form: PatternTestForm) -> PatternResult:
    """Run the form's pattern over its events with the engine itself (no HTTP)."""
    text = form.cleaned_data.get("pattern") or ""
    try:
        pattern = parse(text)
    except FilterPatternError as exc:
        return PatternResult(events=[], error=exc, caret=Caret.at_position(text, exc.position))
    events = [
        _tested(number, message, sample, pattern)
        for number, (message, sample) in enumerate(form.to_test(), start=1)
    ]
    return PatternResult(events=events, canonical=str(pattern))


def _sample_groups(chosen: set[str]) -> list[tuple[str, list[tuple[CloudTrailSample, bool]]]]:
    groups: dict[str, list[tuple[CloudTrailSample, bool]]] = {
        label: [] for label in SAMPLE_GROUPS.values()
    }
    for sample in SAMPLES:
        label = SAMPLE_GROUPS.get(sample.id.split("-", 1)[0], "Other")
        groups.setdefault(label, []).append((sample, sample.id in chosen))
    return [(label, items) for label, items in groups.items() if items]


@login_required
def pattern_test(request: HtmxHttpRequest) -> HttpResponse:
    """Try a pattern on typed events and library samples: a plain form POST, or an htmx
    POST that swaps in the result. ``?detection=<id>`` starts from a detection's pattern
    and its samples."""
    detection: Detection | None = None
    if request.method == "POST":
        form = PatternTestForm(request.POST)
    elif request.GET.get("detection"):
        try:
            detection = detection_by_id(request.GET["detection"])
        except KeyError:
            raise Http404("No detection with that id.") from None
        form = PatternTestForm(
            {
                "pattern": detection.filter_pattern,
                "events": "",
                "sample": [*detection.must_match, *detection.must_not_match],
            }
        )
    else:
        form = PatternTestForm()
    result = pattern_result(form) if form.is_bound and form.is_valid() else None
    chosen = set(form["sample"].value() or [])
    template = "aws/pattern_test.html#pattern-result" if request.htmx else "aws/pattern_test.html"
    return render(
        request,
        template,
        {
            "form": form,
            "result": result,
            "detection": detection,
            "sample_groups": _sample_groups(chosen),
            "sample_count": len(SAMPLES),
        },
    )


# ------------------------------------------------------------------ detection pack


@dataclass(frozen=True)
class DetectionRow:
    detection: Detection

    @property
    def alarm_text(self) -> str:
        d = self.detection
        minutes = d.period // 60
        window = (
            f"{minutes} minute{'s' if minutes != 1 else ''}"
            if d.period % 60 == 0
            else f"{d.period} s"
        )
        events = f"{d.threshold} matching event{'s' if d.threshold != 1 else ''}"
        if d.evaluation_periods > 1:
            return f"{events} in each of {d.evaluation_periods} periods of {window}"
        return f"{events} in {window}"


@login_required
def detection_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "aws/detections.html",
        {"rows": [DetectionRow(d) for d in DETECTIONS], "cis_count": len(CIS_DETECTIONS)},
    )


# ------------------------------------------------------------- generated AWS setup


def setup_form_context(
    integration: Integration, params: Mapping[str, Sequence[str]] | None = None
) -> dict[str, Any]:
    """What the setup form shows: the detections (CIS ones ticked by default) and the
    values of the other fields, from ``params`` when the form was sent back."""
    params = params or {}

    def value(name: str, default: str) -> str:
        values = params.get(name)
        return values[-1] if values else default

    sent = params.get("detections")
    if sent is None:
        chosen = {d.id for d in CIS_DETECTIONS}
    else:
        chosen = {part.strip() for item in sent for part in item.split(",")}
    return {
        "integration": integration,
        "detection_groups": [
            (
                "CIS AWS Foundations: Security Hub CloudWatch.1-14",
                [(d, d.id in chosen) for d in DETECTIONS if d.security_hub_control],
            ),
            (
                "More checks",
                [(d, d.id in chosen) for d in DETECTIONS if not d.security_hub_control],
            ),
        ],  # fmt: skip
        "setup_values": {
            "log_group": value("log_group", DEFAULT_LOG_GROUP),
            "region": value("region", settings.AWS_REGION),
            "prefix": value("prefix", DEFAULT_PREFIX),
            "alarm_email": value("alarm_email", ""),
            "eventbridge": value("eventbridge", "") in ("true", "1", "on", "yes"),
        },
        "formats": FORMATS.values(),
        "retries": DELIVERY_POLICY["healthyRetryPolicy"]["numRetries"],
        "retry_minutes": round(delivery_retry_seconds() / 60, 1),
        "https_url": integration.url.startswith("https://"),
    }


@login_required
def integration_setup(request: HttpRequest, pk: int) -> HttpResponse:
    """The setup form on a page of its own, and the download it sends. Anyone signed in
    may download it, as anyone signed in may read the integration URL in it."""
    integration = get_object_or_404(Integration, pk=pk, kind=Integration.Kind.AWS_SNS)
    params = dict(request.GET.lists())
    error: SetupParameterError | None = None
    if "format" in params:
        try:
            return attachment_response(setup_file(integration=integration, params=params))
        except SetupParameterError as exc:
            error = exc
    return render(
        request,
        "aws/setup.html",
        {**setup_form_context(integration, params), "setup_error": error},
        status=400 if error else 200,
    )


# ------------------------------------------------------------ evidence credentials


def _aws_integration(pk: int) -> Integration:
    return get_object_or_404(Integration, pk=pk, kind=Integration.Kind.AWS_SNS)


def _back_to(integration: Integration) -> HttpResponse:
    return redirect(integration.get_absolute_url() + "#aws-evidence")


@role_required(ADMIN)
def credentials_edit(request: HttpRequest, pk: int) -> HttpResponse:
    integration = _aws_integration(pk)
    current = AwsCredentials.objects.filter(integration=integration).first()
    initial = {"kind": current.kind, "region": current.region} if current else {}
    form = AwsCredentialsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        assert request.user.is_authenticated
        data = form.cleaned_data
        services.aws_credentials_set(
            actor=request.user,
            integration=integration,
            kind=data["kind"],
            region=data["region"],
            access_key_id=data["access_key_id"],
            secret_access_key=data["secret_access_key"],
            role_arn=data["role_arn"],
            external_id=data["external_id"],
        )
        messages.success(request, "AWS credentials saved (encrypted). Test them below.")
        return _back_to(integration)
    return render(
        request,
        "aws/credentials_form.html",
        {"form": form, "integration": integration, "current": current},
    )


@role_required(ADMIN)
@require_POST
def credentials_remove(request: HttpRequest, pk: int) -> HttpResponse:
    integration = _aws_integration(pk)
    assert request.user.is_authenticated
    if services.aws_credentials_remove(actor=request.user, integration=integration):
        messages.success(request, "AWS credentials removed: no more evidence is fetched.")
    return _back_to(integration)


@role_required(ADMIN)
@require_POST
def credentials_test(request: HttpRequest, pk: int) -> HttpResponse:
    integration = _aws_integration(pk)
    credentials = get_object_or_404(AwsCredentials, integration=integration)
    credentials = services.aws_credentials_test(credentials=credentials)
    if credentials.test_ok:
        messages.success(request, credentials.test_result)
    else:
        messages.error(request, credentials.test_result)
    return _back_to(integration)
