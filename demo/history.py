"""Thirty days of past incidents for the demo, so Reports and the incident list have
something to show. Deterministic (seeded), written straight to the tables: these are a
picture of the past, not alarms to page anyone about."""

from __future__ import annotations

import random
from datetime import timedelta

from django.utils import timezone

from incidents.models import Incident, IncidentEvent
from integrations.models import Integration

ALARMS = [
    ("ConsoleSignInFailures", 9),
    ("RootAccountUsage", 2),
    ("UnauthorizedAPICalls", 6),
    ("IAMPolicyChanges", 4),
    ("SecurityGroupChanges", 5),
    ("CloudTrailConfigChanges", 1),
]


def add_history(integration: Integration, *, days: int = 30, seed: int = 7) -> int:
    """Resolved incidents over the last ``days`` days on ``integration``; returns how many."""
    rng = random.Random(seed)
    now = timezone.now()
    names = [name for name, weight in ALARMS for _ in range(weight)]
    arn = "arn:aws:cloudwatch:eu-west-1:111122223333:alarm:"
    incidents = []
    for day in range(days, 0, -1):
        for _ in range(rng.randint(0, 6)):
            name = rng.choice(names)
            opened = now - timedelta(days=day, seconds=rng.randint(0, 86_000))
            acked = opened + timedelta(seconds=rng.randint(40, 1_500))
            resolved = acked + timedelta(seconds=rng.randint(120, 9_000))
            incidents.append(
                Incident(
                    integration=integration,
                    dedup_key=f"{arn}{name}|111122223333|EU (Ireland)",
                    title=name,
                    state=Incident.State.RESOLVED,
                    alarm_count=rng.randint(1, 4),
                    created_at=opened,
                    last_seen_at=resolved,
                    acknowledged_at=acked,
                    resolved_at=resolved,
                    details={"account_id": "111122223333", "region_code": "eu-west-1"},
                )
            )
    Incident.objects.bulk_create(incidents)
    events = []
    for incident in Incident.objects.filter(integration=integration, state="resolved"):
        for kind, at, text in (
            (IncidentEvent.Kind.TRIGGERED, incident.created_at, f"ALARM: {incident.title}"),
            (IncidentEvent.Kind.ACKNOWLEDGED, incident.acknowledged_at, "Acknowledged (demo)."),
            (IncidentEvent.Kind.RESOLVED, incident.resolved_at, "Resolved (demo)."),
        ):
            assert at is not None
            events.append(IncidentEvent(incident=incident, kind=kind, at=at, message=text))
    IncidentEvent.objects.bulk_create(events)
    return len(incidents)
