"""Template tags other apps' pages use to show the AWS security pack's parts, so those
pages need one line each and their views know nothing of it:

- ``{% aws_integration_panel integration %}`` on the integration page: the generated
  AWS setup (download form and what it creates) and the evidence credentials;
- ``{% aws_incident_evidence incident %}`` on the incident page: the CloudTrail records
  attached as evidence (nothing when there are none).
"""

from __future__ import annotations

import json
from typing import Any

from django import template

from accounts.roles import can_manage
from aws.evidence import cloudtrail_evidence
from aws.models import AwsCredentials, CloudTrailEvidence
from aws.views import setup_form_context

register = template.Library()


@register.inclusion_tag("aws/_integration_panel.html", takes_context=True)
def aws_integration_panel(context: template.Context, integration: Any) -> dict[str, Any]:
    if integration.kind != "aws_sns":
        return {"show": False}
    request = context.get("request")
    return {
        "show": True,
        **setup_form_context(integration),
        "credentials": AwsCredentials.objects.filter(integration=integration).first(),
        "can_manage_aws": can_manage(getattr(request, "user", None)),
        "csrf_token": context.get("csrf_token"),
    }


# Each search attaches AWS_EVIDENCE_MAX_RECORDS at most; EventBridge events may add more.
MAX_SHOWN = 50


@register.inclusion_tag("aws/_incident_evidence.html")
def aws_incident_evidence(incident: Any) -> dict[str, Any]:
    rows = list(
        CloudTrailEvidence.objects.filter(incident=incident).order_by("event_time", "id")[
            : MAX_SHOWN + 1
        ]
    )
    return {
        "items": [(row, cloudtrail_evidence(row.record)) for row in rows[:MAX_SHOWN]],
        "more": len(rows) > MAX_SHOWN,
    }


@register.filter
def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False, default=str)
