"""Writes to integrations: create, change, delete, rotate, confirm a subscription, send a
test alert. Every change to an integration is written to the audit log in its own
transaction (``audit.services.record``)."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from audit import services as audit
from integrations import inbound
from integrations.models import InboundMessage, Integration, new_token
from integrations.sns_http import visit_subscribe_url

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from accounts.models import User

    Actor = User | AnonymousUser | None

TEST_TOPIC_ARN = "arn:aws:sns:us-east-1:000000000000:klaxon-test-alert"
ROTATED_URL = "rotated URL"
REBOUND_TOPIC = "released topic"
CONFIRMED_SUBSCRIPTION = "confirmed subscription"


def _locked(integration: Integration) -> Integration:
    # The audited "before" is the row as it is in the database, locked, not the instance
    # a form may already have changed.
    return (
        # of=self: PostgreSQL cannot lock the nullable side of the outer joins.
        Integration.objects.select_for_update(of=("self",))
        .select_related("team", "escalation_policy")
        .get(pk=integration.pk)
    )


def integration_create(*, actor: Actor, integration: Integration) -> Integration:
    """Save a new (unsaved) integration, which gets its own URL."""
    with transaction.atomic():
        integration.save()
        audit.record_saved(actor, integration, before=None)
    return integration


# What a person edits. The rest (token, topic, subscription) changes only through the
# services below and the inbound path.
EDITABLE_FIELDS = (
    "name",
    "kind",
    "team",
    "escalation_policy",
    "enabled",
    "insufficient_data_as_alarm",
    "security_mode",
)


def integration_update(*, actor: Actor, integration: Integration) -> Integration:
    """Save the edited fields of ``integration`` (a form's or serializer's instance).

    Only EDITABLE_FIELDS are copied onto the locked row and written, so a subscription
    confirmed or a URL rotated meanwhile is not overwritten with the stale values the
    instance was loaded with."""
    with transaction.atomic():
        current = _locked(integration)
        before = audit.snapshot(current)
        for field in EDITABLE_FIELDS:
            setattr(current, field, getattr(integration, field))
        current.save(update_fields=[*EDITABLE_FIELDS, "updated_at"])
        audit.record_saved(actor, current, before=before)
    return current


def integration_delete(*, actor: Actor, integration: Integration) -> None:
    """Delete the integration (its URL answers 404; its incidents go with it)."""
    with transaction.atomic():
        current = _locked(integration)
        audit.record(actor, audit.DELETED, current, before=audit.snapshot(current))
        current.delete()


def integration_rotate_token(*, integration: Integration, actor: Actor = None) -> Integration:
    """Give the integration a new URL; the old one answers 404 from now on."""
    with transaction.atomic():
        before = audit.snapshot(_locked(integration))
        integration.set_token(new_token())
        integration.save(update_fields=["token", "token_hash", "updated_at"])
        audit.record(
            actor, ROTATED_URL, integration, before=before, after=audit.snapshot(integration)
        )
    return integration


def integration_rebind_topic(*, integration: Integration, actor: Actor = None) -> Integration:
    """Forget the pinned TopicArn so the next subscription can bind a new topic."""
    with transaction.atomic():
        before = audit.snapshot(_locked(integration))
        integration.topic_arn = ""
        integration.subscription_arn = ""
        integration.subscription_status = Integration.Subscription.NONE
        integration.save(
            update_fields=["topic_arn", "subscription_arn", "subscription_status", "updated_at"]
        )
        audit.record(
            actor, REBOUND_TOPIC, integration, before=before, after=audit.snapshot(integration)
        )
    return integration


def subscription_confirm(
    *, inbound_message_id: int, actor: Actor = None
) -> tuple[InboundMessage, bool]:
    """Visit a SubscriptionConfirmation's SubscribeURL (only if it is an allowed SNS URL)
    and record the answer; on success the subscription is confirmed and its topic pinned
    (audited, with ``actor`` or, from the auto-confirm task, as Klaxon itself).

    Returns the row and whether the failure (if any) is worth retrying."""
    row = InboundMessage.objects.select_related("integration").get(pk=inbound_message_id)
    if row.outcome == InboundMessage.Outcome.SUBSCRIPTION_CONFIRMED:
        return row, False  # a duplicated task or a second click: already done
    if not row.can_be_confirmed:
        row.confirm_result = "not confirmable: only a verified SubscriptionConfirmation is"
        row.save(update_fields=["confirm_result"])
        return row, False
    pinned = row.integration.topic_arn if row.integration else ""
    if pinned and pinned != row.topic_arn:
        # Confirming would subscribe us at AWS to a topic this integration then rejects.
        row.confirm_result = f"not confirmed: this integration is bound to {pinned}"
        row.save(update_fields=["confirm_result"])
        return row, False
    result = visit_subscribe_url(row.subscribe_url)
    with transaction.atomic():
        row = InboundMessage.objects.select_for_update().get(pk=inbound_message_id)
        row.confirm_status = result.status
        if result.subscription_arn:
            row.confirm_result = f"confirmed: {result.subscription_arn}"
        else:
            row.confirm_result = (result.error or "no SubscriptionArn in the answer")[:600]
        fields = ["confirm_status", "confirm_result"]
        integration = (
            Integration.objects.select_for_update().filter(pk=row.integration_id).first()
            if row.integration_id
            else None
        )
        if result.subscription_arn and integration is not None:
            if integration.topic_arn and integration.topic_arn != row.topic_arn:
                row.confirm_result = (
                    f"confirmed at AWS, but this integration is bound to {integration.topic_arn}"
                )
            else:
                before = audit.snapshot(integration)
                integration.topic_arn = row.topic_arn
                integration.subscription_arn = result.subscription_arn
                integration.subscription_status = Integration.Subscription.CONFIRMED
                integration.save(
                    update_fields=[
                        "topic_arn",
                        "subscription_arn",
                        "subscription_status",
                        "updated_at",
                    ]
                )
                audit.record(
                    actor,
                    CONFIRMED_SUBSCRIPTION,
                    integration,
                    before=before,
                    after=audit.snapshot(integration),
                )
                row.outcome = InboundMessage.Outcome.SUBSCRIPTION_CONFIRMED
                fields.append("outcome")
        row.save(update_fields=fields)
    return row, result.transient


def sample_alarm_message(*, integration: Integration, state: str = "ALARM") -> str:
    """A CloudWatch alarm message like the ones AWS sends, for the "send test alert" button."""
    now = timezone.now()
    name = "Klaxon test alert"
    return json.dumps(
        {
            "AlarmName": name,
            "AlarmDescription": f"Sent from the dashboard to test {integration.name}.",
            "AWSAccountId": "000000000000",
            "NewStateValue": state,
            "NewStateReason": "A person pressed 'send test alert'.",
            "StateChangeTime": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now:%f}"[:3] + "+0000",
            "Region": "US East (N. Virginia)",
            "AlarmArn": f"arn:aws:cloudwatch:us-east-1:000000000000:alarm:{name}",
            "OldStateValue": "OK" if state == "ALARM" else "ALARM",
            "Trigger": {
                "MetricName": "KlaxonTest",
                "Namespace": "Klaxon",
                "Statistic": "SUM",
                "Period": 60,
                "EvaluationPeriods": 1,
                "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                "Threshold": 1.0,
            },
        }
    )


def integration_send_test_alert(
    *, integration: Integration, user: User, state: str = "ALARM"
) -> inbound.InboundResult:
    """Push a CloudWatch-shaped alarm through the inbound path. Amazon's signature cannot
    be made here, so only that check is skipped; the row says who sent it."""
    envelope = {
        "Type": "Notification",
        "MessageId": str(uuid.uuid4()),
        "TopicArn": integration.topic_arn or TEST_TOPIC_ARN,
        "Subject": f'{state}: "Klaxon test alert"',
        "Message": sample_alarm_message(integration=integration, state=state),
        "Timestamp": timezone.now().isoformat().replace("+00:00", "Z"),
        "SignatureVersion": "2",
        "Signature": "",
        "SigningCertURL": "",
        "UnsubscribeURL": "",
    }
    return inbound.receive(
        integration=integration,
        body=json.dumps(envelope).encode(),
        headers={
            "Content-Type": "text/plain; charset=UTF-8",
            "X-Klaxon-Test-Alert": f"sent from the dashboard by {user.get_username()}",
        },
        source_ip=None,
        test_alert=True,
    )
