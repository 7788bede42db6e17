"""A page makes the same, small number of SQL queries however many rows it shows.

Each test builds N rows, counts the queries of one request, builds 2N more and counts
again: the counts must be equal (a query per row, an N+1, makes the second larger) and
within a fixed bound (``django_assert_max_num_queries``). The rows are made so that an
N+1 would show: every row has its own integration, incident, user or inbound message.

The incident list's own query test lives with the incident pages; bench/pages.py times
these pages with 100,000 incidents and 1,000,000 Inbound Log rows."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import timedelta
from itertools import count
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from incidents.models import Incident, IncidentEvent
from integrations.models import InboundMessage, Integration
from notifications.models import Notification
from tests.factories import IncidentFactory, IntegrationFactory

pytestmark = pytest.mark.django_db

N = 5  # rows in the first count; the second has 3N

# Queries per request today plus 2, for a page that gains a panel: the point is a bound
# that does not move with the number of rows. Today, signed in (session and user are 2
# of them): Inbound Log 4, its poll 3, an inbound row 3, Outbox 3, incident page 6 (one
# more once its timeline is long enough to be cut in two reads).
MAX_INBOUND_LIST = 6
MAX_INBOUND_POLL = 5
MAX_INBOUND_DETAIL = 5
MAX_OUTBOX = 5
MAX_INCIDENT_DETAIL = 8

MaxQueries = Callable[[int], AbstractContextManager[Any]]
_serial = count(1)


def request_queries(client: Client, url: str, *, htmx: bool = False) -> tuple[int, str]:
    """(SQL queries, HTML) of one GET that must answer 200."""
    headers = {"HX-Request": "true"} if htmx else {}
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, headers=headers)
    assert response.status_code == 200, url
    return len(ctx.captured_queries), response.content.decode()


def assert_flat(
    client: Client,
    url: Callable[[], str],
    grow: Callable[[int], object],
    shown: Callable[[str], int],
    bound: int,
    max_queries: MaxQueries,
    *,
    htmx: bool = False,
) -> int:
    """N rows, count; 2N more, count again under ``bound``: equal counts, and the page
    shows every row each time (so the test cannot pass on an empty page)."""
    grow(N)
    client.get(url(), headers={"HX-Request": "true"} if htmx else {})  # warm the session
    few, html = request_queries(client, url(), htmx=htmx)
    assert shown(html) == N
    grow(2 * N)
    with max_queries(bound):
        many, html = request_queries(client, url(), htmx=htmx)
    assert shown(html) == 3 * N
    assert many == few, f"{url()}: {few} queries for {N} rows, {many} for {3 * N}"
    return many


# ------------------------------------------------------------------------ builders


def new_user() -> User:
    """A person to page (no password: hashing one per row would be most of the test)."""
    n = next(_serial)
    return User.objects.create(username=f"person{n}", email=f"person{n}@example.com")


def new_incident(**fields: Any) -> Incident:
    incident: Incident = IncidentFactory(integration=IntegrationFactory(), **fields)
    return incident


def add_inbound(rows: int, *, outcome: str = "appended") -> list[InboundMessage]:
    """Inbound Log rows as the log holds them: an SNS message for its own integration
    and incident (with its timeline line), then a Twilio callback with no integration."""
    made = []
    now = timezone.now()
    for i in range(rows):
        n = next(_serial)
        if i % 2 == 0:
            incident = new_incident()
            event = IncidentEvent.objects.create(
                incident=incident, kind="appended", at=now, via="source", message="ALARM"
            )
            row = InboundMessage(
                source=InboundMessage.Source.SNS,
                integration=incident.integration,
                incident=incident,
                event=event,
                message_type="Notification",
                message_id=f"mid-{n}",
                applied_message_id=f"mid-{n}",
                topic_arn="arn:aws:sns:eu-west-1:111122223333:alarms",
            )
        else:
            row = InboundMessage(
                source=InboundMessage.Source.TWILIO,
                integration=None,
                incident=new_incident(),
                message_type="Status callback",
                message_id=f"SM{n:032d}",
            )
        row.outcome = outcome
        row.received_at = now
        row.headers = {"Content-Type": "text/plain; charset=UTF-8", "X-Request": str(n)}
        row.body = '{"Type": "Notification", "Message": "' + "x" * 1500 + '"}'
        row.body_size = len(row.body)
        row.source_ip = "54.240.197.1"
        row.save()
        made.append(row)
    return made


def inbound_rows(html: str) -> int:
    return len(re.findall(r'href="/integrations/inbound-log/\d+/"', html))


# ------------------------------------------------------------------------ Inbound Log


def test_inbound_log_queries_do_not_grow(
    signed_in: Client, django_assert_max_num_queries: MaxQueries
) -> None:
    assert_flat(
        signed_in,
        lambda: "/integrations/inbound-log/",
        lambda rows: add_inbound(rows),
        inbound_rows,
        MAX_INBOUND_LIST,
        django_assert_max_num_queries,
    )


@pytest.mark.parametrize("query", ["outcome=rejected", "before=999999999"])
def test_filtered_and_older_inbound_log_queries_do_not_grow(
    signed_in: Client, django_assert_max_num_queries: MaxQueries, query: str
) -> None:
    assert_flat(
        signed_in,
        lambda: f"/integrations/inbound-log/?{query}",
        lambda rows: add_inbound(rows, outcome="rejected"),
        inbound_rows,
        MAX_INBOUND_LIST,
        django_assert_max_num_queries,
    )


def test_inbound_log_for_one_integration_queries_do_not_grow(
    signed_in: Client, django_assert_max_num_queries: MaxQueries
) -> None:
    integration = IntegrationFactory()

    def grow(rows: int) -> None:
        for row in add_inbound(rows * 2)[::2]:  # the SNS ones, moved to one integration
            InboundMessage.objects.filter(pk=row.pk).update(integration=integration)

    assert_flat(
        signed_in,
        lambda: f"/integrations/inbound-log/?integration={integration.pk}",
        grow,
        inbound_rows,
        MAX_INBOUND_LIST,
        django_assert_max_num_queries,
    )


def test_inbound_log_poll_queries_do_not_grow(
    signed_in: Client, django_assert_max_num_queries: MaxQueries
) -> None:
    """The htmx poll that brings new rows in: everything after the newest shown row."""
    before = add_inbound(1)[0].pk
    # Rows older than the one the page showed, inside the look-back window, would come
    # back as "late" rows: say that the page showed them all.
    shown = ",".join(str(pk) for pk in range(max(1, before - 199), before + 1))
    assert_flat(
        signed_in,
        lambda: f"/integrations/inbound-log/?after={before}&shown={shown}",
        lambda rows: add_inbound(rows),
        inbound_rows,
        MAX_INBOUND_POLL,
        django_assert_max_num_queries,
        htmx=True,
    )


def test_inbound_detail_queries_do_not_grow(
    signed_in: Client, django_assert_max_num_queries: MaxQueries
) -> None:
    """The newest row's page, with N and then 3N rows in the log."""
    assert_flat(
        signed_in,
        lambda: f"/integrations/inbound-log/{InboundMessage.objects.order_by('-id')[0].pk}/",
        lambda rows: add_inbound(rows),
        lambda html: InboundMessage.objects.count() if "Inbound message #" in html else 0,
        MAX_INBOUND_DETAIL,
        django_assert_max_num_queries,
    )


def test_inbound_detail_of_a_twilio_row_and_a_deleted_integration(
    signed_in: Client, django_assert_max_num_queries: MaxQueries
) -> None:
    """Rows without an integration (Twilio, or the integration deleted) render too."""
    twilio, sns = add_inbound(2)[::-1]
    assert sns.integration_id is not None
    Integration.objects.filter(pk=sns.integration_id).delete()
    for row in (twilio, sns):
        with django_assert_max_num_queries(MAX_INBOUND_DETAIL):
            _, html = request_queries(signed_in, f"/integrations/inbound-log/{row.pk}/")
        assert "Twilio webhook" in html or "(deleted)" in html


# ------------------------------------------------------------------------ Outbox


def add_notifications(rows: int) -> None:
    """Pages to different people about different incidents, over every channel."""
    now = timezone.now()
    channels = ("sms", "voice", "email")
    for i in range(rows):
        n = next(_serial)
        user = new_user()
        Notification.objects.create(
            incident=new_incident() if i % 3 else None,
            user=user,
            purpose="triggered" if i % 3 else "test",
            channel=channels[i % 3],
            destination=user.email if i % 3 == 2 else f"+1500555{n:04d}",
            subject="Klaxon",
            body="Klaxon #1 TRIGGERED: a body the list never shows " * 20,
            status=("delivered", "failed", "queued")[i % 3],
            error="Unreachable destination handset" if i % 3 == 1 else "",
            due_at=now - timedelta(seconds=n),
        )


def outbox_rows(html: str) -> int:
    return len(re.findall(r'href="/notifications/outbox/\d+/"', html))


def test_outbox_queries_do_not_grow(
    signed_in: Client, django_assert_max_num_queries: MaxQueries
) -> None:
    assert_flat(
        signed_in,
        lambda: "/notifications/outbox/",
        add_notifications,
        outbox_rows,
        MAX_OUTBOX,
        django_assert_max_num_queries,
    )


# ------------------------------------------------------------------------ Incident page


@pytest.fixture
def big_incident() -> Iterator[Incident]:
    yield new_incident(state="acknowledged")


def grow_incident(incident: Incident, rows: int) -> None:
    """Timeline lines of every kind (each alarm with its inbound row, people as actors)
    and pages to different people."""
    now = timezone.now()
    kinds = ("appended", "note", "notified", "escalated", "acknowledged")
    for i in range(rows):
        n = next(_serial)
        kind = kinds[i % len(kinds)]
        user = new_user()
        event = IncidentEvent.objects.create(
            incident=incident,
            kind=kind,
            at=now + timedelta(seconds=n),
            via="source" if kind == "appended" else "web",
            message=f"line {n}",
            actor=user if kind in ("note", "acknowledged") else None,
            data={"status": "delivered"} if kind == "notified" else {},
        )
        if kind == "appended":
            InboundMessage.objects.create(
                integration=incident.integration,
                incident=incident,
                event=event,
                received_at=now,
                message_type="Notification",
                outcome="appended",
                body="x" * 2000,
                headers={"X-Amz-Sns-Message-Id": str(n)},
            )
        Notification.objects.create(
            incident=incident,
            user=user,
            purpose="triggered",
            channel=("sms", "voice", "email")[i % 3],
            destination=f"+1500555{n:04d}",
            body="not shown " * 50,
            status="delivered",
            due_at=now,
        )


def test_incident_detail_queries_do_not_grow(
    signed_in: Client, django_assert_max_num_queries: MaxQueries, big_incident: Incident
) -> None:
    def shown(html: str) -> int:
        lines = len(re.findall(r"line \d+", html))
        pages = len(re.findall(r'href="/notifications/outbox/\d+/"', html))
        assert lines == pages, (lines, pages)
        return lines

    assert_flat(
        signed_in,
        lambda: f"/incidents/{big_incident.pk}/",
        lambda rows: grow_incident(big_incident, rows),
        shown,
        MAX_INCIDENT_DETAIL,
        django_assert_max_num_queries,
    )
