"""The incident pages as a responder uses them: the list and its tabs, the timeline,
the acknowledge / resolve / note buttons, and what bad input does (never an error page)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.conf import LazySettings
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from incidents.models import Incident, IncidentEvent
from tests.factories import IncidentFactory, IntegrationFactory, UserFactory
from tests.helpers import ALARM, OK, post_sns, text_of
from tests.sns_signing import signed_envelope

pytestmark = pytest.mark.django_db

LIST = reverse("incidents:list")


def incident_ids(html: str) -> list[int]:
    """Incidents listed on a page, in the order shown (each title links to its page)."""
    return [
        int(pk) for pk in re.findall(r'<a id="incident-link-(\d+)" href="/incidents/\1/">', html)
    ]


def tab(html: str, state: str) -> str:
    """The label of one state tab, e.g. "Triggered (2)"; the current tab is marked."""
    match = re.search(
        rf'<a id="tab-{state}" href="\?state={state}"\s*(aria-current="page")?\s*>([^<]+)</a>',
        html,
    )
    assert match, f"no {state} tab"
    return match.group(2) + (" [current]" if match.group(1) else "")


@pytest.fixture
def incidents() -> dict[str, Incident]:
    """One incident in each state, opened a minute apart (oldest first)."""
    now = timezone.now()
    integration = IntegrationFactory(name="Prod alarms")
    made: dict[str, Incident] = {}
    for n, state in enumerate(["resolved", "acknowledged", "triggered"]):
        made[state] = IncidentFactory(
            integration=integration,
            state=state,
            title=f"{state.title()} alarm",
            created_at=now - timedelta(minutes=3 - n),
        )
    return made


# ---------------------------------------------------------------------------- the list


def test_incident_list_shows_open_incidents_newest_first_by_default(
    signed_in: Client, incidents: dict[str, Incident]
) -> None:
    newer = IncidentFactory(title="Newest alarm")

    html = signed_in.get(LIST).content.decode()

    assert incident_ids(html) == [
        newer.pk,
        incidents["triggered"].pk,
        incidents["acknowledged"].pk,
    ]
    assert "Resolved alarm" not in html
    assert tab(html, "open") == "Open (3) [current]"


def test_state_tabs_filter_the_list_and_show_counts(
    signed_in: Client, incidents: dict[str, Incident]
) -> None:
    IncidentFactory(state="triggered")

    pages = {state: signed_in.get(LIST, {"state": state}).content.decode() for state in
             ("triggered", "acknowledged", "resolved", "all")}  # fmt: skip

    triggered = [i.pk for i in Incident.objects.filter(state="triggered").order_by("-id")]
    assert incident_ids(pages["triggered"]) == triggered
    assert incident_ids(pages["acknowledged"]) == [incidents["acknowledged"].pk]
    assert incident_ids(pages["resolved"]) == [incidents["resolved"].pk]
    assert incident_ids(pages["all"]) == [i.pk for i in Incident.objects.order_by("-id")]
    html = pages["resolved"]
    assert tab(html, "open") == "Open (3)"
    assert tab(html, "triggered") == "Triggered (2)"
    assert tab(html, "acknowledged") == "Acknowledged (1)"
    assert tab(html, "resolved") == "Resolved (1) [current]"
    assert tab(html, "all") == "All (4)"
    assertContains(signed_in.get(LIST), "<title>(2) Incidents · Klaxon</title>", html=True)


@pytest.mark.parametrize(
    "query",
    [
        "?state=bogus",
        "?state=",
        "?before=abc",
        "?before=-1",
        "?integration=x",
        "?team=²",
        "?before=99999999999999999999999",
        "?state=all&before=0",
    ],
)
def test_bad_list_parameters_show_a_normal_page(
    signed_in: Client, incidents: dict[str, Incident], query: str
) -> None:
    response = signed_in.get(LIST + query)

    assert response.status_code == 200
    html = response.content.decode()
    if "state=all" not in query:
        assert tab(html, "open") == "Open (2) [current]"
        assert incident_ids(html) == [incidents["triggered"].pk, incidents["acknowledged"].pk]


def test_empty_open_tab_says_all_quiet(signed_in: Client) -> None:
    IncidentFactory(state="resolved")

    response = signed_in.get(LIST)

    assertContains(response, "All quiet: no open incidents.")


def test_incident_list_pages_back_through_older_incidents_by_id(signed_in: Client) -> None:
    integration = IntegrationFactory()
    made = [IncidentFactory(integration=integration) for _ in range(55)]
    newest_first = [i.pk for i in reversed(made)]

    first = signed_in.get(LIST).content.decode()
    older = re.search(r'<a class="button" id="page-older" href="\?([^"]+)">Older</a>', first)
    assert older is not None
    second = signed_in.get(LIST + "?" + older.group(1).replace("&amp;", "&")).content.decode()

    assert incident_ids(first) == newest_first[:50]
    assert older.group(1) == f"state=open&amp;before={newest_first[49]}"
    assert incident_ids(second) == newest_first[50:]
    assert 'id="page-older"' not in second
    assert 'id="page-newest" href="?state=open">Newest</a>' in second


# -------------------------------------------------------------------------- the detail


def test_timeline_shows_triggered_appended_acknowledged_and_resolved_with_channels(
    signed_in: Client, settings: LazySettings
) -> None:
    settings.SNS_VERIFY_SIGNATURES = False
    integration = IntegrationFactory(name="Prod alarms", security_mode=True)
    post_sns(signed_in, integration.inbound_path, signed_envelope(message=ALARM))
    post_sns(signed_in, integration.inbound_path, signed_envelope(message=ALARM))
    incident = Incident.objects.get()
    signed_in.post(reverse("incidents:acknowledge", args=[incident.pk]))
    post_sns(signed_in, integration.inbound_path, signed_envelope(message=OK))  # noted only
    signed_in.post(reverse("incidents:resolve", args=[incident.pk]))

    response = signed_in.get(incident.get_absolute_url())

    timeline = text_of(response).split("Timeline", 1)[1]
    shown = re.findall(
        r"(Triggered|Alarm appended|Acknowledged|Source reported OK|Resolved) "
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d · (\w+)",
        timeline,
    )
    assert shown == [
        ("Triggered", "source"),
        ("Alarm appended", "source"),
        ("Acknowledged", "web"),
        ("Source reported OK", "source"),
        ("Resolved", "web"),
    ]
    assert "Acknowledged by responder via web." in timeline
    assert "Resolved by responder via web." in timeline
    page = text_of(response)
    assert "ConsoleSignInFailures Resolved" in page
    assert "Integration Prod alarms" in page
    assert "Alarms 2 (last" in page
    triggered = incident.events.get(kind="triggered")
    assertContains(
        response,
        f'<a href="/integrations/inbound-log/{triggered.inbound_message.pk}/">'
        f"(inbound #{triggered.inbound_message.pk})</a>",
        html=True,
    )


def test_acknowledge_button_acknowledges_and_hides_itself(signed_in: Client) -> None:
    incident = IncidentFactory(title="Disk full")
    page = signed_in.get(incident.get_absolute_url())
    ack_url = reverse("incidents:acknowledge", args=[incident.pk])
    assertContains(page, f'<form method="post" action="{ack_url}">')

    response = signed_in.post(ack_url, follow=True)

    incident.refresh_from_db()
    assert incident.state == Incident.State.ACKNOWLEDGED
    assert incident.acknowledged_by is not None
    assert incident.acknowledged_by.username == "responder"
    event = incident.events.get(kind=IncidentEvent.Kind.ACKNOWLEDGED)
    assert (event.via, event.actor) == ("web", incident.acknowledged_by)
    assertContains(response, f"Incident #{incident.pk} is acknowledged.")
    assertNotContains(response, f'action="{ack_url}"')
    assertContains(response, "Resolve</button>")
    assert "Acknowledged " in text_of(response) and " by responder" in text_of(response)


def test_resolve_button_resolves_and_leaves_no_buttons(signed_in: Client) -> None:
    incident = IncidentFactory(title="Disk full")

    response = signed_in.post(reverse("incidents:resolve", args=[incident.pk]), follow=True)

    incident.refresh_from_db()
    assert incident.state == Incident.State.RESOLVED
    assert incident.events.get(kind="resolved").via == "web"
    assertContains(response, f"Incident #{incident.pk} is resolved.")
    assertNotContains(response, "Acknowledge</button>")
    assertNotContains(response, "Resolve</button>")


def test_pressing_acknowledge_twice_records_it_once(signed_in: Client) -> None:
    incident = IncidentFactory()
    url = reverse("incidents:acknowledge", args=[incident.pk])

    signed_in.post(url)
    signed_in.post(url)

    assert incident.events.filter(kind="acknowledged").count() == 1


def test_buttons_on_the_list_act_and_come_back_to_the_same_tab(signed_in: Client) -> None:
    incident = IncidentFactory()
    page = signed_in.get(LIST, {"state": "triggered"}).content.decode()
    assert '<input type="hidden" name="next" value="/incidents/?state=triggered">' in page

    response = signed_in.post(
        reverse("incidents:acknowledge", args=[incident.pk]),
        {"next": "/incidents/?state=triggered"},
    )

    incident.refresh_from_db()
    assert incident.state == Incident.State.ACKNOWLEDGED
    assert response.status_code == 302
    assert response["Location"] == "/incidents/?state=triggered"


@pytest.mark.parametrize(
    "target", ["https://evil.example/phish", "//evil.example/phish", "javascript:alert(1)"]
)
def test_buttons_never_send_you_to_another_site(signed_in: Client, target: str) -> None:
    incident = IncidentFactory()

    response = signed_in.post(reverse("incidents:resolve", args=[incident.pk]), {"next": target})

    assert response.status_code == 302
    assert response["Location"] == incident.get_absolute_url()


def test_a_note_appears_on_the_timeline_with_its_author(signed_in: Client) -> None:
    incident = IncidentFactory()

    response = signed_in.post(
        reverse("incidents:note", args=[incident.pk]),
        {"text": "  Restarted the <db>  "},
        follow=True,
    )

    note = incident.events.get(kind="note")
    assert (note.message, note.via) == ("Restarted the <db>", "web")
    assertContains(response, "Restarted the &lt;db&gt;")
    assert re.search(r"Note \d{4}-\d\d-\d\d \d\d:\d\d:\d\d · web · responder", text_of(response))


def test_an_empty_note_is_refused_with_a_message(signed_in: Client) -> None:
    incident = IncidentFactory()

    response = signed_in.post(
        reverse("incidents:note", args=[incident.pk]), {"text": "   "}, follow=True
    )

    assert not incident.events.filter(kind="note").exists()
    assertContains(response, "A note needs some text.")


@pytest.mark.parametrize(
    "path",
    [
        "/incidents/999999/",
        "/incidents/99999999999999999999999999/",
    ],
)
def test_a_missing_incident_answers_404(signed_in: Client, path: str) -> None:
    assert signed_in.get(path).status_code == 404


@pytest.mark.parametrize("action", ["acknowledge", "resolve", "note"])
def test_buttons_on_a_missing_incident_answer_404(signed_in: Client, action: str) -> None:
    response = signed_in.post(reverse(f"incidents:{action}", args=[999999]), {"text": "x"})

    assert response.status_code == 404


@pytest.mark.parametrize("action", ["acknowledge", "resolve", "note"])
def test_buttons_only_act_on_post(signed_in: Client, action: str) -> None:
    incident = IncidentFactory()

    response = signed_in.get(reverse(f"incidents:{action}", args=[incident.pk]))

    incident.refresh_from_db()
    assert response.status_code == 405
    assert incident.state == Incident.State.TRIGGERED


# ------------------------------------------------------------------- access and CSRF


def test_incident_pages_need_sign_in(client: Client) -> None:
    incident = IncidentFactory()

    for path in (LIST, incident.get_absolute_url()):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    client.post(reverse("incidents:acknowledge", args=[incident.pk]))
    incident.refresh_from_db()
    assert incident.state == Incident.State.TRIGGERED


@pytest.mark.parametrize("action", ["acknowledge", "resolve", "note"])
def test_dashboard_posts_without_a_csrf_token_are_refused(action: str) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(UserFactory())
    incident = IncidentFactory()

    response = browser.post(reverse(f"incidents:{action}", args=[incident.pk]), {"text": "hi"})

    incident.refresh_from_db()
    assert response.status_code == 403
    assert incident.state == Incident.State.TRIGGERED
    assert not incident.events.exists()


def test_the_csrf_token_on_the_page_makes_the_button_work() -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(UserFactory())
    incident = IncidentFactory()
    page = browser.get(incident.get_absolute_url()).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token is not None

    response = browser.post(
        reverse("incidents:acknowledge", args=[incident.pk]), {"csrfmiddlewaretoken": token[1]}
    )

    incident.refresh_from_db()
    assert response.status_code == 302
    assert incident.state == Incident.State.ACKNOWLEDGED


def test_a_long_timeline_shows_its_start_and_newest_lines(client: Client) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from incidents.models import IncidentEvent
    from tests.factories import IncidentFactory, UserFactory

    incident = IncidentFactory()
    start = timezone.now()
    IncidentEvent.objects.bulk_create(
        IncidentEvent(incident=incident, kind="appended", at=start + timedelta(seconds=n),
                      message=f"line {n}")
        for n in range(400)
    )  # fmt: skip
    client.force_login(UserFactory())
    page = client.get(incident.get_absolute_url()).content.decode()
    shown = {int(n) for n in re.findall(r"line (\d+)\s*<", page)}
    assert shown == set(range(20)) | set(range(300, 400))
    assert "280 more lines" in page
