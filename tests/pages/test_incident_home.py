"""The responder's home and incident page as a responder uses them: tabs and rows, buttons
that act in place, bulk acknowledge, the live poll, who is on call, what an alarm said,
escalating now, and what a viewer may not do."""

from __future__ import annotations

import html
import json
import re
import time
import zoneinfo
from datetime import datetime, timedelta
from datetime import time as clock
from typing import Any

import pytest
from django.conf import LazySettings
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains
from rest_framework.authtoken.models import Token

from accounts.models import Membership, User
from escalation import engine
from escalation.models import EscalationPolicy, EscalationStep
from incidents import views
from incidents.models import Incident, IncidentEvent
from incidents.services import incident_acknowledge, incident_open
from notifications.models import Notification
from schedules.models import Layer, LayerMember, Override, Schedule
from tests.factories import IncidentFactory, IntegrationFactory, TeamFactory, UserFactory
from tests.helpers import ALARM, post_sns, text_of
from tests.sns_signing import signed_envelope

Via = IncidentEvent.Via

pytestmark = pytest.mark.django_db

LIST = reverse("incidents:list")
HTMX = {"HX-Request": "true"}


# ----------------------------------------------------------------------------- helpers


def incident_ids(content: bytes | str) -> list[int]:
    """Incidents listed on a page or fragment, in the order shown."""
    page = content.decode() if isinstance(content, bytes) else content
    return [
        int(pk) for pk in re.findall(r'<a id="incident-link-(\d+)" href="/incidents/\1/">', page)
    ]


def poll_url(content: bytes) -> str:
    """The URL the list polls (from its poller element), HTML entities decoded."""
    match = re.search(r'<span id="incident-poller"[^>]*hx-get="([^"]+)"', content.decode())
    assert match, "no poller on the page"
    return html.unescape(match.group(1))


def row_html(content: bytes, incident: Incident) -> str:
    match = re.search(rf'<tr id="incident-{incident.pk}".*?</tr>', content.decode(), flags=re.S)
    assert match, f"no row for incident #{incident.pk}"
    return match.group(0)


def signed_in_as(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def make_schedule(name: str, users: list[User], zone: str = "UTC") -> Schedule:
    """A daily rotation (09:00 handoff) that started ten days ago."""
    schedule = Schedule.objects.create(name=name, time_zone=zone)
    today = timezone.now().astimezone(zoneinfo.ZoneInfo(zone)).date()
    layer = Layer.objects.create(
        schedule=schedule, name="Rota", start=today - timedelta(days=10),
        turn=Layer.Turn.DAILY, handoff_time=clock(9),
    )  # fmt: skip
    for position, user in enumerate(users):
        LayerMember.objects.create(layer=layer, user=user, position=position)
    return schedule


@pytest.fixture
def viewer() -> Client:
    """Someone whose only membership is "viewer": reads everything, acts on nothing."""
    user = UserFactory(username="vera")
    Membership.objects.create(team=TeamFactory(), user=user, role=Membership.Role.VIEWER)
    return signed_in_as(user)


@pytest.fixture
def incidents() -> dict[str, Incident]:
    """Two triggered, one acknowledged and one resolved incident (oldest first)."""
    integration = IntegrationFactory(name="Prod alarms")
    now = timezone.now()
    return {
        name: IncidentFactory(
            integration=integration,
            state=state,
            title=name,
            created_at=now - timedelta(minutes=40 - n * 10),
        )  # fmt: skip
        for n, (name, state) in enumerate(
            [
                ("old resolved", "resolved"),
                ("acked", "acknowledged"),
                ("older triggered", "triggered"),
                ("newest triggered", "triggered"),
            ]
        )  # fmt: skip
    }


# ------------------------------------------------------------------------ tabs and rows


def test_tabs_show_the_count_of_each_state_and_the_title_the_triggered_count(
    signed_in: Client, incidents: dict[str, Incident]
) -> None:
    response = signed_in.get(LIST)

    page = text_of(response)
    for label in ("Open (3)", "Triggered (2)", "Acknowledged (1)", "Resolved (1)", "All (4)"):
        assert label in page
    assertContains(response, "<title>(2) Incidents · Klaxon</title>", html=True)
    assertContains(response, '<a id="tab-open" href="?state=open" aria-current="page">')


def test_title_has_no_count_when_nothing_is_triggered(signed_in: Client) -> None:
    IncidentFactory(state="acknowledged")

    assertContains(signed_in.get(LIST), "<title>Incidents · Klaxon</title>", html=True)


def test_rows_are_newest_first_with_number_integration_age_and_assignee(
    signed_in: Client, incidents: dict[str, Incident]
) -> None:
    newest = incidents["newest triggered"]
    Incident.objects.filter(pk=newest.pk).update(
        escalation_targets=[{"id": 1, "name": "alice"}, {"id": 2, "name": "bob"}]
    )

    response = signed_in.get(LIST, {"state": "triggered"})

    assert incident_ids(response.content) == [newest.pk, incidents["older triggered"].pk]
    row = row_html(response.content, newest)
    assert f"#{newest.pk}" in row
    assert "Prod alarms" in row
    assert re.search(r'<time datetime="[^"]+" title="[^"]+">10 min</time>', row)
    assert "alice, bob" in row
    older = row_html(response.content, incidents["older triggered"])
    assert (
        '<td class="assigned" data-label="Assigned to"><span class="muted">—</span></td>' in older
    )
    assert "20 min" in older


def test_the_list_filters_by_integration_and_team(signed_in: Client) -> None:
    team = TeamFactory(name="Payments")
    payments = IntegrationFactory(name="Payments alarms", team=team)
    mine = IncidentFactory(integration=payments)
    other = IncidentFactory()

    by_integration = signed_in.get(LIST, {"integration": payments.pk})
    by_team = signed_in.get(LIST, {"team": team.pk})
    everything = signed_in.get(LIST)

    assert incident_ids(by_integration.content) == [mine.pk]
    assert incident_ids(by_team.content) == [mine.pk]
    assert incident_ids(everything.content) == [other.pk, mine.pk]
    assert "Triggered (1)" in text_of(by_team)


def test_an_empty_tab_says_so_plainly(signed_in: Client) -> None:
    IncidentFactory(state="resolved")

    assertContains(signed_in.get(LIST, {"state": "triggered"}), "Nothing triggered")
    assertContains(signed_in.get(LIST, {"integration": "12345"}), "No incidents match this filter")


def test_older_pages_are_keyset_pages_by_id(signed_in: Client) -> None:
    integration = IntegrationFactory()
    made = [IncidentFactory(integration=integration) for _ in range(120)]
    IncidentFactory(integration=integration, state="resolved")  # not on the triggered tab
    newest_first = [i.pk for i in reversed(made)]

    first = signed_in.get(LIST, {"state": "triggered"})
    before = newest_first[49]
    assertContains(first, f'href="?state=triggered&amp;before={before}">Older</a>')
    second = signed_in.get(LIST, {"state": "triggered", "before": before})
    third = signed_in.get(LIST, {"state": "triggered", "before": newest_first[99]})

    assert incident_ids(first.content) == newest_first[:50]
    assert incident_ids(second.content) == newest_first[50:100]
    assert incident_ids(third.content) == newest_first[100:]
    assertNotContains(third, "Older</a>")
    assertContains(third, 'href="?state=triggered">Newest</a>')


def test_a_new_incident_does_not_shift_an_older_page(signed_in: Client) -> None:
    made = [IncidentFactory() for _ in range(60)]
    before = made[10].pk

    ids = incident_ids(signed_in.get(LIST, {"before": before}).content)
    IncidentFactory()

    assert incident_ids(signed_in.get(LIST, {"before": before}).content) == ids
    assert ids == [i.pk for i in reversed(made[:10])]


# ------------------------------------------------------------ buttons that act in place


def test_acknowledge_with_htmx_returns_the_row_in_its_new_state(
    signed_in: Client, user: User, incidents: dict[str, Incident]
) -> None:
    incident = incidents["newest triggered"]
    page = signed_in.get(LIST)
    url = reverse("incidents:acknowledge", args=[incident.pk])
    assert f'hx-post="{url}" hx-target="#incident-{incident.pk}" hx-swap="outerHTML"' in row_html(
        page.content, incident
    )

    response = signed_in.post(url, {"next": "/incidents/?state=open"}, headers=HTMX)

    assert response.status_code == 200
    body = response.content.decode().strip()
    assert body.startswith(f'<tr id="incident-{incident.pk}" class="row state-acknowledged">')
    assert '<span class="badge acknowledged">Acknowledged</span>' in body
    assert "Acknowledge</button>" not in body and "Resolve</button>" in body
    # The list then refreshes its tabs and title at once.
    assert json.loads(response["HX-Trigger"]) == {"incidents-changed": {}}
    incident.refresh_from_db()
    assert (incident.state, incident.acknowledged_by) == ("acknowledged", user)
    event = incident.events.get(kind=IncidentEvent.Kind.ACKNOWLEDGED)
    assert (event.via, event.actor) == ("web", user)


def test_resolve_with_htmx_returns_the_row_without_buttons(
    signed_in: Client, incidents: dict[str, Incident]
) -> None:
    incident = incidents["acked"]

    response = signed_in.post(reverse("incidents:resolve", args=[incident.pk]), headers=HTMX)

    body = response.content.decode()
    assert '<span class="badge resolved">Resolved</span>' in body
    assert "</button>" not in body
    incident.refresh_from_db()
    assert incident.state == "resolved"
    assert incident.events.get(kind="resolved").via == "web"


def test_without_javascript_the_row_buttons_post_and_come_back(
    signed_in: Client, incidents: dict[str, Incident]
) -> None:
    incident = incidents["newest triggered"]
    row = row_html(signed_in.get(LIST, {"state": "triggered"}).content, incident)
    assert '<input type="hidden" name="next" value="/incidents/?state=triggered">' in row
    assert f'<form method="post" action="/incidents/{incident.pk}/acknowledge/"' in row

    response = signed_in.post(
        reverse("incidents:acknowledge", args=[incident.pk]),
        {"next": "/incidents/?state=triggered"},
    )

    assert (response.status_code, response["Location"]) == (302, "/incidents/?state=triggered")
    page = signed_in.get(response["Location"])
    assertContains(page, f"Incident #{incident.pk} is acknowledged.")
    assert incident.pk not in incident_ids(page.content)


def test_bulk_acknowledge_acknowledges_the_ticked_incidents(signed_in: Client, user: User) -> None:
    ticked = [IncidentFactory() for _ in range(3)]
    left_alone = IncidentFactory()
    page = signed_in.get(LIST)
    for incident in ticked:
        assert (
            f'<input type="checkbox" id="pick-{incident.pk}" name="incident" '
            f'value="{incident.pk}" form="bulk-ack" hx-preserve' in page.content.decode()
        )

    response = signed_in.post(
        reverse("incidents:bulk-acknowledge"),
        {"incident": [i.pk for i in ticked], "state": "triggered"},
        headers=HTMX,
    )

    assert response.status_code == 200
    assertContains(
        response, '<p class="board-status success" role="status">Acknowledged 3 incidents.</p>'
    )
    # The refreshed list: the triggered tab now holds only the one left alone.
    assert incident_ids(response.content) == [left_alone.pk]
    assertContains(response, "<title>(1) Incidents · Klaxon</title>")
    for incident in ticked:
        incident.refresh_from_db()
        assert (incident.state, incident.acknowledged_by) == ("acknowledged", user)
        assert incident.events.get().via == "web"
    left_alone.refresh_from_db()
    assert left_alone.state == "triggered"


def test_bulk_acknowledge_without_javascript_reports_what_changed(signed_in: Client) -> None:
    triggered = IncidentFactory()
    already = IncidentFactory(state="acknowledged")

    response = signed_in.post(
        reverse("incidents:bulk-acknowledge"),
        {"incident": [triggered.pk, already.pk, "junk"], "next": "/incidents/?state=all"},
        follow=True,
    )

    assert response.redirect_chain == [("/incidents/?state=all", 302)]
    assertContains(response, "Acknowledged 1 incident; 1 was no longer triggered.")
    triggered.refresh_from_db()
    assert triggered.state == "acknowledged"


def test_bulk_acknowledge_is_capped(signed_in: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(views, "BULK_LIMIT", 2)
    made = [IncidentFactory() for _ in range(3)]

    response = signed_in.post(
        reverse("incidents:bulk-acknowledge"), {"incident": [i.pk for i in made]}, headers=HTMX
    )

    assertContains(response, "Acknowledged 2 incidents. Only 2 can be acknowledged at once")
    assert Incident.objects.filter(state="acknowledged").count() == 2


def test_bulk_acknowledge_with_nothing_ticked_says_so(signed_in: Client) -> None:
    IncidentFactory()

    response = signed_in.post(reverse("incidents:bulk-acknowledge"), {}, headers=HTMX)

    assertContains(
        response,
        '<p class="board-status error" role="alert">'
        "Tick at least one incident to acknowledge.</p>",
    )
    assert not Incident.objects.filter(state="acknowledged").exists()


# ---------------------------------------------------------------------------- live poll


def test_poll_answers_204_while_nothing_changed(signed_in: Client) -> None:
    IncidentFactory()
    url = poll_url(signed_in.get(LIST).content)

    response = signed_in.get(url, headers=HTMX)

    assert response.status_code == 204
    assert response.content == b""


def test_poll_brings_a_new_incident_and_the_title_count(signed_in: Client) -> None:
    integration = IntegrationFactory(name="Prod alarms")
    first = incident_open(integration=integration, dedup_key="a", title="Disk full").incident_id
    url = poll_url(signed_in.get(LIST).content)

    second = incident_open(integration=integration, dedup_key="b", title="CPU high").incident_id
    response = signed_in.get(url, headers=HTMX)

    assert response.status_code == 200
    body = response.content.decode()
    assert body.startswith("<title>(2) Incidents · Klaxon</title>")
    assert incident_ids(body) == [second, first]
    assert "Triggered (2)" in text_of(response)
    # The new poller asks about changes after this state: nothing more, so 204.
    assert signed_in.get(poll_url(response.content), headers=HTMX).status_code == 204


def test_poll_shows_a_state_change_made_elsewhere(signed_in: Client) -> None:
    integration = IntegrationFactory()
    opened = incident_open(integration=integration, dedup_key="a", title="Disk full")
    assert opened.incident_id is not None
    url = poll_url(signed_in.get(LIST, {"state": "triggered"}).content)

    incident_acknowledge(
        incident_id=opened.incident_id, user=UserFactory(username="bob"), via=Via.SMS
    )
    response = signed_in.get(url, headers=HTMX)

    assert response.status_code == 200
    assert incident_ids(response.content) == []
    assert "Triggered (0)" in text_of(response)
    assert response.content.decode().startswith("<title>Incidents · Klaxon</title>")


def test_poll_refreshes_ages_once_a_minute_even_without_changes(signed_in: Client) -> None:
    IncidentFactory()
    url = poll_url(signed_in.get(LIST).content)
    stale = re.sub(r"t=\d+", f"t={int(time.time()) - views.REFRESH_SECONDS - 1}", url)

    assert signed_in.get(stale, headers=HTMX).status_code == 200
    assert signed_in.get(url, headers=HTMX).status_code == 204


def test_the_poller_asks_every_four_seconds_for_the_same_view(signed_in: Client) -> None:
    integration = IntegrationFactory()
    IncidentFactory(integration=integration)

    response = signed_in.get(LIST, {"state": "triggered", "integration": integration.pk})

    assertContains(response, 'hx-trigger="every 4s, incidents-changed from:body"')
    url = poll_url(response.content)
    assert url.startswith(f"/incidents/?state=triggered&integration={integration.pk}&v=")


# -------------------------------------------------------------------------- on call now


def test_on_call_panel_shows_each_schedule_and_my_next_shifts(
    signed_in: Client, user: User
) -> None:
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    make_schedule("Platform", [alice, bob])
    make_schedule("Empty rota", [])
    override_start = timezone.now() + timedelta(days=2)
    mine = make_schedule("Databases", [alice])
    Override.objects.create(
        schedule=mine, user=user, start=override_start, end=override_start + timedelta(hours=6)
    )

    response = signed_in.get(LIST)

    page = text_of(response)
    panel = page.split("On call now", 1)[1].split("My next shifts", 1)[0]
    assert re.search(r"Platform : (alice|bob) until \w{3} \d+ \w{3} 09:00 UTC", panel)
    assert "Empty rota : No one on call" in panel
    start = override_start.astimezone(zoneinfo.ZoneInfo("UTC"))
    assert f"Databases : alice until {start:%a} {start.day} {start:%b %H:%M} UTC" in panel
    shifts = page.split("My next shifts", 1)[1]
    assert f"{start:%a} {start.day} {start:%b %H:%M}" in shifts
    assert "UTC · Databases" in shifts
    assert "You have no on-call shifts" not in shifts


def test_my_next_shifts_says_when_there_are_none(signed_in: Client) -> None:
    make_schedule("Platform", [UserFactory(username="alice")])

    response = signed_in.get(LIST)

    assertContains(response, "You have no on-call shifts in the next 14 days.")


def test_a_shift_in_progress_shows_as_now(signed_in: Client, user: User) -> None:
    schedule = make_schedule("Platform", [UserFactory(username="alice")])
    now = timezone.now()
    end = (now + timedelta(hours=3)).astimezone(zoneinfo.ZoneInfo("UTC"))
    Override.objects.create(schedule=schedule, user=user, start=now - timedelta(hours=1), end=end)

    page = text_of(signed_in.get(LIST))

    assert f"Platform : responder until {end:%a} {end.day} {end:%b %H:%M} UTC" in page
    assert f"My next shifts Now , until {end:%a} {end.day} {end:%b %H:%M} UTC · Platform" in page


# --------------------------------------------------------------------- the incident page


def test_incident_page_lays_out_a_cloudwatch_alarm_for_a_human(
    signed_in: Client, settings: LazySettings
) -> None:
    settings.SNS_VERIFY_SIGNATURES = False
    integration = IntegrationFactory(name="Security")
    assert (
        post_sns(signed_in, integration.inbound_path, signed_envelope(message=ALARM)).status_code
        == 200
    )
    incident = Incident.objects.get()

    response = signed_in.get(incident.get_absolute_url())

    page = text_of(response)
    what = page.split("What happened", 1)[1].split("Pages", 1)[0]
    assert "Metric ConsoleSigninFailureCount (CloudTrailMetrics) Sum over 5 min" in what
    assert "Threshold ≥ 3 (greater than or equal to 3, 1 of the last 1 period of 5 min)" in what
    assert "Reason Threshold Crossed: 1 out of the last 1 datapoints [4.0" in what
    assert "Alarm state OK → ALARM at 2026-11-21 03:15:12 UTC" in what
    assert "Account 111122223333" in what
    assert "Region EU (Ireland) (eu-west-1)" in what
    assertContains(
        response,
        '<a href="https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1'
        '#alarmsV2:alarm/ConsoleSignInFailures" rel="noopener noreferrer" target="_blank">',
    )


def test_an_incident_not_from_cloudwatch_shows_its_raw_details(signed_in: Client) -> None:
    incident = IncidentFactory(details={"service": "checkout", "latency_ms": 912})

    response = signed_in.get(incident.get_absolute_url())

    assertContains(response, '<details class="raw-details" open>')
    assertContains(response, "&quot;latency_ms&quot;: 912")
    assertNotContains(response, "AWS console")


def test_timeline_kinds_are_told_apart(signed_in: Client) -> None:
    incident = IncidentFactory()
    responder = UserFactory(username="ruth")
    now = timezone.now()
    lines: list[tuple[str, str, dict[str, Any], User | None]] = [
        ("triggered", "source", {}, None),
        ("appended", "source", {}, None),
        ("escalated", "escalation", {"step": 0}, None),
        ("notified", "sms", {"status": "delivered", "notification_id": 1}, None),
        ("notified", "voice", {"status": "failed", "notification_id": 2}, None),
        ("acknowledged", "sms", {}, responder),
        ("note", "web", {}, responder),
        ("resolved", "web", {}, responder),
        ("escalated", "escalation", {"finished": True}, None),
    ]
    for n, (kind, channel, data, actor) in enumerate(lines):
        IncidentEvent.objects.create(
            incident=incident, kind=kind, via=channel, data=data, actor=actor,
            at=now + timedelta(seconds=n), message=f"line {n}",
        )  # fmt: skip

    response = signed_in.get(incident.get_absolute_url())

    classes = re.findall(r'<li class="(ev [^"]+)">', response.content.decode())
    assert classes == [
        "ev ev-triggered", "ev ev-appended", "ev ev-escalated", "ev ev-notified ev-delivered",
        "ev ev-notified ev-failed", "ev ev-acknowledged", "ev ev-note", "ev ev-resolved",
        "ev ev-escalated",
    ]  # fmt: skip
    timeline = text_of(response).split("Timeline", 1)[1]
    assert re.search(r"Acknowledged \S+ \S+ · sms · ruth via SMS reply", timeline)
    assert re.search(r"Resolved \S+ \S+ · web · ruth via the dashboard", timeline)
    assert re.search(r"Notification \S+ \S+ · sms Delivered line 3", timeline)
    assert re.search(r"Notification \S+ \S+ · voice Failed line 4", timeline)
    assert "Escalation finished" in timeline


def test_incident_page_keeps_the_pages_table(signed_in: Client) -> None:
    incident = IncidentFactory()
    Notification.objects.create(
        incident=incident, user=UserFactory(username="pat"), purpose="triggered", channel="sms",
        destination="+15005550006", due_at=timezone.now(), status="delivered",
    )  # fmt: skip

    response = signed_in.get(incident.get_absolute_url())

    assert "pat SMS +15005550006" in text_of(response).split("Pages", 1)[1]
    assertContains(response, '<span class="badge long notify-delivered">Delivered</span>')


# ----------------------------------------------------------------------- escalate now


@pytest.fixture
def escalating(signed_in: Client) -> Incident:
    """A triggered incident whose step 1 (bob) ran; step 2 (carol) is due in 10 minutes."""
    bob, carol = UserFactory(username="bob"), UserFactory(username="carol")
    policy = EscalationPolicy.objects.create(name="Platform")
    for position, (who, delay) in enumerate([(bob, 10), (carol, 10)]):
        step = EscalationStep.objects.create(policy=policy, position=position, delay_minutes=delay)
        step.users.set([who])
    now = timezone.now()
    incident = IncidentFactory(
        integration=IntegrationFactory(escalation_policy=policy),
        next_escalation_at=now,
        escalation_token=engine.new_escalation_token(),
    )
    engine.escalation_run_step(incident_id=incident.pk, token=incident.escalation_token, now=now)
    incident.refresh_from_db()
    assert incident.escalation_targets == [{"id": bob.pk, "name": "bob"}]
    assert incident.next_escalation_at == now + timedelta(minutes=10)
    return incident


def test_escalate_now_runs_the_next_step_at_once(
    signed_in: Client, escalating: Incident, django_capture_on_commit_callbacks: Any
) -> None:
    page = signed_in.get(escalating.get_absolute_url())
    assertContains(page, "Escalate now</button>")
    before = timezone.now()

    with django_capture_on_commit_callbacks() as queued:
        response = signed_in.post(reverse("incidents:escalate", args=[escalating.pk]))

    escalating.refresh_from_db()
    assert escalating.next_escalation_at is not None
    assert before <= escalating.next_escalation_at <= timezone.now()
    assert response.status_code == 302
    for callback in queued:  # what the broker would run after the commit
        callback()
    escalating.refresh_from_db()
    assert [t["name"] for t in escalating.escalation_targets] == ["carol"]
    page = signed_in.get(escalating.get_absolute_url())
    assertContains(page, f"Escalating incident #{escalating.pk} now")
    assert "Step 2 of 2" in text_of(page)
    assert "assigned to carol" in text_of(page)


def test_escalate_now_with_nothing_left_says_why(signed_in: Client) -> None:
    incident = IncidentFactory()  # its integration has no policy

    response = signed_in.post(reverse("incidents:escalate", args=[incident.pk]), follow=True)

    assertContains(response, "its integration has no escalation policy")
    assertNotContains(response, "Escalate now</button>")
    acked = IncidentFactory(state="acknowledged")
    response = signed_in.post(reverse("incidents:escalate", args=[acked.pk]), follow=True)
    assertContains(response, "escalation only runs while an incident is triggered")


# -------------------------------------------------------------------------- viewers


@pytest.mark.parametrize("action", ["acknowledge", "resolve", "escalate", "note"])
def test_a_viewer_cannot_act_on_an_incident_page(viewer: Client, action: str) -> None:
    incident = IncidentFactory(next_escalation_at=timezone.now() + timedelta(minutes=5))

    response = viewer.post(reverse(f"incidents:{action}", args=[incident.pk]), {"text": "hi"})

    assert response.status_code == 403
    assertContains(
        response, "This needs a responder or an admin; you are a viewer.", status_code=403
    )
    incident.refresh_from_db()
    assert incident.state == "triggered"
    assert incident.next_escalation_at is not None and incident.next_escalation_at > timezone.now()
    assert not incident.events.exists()


def test_a_viewer_cannot_bulk_acknowledge(viewer: Client) -> None:
    incident = IncidentFactory()

    response = viewer.post(reverse("incidents:bulk-acknowledge"), {"incident": [incident.pk]})

    assert response.status_code == 403
    incident.refresh_from_db()
    assert incident.state == "triggered"


def test_a_viewer_sees_no_buttons(viewer: Client) -> None:
    incident = IncidentFactory(next_escalation_at=timezone.now() + timedelta(minutes=5))

    listing = viewer.get(LIST)
    page = viewer.get(incident.get_absolute_url())

    assert incident_ids(listing.content) == [incident.pk]
    for response in (listing, page):
        html_text = response.content.decode().split("<main", 1)[1]
        assert "Acknowledge</button>" not in html_text
        assert "Resolve</button>" not in html_text
        assert "Escalate now" not in html_text
        assert '<input type="checkbox"' not in html_text
        assert 'id="note"' not in html_text
    assertContains(listing, "needs the responder role")
    assertContains(page, "need the responder role")


@pytest.fixture
def viewer_api() -> Client:
    user = UserFactory(username="vic")
    Membership.objects.create(team=TeamFactory(), user=user, role=Membership.Role.VIEWER)
    key = Token.objects.create(user=user).key
    return Client(headers={"Authorization": f"Token {key}"})


@pytest.fixture
def api(user: User) -> Client:
    key = Token.objects.create(user=user).key
    return Client(headers={"Authorization": f"Token {key}"})


@pytest.mark.parametrize("action", ["acknowledge", "resolve", "escalate"])
def test_a_viewer_cannot_act_over_the_api(viewer_api: Client, action: str) -> None:
    incident = IncidentFactory(next_escalation_at=timezone.now() + timedelta(minutes=5))

    response = viewer_api.post(f"/api/v1/incidents/{incident.pk}/{action}/")

    assert response.status_code == 403
    assert response.json() == {"detail": "Only a responder or an admin can do this; viewers read."}
    incident.refresh_from_db()
    assert incident.state == "triggered"
    assert viewer_api.get(f"/api/v1/incidents/{incident.pk}/").status_code == 200


def test_escalate_over_the_api(
    api: Client, escalating: Incident, django_capture_on_commit_callbacks: Any
) -> None:
    before = timezone.now()

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/v1/incidents/{escalating.pk}/escalate/")

    assert response.status_code == 200
    assert response.json()["id"] == escalating.pk
    escalating.refresh_from_db()
    assert [t["name"] for t in escalating.escalation_targets] == ["carol"]
    assert "Step 2 of 2" in escalating.events.filter(kind="escalated").last().message  # type: ignore[union-attr]
    assert escalating.next_escalation_at is not None and escalating.next_escalation_at >= before


def test_escalate_over_the_api_with_nothing_to_escalate_is_409(api: Client) -> None:
    incident = IncidentFactory(state="resolved")

    response = api.post(f"/api/v1/incidents/{incident.pk}/escalate/")

    assert response.status_code == 409
    assert "escalation only runs while an incident is triggered" in response.json()["detail"]
    assert api.post("/api/v1/incidents/999999/escalate/").status_code == 404


# ------------------------------------------------------------------------ query counts


def populate(integrations: list[Any], count: int, start: int = 0) -> None:
    """``count`` open incidents spread over ``integrations``, each assigned to someone."""
    for n in range(start, start + count):
        IncidentFactory(
            integration=integrations[n % len(integrations)],
            state=["triggered", "acknowledged"][n % 2],
            escalation_targets=[{"id": n, "name": f"user{n}"}],
        )


@pytest.fixture
def busy_home(user: User) -> list[Any]:
    """Three integrations (two unsubscribed, so banners show), teams, and schedules the
    signed-in user is on, so every part of the home page has rows to read."""
    team = TeamFactory()
    integrations = [
        IntegrationFactory(team=team, subscription_status=status)
        for status in ("unsubscribed", "unsubscribed", "confirmed")
    ]
    for n in range(3):
        make_schedule(f"Rota {n}", [user, UserFactory()])
    return integrations


def test_the_home_page_makes_the_same_few_queries_for_10_or_60_incidents(
    signed_in: Client, busy_home: list[Any], django_assert_max_num_queries: Any
) -> None:
    populate(busy_home, 10)
    with django_assert_max_num_queries(15) as ten:
        small = signed_in.get(LIST)
    populate(busy_home, 50, start=10)
    with django_assert_max_num_queries(15) as sixty:
        large = signed_in.get(LIST)

    assert len(incident_ids(small.content)) == 10
    assert len(incident_ids(large.content)) == 50
    assert "user59" in large.content.decode()
    assert large.content.decode().count('class="warning-banner"') == 2
    assert len(ten) == len(sixty), (len(ten), len(sixty))


def test_the_poll_makes_the_same_few_queries_for_10_or_60_incidents(
    signed_in: Client, busy_home: list[Any], django_assert_max_num_queries: Any
) -> None:
    populate(busy_home, 10)
    url = poll_url(signed_in.get(LIST).content)
    with django_assert_max_num_queries(3):
        assert signed_in.get(url, headers=HTMX).status_code == 204
    measured = []
    for more in (1, 50):
        populate(busy_home, more, start=100 + more)
        with django_assert_max_num_queries(7) as queries:
            response = signed_in.get(url, headers=HTMX)
        assert response.status_code == 200
        measured.append(len(queries))

    assert len(incident_ids(response.content)) == 50
    assert measured[0] == measured[1], measured


def test_timestamps_are_for_machines_and_people(signed_in: Client) -> None:
    created = datetime(2026, 11, 21, 3, 15, tzinfo=zoneinfo.ZoneInfo("UTC"))
    incident = IncidentFactory(created_at=created)

    row = row_html(signed_in.get(LIST).content, incident)

    assert '<time datetime="2026-11-21T03:15:00+00:00" title="2026-11-21 03:15:00 UTC">' in row
