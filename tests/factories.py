from __future__ import annotations

import factory
from django.utils import timezone

from accounts.models import Team, User
from incidents.models import Incident
from integrations.models import Integration


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("correct horse battery")

    @factory.post_generation
    def phone(self, create: bool, extracted: str | None, **kwargs: object) -> None:
        """UserFactory(phone="+15005550001"): a verified phone and email, default rules
        (SMS at once, voice after 5 min; SMS on resolve). phone="" gives email only."""
        if not create or extracted is None:
            return
        from accounts.contacts import contact_method_add, notification_rule_add_defaults
        from accounts.models import ContactMethod

        if self.email:
            contact_method_add(user=self, kind=ContactMethod.Kind.EMAIL, raw=self.email)
        if extracted:
            contact_method_add(
                user=self, kind=ContactMethod.Kind.PHONE, raw=extracted, verified=True
            )
        notification_rule_add_defaults(user=self)


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")


class IntegrationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Integration

    name = factory.Sequence(lambda n: f"SNS integration {n}")
    kind = Integration.Kind.AWS_SNS


class IncidentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Incident

    integration = factory.SubFactory(IntegrationFactory)
    dedup_key = factory.Sequence(lambda n: f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:a{n}")
    title = factory.Sequence(lambda n: f"Alarm {n}")
    created_at = factory.LazyFunction(timezone.now)
    last_seen_at = factory.LazyFunction(timezone.now)
