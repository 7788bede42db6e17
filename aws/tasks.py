"""The AWS security pack's Celery task: a thin shell over aws.services."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from aws import services


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=2, max_retries=3)
def collect_alarm_evidence(incident_id: int) -> str:
    """Attach the CloudTrail records behind the alarm that opened ``incident_id``.

    Idempotent: the timeline line it writes marks the search done, so a redelivered
    message (``acks_late``) changes nothing. AWS errors are not retried here (botocore
    already retried throttling); they end as a line on the incident."""
    return services.alarm_evidence_collect(incident_id=incident_id)
