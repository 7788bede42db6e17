"""The paging set-up the fault tests share (also run by a subprocess that seeds the
database of a private PostgreSQL cluster), and what they count at the fake Twilio."""

from __future__ import annotations

from dataclasses import dataclass

from accounts.models import NotificationRule
from escalation.models import EscalationPolicy, EscalationStep
from tests.factories import IntegrationFactory, UserFactory
from tests.twilio_server import FakeTwilio

ALICE, BOB = "+15005550301", "+15005550302"


@dataclass
class Paging:
    token: str
    policy: EscalationPolicy


def paging_setup(*, voice_after_minutes: int | None = None) -> Paging:
    """Alice (step 1), then Bob a minute later (step 2). Alice's rules: SMS at once, and a
    voice call after ``voice_after_minutes`` when given."""
    alice = UserFactory(username="alice", phone=ALICE)
    bob = UserFactory(username="bob", phone=BOB)
    for user in (alice, bob):
        user.notification_rules.filter(channel="voice").delete()
    if voice_after_minutes is not None:
        NotificationRule.objects.create(
            user=alice,
            event=NotificationRule.Event.TRIGGERED,
            contact_method=alice.contact_methods.get(kind="phone"),
            channel="voice",
            delay_minutes=voice_after_minutes,
        )
    policy = EscalationPolicy.objects.create(name="Platform", repeat=0)
    for position, user in enumerate((alice, bob)):
        step = EscalationStep.objects.create(policy=policy, position=position, delay_minutes=1)
        step.users.set([user])
    integration = IntegrationFactory(escalation_policy=policy)
    return Paging(integration.token, policy)


def sms(twilio: FakeTwilio, to: str) -> int:
    return len(twilio.sent("Messages", to=to))


def calls(twilio: FakeTwilio, to: str) -> int:
    return len(twilio.sent("Calls", to=to))
