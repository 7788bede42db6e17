"""Twilio's delivery status callbacks, applied to the Notification row they are about.

Callbacks can arrive twice, late or out of order (a "sent" after the "delivered"), and
two can race. A row only moves forward: delivered, failed and cancelled are final, and
every write is a conditional UPDATE filtered on a non-final status, so whichever
callback finalises the row first wins and the other changes nothing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from django.db.models import Q
from django.utils import timezone

from incidents.models import IncidentEvent
from notifications.models import Notification

Status = Notification.Status
Channel = Notification.Channel

NOT_FINAL = (Status.QUEUED, Status.SENDING, Status.SENT)

# Set by the voice webhook when a machine answered; the call's "completed" then means a
# message on a voicemail, not a person who heard the page.
VOICEMAIL = "voicemail"

_SMS_SENT = {"queued", "accepted", "scheduled", "sending", "sent"}
_SMS_FAILED = {"undelivered", "failed", "canceled"}
_CALL_FAILED = {
    "busy": "busy",
    "no-answer": "no answer",
    "failed": "call failed",
    "canceled": "call canceled",
}


@dataclass(frozen=True)
class StatusReport:
    """One status callback, parsed."""

    channel: str  # Channel.SMS or Channel.VOICE
    sid: str
    status: str  # Twilio's word, lower case (delivered, no-answer...)
    error_code: str = ""
    answered_by: str = ""


def parse_status_callback(params: Mapping[str, str]) -> StatusReport | None:
    """The report in a callback's parameters, or None when it carries no status."""
    message_status = params.get("MessageStatus") or params.get("SmsStatus") or ""
    message_sid = params.get("MessageSid") or params.get("SmsSid") or ""
    if message_status and message_sid:
        return StatusReport(
            Channel.SMS,
            message_sid[:100],
            message_status.strip().lower()[:32],
            error_code=(params.get("ErrorCode") or "").strip()[:16],
        )
    call_status = params.get("CallStatus") or ""
    call_sid = params.get("CallSid") or ""
    if call_status and call_sid:
        return StatusReport(
            Channel.VOICE,
            call_sid[:100],
            call_status.strip().lower()[:32],
            error_code=(params.get("ErrorCode") or "").strip()[:16],
            answered_by=(params.get("AnsweredBy") or "").strip().lower(),
        )
    return None


@dataclass(frozen=True)
class Target:
    """What a report makes of a row: its new status (None: keep it) and the error."""

    status: str | None
    error: str = ""


def target_for(report: StatusReport, provider_status: str) -> Target:
    """Where ``report`` moves a row whose last provider status was ``provider_status``."""
    if report.channel == Channel.SMS:
        if report.status == "delivered":
            return Target(Status.DELIVERED)
        if report.status in _SMS_FAILED:
            code = f" (error {report.error_code})" if report.error_code else ""
            return Target(Status.FAILED, f"Twilio reported {report.status}{code}")
        if report.status in _SMS_SENT:
            return Target(Status.SENT)
        return Target(None)
    if report.status == "completed":
        if provider_status == VOICEMAIL or report.answered_by.startswith("machine"):
            return Target(Status.FAILED, "answered by voicemail (not acknowledged)")
        return Target(Status.DELIVERED)
    if report.status in _CALL_FAILED:
        return Target(Status.FAILED, _CALL_FAILED[report.status])
    return Target(None)


@dataclass(frozen=True)
class Applied:
    """What applying a report did, for the Inbound Log."""

    changed: bool
    reason: str
    notification: Notification | None = None


def apply_status(report: StatusReport) -> Applied:
    """Apply ``report`` to its Notification (found by provider id). Call it inside a
    transaction: the row's update and its timeline line are saved together."""
    row = (
        Notification.objects.select_related("user")
        .filter(provider_id=report.sid, channel=report.channel)
        .order_by("-id")
        .first()
    )
    if row is None:
        return Applied(False, f"no notification has the Twilio SID {report.sid}")
    if row.is_final:
        return Applied(
            False,
            f"notification {row.pk} is already {row.status}; {report.status!r} changes nothing",
            row,
        )

    target = target_for(report, row.provider_status)
    now = timezone.now()
    pending = Notification.objects.filter(pk=row.pk, status__in=NOT_FINAL)
    if target.status is None:
        # A call in progress: note Twilio's word, but never over the voicemail marker
        # (it decides what "completed" means).
        updated = pending.filter(~Q(provider_status=VOICEMAIL)).update(
            provider_status=report.status, updated_at=now
        )
        return Applied(bool(updated), f"notification {row.pk}: Twilio says {report.status}", row)

    fields: dict[str, object] = {
        "status": target.status,
        "provider_status": report.status,
        "updated_at": now,
    }
    if target.status == Status.FAILED:
        fields["error"] = target.error[:500]
        fields["error_code"] = report.error_code
    if not pending.update(**fields):
        # Another callback finalised it between our read and this write.
        return Applied(False, f"notification {row.pk} was finalised meanwhile", row)

    row.status = target.status
    row.provider_status = report.status
    if target.status == Status.FAILED:
        row.error, row.error_code = target.error[:500], report.error_code
    if target.status in (Status.DELIVERED, Status.FAILED) and row.incident_id is not None:
        IncidentEvent.objects.create(
            incident_id=row.incident_id,
            kind=IncidentEvent.Kind.NOTIFIED,
            at=now,
            via=IncidentEvent.Via(row.channel),
            message=_timeline_text(row),
            data={"notification_id": row.pk, "status": row.status, "user_id": row.user_id},
        )
    said = f"notification {row.pk} {row.status} (Twilio: {report.status})"
    if row.status == Status.FAILED:
        said += f": {row.error}"
    return Applied(True, said, row)


def _timeline_text(row: Notification) -> str:
    who = f"{row.get_channel_display()} to {row.user.get_username()} ({row.destination})"
    if row.status == Status.FAILED:
        return f"{who} failed: {row.error}."
    return f"{who} {row.status}."
