"""The OpenAPI schema (/api/schema/) tells the truth: schemathesis generates requests to
every operation from the schema itself (valid and invalid input), sends them to the
app in-process with an admin's API token, and checks each answer: never a 5xx, only
documented status codes and content types, and bodies that match their schema.

The demo data (`make run`'s) is in the database, and about half the generated ``{id}``s
in paths are turned into ones that exist, so the 200 answers (schedules with layers,
overrides, incidents, notifications ...) are checked too, not only the 404s. Bounded:
MAX_EXAMPLES per operation keeps the run to a few minutes."""

from __future__ import annotations

import io
import os
from typing import Any

import pytest
import schemathesis
from django.core.management import call_command
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts import contacts
from accounts.models import ContactMethod, NotificationRule, Team, User
from escalation.models import EscalationPolicy
from incidents.models import Incident
from integrations.models import InboundMessage, Integration
from integrations.services import integration_send_test_alert
from notifications.models import Notification
from schedules.models import Override, Schedule

# KLAXON_API_FUZZ_EXAMPLES=500 for a deeper run by hand.
MAX_EXAMPLES = int(os.environ.get("KLAXON_API_FUZZ_EXAMPLES", "25"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

# Loaded through the app itself, as a client would (the schema view needs no database).
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())


def _existing_ids(admin: User) -> dict[str, list[int]]:
    """For each path's collection, the ids a request may name that exist."""

    def ids(queryset: Any) -> list[int]:
        return list(queryset.values_list("pk", flat=True)[:20])

    return {
        "escalation-policies": ids(EscalationPolicy.objects.all()),
        "inbound-messages": ids(InboundMessage.objects.all()),
        "incidents": ids(Incident.objects.all()),
        "integrations": ids(Integration.objects.all()),
        "me/contact-methods": ids(ContactMethod.objects.filter(user=admin)),
        "me/notification-rules": ids(NotificationRule.objects.filter(user=admin)),
        "notifications": ids(Notification.objects.all()),
        "schedules": ids(Schedule.objects.all()),
        "teams": ids(Team.objects.all()),
        "users": ids(User.objects.all()),
    }


@pytest.fixture
def world(transactional_db: Any, settings: Any) -> tuple[str, dict[str, list[int]]]:
    """The demo data, an incident paged through it, an override, and the admin's own
    contact methods (one phone not verified yet); returns the admin's token and ids."""
    settings.KLAXON_BASE_URL = "https://klaxon.example.com"
    call_command("seed_demo", stdout=io.StringIO())
    admin = User.objects.get(username="admin")
    integration = Integration.objects.get()
    integration_send_test_alert(integration=integration, user=admin)
    schedule = Schedule.objects.get()
    incident = Incident.objects.get()
    Override.objects.create(
        schedule=schedule,
        user=User.objects.get(username="bob"),
        start=incident.created_at,
        end=incident.created_at.replace(year=incident.created_at.year + 1),
    )
    contacts.contact_method_add(user=admin, kind=ContactMethod.Kind.EMAIL, raw="admin@example.com")
    contacts.contact_method_add(user=admin, kind=ContactMethod.Kind.PHONE, raw="+15005550009")
    contacts.notification_rule_add_defaults(user=admin)
    return Token.objects.create(user=admin).key, _existing_ids(admin)


def _collection(path: str) -> str:
    """ "/api/v1/me/contact-methods/{id}/verify/" -> "me/contact-methods"."""
    return path.removeprefix("/api/v1/").split("/{id}")[0]


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    # The database fixture is set up once per operation, not per example: on purpose,
    # the examples of one operation build on each other's rows.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_api_operation_answers_as_its_schema_says(
    case: Any, world: tuple[str, dict[str, list[int]]]
) -> None:
    token, existing = world
    known = existing.get(_collection(case.path), [])
    raw = (case.path_parameters or {}).get("id")
    # An even generated id names an object that exists (the 200 answers get checked),
    # an odd one stays as generated (mostly 404s); invalid ids are left alone.
    if isinstance(raw, int) and not isinstance(raw, bool) and known and raw % 2 == 0:
        case.path_parameters["id"] = known[(raw // 2) % len(known)]
    case.call_and_validate(headers={"Authorization": f"Token {token}"}, checks=CHECKS)
