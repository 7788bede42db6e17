"""One role check for every channel: a viewer or a deactivated user who tries to
acknowledge, resolve or escalate, by SMS reply, a key on the call, an email link, the
web or the API (or any channel added later, through the services), is refused politely
in that channel's own words and nothing changes but a "Refused" line on the timeline.

Twilio requests are signed for real; email links are signed as the app signs them."""

from __future__ import annotations

from typing import cast

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token

from accounts.models import Membership, User
from accounts.roles import NotAllowed
from escalation import engine
from incidents.models import Incident, IncidentEvent
from incidents.services import incident_acknowledge, incident_resolve
from integrations.models import InboundMessage
from notifications import links
from notifications.models import Notification
from tests.factories import IncidentFactory, TeamFactory, UserFactory
from tests.helpers import BASE, SMS_URL, call, page, post, said, sms_text

Via = IncidentEvent.Via

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("twilio_webhooks")]

VIEWER_PHONE = "+15005550007"
VIEWER_SAYS = "You are a viewer in Klaxon: only responders and admins can {action} incidents."
DEACTIVATED_SAYS = "Your Klaxon account is deactivated, so it cannot {action} incidents."


@pytest.fixture
def vera() -> User:
    """A viewer with a verified phone and default rules (she was a responder once)."""
    user: User = UserFactory(username="vera", phone=VIEWER_PHONE)
    Membership.objects.create(team=TeamFactory(), user=user, role=Membership.Role.VIEWER)
    return user


@pytest.fixture
def dave() -> User:
    """A deactivated user whose phone is still verified."""
    user: User = UserFactory(username="dave", phone="+15005550008")
    User.objects.filter(pk=user.pk).update(is_active=False)
    user.refresh_from_db()
    return user


def unchanged(incident: Incident) -> None:
    """Still triggered, nobody's acknowledgement or resolution, escalation untouched."""
    before = incident.next_escalation_at
    incident.refresh_from_db()
    assert incident.state == Incident.State.TRIGGERED
    assert (incident.acknowledged_by, incident.resolved_by) == (None, None)
    assert incident.next_escalation_at == before
    kinds = set(incident.events.values_list("kind", flat=True))
    assert not kinds & {"acknowledged", "resolved", "escalated"}


def refused_line(incident: Incident) -> IncidentEvent:
    (line,) = incident.events.filter(kind=IncidentEvent.Kind.NOTE)
    assert line.data.get("refused")
    assert line.message.startswith("Refused: ") and line.message.endswith("Nothing changed.")
    return line


def only_log_row() -> InboundMessage:
    (row,) = InboundMessage.objects.all()
    return row


# --- SMS replies ----------------------------------------------------------------------------


def test_a_viewers_sms_resolve_reply_is_refused_and_changes_nothing(
    client: Client, vera: User
) -> None:
    incident = IncidentFactory()

    response = post(client, SMS_URL, {"From": VIEWER_PHONE, "Body": f"6 {incident.pk}"})

    assert response.status_code == 200
    assert sms_text(response) == (
        f"Not done: #{incident.pk} is unchanged. " + VIEWER_SAYS.format(action="resolve")
    )
    unchanged(incident)
    line = refused_line(incident)
    assert (line.actor, line.via) == (vera, "sms")
    assert "vera is a viewer" in line.message
    row = only_log_row()
    assert (row.outcome, row.incident_id) == (InboundMessage.Outcome.REJECTED, incident.pk)
    assert row.reason == (
        "refused: vera is a viewer: only responders and admins can resolve incidents"
    )


def test_a_deactivated_users_sms_acknowledge_reply_is_refused(client: Client, dave: User) -> None:
    incident = IncidentFactory()
    page(dave, incident)  # paged before the account was deactivated

    response = post(client, SMS_URL, {"From": "+15005550008", "Body": "4"})

    assert sms_text(response) == (
        f"Not done: #{incident.pk} is unchanged. " + DEACTIVATED_SAYS.format(action="acknowledge")
    )
    unchanged(incident)
    assert refused_line(incident).actor == dave
    row = only_log_row()
    assert row.outcome == InboundMessage.Outcome.REJECTED
    assert row.reason == "refused: dave is deactivated and cannot acknowledge incidents"


# --- Voice --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "action"), [("1", "acknowledge"), ("2", "resolve"), ("3", "escalate")]
)
def test_a_viewers_key_on_the_call_is_refused_in_words(
    client: Client, vera: User, key: str, action: str
) -> None:
    incident = IncidentFactory()
    notification = page(vera, incident, channel="voice")

    _, root = call(client, notification, Digits=key)

    spoken = " ".join(str(incident.pk))
    assert said(root) == [
        f"This is Klaxon. {VIEWER_SAYS.format(action=action)} "
        f"Incident {spoken} is unchanged. Goodbye."
    ]
    assert root.find("Hangup") is not None
    unchanged(incident)
    assert refused_line(incident).via == "voice"
    row = only_log_row()
    assert row.outcome == InboundMessage.Outcome.REJECTED
    assert row.reason.endswith(f"can {action} incidents (key {key})")


def test_a_deactivated_user_answering_a_call_hears_why_and_no_menu(
    client: Client, dave: User
) -> None:
    incident = IncidentFactory()
    notification = page(dave, incident, channel="voice")

    _, root = call(client, notification)

    assert root.find("Gather") is None
    assert said(root) == [
        f"This is Klaxon. {DEACTIVATED_SAYS.format(action='respond to')} Goodbye."
    ]
    unchanged(incident)
    assert only_log_row().reason == "refused: dave is deactivated and cannot respond to incidents"


# --- Email links --------------------------------------------------------------------------


def email_link(user: User, incident: Incident, action: str) -> str:
    row = page(user, incident, channel="email")
    return links.action_url(row, action).removeprefix(BASE)


def test_an_email_link_stops_working_when_its_user_is_deactivated(client: Client) -> None:
    alice = UserFactory(username="alice", phone="")
    incident = IncidentFactory()
    path = email_link(alice, incident, "acknowledge")
    User.objects.filter(pk=alice.pk).update(is_active=False)

    shown = client.get(path)
    pressed = client.post(path)

    refusal = DEACTIVATED_SAYS.format(action="acknowledge") + " Nothing was changed."
    for response in (shown, pressed):
        assert response.status_code == 403
        assert refusal in response.content.decode()
        assert f"Acknowledge incident #{incident.pk}" not in response.content.decode()
    unchanged(incident)
    assert refused_line(incident).via == "email"
    # Refused, not spent: reactivated, the same link works.
    User.objects.filter(pk=alice.pk).update(is_active=True)
    assert client.post(path).status_code == 200
    incident.refresh_from_db()
    assert incident.state == Incident.State.ACKNOWLEDGED


def test_a_viewers_email_resolve_link_is_refused(client: Client, vera: User) -> None:
    incident = IncidentFactory()
    path = email_link(vera, incident, "resolve")

    response = client.post(path)

    assert response.status_code == 403
    page_text = response.content.decode()
    assert f"Incident #{incident.pk} was not resolved" in page_text
    assert VIEWER_SAYS.format(action="resolve") in page_text
    unchanged(incident)
    assert Notification.objects.get(channel="email").link_used_at is None


# --- Web, API, and any other channel through the services ---------------------------------


def test_the_web_and_the_api_refuse_a_viewer_and_change_nothing(vera: User) -> None:
    incident = IncidentFactory()
    web = Client()
    web.force_login(vera)
    key = Token.objects.create(user=vera).key
    api = Client(headers={"Authorization": f"Token {key}"})

    for action in ("acknowledge", "resolve", "escalate"):
        page_answer = web.post(reverse(f"incidents:{action}", args=[incident.pk]))
        assert page_answer.status_code == 403
        assert "This needs a responder or an admin; you are a viewer." in (
            page_answer.content.decode()
        )
        api_answer = api.post(f"/api/v1/incidents/{incident.pk}/{action}/")
        assert api_answer.status_code == 403
        assert "viewers read" in api_answer.json()["detail"]
    unchanged(incident)


@pytest.mark.parametrize("who", ["viewer", "deactivated"])
def test_the_services_refuse_whatever_channel_calls_them(vera: User, dave: User, who: str) -> None:
    user = vera if who == "viewer" else dave
    incident = IncidentFactory()

    for act in (incident_acknowledge, incident_resolve, engine.escalation_escalate_now):
        with pytest.raises(NotAllowed) as refused:
            act(incident_id=incident.pk, user=user, via=cast(Via, "pager-app"))
        assert user.get_username() in refused.value.reason

    unchanged(incident)
    assert incident.events.filter(kind="note", via="pager-app").count() == 3
