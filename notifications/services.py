"""Paging: turn "page these people about this incident" into Notification rows by each
person's rules, send them (once), and follow up on resolve.

A row is created before anything is sent. Sending claims it with one conditional UPDATE
(queued -> sending, only when due), so a duplicated or redelivered task finds nothing to
claim. A transient failure puts it back to queued with a later due time (exponential
backoff, NOTIFY_MAX_ATTEMPTS in all); a permanent one fails it at once and says why on
the incident's timeline and the user's profile."""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.message import make_msgid
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from accounts.models import ContactMethod, NotificationRule
from config import broker
from incidents.models import Incident, IncidentEvent
from notifications import links, messages, twilio_gateway
from notifications.models import Notification

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)

Status = Notification.Status
Purpose = Notification.Purpose
Channel = Notification.Channel

# A task may fire a hair before its eta; a send due within this margin goes now.
EARLY_MARGIN = timedelta(seconds=1)


# --- Queueing ---------------------------------------------------------------------------


def notification_rules_by_user(
    *, users: Iterable[User], event: str
) -> dict[int, list[NotificationRule]]:
    """Each user's rules for ``event`` that point at a usable (verified) contact method,
    in delay order; one query for all users."""
    rules = (
        NotificationRule.objects.filter(
            user__in=[u.pk for u in users],
            event=event,
            contact_method__verified_at__isnull=False,
        )
        .select_related("contact_method")
        .order_by("user_id", "delay_minutes", "id")
    )
    found: dict[int, list[NotificationRule]] = {}
    for rule in rules:
        found.setdefault(rule.user_id, []).append(rule)
    return found


def _when(delay_minutes: int, due: datetime, now: datetime) -> str:
    if not delay_minutes:
        return "now"
    return f"after {delay_minutes} min ({due:%H:%M} UTC)"


@dataclass
class Pages:
    """What paging some users about one incident queued: the rows (unsaved) and one
    timeline line per user, saved by the caller in its transaction."""

    notifications: list[Notification] = field(default_factory=list)
    events: list[IncidentEvent] = field(default_factory=list)


def notification_plan_pages(
    *,
    incident: Incident,
    users: Sequence[User],
    reason: str,
    key: str,
    rules: dict[int, list[NotificationRule]],
    now: datetime,
) -> Pages:
    """Notification rows for paging ``users`` about ``incident`` by their "triggered"
    rules. ``key`` names the page (incident, round, step): with the rule it makes the
    row's dedup key, so the same page cannot be queued twice."""
    pages = Pages()
    for user in users:
        name = user.get_username()
        user_rules = rules.get(user.pk, [])
        if not user_rules:
            pages.events.append(
                IncidentEvent(
                    incident=incident,
                    kind=IncidentEvent.Kind.NOTIFIED,
                    at=now,
                    via=IncidentEvent.Via.ESCALATION,
                    message=(
                        f"Cannot page {name}: no notification rule with a verified contact "
                        f"method. Reason: {reason}"
                    ),
                    data={"user_id": user.pk, "unreachable": True},
                )
            )
            continue
        plan = []
        for rule in user_rules:
            due = now + timedelta(minutes=rule.delay_minutes)
            method = rule.contact_method
            pages.notifications.append(
                Notification(
                    incident=incident,
                    user=user,
                    contact_method=method,
                    purpose=Purpose.TRIGGERED,
                    channel=rule.channel,
                    destination=method.value,
                    due_at=due,
                    reason=reason[:255],
                    dedup_key=f"page:{key}:{rule.pk}",
                )
            )
            plan.append(
                f"{Channel(rule.channel).words} to {method.value} "
                f"{_when(rule.delay_minutes, due, now)}"
            )
        pages.events.append(
            IncidentEvent(
                incident=incident,
                kind=IncidentEvent.Kind.NOTIFIED,
                at=now,
                via=IncidentEvent.Via.ESCALATION,
                message=f"Paging {name}: {', '.join(plan)}. Reason: {reason}",
                data={"user_id": user.pk, "planned": plan},
            )
        )
    return pages


def notification_enqueue_on_commit(
    *, notifications: Sequence[Notification], send_now: bool = False
) -> None:
    """Once the transaction commits, queue a send task for each saved row at its due time
    (a broker outage costs nothing here: the beat re-queues from the row).

    ``send_now``: rows already due are sent right here instead, after the commit, by the
    process that committed them (the escalation task): a page then waits in the queue
    once, not twice. Only for callers already in a worker, never in a web request."""
    jobs = [(n.pk, n.due_at) for n in notifications if n.pk is not None]
    if jobs:
        # robust: with send_now this sends; one failed send must not stop the others.
        transaction.on_commit(lambda: _enqueue(jobs, send_now=send_now), robust=True)


def _enqueue(jobs: list[tuple[int, datetime]], *, send_now: bool = False) -> None:
    from notifications.tasks import send_notification

    now = timezone.now()
    later = [(pk, due) for pk, due in jobs if due > now + EARLY_MARGIN]
    due_now = [pk for pk, due in jobs if due <= now + EARLY_MARGIN]
    if send_now:
        for pk in due_now:
            try:
                result = notification_deliver(notification_id=pk)
            except Exception:
                # The row is still queued (or stuck in sending): the beat takes it from here.
                logger.exception("sending notification %s failed", pk)
                continue
            if result.retry_at is not None:
                later.append((pk, result.retry_at))
        due_now = []
    broker.publish_many(
        send_notification, [((pk,), None) for pk in due_now] + [((pk,), due) for pk, due in later]
    )


def notification_queue_resolved(*, incident_id: int) -> int:
    """Tell everyone who was paged for this incident (a send was attempted) that it is
    resolved, by their "resolved" rules. Queued once per rule whatever calls this twice."""
    incident = Incident.objects.filter(pk=incident_id).first()
    if incident is None:
        return 0
    from accounts.models import User

    paged = User.objects.filter(
        is_active=True,
        pk__in=Notification.objects.filter(
            incident_id=incident_id, purpose=Purpose.TRIGGERED, attempts__gt=0
        ).values("user_id"),
    ).order_by("username")
    rules = notification_rules_by_user(users=paged, event=NotificationRule.Event.RESOLVED)
    now = timezone.now()
    rows = [
        Notification(
            incident=incident,
            user_id=rule.user_id,
            contact_method=rule.contact_method,
            purpose=Purpose.RESOLVED,
            channel=rule.channel,
            destination=rule.contact_method.value,
            due_at=now + timedelta(minutes=rule.delay_minutes),
            reason="incident resolved",
            dedup_key=f"resolved:{incident_id}:{rule.pk}",
        )
        for user_rules in rules.values()
        for rule in user_rules
    ]
    if not rows:
        return 0
    with transaction.atomic():
        Notification.objects.bulk_create(rows, ignore_conflicts=True)
        queued = list(
            Notification.objects.filter(
                dedup_key__in=[r.dedup_key for r in rows], status=Status.QUEUED
            )
        )
        notification_enqueue_on_commit(notifications=queued)
    return len(queued)


def notification_cancel_pending(*, incident_id: int, why: str) -> int:
    """Cancel the incident's pages not sent yet (a later voice call, say)."""
    return Notification.objects.filter(
        incident_id=incident_id, purpose=Purpose.TRIGGERED, status=Status.QUEUED
    ).update(status=Status.CANCELLED, error=why[:500], updated_at=timezone.now())


def notification_queue_test(*, method: ContactMethod, channel: str) -> Notification:
    """ "Send me a test": one message by ``channel`` to ``method``, at once."""
    if channel not in method.channels:
        raise ValueError(f"{method.value} cannot carry {channel}")
    with transaction.atomic():
        row = Notification.objects.create(
            user=method.user,
            contact_method=method,
            purpose=Purpose.TEST,
            channel=channel,
            destination=method.value,
            due_at=timezone.now(),
            reason="test requested from the profile page",
        )
        notification_enqueue_on_commit(notifications=[row])
    return row


def notification_send_verification_code(*, method: ContactMethod, code: str) -> Notification:
    """Send a verification code by SMS (accounts.contacts.contact_method_start_verification
    made it)."""
    with transaction.atomic():
        row = Notification.objects.create(
            user=method.user,
            contact_method=method,
            purpose=Purpose.VERIFY,
            channel=Channel.SMS,
            destination=method.value,
            body=messages.sms_verification(code),
            due_at=timezone.now(),
            reason="phone number verification",
        )
        notification_enqueue_on_commit(notifications=[row])
    return row


# --- Sending ----------------------------------------------------------------------------

# What notification_deliver() did, returned by the task.
SENT = "sent"
RETRY = "retry"
FAILED = "failed"
CANCELLED = "cancelled"
NOT_QUEUED = "not_queued"
NOT_DUE = "not_due"


@dataclass(frozen=True)
class Delivery:
    outcome: str
    retry_at: datetime | None = None


def notification_deliver(*, notification_id: int, now: datetime | None = None) -> Delivery:
    """Send one queued notification if it is due and still wanted; at most once."""
    now = now or timezone.now()
    row = (
        Notification.objects.select_related("incident", "user", "contact_method")
        .filter(pk=notification_id)
        .first()
    )
    if row is None or row.status != Status.QUEUED:
        return Delivery(NOT_QUEUED)
    if row.due_at > now + EARLY_MARGIN:
        return Delivery(NOT_DUE)
    if not row.user.is_active:
        # Deactivated after this was planned (a delayed voice call): never page them.
        Notification.objects.filter(pk=row.pk, status=Status.QUEUED).update(
            status=Status.CANCELLED, error="user deactivated before this was sent", updated_at=now
        )
        return Delivery(CANCELLED)
    if row.purpose == Purpose.TRIGGERED and (
        row.incident is None or row.incident.state != Incident.State.TRIGGERED
    ):
        state = row.incident.state if row.incident else "deleted"
        Notification.objects.filter(pk=row.pk, status=Status.QUEUED).update(
            status=Status.CANCELLED, error=f"incident {state} before this was sent", updated_at=now
        )
        return Delivery(CANCELLED)
    # The claim: only one task can move the row from queued to sending.
    # A page also needs its incident still triggered at this instant (an acknowledgement
    # may have landed since the check above).
    claimable = Notification.objects.filter(
        pk=row.pk, status=Status.QUEUED, due_at__lte=now + EARLY_MARGIN
    )
    if row.purpose == Purpose.TRIGGERED:
        claimable = claimable.filter(incident__state=Incident.State.TRIGGERED)
    claimed = claimable.update(status=Status.SENDING, attempts=F("attempts") + 1, updated_at=now)
    if not claimed:
        return Delivery(NOT_QUEUED)
    row.attempts += 1
    try:
        _send(row)
    except twilio_gateway.TransientSendError as exc:
        return _transient(row, exc, now)
    except twilio_gateway.SendError as exc:
        _fail(row, str(exc), exc.code)
        return Delivery(FAILED)
    except Exception as exc:  # a bug or an unexpected library error: stop, and say so
        logger.exception("notification %s failed", row.pk)
        _fail(row, f"{exc.__class__.__name__}: {exc}", "")
        return Delivery(FAILED)
    _sent(row)
    return Delivery(SENT)


def _callback_url(name: str) -> str:
    return settings.KLAXON_BASE_URL + reverse(name)


def _send(row: Notification) -> None:
    """Send ``row`` (claimed) and fill in body, provider id and status; raises SendError."""
    if row.channel == Channel.EMAIL:
        _send_email(row)
        return
    if row.channel == Channel.SMS:
        if not row.body:
            row.body = _sms_body(row)
        if settings.TWILIO_OUTBOX_MODE:
            _record_in_outbox(row)
            return
        sent = twilio_gateway.send_sms(
            to=row.destination, body=row.body, status_callback=_callback_url("twilio-status")
        )
    else:
        row.body = _voice_script(row)
        if settings.TWILIO_OUTBOX_MODE:
            _record_in_outbox(row)
            return
        sent = twilio_gateway.place_call(
            to=row.destination,
            twiml_url=f"{_callback_url('twilio-voice')}?n={row.pk}",
            status_callback=_callback_url("twilio-status"),
        )
    row.provider_id = sent.provider_id
    row.provider_status = sent.provider_status


def _record_in_outbox(row: Notification) -> None:
    row.outbox = True
    row.provider_id = f"outbox-{row.pk}"
    row.provider_status = "recorded"


def _sms_body(row: Notification) -> str:
    if row.purpose == Purpose.TEST or row.incident is None:
        return messages.sms_test()
    if row.purpose == Purpose.RESOLVED:
        return messages.sms_resolved(row.incident)
    return messages.sms_triggered(row.incident)


def _voice_script(row: Notification) -> str:
    if row.purpose == Purpose.TEST or row.incident is None:
        return messages.voice_test()
    return f"{messages.voice_triggered(row.incident)} {messages.VOICE_MENU}"


def _send_email(row: Notification) -> None:
    if row.purpose in (Purpose.TRIGGERED, Purpose.RESOLVED) and row.incident is not None:
        urls = {}
        if row.purpose == Purpose.TRIGGERED:
            urls = {
                "ack_url": links.action_url(row, "acknowledge"),
                "resolve_url": links.action_url(row, "resolve"),
            }
        email = messages.email_incident(row.incident, purpose=row.purpose, **urls)
    else:
        email = messages.email_test()
    row.subject, row.body = email.subject, email.text
    message = EmailMultiAlternatives(
        email.subject,
        email.text,
        settings.DEFAULT_FROM_EMAIL,
        [row.destination],
        headers={"Message-ID": make_msgid(domain="klaxon")},
    )
    message.attach_alternative(email.html, "text/html")
    try:
        message.send()
    except smtplib.SMTPResponseException as exc:
        error = f"mail server answered {exc.smtp_code}: {exc.smtp_error!r}"
        if 400 <= exc.smtp_code < 500:
            raise twilio_gateway.TransientSendError(error, str(exc.smtp_code)) from exc
        raise twilio_gateway.PermanentSendError(error, str(exc.smtp_code)) from exc
    except smtplib.SMTPRecipientsRefused as exc:
        raise twilio_gateway.PermanentSendError(f"address refused: {exc}") from exc
    except (smtplib.SMTPException, OSError) as exc:  # OSError covers timeouts
        raise twilio_gateway.TransientSendError(f"mail server unreachable: {exc}") from exc
    row.provider_id = message.extra_headers.get("Message-ID", "") or f"email-{row.pk}"
    row.provider_status = "accepted"
    row.outbox = settings.EMAIL_BACKEND.endswith(("console.EmailBackend", "locmem.EmailBackend"))


def _who(row: Notification) -> str:
    return f"{row.get_channel_display()} to {row.user.get_username()} ({row.destination})"


def _timeline(row: Notification, message: str) -> None:
    if row.incident_id is None:
        return
    IncidentEvent.objects.create(
        incident_id=row.incident_id,
        kind=IncidentEvent.Kind.NOTIFIED,
        at=timezone.now(),
        via=IncidentEvent.Via(row.channel),
        message=message,
        data={"notification_id": row.pk, "status": row.status, "user_id": row.user_id},
    )


def _sent(row: Notification) -> None:
    row.status = Status.SENT
    row.sent_at = timezone.now()
    if row.purpose == Purpose.VERIFY and not row.outbox:
        # The code has done its job; it need not sit in the database.
        row.body = messages.sms_verification(messages.MASKED_CODE)
    # Conditional on "sending": never undo what a webhook may already have recorded.
    Notification.objects.filter(pk=row.pk, status=Status.SENDING).update(
        status=row.status, sent_at=row.sent_at, body=row.body, subject=row.subject,
        provider_id=row.provider_id, provider_status=row.provider_status, outbox=row.outbox,
        updated_at=row.sent_at,
    )  # fmt: skip
    where = " (recorded in the outbox)" if row.outbox else ""
    _timeline(row, f"{_who(row)} sent{where}.")


def _fail(row: Notification, error: str, code: str) -> None:
    row.status = Status.FAILED
    row.error = error[:500]
    row.error_code = code[:16]
    row.save(update_fields=["status", "error", "error_code", "body", "subject", "updated_at"])
    _timeline(row, f"{_who(row)} failed after {row.attempts} attempt(s): {row.error}")


def _transient(row: Notification, exc: Exception, now: datetime) -> Delivery:
    if row.attempts >= settings.NOTIFY_MAX_ATTEMPTS:
        _fail(row, f"gave up: {exc}", getattr(exc, "code", ""))
        return Delivery(FAILED)
    retry_at = now + timedelta(seconds=settings.NOTIFY_RETRY_SECONDS * 2 ** (row.attempts - 1))
    Notification.objects.filter(pk=row.pk, status=Status.SENDING).update(
        status=Status.QUEUED,
        due_at=retry_at,
        error=f"attempt {row.attempts} failed, retrying: {exc}"[:500],
        error_code=str(getattr(exc, "code", ""))[:16],
        updated_at=timezone.now(),
    )
    return Delivery(RETRY, retry_at)


# --- The safety net ---------------------------------------------------------------------


def notification_rekick_due(*, now: datetime | None = None, limit: int = 1000) -> tuple[int, int]:
    """Beat: queue a task again for sends overdue by NOTIFY_REKICK_GRACE_SECONDS (their
    task was lost),
    and fail sends stuck in "sending" past NOTIFY_STUCK_SECONDS (their worker died
    mid-send: it may have gone out, so it is not sent again). Returns both counts."""
    now = now or timezone.now()
    # Only once a send is this late is its own task taken as lost.
    grace = timedelta(seconds=settings.NOTIFY_REKICK_GRACE_SECONDS)
    overdue = list(
        Notification.objects.filter(status=Status.QUEUED, due_at__lte=now - grace)
        .order_by("due_at")
        .values_list("pk", "due_at")[:limit]
    )
    if overdue:
        _enqueue(overdue)
    stuck_before = now - timedelta(seconds=settings.NOTIFY_STUCK_SECONDS)
    stuck = list(
        Notification.objects.filter(
            status=Status.SENDING, due_at__lte=stuck_before, updated_at__lte=stuck_before
        ).select_related("user")[:limit]
    )
    for row in stuck:
        done = Notification.objects.filter(pk=row.pk, status=Status.SENDING).update(
            status=Status.FAILED,
            error="the worker stopped while sending; not retried, it may have gone out",
            updated_at=now,
        )
        if done:
            row.status = Status.FAILED
            _timeline(row, f"{_who(row)}: the worker stopped mid-send; not retried.")
    return len(overdue), len(stuck)
