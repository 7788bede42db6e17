from __future__ import annotations

import factory
from django.utils import timezone

from accounts.models import Team, User
from incidents.models import Incident
from integrations.models import Integration


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("correct horse battery")


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
