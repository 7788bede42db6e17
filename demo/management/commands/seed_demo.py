from __future__ import annotations

import datetime
import os
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from accounts import contacts
from accounts.models import ContactMethod, Membership, Team, User
from demo.history import add_history
from escalation.models import EscalationPolicy, EscalationStep
from integrations.models import Integration
from schedules.models import Layer, LayerMember, Schedule

DEMO_ADMIN = "admin"


class Command(BaseCommand):
    help = (
        "Create the demo admin and demo data (a team, three responders, a weekly schedule, "
        "an escalation policy, an AWS SNS integration) unless they exist. Prints the login."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--history",
            action="store_true",
            help="also add 30 days of past (resolved) incidents, for Reports",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        password = os.environ.get("KLAXON_DEMO_PASSWORD", "klaxon-demo")
        with transaction.atomic():
            created = self._seed(password)
            if created and options["history"]:
                demo = Integration.objects.get(name="CloudTrail security alarms")
                self.stdout.write(f"Added {add_history(demo)} past incidents.")
        admin = User.objects.get(username=DEMO_ADMIN)
        integration = Integration.objects.filter(name="CloudTrail security alarms").first()
        if created:
            self.stdout.write(self.style.SUCCESS("Demo data created."))
        self.stdout.write(f"Demo login: {admin.username} / {password}")
        if integration:
            self.stdout.write(f"Demo SNS integration URL: {integration.url}")

    def _seed(self, password: str) -> bool:
        if User.objects.filter(username=DEMO_ADMIN).exists():
            return False
        User.objects.create_superuser(DEMO_ADMIN, "admin@example.com", password)
        team = Team.objects.create(name="Platform", description="Runs the AWS accounts.")
        people = []
        # Twilio's test numbers: in outbox mode nothing is sent anyway.
        for name, phone in (
            ("Alice", "+15005550001"),
            ("Bob", "+15005550002"),
            ("Carol", "+15005550003"),
        ):
            person = User.objects.create_user(
                name.lower(),
                f"{name.lower()}@example.com",
                password,
                first_name=name,
                last_name="Demo",
            )
            # Verified at once (the demo vouches for them), then the default rules:
            # SMS at once, a voice call after 5 minutes, an SMS on resolve.
            contacts.contact_method_add(
                user=person, kind=ContactMethod.Kind.EMAIL, raw=person.email
            )
            contacts.contact_method_add(
                user=person, kind=ContactMethod.Kind.PHONE, raw=phone, verified=True
            )
            contacts.notification_rule_add_defaults(user=person)
            people.append(person)
        for person in people:
            Membership.objects.create(team=team, user=person)
        Membership.objects.get_or_create(
            team=team, user=User.objects.get(username=DEMO_ADMIN), role=Membership.Role.ADMIN
        )
        schedule = Schedule.objects.create(name="Platform primary", team=team, time_zone="UTC")
        today = datetime.date.today()
        layer = Layer.objects.create(
            schedule=schedule,
            name="Weekly rotation",
            start=today - datetime.timedelta(days=today.weekday()),
            turn=Layer.Turn.WEEKLY,
            handoff_time=datetime.time(9, 0),
        )
        for position, person in enumerate(people):
            LayerMember.objects.create(layer=layer, user=person, position=position)
        policy = EscalationPolicy.objects.create(name="Platform default", team=team, repeat=2)
        first = EscalationStep.objects.create(policy=policy, position=0, delay_minutes=5)
        first.schedules.add(schedule)
        second = EscalationStep.objects.create(policy=policy, position=1, delay_minutes=10)
        second.teams.add(team)
        Integration.objects.create(
            name="CloudTrail security alarms",
            kind=Integration.Kind.AWS_SNS,
            team=team,
            escalation_policy=policy,
        )
        return True
