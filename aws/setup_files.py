"""An integration's generated AWS setup as a downloadable file, from request parameters.

The API (``GET /api/v1/integrations/<id>/aws-setup/``) and the integration page's form
both call :func:`setup_file`, so they accept the same parameters and refuse bad ones
with the same words, each naming its parameter:

- ``format``: ``cloudformation``, ``cli`` or ``terraform`` (required);
- ``log_group``: the CloudWatch Logs log group the trail writes to (required);
- ``detections``: detection ids, comma-separated or repeated (default: every CIS
  detection, Security Hub CloudWatch.1-14);
- ``region`` (default ``settings.AWS_REGION``), ``prefix`` (default ``klaxon``),
  ``eventbridge`` (``true``/``false``), ``alarm_email`` (optional).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from django.conf import settings
from django.http import HttpResponse
from django.utils.http import content_disposition_header
from django.utils.text import slugify

from aws.detections import DETECTIONS, Detection, detection_by_id
from aws.setup import SetupError, SetupSpec, cli_script, cloudformation, terraform
from integrations.models import Integration

__all__ = [
    "CIS_DETECTIONS",
    "DEFAULT_LOG_GROUP",
    "DEFAULT_PREFIX",
    "FORMATS",
    "SetupFile",
    "SetupParameterError",
    "attachment_response",
    "setup_file",
]

CIS_DETECTIONS: Final[tuple[Detection, ...]] = tuple(
    d for d in DETECTIONS if d.security_hub_control
)
DEFAULT_PREFIX: Final = "klaxon"
# What the form suggests; the API asks for it (a filter on a log group that does not
# exist fails the deployment, so nobody should get one by default unknowingly).
DEFAULT_LOG_GROUP: Final = "CloudTrail/DefaultLogGroup"


@dataclass(frozen=True)
class Format:
    name: str
    label: str
    render: Callable[[SetupSpec], str]
    content_type: str
    suffix: str


FORMATS: Final[dict[str, Format]] = {
    f.name: f
    for f in (
        Format(
            "cloudformation",
            "CloudFormation template",
            cloudformation,
            "application/json",
            "-cloudformation.json",
        ),
        Format("cli", "AWS CLI script", cli_script, "text/plain; charset=utf-8", "-setup.sh"),
        Format("terraform", "Terraform file", terraform, "text/plain; charset=utf-8", ".tf"),
    )
}

_TRUE: Final = frozenset({"true", "1", "yes", "on"})
_FALSE: Final = frozenset({"false", "0", "no", "off", ""})

# SetupError messages start with the choice they refuse (aws/setup/spec.py).
_PARAMETER_OF_ERROR: Final = (
    ("region", "region"),
    ("log group", "log_group"),
    ("prefix", "prefix"),
    ("alarm email", "alarm_email"),
    ("choose at least one detection", "detections"),
    ("each detection", "detections"),
)


class SetupParameterError(ValueError):
    """A request parameter the setup cannot use; ``parameter`` names it."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter
        self.message = message


@dataclass(frozen=True)
class SetupFile:
    filename: str
    content_type: str
    text: str


def _one(params: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = params.get(name)
    if not values:
        return None
    return values[-1]


def _detections(values: Sequence[str] | None) -> tuple[Detection, ...]:
    if values is None:
        return CIS_DETECTIONS
    ids = [part.strip() for value in values for part in value.split(",") if part.strip()]
    chosen = []
    for detection_id in ids:
        try:
            chosen.append(detection_by_id(detection_id))
        except KeyError:
            raise SetupParameterError(
                "detections",
                f"unknown detection id {detection_id!r} (GET /api/v1/detections/ lists them)",
            ) from None
    return tuple(chosen)


def _flag(value: str | None) -> bool:
    text = (value or "").strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise SetupParameterError("eventbridge", f"{value!r} is not true or false")


def filename_for(integration: Integration, setup_format: Format) -> str:
    slug = slugify(integration.name)[:50].strip("-") or f"integration-{integration.pk}"
    return f"klaxon-{slug}{setup_format.suffix}"


def setup_file(*, integration: Integration, params: Mapping[str, Sequence[str]]) -> SetupFile:
    """The file ``params`` ask for (name -> its values: ``dict(request.GET.lists())``).
    Raises SetupParameterError naming the first parameter it cannot use."""
    format_name = (_one(params, "format") or "").strip()
    if not format_name:
        raise SetupParameterError("format", f"required: one of {', '.join(FORMATS)}")
    setup_format = FORMATS.get(format_name)
    if setup_format is None:
        raise SetupParameterError("format", f"{format_name!r} is not one of {', '.join(FORMATS)}")
    log_group = (_one(params, "log_group") or "").strip()
    if not log_group:
        raise SetupParameterError(
            "log_group",
            "required: the CloudWatch Logs log group your CloudTrail trail writes to "
            f"(for example {DEFAULT_LOG_GROUP})",
        )
    if integration.kind != Integration.Kind.AWS_SNS:
        raise SetupParameterError(
            "integration", "the AWS setup is for Amazon SNS integrations only"
        )
    detections = _detections(params.get("detections"))
    email = (_one(params, "alarm_email") or "").strip()
    try:
        spec = SetupSpec(
            integration_name=integration.name,
            integration_url=integration.url,
            detections=detections,
            log_group=log_group,
            region=(_one(params, "region") or "").strip() or settings.AWS_REGION,
            prefix=(_one(params, "prefix") or "").strip() or DEFAULT_PREFIX,
            include_eventbridge=_flag(_one(params, "eventbridge")),
            alarm_email=email or None,
        )
    except SetupError as exc:
        message = str(exc)
        parameter = next(
            (name for start, name in _PARAMETER_OF_ERROR if message.startswith(start)),
            "integration",  # the integration URL: KLAXON_BASE_URL is not usable
        )
        raise SetupParameterError(parameter, message) from None
    return SetupFile(
        filename=filename_for(integration, setup_format),
        content_type=setup_format.content_type,
        text=setup_format.render(spec),
    )


def attachment_response(file: SetupFile) -> HttpResponse:
    """The file as a download. Not cached anywhere: it holds the integration's secret URL."""
    return HttpResponse(
        file.text,
        content_type=file.content_type,
        headers={
            "Content-Disposition": content_disposition_header(True, file.filename),
            "Cache-Control": "private, no-store",
        },
    )
