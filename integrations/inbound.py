"""The inbound path: one request to an integration URL becomes one InboundMessage row.

The order matters (see docs/architecture.md, "The inbound path"): size limit, envelope,
signature, topic, then the change it asks for. A rejected request is stored with its
reason; an accepted one is stored in the same transaction as the change it made, so a
2xx answer always means both are durable.
"""

from __future__ import annotations

import hmac
import logging
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from aws.services import alarm_evidence_schedule
from config import broker
from incidents import services as incident_services
from integrations.inbound_log import ReceivedRequest, loggable_headers
from integrations.models import InboundMessage, Integration, token_digest
from integrations.sns_http import fetch_certificate
from integrations.sources import cloudwatch, sns

log = logging.getLogger(__name__)

Outcome = InboundMessage.Outcome
SUBSCRIPTION = Integration.Subscription

# SNS posts the bare message, unsigned and without its envelope, when the subscription
# has RawMessageDelivery=true, and says so in this header. Nothing proves such a body
# came from Amazon, so it is refused, with the fix in the reason.
RAW_DELIVERY_HEADER = "x-amz-sns-rawdelivery"
RAW_DELIVERY_REASON = (
    "raw message delivery is on: turn it off for this subscription "
    "(RawMessageDelivery=false); Klaxon needs the signed SNS envelope"
)


@dataclass(frozen=True)
class InboundResult:
    status: int
    text: str
    message: InboundMessage | None = None


# token digest -> (monotonic time loaded, integration). Each web process keeps its own:
# the lookup is a fifth of an ingest request's CPU. Changes made in this process clear
# it at once (see forget_cached_integrations); other processes see them within
# INTEGRATION_CACHE_SECONDS.
_by_digest: dict[str, tuple[float, Integration]] = {}
_CACHE_MAX_ENTRIES = 1024


def integration_for_token(token: str) -> Integration | None:
    """The integration a URL token belongs to, or None; safe against timing probes."""
    if not token or len(token) > 64:
        return None
    digest = token_digest(token)
    now = time.monotonic()
    cached = _by_digest.get(digest)
    if cached is not None and now - cached[0] < settings.INTEGRATION_CACHE_SECONDS:
        integration = cached[1]
    else:
        found = list(Integration.objects.filter(token_hash=digest).order_by()[:1])
        if not found:
            _by_digest.pop(digest, None)  # unknown tokens are never cached
            return None
        integration = found[0]
        if len(_by_digest) >= _CACHE_MAX_ENTRIES:
            _by_digest.clear()
        _by_digest[digest] = (now, integration)
    if not hmac.compare_digest(integration.token, token):
        return None
    return integration


def forget_cached_integrations(**kwargs: Any) -> None:
    """Drop this process's cached integrations (connected to Integration saves/deletes)."""
    _by_digest.clear()


def receive(
    *,
    integration: Integration,
    body: bytes,
    headers: dict[str, str],
    source_ip: str | None,
    method: str = "POST",
    body_too_large: bool = False,
    test_alert: bool = False,
) -> InboundResult:
    """Handle one request to ``integration``'s URL and record it in the Inbound Log.

    ``test_alert`` is only for the dashboard's "send test alert": it cannot carry
    Amazon's signature and must not bind a topic; everything else is shared.
    """
    request = ReceivedRequest(
        source=InboundMessage.Source.SNS,
        integration=integration,
        received_at=timezone.now(),
        source_ip=source_ip,
        body=body,
        headers=loggable_headers(headers),
    )
    if method != "POST":
        return _reject(request, 405, f"method {method} not allowed; SNS delivers with POST")
    if body_too_large:
        limit = settings.INBOUND_MAX_BODY_BYTES // 1024
        return _reject(request, 413, f"body over {limit} KiB")
    if not integration.enabled:
        return _reject(request, 403, "integration is disabled")
    if _raw_delivery(request.headers):
        return _reject(request, 400, RAW_DELIVERY_REASON)
    try:
        envelope = sns.parse_envelope(body)
    except sns.SnsError as exc:
        return _reject(request, 400, exc.reason)
    if any("\x00" in value for value in envelope.raw.values() if isinstance(value, str)):
        return _reject(request, 400, "malformed message: NUL characters are not allowed in SNS")

    seen = {
        "message_type": envelope.type,
        "message_id": envelope.message_id,
        "topic_arn": envelope.topic_arn,
        "subscribe_url": envelope.subscribe_url or "",
    }
    if settings.SNS_VERIFY_SIGNATURES and not test_alert:
        try:
            sns.verify(
                envelope,
                fetch_certificate=fetch_certificate,
                cert_url_pattern=settings.SNS_CERT_URL_PATTERN,
                now=timezone.now(),
            )
        except sns.CertificateFetchFailed as exc:
            # Amazon's certificate host did not answer: a 5xx makes SNS deliver again.
            return _reject(request, 503, exc.reason, **seen)
        except sns.SnsError as exc:
            return _reject(request, 403, exc.reason, **seen)

    if integration.topic_arn and envelope.topic_arn != integration.topic_arn:
        return _reject(
            request,
            403,
            f"wrong topic: {envelope.topic_arn} (this integration is bound to "
            f"{integration.topic_arn})",
            **seen,
        )
    return _apply(integration, request, envelope, seen, test_alert=test_alert)


def _raw_delivery(headers: dict[str, str]) -> bool:
    return any(
        name.lower() == RAW_DELIVERY_HEADER and value.strip().lower() == "true"
        for name, value in headers.items()
    )


def _reject(request: ReceivedRequest, status: int, reason: str, **seen: str) -> InboundResult:
    row = request.row(outcome=Outcome.REJECTED, reason=reason, **seen)
    row.save()
    return InboundResult(status, f"rejected: {reason}", row)


def _apply(
    integration: Integration,
    request: ReceivedRequest,
    envelope: sns.SnsEnvelope,
    seen: dict[str, str],
    *,
    test_alert: bool,
) -> InboundResult:
    # Two attempts: a concurrent twin may open the incident between our look and our
    # insert (the partial unique index says no); the second attempt then appends.
    for attempt in (1, 2):
        try:
            with transaction.atomic():
                applied = _apply_envelope(integration, envelope, test_alert=test_alert)
                row = request.row(
                    applied_message_id=envelope.message_id,
                    outcome=applied.outcome,
                    reason=applied.reason,
                    incident_id=applied.incident_id,
                    event=applied.event,
                    **seen,
                )
                # Written last, once: its unique (integration, applied_message_id) claims the
                # MessageId, and a second delivery rolls back everything above.
                row.save()
                if envelope.type == "SubscriptionConfirmation" and settings.SNS_AUTO_CONFIRM:
                    _confirm_on_commit(row.pk)
        except WrongTopic as exc:
            forget_cached_integrations()
            reason = (
                f"wrong topic: {envelope.topic_arn} (this integration is bound to {exc.pinned})"
            )
            return _reject(request, 403, reason, **seen)
        except IntegrityError:
            if InboundMessage.objects.filter(
                integration=integration, applied_message_id=envelope.message_id[:100]
            ).exists():
                dup = request.row(
                    outcome=Outcome.DUPLICATE,
                    reason=f"MessageId {envelope.message_id} was already applied",
                    **seen,
                )
                dup.save()
                return InboundResult(200, "duplicate delivery: nothing changed", dup)
            if attempt == 2:
                raise
            log.info("open-incident race on %s; retrying as an append", envelope.message_id)
            continue
        text = row.get_outcome_display()
        if row.incident_id:
            text += f": incident #{row.incident_id}"
        return InboundResult(200, text, row)
    raise AssertionError("unreachable")


def _confirm_on_commit(row_id: int) -> None:
    from integrations.tasks import confirm_subscription

    # The row is committed; a broker outage must not delay the answer (config/broker.py).
    # The Confirm button on the Inbound Log still works then.
    transaction.on_commit(lambda: broker.publish(confirm_subscription, row_id))


def _apply_envelope(
    integration: Integration, envelope: sns.SnsEnvelope, *, test_alert: bool
) -> incident_services.AlarmResult:
    if envelope.type == "SubscriptionConfirmation":
        if integration.subscription_status != SUBSCRIPTION.CONFIRMED:
            _set_subscription(integration, SUBSCRIPTION.PENDING)
        return incident_services.AlarmResult(Outcome.SUBSCRIPTION_PENDING, None)
    if envelope.type == "UnsubscribeConfirmation":
        _set_subscription(integration, SUBSCRIPTION.UNSUBSCRIBED)
        return incident_services.AlarmResult(
            Outcome.UNSUBSCRIBED,
            None,
            "the SNS subscription was removed: no more alarms will arrive",
        )

    # Notification. Amazon only delivers these on a confirmed subscription; if the user
    # confirmed it outside Klaxon, this is the first we hear of it: pin the topic now.
    needs_binding = (
        not integration.topic_arn or integration.subscription_status != SUBSCRIPTION.CONFIRMED
    )
    if needs_binding and not test_alert:
        _set_subscription(integration, SUBSCRIPTION.CONFIRMED, topic_arn=envelope.topic_arn)
    try:
        alarm = cloudwatch.parse_alarm(envelope.message)
    except cloudwatch.NotAnAlarm as exc:
        lines = (line.strip() for line in envelope.message.splitlines())
        first_line = next((line for line in lines if line), "")
        # Someone published by hand: each message is its own incident.
        return incident_services.incident_open(
            integration=integration,
            dedup_key=f"sns-message:{envelope.message_id}",
            title=envelope.subject or first_line[:200] or "Message from Amazon SNS",
            description=envelope.message,
            details={"subject": envelope.subject, "note": exc.reason},
            message=f"Opened from a message that is not a CloudWatch alarm ({exc.reason}).",
        )
    result = incident_services.incident_apply_alarm(integration=integration, alarm=alarm)
    if result.outcome == Outcome.CREATED and result.incident_id and not test_alert:
        # The AWS security pack: with credentials, a task fetches the CloudTrail records
        # behind a metric-filter alarm once this commits (aws/services.py).
        alarm_evidence_schedule(
            integration=integration, incident_id=result.incident_id, trigger=alarm.trigger
        )
    return result


class WrongTopic(Exception):
    """Another request pinned a different topic first."""

    def __init__(self, pinned: str) -> None:
        super().__init__(pinned)
        self.pinned = pinned


def _set_subscription(integration: Integration, status: str, *, topic_arn: str = "") -> None:
    """Record a subscription change; pin ``topic_arn`` only if no topic is pinned yet.

    ``integration`` may be this process's cached copy: it is not changed here (the change
    could still roll back); the cache is dropped once the transaction commits."""
    changed = False
    if integration.subscription_status != status:
        Integration.objects.filter(pk=integration.pk).update(subscription_status=status)
        changed = True
    if topic_arn and not integration.topic_arn:
        pinned = Integration.objects.filter(pk=integration.pk, topic_arn="").update(
            topic_arn=topic_arn
        )
        if not pinned:  # pinned meanwhile, by another request or process
            current = Integration.objects.values_list("topic_arn", flat=True).get(
                pk=integration.pk
            )
            if current != topic_arn:
                raise WrongTopic(current)
        changed = True
    if changed:
        transaction.on_commit(forget_cached_integrations)
