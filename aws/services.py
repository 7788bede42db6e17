"""Writes of the AWS security pack: an integration's read-only AWS credentials (set,
remove, test) and the CloudTrail evidence a metric-filter alarm's incident gets.

Evidence, step by step (:func:`alarm_evidence_collect`, run by a Celery task the inbound
path queues when a CloudWatch alarm opens an incident on an integration with
credentials): find the metric filter(s) publishing the alarm's metric
(``DescribeMetricFilters`` by metric name and namespace), search each filter's log
group with its pattern over the alarm's window (``FilterLogEvents``), keep up to
``AWS_EVIDENCE_MAX_RECORDS`` CloudTrail records that match, and attach them to the
incident. Whatever happens, one timeline line says what was found or why nothing was;
nothing here can fail the inbound request or the incident page.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from audit import services as audit
from aws import crypto
from aws.clients import AwsProblem, Session, session_for
from aws.filter_patterns import FilterPatternError, LogEvent, parse
from aws.models import AwsCredentials, CloudTrailEvidence
from config import broker
from incidents.models import Incident, IncidentEvent

if TYPE_CHECKING:
    from accounts.models import User
    from integrations.models import Integration

log = logging.getLogger(__name__)

# Metric filters cannot publish to AWS's own namespaces, so an alarm on one of those
# (CPUUtilization in AWS/EC2) has no filter behind it: no search is started.
_AWS_NAMESPACE_PREFIX: Final = "AWS/"
# Events reach CloudWatch Logs some minutes after they happen (CloudTrail delivers about
# every 5 minutes) and the alarm evaluates after its period ends: search this much
# before the alarm's window, and a minute after the state change.
WINDOW_MARGIN_BEFORE: Final = timedelta(minutes=5)
WINDOW_MARGIN_AFTER: Final = timedelta(minutes=1)
MAX_WINDOW: Final = timedelta(hours=24)
# FilterLogEvents pages searched per filter, at most (each up to PAGE_SIZE events).
MAX_PAGES: Final = 10
PAGE_SIZE: Final = 100
MAX_FILTERS: Final = 5
# The timeline line's data key: its presence also says the search already ran.
EVIDENCE_KEY: Final = "aws_evidence"


# --------------------------------------------------------------------- credentials


def _audit_view(credentials: AwsCredentials | None) -> dict[str, Any]:
    """The audit log's view of the credentials: what they are, never the secret. The time
    makes re-entering the same key (a new secret) an entry of its own."""
    if credentials is None:
        return {"aws_evidence_credentials": None}
    return {
        "aws_evidence_credentials": credentials.summary,
        "aws_evidence_credentials_saved_at": credentials.updated_at.isoformat(),
    }


def aws_credentials_set(
    *,
    actor: User,
    integration: Integration,
    kind: str,
    region: str,
    access_key_id: str = "",
    secret_access_key: str = "",
    role_arn: str = "",
    external_id: str = "",
) -> AwsCredentials:
    """Store (replace) ``integration``'s credentials, encrypted, and audit the change.

    The values are checked by the form (aws/forms.py) before they get here."""
    if kind == AwsCredentials.Kind.KEYS:
        secret = {"access_key_id": access_key_id, "secret_access_key": secret_access_key}
        hint = access_key_id[-4:]
    else:
        secret = {"role_arn": role_arn, "external_id": external_id}
        hint = role_arn
    with transaction.atomic():
        current = (
            AwsCredentials.objects.select_for_update().filter(integration=integration).first()
        )
        before = _audit_view(current)
        credentials = current or AwsCredentials(integration=integration)
        credentials.kind = kind
        credentials.region = region
        credentials.hint = hint
        credentials.secret = crypto.encrypt(json.dumps(secret))
        credentials.updated_at = timezone.now()
        credentials.updated_by = actor
        credentials.tested_at = None
        credentials.test_ok = None
        credentials.test_result = ""
        credentials.save()
        audit.record(
            actor, audit.CHANGED, integration, before=before, after=_audit_view(credentials)
        )
    return credentials


def aws_credentials_remove(*, actor: User, integration: Integration) -> bool:
    """Forget ``integration``'s credentials; False when it had none."""
    with transaction.atomic():
        current = (
            AwsCredentials.objects.select_for_update().filter(integration=integration).first()
        )
        if current is None:
            return False
        before = _audit_view(current)
        current.delete()
        audit.record(actor, audit.CHANGED, integration, before=before, after=_audit_view(None))
    return True


def aws_credentials_test(*, credentials: AwsCredentials) -> AwsCredentials:
    """Try the credentials: who AWS says they are (sts:GetCallerIdentity), and whether
    they may list metric filters (logs:DescribeMetricFilters). The outcome, in words,
    is saved on the row."""
    try:
        session = session_for(credentials)
        identity = session.call("sts", "get_caller_identity", "call sts:GetCallerIdentity")
        session.call(
            "logs",
            "describe_metric_filters",
            f"list metric filters in {session.region} (logs:DescribeMetricFilters)",
            limit=1,
        )
        ok = True
        result = (
            f"Works: AWS knows these credentials as {identity.get('Arn', '?')} (account "
            f"{identity.get('Account', '?')}), and they may list metric filters in "
            f"{session.region}. FilterLogEvents is tried when an alarm arrives."
        )
    except (AwsProblem, crypto.Unreadable) as exc:
        ok, result = False, f"Failed: {exc}"
    credentials.tested_at = timezone.now()
    credentials.test_ok = ok
    credentials.test_result = result[:1000]
    credentials.save(update_fields=["tested_at", "test_ok", "test_result"])
    return credentials


# ------------------------------------------------------------------------ evidence


def alarm_evidence_schedule(
    *, integration: Integration, incident_id: int, trigger: dict[str, Any]
) -> bool:
    """Queue the evidence search for an incident a CloudWatch alarm just opened, once
    the caller's transaction commits. Nothing is queued (False) unless the integration
    holds AWS credentials and the alarm watches one metric a metric filter can publish."""
    if integration.kind != "aws_sns" or _metric(trigger) is None:
        return False
    if not AwsCredentials.objects.filter(integration_id=integration.pk).exists():
        return False
    from aws.tasks import collect_alarm_evidence

    transaction.on_commit(lambda: broker.publish(collect_alarm_evidence, incident_id))
    return True


def _metric(trigger: object) -> tuple[str, str] | None:
    if not isinstance(trigger, dict):
        return None
    name, namespace = trigger.get("MetricName"), trigger.get("Namespace")
    if not isinstance(name, str) or not name or not isinstance(namespace, str) or not namespace:
        return None
    if namespace.startswith(_AWS_NAMESPACE_PREFIX):
        return None
    return name, namespace


@dataclass(frozen=True)
class AlarmWindow:
    """What to search for one alarm: its metric, region and time window."""

    metric_name: str
    namespace: str
    region: str
    start: datetime
    end: datetime

    @property
    def start_ms(self) -> int:
        return int(self.start.timestamp() * 1000)

    @property
    def end_ms(self) -> int:
        return int(self.end.timestamp() * 1000)


def _seconds(value: object, default: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return default
    return int(value)


def alarm_window(details: dict[str, Any], default_region: str) -> AlarmWindow | None:
    """The alarm's metric and window from an incident's details (as the CloudWatch
    parser stored them): Period × EvaluationPeriods before StateChangeTime, with the
    margins above, at most MAX_WINDOW. None when the details name no single metric."""
    metric = _metric(details.get("trigger"))
    changed = parse_datetime(str(details.get("state_change_time") or ""))
    if metric is None or changed is None:
        return None
    trigger = details["trigger"]
    span = timedelta(
        seconds=_seconds(trigger.get("Period"), 300)
        * _seconds(trigger.get("EvaluationPeriods"), 1)
    )
    span = min(span + WINDOW_MARGIN_BEFORE, MAX_WINDOW)
    region = details.get("region_code")
    return AlarmWindow(
        metric_name=metric[0],
        namespace=metric[1],
        region=region if isinstance(region, str) and region else default_region,
        start=changed - span,
        end=changed + WINDOW_MARGIN_AFTER,
    )


@dataclass
class _Found:
    """What the search found, for the rows and the timeline line."""

    records: list[tuple[dict[str, Any], str, str, str]]  # record, event id, group, filter
    searched: list[str]
    not_matching: int = 0
    not_cloudtrail: int = 0
    bad_patterns: int = 0


def alarm_evidence_collect(*, incident_id: int) -> str:
    """Search for and attach the CloudTrail records behind the alarm that opened the
    incident; returns the timeline line it wrote (or why it wrote none). Runs once per
    incident: a redelivered task finds the line and stops."""
    incident = Incident.objects.select_related("integration").filter(pk=incident_id).first()
    if incident is None:
        return "no such incident"
    if IncidentEvent.objects.filter(incident_id=incident_id, data__has_key=EVIDENCE_KEY).exists():
        return "already searched"
    credentials = AwsCredentials.objects.filter(integration_id=incident.integration_id).first()
    if credentials is None:
        return "no AWS credentials"
    details = incident.details if isinstance(incident.details, dict) else {}
    window = alarm_window(details, credentials.region)
    if window is None:
        return "not a metric alarm"
    try:
        found = _search(session_for(credentials), window)
    except (AwsProblem, crypto.Unreadable) as exc:
        return _note(incident_id, "failed", f"Evidence not fetched: {exc}.")
    stored = _store(incident_id, found)
    return _note(incident_id, "found" if stored else "none", _summary(window, found, stored))


def _search(session: Session, window: AlarmWindow) -> _Found:
    answer = session.call(
        "logs",
        "describe_metric_filters",
        f"find the metric filter publishing {window.namespace}/{window.metric_name} in "
        f"{window.region} (logs:DescribeMetricFilters)",
        region=window.region,
        metricName=window.metric_name,
        metricNamespace=window.namespace,
    )
    filters = answer.get("metricFilters", [])[:MAX_FILTERS]
    if not filters:
        raise AwsProblem(
            f"no metric filter in {window.region} publishes the metric "
            f"{window.namespace}/{window.metric_name}, so there is no log group to search"
        )
    found = _Found(records=[], searched=[])
    limit = settings.AWS_EVIDENCE_MAX_RECORDS
    for metric_filter in filters:
        group = str(metric_filter.get("logGroupName", ""))
        name = str(metric_filter.get("filterName", ""))
        text = str(metric_filter.get("filterPattern", ""))
        found.searched.append(f"{group} (filter {name})")
        try:
            pattern = parse(text)
        except FilterPatternError:
            found.bad_patterns += 1
            continue
        for message, fallback_id in _events(session, group, text, window):
            if len(found.records) >= limit:
                return found
            record = _cloudtrail_record(message)
            if record is None:
                found.not_cloudtrail += 1
            elif not pattern.matches_event(LogEvent(message)):
                # AWS answers FilterLogEvents with the filter's own pattern; an event our
                # engine reads differently is not shown as evidence, only counted.
                found.not_matching += 1
            else:
                event_id = str(record.get("eventID") or fallback_id)[:128]
                found.records.append((record, event_id, group, name))
    return found


def _events(
    session: Session, group: str, pattern: str, window: AlarmWindow
) -> Iterator[tuple[str, str]]:
    """(message, CloudWatch Logs event id) of the events FilterLogEvents returns."""
    params: dict[str, Any] = {
        "logGroupName": group,
        "filterPattern": pattern,
        "startTime": window.start_ms,
        "endTime": window.end_ms,
        "limit": PAGE_SIZE,
    }
    for _page in range(MAX_PAGES):
        answer = session.call(
            "logs",
            "filter_log_events",
            f"search the log group {group} (logs:FilterLogEvents)",
            region=window.region,
            **params,
        )
        for event in answer.get("events", []):
            yield str(event.get("message", "")), str(event.get("eventId", ""))
        token = answer.get("nextToken")
        if not token:
            return
        params["nextToken"] = token


def _cloudtrail_record(message: str) -> dict[str, Any] | None:
    try:
        record = json.loads(message)
    except ValueError:
        return None
    if not isinstance(record, dict) or "eventName" not in record:
        return None
    return record


def _store(incident_id: int, found: _Found) -> int:
    from aws.evidence import cloudtrail_evidence

    rows = [
        CloudTrailEvidence(
            incident_id=incident_id,
            source=CloudTrailEvidence.Source.METRIC_FILTER,
            event_id=event_id,
            event_time=cloudtrail_evidence(record).event_time,
            record=record,
            log_group=group[:512],
            filter_name=name[:512],
        )
        for record, event_id, group, name in found.records
    ]
    # Two filters can return the same event: it is attached once (the constraint).
    created = CloudTrailEvidence.objects.bulk_create(rows, ignore_conflicts=True)
    return len(created)


def _summary(window: AlarmWindow, found: _Found, stored: int) -> str:
    span = f"{window.start:%Y-%m-%d %H:%M:%S} to {window.end:%H:%M:%S} UTC"
    where = "; ".join(found.searched)
    if stored:
        text = (
            f"Evidence: {stored} CloudTrail record{'s' if stored != 1 else ''} matching the "
            f"metric filter, from {where}, {span}."
        )
    else:
        text = f"Evidence: no CloudTrail record matching the metric filter in {where}, {span}."
    extra = []
    if found.not_matching:
        extra.append(f"{found.not_matching} returned event(s) did not match the pattern")
    if found.not_cloudtrail:
        extra.append(f"{found.not_cloudtrail} event(s) were not CloudTrail records")
    if found.bad_patterns:
        extra.append(f"{found.bad_patterns} filter pattern(s) could not be read")
    return f"{text} ({'; '.join(extra)}.)" if extra else text


def _note(incident_id: int, status: str, message: str) -> str:
    IncidentEvent.objects.create(
        incident_id=incident_id,
        kind=IncidentEvent.Kind.NOTE,
        at=timezone.now(),
        via=IncidentEvent.Via.AWS,
        message=message[:2000],
        data={EVIDENCE_KEY: status},
    )
    return message
