"""The integration pages and the Inbound Log, used the way a person uses them: forms
posted, buttons pressed, and real SNS deliveries posted to the integration URL."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.conf import LazySettings
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from incidents.models import Incident
from integrations.models import InboundMessage, Integration
from integrations.sns_http import DEFAULT_SUBSCRIBE_URL_PATTERN
from tests.factories import IntegrationFactory, UserFactory
from tests.helpers import ALARM, OK, Page, post_sns, text_of
from tests.sns_peer import SnsPeer
from tests.sns_signing import DEFAULT_TOPIC_ARN, signed_envelope

pytestmark = pytest.mark.django_db

OTHER_TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:someone-elses-topic"


# ----------------------------------------------------------------------------- helpers


def row_ids(response: Page) -> list[int]:
    """Inbound Log rows on a page or fragment, in the order shown."""
    found = re.findall(r'href="/integrations/inbound-log/(\d+)/"', response.content.decode())
    return [int(pk) for pk in found]


def poller(response: Page) -> str:
    """The hx-get URL of the Inbound Log's poller element (HTML entities decoded)."""
    match = re.search(r'<tr id="inbound-poller"[^>]*hx-get="([^"]+)"', response.content.decode())
    assert match, "no poller element in the response"
    return html.unescape(match.group(1))


@pytest.fixture
def user(db: Any) -> Any:
    """Changing integrations needs an admin: staff here (team admins, responders and
    viewers: tests/foundation/test_roles.py)."""
    return UserFactory(username="admin", is_staff=True)


@pytest.fixture
def no_signatures(settings: LazySettings) -> None:
    """For tests that are not about Amazon's signature: skip its check."""
    settings.SNS_VERIFY_SIGNATURES = False
    settings.SNS_AUTO_CONFIRM = False


@pytest.fixture
def sns_peer(settings: LazySettings) -> Iterator[SnsPeer]:
    """A local SNS stand-in serving our signing certificate and ConfirmSubscription."""
    peer = SnsPeer().start()
    settings.SNS_CERT_URL_PATTERN = peer.cert_url_pattern
    settings.SNS_SUBSCRIBE_URL_PATTERN = peer.subscribe_url_pattern
    settings.SNS_AUTO_CONFIRM = False  # the person clicks "Confirm"
    yield peer
    peer.stop()


# ------------------------------------------------------------------ create, edit, delete


def test_creating_an_integration_shows_its_url_with_a_copy_button(
    signed_in: Client, settings: LazySettings
) -> None:
    response = signed_in.post(
        reverse("integrations:create"), {"name": "Prod alarms", "kind": "aws_sns", "enabled": "on"}
    )

    integration = Integration.objects.get(name="Prod alarms")
    assert response.status_code == 302
    assert response["Location"] == integration.get_absolute_url()
    page = signed_in.get(response["Location"])
    assert integration.url.startswith(f"{settings.KLAXON_BASE_URL}/in/{integration.token}")
    assertContains(page, f'<code class="url" id="inbound-url">{integration.url}</code>', html=True)
    assertContains(
        page, '<button type="button" data-copy="inbound-url">Copy URL</button>', html=True
    )
    assertContains(page, "Created Prod alarms")


def test_every_integration_gets_its_own_url(signed_in: Client) -> None:
    for name in ("Prod", "Staging"):
        signed_in.post(reverse("integrations:create"), {"name": name, "kind": "aws_sns"})
    prod, staging = Integration.objects.get(name="Prod"), Integration.objects.get(name="Staging")

    assert prod.url != staging.url
    assert len(prod.token) >= 32
    page = signed_in.get(prod.get_absolute_url())
    assertContains(page, prod.url)
    assertNotContains(page, staging.token)


def test_the_form_explains_what_is_missing(signed_in: Client) -> None:
    response = signed_in.post(
        reverse("integrations:create"), {"name": "", "kind": "carrier_pigeon"}
    )

    assert response.status_code == 200
    assert not Integration.objects.exists()
    assertContains(response, "This field is required.")
    assertContains(response, "Select a valid choice.")


def test_editing_an_integration_saves_the_change(signed_in: Client) -> None:
    integration = IntegrationFactory(name="Old name")
    form = signed_in.get(reverse("integrations:edit", args=[integration.pk]))
    assertContains(form, 'value="Old name"')

    response = signed_in.post(
        reverse("integrations:edit", args=[integration.pk]),
        {"name": "New name", "kind": "aws_sns", "enabled": "on", "security_mode": "on"},
        follow=True,
    )

    integration.refresh_from_db()
    assert (integration.name, integration.security_mode) == ("New name", True)
    assertContains(response, "<h1>New name</h1>", html=True)
    assertContains(response, "noted only (security mode: a person resolves)")


def test_a_disabled_integration_refuses_alarms_and_says_so(
    signed_in: Client, no_signatures: None
) -> None:
    integration = IntegrationFactory(name="Prod")
    signed_in.post(
        reverse("integrations:edit", args=[integration.pk]), {"name": "Prod", "kind": "aws_sns"}
    )

    response = post_sns(signed_in, integration.inbound_path, signed_envelope(message=ALARM))

    integration.refresh_from_db()
    assert not integration.enabled
    assert response.status_code == 403
    assert not Incident.objects.exists()
    page = signed_in.get(integration.get_absolute_url())
    assertContains(page, '<span class="badge">disabled</span>', html=True)
    assertContains(page, "its URL refuses every request")
    log = text_of(signed_in.get(reverse("integrations:inbound-list")))
    assert "Rejected: integration is disabled" in log


def test_deleting_an_integration_makes_its_url_answer_404(
    signed_in: Client, no_signatures: None
) -> None:
    integration = IntegrationFactory(name="Doomed")
    assert (
        post_sns(signed_in, integration.inbound_path, signed_envelope(message=ALARM)).status_code
        == 200
    )
    path = integration.inbound_path

    confirm_page = signed_in.get(reverse("integrations:delete", args=[integration.pk]))
    assertContains(confirm_page, "Its URL will answer 404")
    response = signed_in.post(reverse("integrations:delete", args=[integration.pk]), follow=True)

    assert not Integration.objects.filter(pk=integration.pk).exists()
    assertContains(response, "Deleted Doomed. Its URL now answers 404.")
    assertNotContains(response, f'href="/integrations/{integration.pk}/"')
    assert post_sns(signed_in, path, signed_envelope(message=ALARM)).status_code == 404
    assert signed_in.get(integration.get_absolute_url()).status_code == 404
    # The Inbound Log keeps what the integration received.
    assert "(deleted)" in text_of(signed_in.get(reverse("integrations:inbound-list")))


# --------------------------------------------------------------------------- the URL


def test_rotating_the_url_makes_the_old_one_answer_404(
    signed_in: Client, no_signatures: None
) -> None:
    integration = IntegrationFactory()
    old_path, old_url = integration.inbound_path, integration.url

    response = signed_in.post(reverse("integrations:rotate", args=[integration.pk]), follow=True)

    integration.refresh_from_db()
    assert integration.inbound_path != old_path
    assertContains(response, "the old one answers 404 now")
    assertContains(response, integration.url)
    assertNotContains(response, old_url)
    assert post_sns(signed_in, old_path, signed_envelope(message=ALARM)).status_code == 404
    new = post_sns(signed_in, integration.inbound_path, signed_envelope(message=ALARM))
    assert new.status_code == 200
    assert Incident.objects.filter(integration=integration).count() == 1


def test_rotating_needs_a_post(signed_in: Client) -> None:
    integration = IntegrationFactory()
    token = integration.token

    response = signed_in.get(reverse("integrations:rotate", args=[integration.pk]))

    integration.refresh_from_db()
    assert response.status_code == 405
    assert integration.token == token


def test_setup_guide_offers_the_generated_files_and_the_subscribe_command(
    signed_in: Client,
) -> None:
    integration = IntegrationFactory()

    guide = text_of(signed_in.get(integration.get_absolute_url()))

    # The whole AWS side is generated (tests/aws/test_setup_download.py); the page keeps
    # the one command for a topic that already exists.
    for download in ("CloudFormation template", "AWS CLI script", "Terraform file"):
        assert f"Download {download}" in guide
    assert "aws sns subscribe" in guide
    assert f"--protocol http --notification-endpoint '{integration.url}'" in guide.replace(
        "\\ ", ""
    )


def test_setup_guide_subscribes_with_https_when_klaxon_is_served_over_https(
    signed_in: Client, settings: LazySettings
) -> None:
    settings.KLAXON_BASE_URL = "https://klaxon.example.com"
    integration = IntegrationFactory()

    guide = text_of(signed_in.get(integration.get_absolute_url()))

    assert "--protocol https" in guide
    assert f"'https://klaxon.example.com/in/{integration.token}/'" in guide


# ------------------------------------------------------------------------ test alert


def test_send_test_alert_opens_an_incident_through_the_inbound_path(signed_in: Client) -> None:
    integration = IntegrationFactory(name="Prod")

    response = signed_in.post(reverse("integrations:test-alert", args=[integration.pk]))

    incident = Incident.objects.get(integration=integration)
    assert response.status_code == 302
    assert response["Location"] == incident.get_absolute_url()
    assert incident.state == Incident.State.TRIGGERED
    assert incident.title == "Klaxon test alert"
    row = InboundMessage.objects.get(integration=integration)
    assert (row.message_type, row.outcome, row.incident_id) == (
        "Notification",
        "created",
        incident.pk,
    )
    assert row.headers["X-Klaxon-Test-Alert"] == "sent from the dashboard by admin"
    page = signed_in.get(response["Location"])
    assertContains(page, f"Test alert sent: Created incident: incident #{incident.pk}")
    # A test must not bind the integration to the made-up topic it was sent on.
    integration.refresh_from_db()
    assert integration.topic_arn == ""


def test_pressing_send_test_alert_again_appends_to_the_same_incident(signed_in: Client) -> None:
    integration = IntegrationFactory()
    url = reverse("integrations:test-alert", args=[integration.pk])

    signed_in.post(url)
    response = signed_in.post(url, follow=True)

    incident = Incident.objects.get(integration=integration)
    assert incident.alarm_count == 2
    assert list(incident.events.values_list("kind", flat=True)) == ["triggered", "appended"]
    assertContains(response, f"Test alert sent: Appended to incident: incident #{incident.pk}")
    assertContains(response, "Alarm appended")


def test_test_alert_on_a_disabled_integration_says_it_was_not_applied(signed_in: Client) -> None:
    integration = IntegrationFactory(enabled=False)

    response = signed_in.post(
        reverse("integrations:test-alert", args=[integration.pk]), follow=True
    )

    assert not Incident.objects.exists()
    assertContains(response, "Test alert not applied: rejected: integration is disabled")
    assertNotContains(response, "Test alert sent")


# ------------------------------------------------------------------------ subscription


def test_integration_page_shows_subscription_status_and_pinned_topic(
    signed_in: Client, no_signatures: None
) -> None:
    integration = IntegrationFactory()
    page = signed_in.get(integration.get_absolute_url())
    assertContains(page, "Waiting for a subscription")
    assertContains(page, "not bound yet")

    post_sns(signed_in, integration.inbound_path, signed_envelope(message=ALARM))

    page = signed_in.get(integration.get_absolute_url())
    assertContains(page, '<span class="badge confirmed">Confirmed</span>', html=True)
    assertContains(page, f"<dd>{DEFAULT_TOPIC_ARN}</dd>", html=True)


def test_rebind_releases_the_pinned_topic(signed_in: Client, no_signatures: None) -> None:
    integration = IntegrationFactory()
    post_sns(signed_in, integration.inbound_path, signed_envelope(message=ALARM))
    other = signed_envelope(message=ALARM, topic_arn=OTHER_TOPIC_ARN)
    assert post_sns(signed_in, integration.inbound_path, other).status_code == 403

    response = signed_in.post(reverse("integrations:rebind", args=[integration.pk]), follow=True)

    assertContains(response, "Topic released")
    assertContains(response, "not bound yet")
    again = signed_envelope(message=ALARM, topic_arn=OTHER_TOPIC_ARN)
    assert post_sns(signed_in, integration.inbound_path, again).status_code == 200
    integration.refresh_from_db()
    assert integration.topic_arn == OTHER_TOPIC_ARN


def test_unsubscribed_integration_warns_on_its_page_and_on_the_incident_list(
    signed_in: Client, no_signatures: None
) -> None:
    integration = IntegrationFactory(name="Prod alarms")
    quiet = IntegrationFactory(name="Quiet one")
    body = signed_envelope(type="UnsubscribeConfirmation", message="You have chosen to deactivate")

    assert post_sns(signed_in, integration.inbound_path, body).status_code == 200

    page = signed_in.get(integration.get_absolute_url())
    assertContains(page, "Amazon SNS removed this subscription")
    assertNotContains(signed_in.get(quiet.get_absolute_url()), "removed this subscription")
    incidents = text_of(signed_in.get(reverse("incidents:list")))
    assert "Prod alarms is unsubscribed from its SNS topic" in incidents
    assert "Quiet one is unsubscribed" not in incidents


def test_confirming_a_subscription_from_the_inbound_log_pins_the_topic(
    signed_in: Client, sns_peer: SnsPeer
) -> None:
    integration = IntegrationFactory()
    body = signed_envelope(
        type="SubscriptionConfirmation",
        message="You have chosen to subscribe to the topic",
        cert_url=sns_peer.cert_url,
        subscribe_url=sns_peer.subscribe_url(DEFAULT_TOPIC_ARN),
    )
    assert post_sns(signed_in, integration.inbound_path, body).status_code == 200
    row = InboundMessage.objects.get(message_type="SubscriptionConfirmation")
    assertContains(signed_in.get(integration.get_absolute_url()), "Pending confirmation")

    detail = signed_in.get(row.get_absolute_url())
    assertContains(detail, f'<code class="url">{body["SubscribeURL"]}</code>', html=True)
    confirm_url = reverse("integrations:inbound-confirm", args=[row.pk])
    assertContains(detail, f'<form method="post" action="{confirm_url}">')
    assertContains(detail, "Confirm subscription</button>")

    response = signed_in.post(confirm_url, follow=True)

    integration.refresh_from_db()
    assert integration.subscription_status == Integration.Subscription.CONFIRMED
    assert integration.topic_arn == DEFAULT_TOPIC_ARN
    assert sns_peer.hits["/"] == 1
    assertContains(response, "Subscription confirmed")
    assertNotContains(response, "Confirm subscription</button>")
    assertContains(signed_in.get(integration.get_absolute_url()), DEFAULT_TOPIC_ARN)


def test_a_rejected_subscription_confirmation_cannot_be_confirmed(
    signed_in: Client, sns_peer: SnsPeer
) -> None:
    integration = IntegrationFactory()
    body = signed_envelope(
        type="SubscriptionConfirmation",
        message="You have chosen to subscribe to the topic",
        topic_arn=OTHER_TOPIC_ARN,
        cert_url=sns_peer.cert_url,
        subscribe_url=sns_peer.subscribe_url(OTHER_TOPIC_ARN),
    )
    body["Message"] = "forged after signing"
    assert post_sns(signed_in, integration.inbound_path, body).status_code == 403
    row = InboundMessage.objects.get()

    detail = signed_in.get(row.get_absolute_url())
    assertNotContains(detail, "Confirm subscription</button>")
    assertContains(detail, "so Klaxon will not confirm it")
    response = signed_in.post(reverse("integrations:inbound-confirm", args=[row.pk]), follow=True)

    integration.refresh_from_db()
    assert sns_peer.hits["/"] == 0
    assert integration.topic_arn == ""
    assert integration.subscription_status == Integration.Subscription.NONE
    assertContains(response, "Only a SubscriptionConfirmation that passed verification")


def test_confirm_never_visits_a_subscribe_url_outside_the_allowed_pattern(
    signed_in: Client, sns_peer: SnsPeer, settings: LazySettings
) -> None:
    settings.SNS_SUBSCRIBE_URL_PATTERN = DEFAULT_SUBSCRIBE_URL_PATTERN  # only real SNS hosts
    integration = IntegrationFactory()
    body = signed_envelope(
        type="SubscriptionConfirmation",
        message="You have chosen to subscribe to the topic",
        cert_url=sns_peer.cert_url,
        subscribe_url=sns_peer.subscribe_url(DEFAULT_TOPIC_ARN),
    )
    post_sns(signed_in, integration.inbound_path, body)
    row = InboundMessage.objects.get()

    response = signed_in.post(reverse("integrations:inbound-confirm", args=[row.pk]), follow=True)

    integration.refresh_from_db()
    assert sns_peer.hits["/"] == 0
    assert integration.subscription_status == Integration.Subscription.PENDING
    assertContains(response, "Not confirmed: SubscribeURL not allowed")
    assertContains(response, "Confirm subscription</button>")  # still possible to retry


def test_confirming_a_missing_inbound_message_answers_404(signed_in: Client) -> None:
    response = signed_in.post(reverse("integrations:inbound-confirm", args=[999999]))

    assert response.status_code == 404


# ------------------------------------------------------------------------ Inbound Log


def test_inbound_log_lists_every_request_with_time_integration_type_outcome_and_incident(
    signed_in: Client, no_signatures: None
) -> None:
    integration = IntegrationFactory(name="Prod alarms")
    post_sns(signed_in, integration.inbound_path, signed_envelope(message=ALARM))
    post_sns(signed_in, integration.inbound_path, "{not json")
    incident = Incident.objects.get()
    accepted, rejected = InboundMessage.objects.order_by("id")

    response = signed_in.get(reverse("integrations:inbound-list"))

    assert row_ids(response) == [rejected.pk, accepted.pk]  # newest first
    log = text_of(response)
    assert (
        f"#{accepted.pk} {accepted.received_at:%Y-%m-%d %H:%M:%S} Prod alarms Notification" in log
    )
    assert "Created incident" in log
    assert "Rejected: malformed JSON: Expecting property name" in log
    assertContains(
        response, f'<a href="/incidents/{incident.pk}/">incident #{incident.pk}</a>', html=True
    )


def test_inbound_log_says_why_a_bad_signature_was_rejected(
    signed_in: Client, sns_peer: SnsPeer
) -> None:
    integration = IntegrationFactory()
    body = signed_envelope(message=ALARM, cert_url=sns_peer.cert_url)
    body["Message"] = body["Message"].replace("ConsoleSignInFailures", "SomethingElse")

    response = post_sns(signed_in, integration.inbound_path, body)

    assert response.status_code == 403
    log = text_of(signed_in.get(reverse("integrations:inbound-list")))
    assert "Rejected: bad signature: it does not match the message" in log


def test_inbound_log_filters_by_integration_and_by_outcome(
    signed_in: Client, no_signatures: None
) -> None:
    prod, staging = IntegrationFactory(name="Prod"), IntegrationFactory(name="Staging")
    post_sns(signed_in, prod.inbound_path, signed_envelope(message=ALARM))
    post_sns(signed_in, prod.inbound_path, "{not json")
    post_sns(signed_in, staging.inbound_path, signed_envelope(message=ALARM))
    prod_ok, prod_bad, staging_ok = InboundMessage.objects.order_by("id")
    url = reverse("integrations:inbound-list")

    by_integration = signed_in.get(url, {"integration": prod.pk})
    by_outcome = signed_in.get(url, {"outcome": "rejected"})
    both = signed_in.get(url, {"integration": staging.pk, "outcome": "rejected"})

    assert row_ids(by_integration) == [prod_bad.pk, prod_ok.pk]
    assertContains(by_integration, f'<option value="{prod.pk}" selected>Prod</option>', html=True)
    assert row_ids(by_outcome) == [prod_bad.pk]
    assertContains(by_outcome, '<option value="rejected" selected>Rejected</option>', html=True)
    assert row_ids(both) == []
    assertContains(both, "No requests match these filters yet.")
    assert staging_ok.pk in row_ids(signed_in.get(url))


@pytest.mark.parametrize(
    "query",
    [
        "?integration=abc&outcome=zzz",
        "?integration=%C2%B2",  # "²": str.isdigit() says yes, int() says no
        "?integration=-1",
        "?integration=99999999999999999999999999",
        "?before=%C2%B2&after=abc",
        "?before=99999999999999999999999999",
    ],
)
def test_inbound_log_ignores_filters_it_cannot_use(
    signed_in: Client, no_signatures: None, query: str
) -> None:
    integration = IntegrationFactory()
    post_sns(signed_in, integration.inbound_path, signed_envelope(message=ALARM))
    row = InboundMessage.objects.get()

    response = signed_in.get(reverse("integrations:inbound-list") + query)

    assert response.status_code == 200
    assert row_ids(response) == [row.pk]


def test_inbound_detail_shows_headers_and_the_pretty_printed_body(
    signed_in: Client, no_signatures: None
) -> None:
    integration = IntegrationFactory()
    body = signed_envelope(message=ALARM, subject='ALARM: "ConsoleSignInFailures"')
    post_sns(signed_in, integration.inbound_path, body)
    row = InboundMessage.objects.get()

    response = signed_in.get(row.get_absolute_url())

    page = html.unescape(response.content.decode())
    assert "X-Amz-Sns-Message-Type: Notification" in page
    assert f"X-Amz-Sns-Topic-Arn: {DEFAULT_TOPIC_ARN}" in page
    # Indented JSON, with the CloudWatch Message opened up rather than one escaped string.
    assert f'  "MessageId": "{body["MessageId"]}",\n' in page
    assert '  "Message": {\n    "AlarmName": "ConsoleSignInFailures",' in page
    assert "Created incident" in page
    assert f"{row.body_size} bytes" in page


def test_unsubscribe_url_is_masked_on_the_inbound_log_pages(
    signed_in: Client, no_signatures: None
) -> None:
    integration = IntegrationFactory()
    body = signed_envelope(message=ALARM)
    post_sns(signed_in, integration.inbound_path, body)
    hand_written = signed_envelope(message=f"Heads-up\nDo not open {body['UnsubscribeURL']}")
    post_sns(signed_in, integration.inbound_path, hand_written)
    secret = body["UnsubscribeURL"].split("SubscriptionArn=")[1]

    pages = [signed_in.get(reverse("integrations:inbound-list"))]
    pages += [signed_in.get(row.get_absolute_url()) for row in InboundMessage.objects.all()]
    pages.append(signed_in.get(integration.get_absolute_url()))

    for page in pages:
        assert page.status_code == 200
        assert secret not in html.unescape(page.content.decode())
    assertContains(pages[2], "masked: opening this link would unsubscribe Klaxon")
    assertContains(pages[1], "SubscriptionArn=…masked")


def poll(client: Client, url: str) -> Any:
    """What htmx does every few seconds: GET the poller's own URL."""
    return client.get(url, headers={"HX-Request": "true"})


def test_polling_returns_only_newer_rows_and_a_poller_with_the_new_last_id(
    signed_in: Client, no_signatures: None
) -> None:
    integration = IntegrationFactory()
    post_sns(signed_in, integration.inbound_path, signed_envelope(message=ALARM))
    url = reverse("integrations:inbound-list")
    page = signed_in.get(url)
    first = InboundMessage.objects.get()
    assert poller(page) == f"{url}?after={first.pk}&floor={first.pk}&shown={first.pk}"

    post_sns(signed_in, integration.inbound_path, signed_envelope(message=ALARM))
    post_sns(signed_in, integration.inbound_path, signed_envelope(message=OK))
    second, third = InboundMessage.objects.filter(pk__gt=first.pk).order_by("id")
    fragment = poll(signed_in, poller(page))

    assert fragment.status_code == 200
    assert row_ids(fragment) == [third.pk, second.pk]
    assert poller(fragment) == (
        f"{url}?after={third.pk}&floor={first.pk}&shown={first.pk},{second.pk},{third.pk}"
    )
    assertNotContains(fragment, "<html")
    assertNotContains(fragment, "<h1>")

    quiet = poll(signed_in, poller(fragment))
    assert row_ids(quiet) == []
    assert poller(quiet) == poller(fragment)


def test_polling_picks_up_a_row_that_became_visible_late(
    signed_in: Client, no_signatures: None
) -> None:
    """On PostgreSQL a request's row id is taken when its transaction starts, so a slow
    request's row can appear after a faster one with a higher id was already shown."""
    integration = IntegrationFactory()
    now = timezone.now()
    rows = InboundMessage.objects.bulk_create(
        InboundMessage(integration=integration, received_at=now, outcome="rejected")
        for _ in range(3)
    )
    slow = rows[1]
    slow_pk = slow.pk
    slow.delete()  # not committed yet when the page was drawn
    url = reverse("integrations:inbound-list")
    page = signed_in.get(url)
    assert row_ids(page) == [rows[2].pk, rows[0].pk]

    InboundMessage.objects.create(
        pk=slow_pk, integration=integration, received_at=now, outcome="created"
    )
    fragment = poll(signed_in, poller(page))
    assert row_ids(fragment) == [slow_pk]
    assert row_ids(poll(signed_in, poller(fragment))) == []


def test_polling_keeps_the_filters(signed_in: Client, no_signatures: None) -> None:
    prod, staging = IntegrationFactory(), IntegrationFactory()
    post_sns(signed_in, prod.inbound_path, "{not json")
    url = reverse("integrations:inbound-list")
    page = signed_in.get(url, {"integration": prod.pk, "outcome": "rejected"})
    first = InboundMessage.objects.get()
    assert poller(page) == (
        f"{url}?after={first.pk}&floor={first.pk}&shown={first.pk}"
        f"&integration={prod.pk}&outcome=rejected"
    )

    post_sns(signed_in, staging.inbound_path, "{not json")  # other integration
    post_sns(signed_in, prod.inbound_path, signed_envelope(message=ALARM))  # not rejected
    post_sns(signed_in, prod.inbound_path, "[]")  # a match
    match = InboundMessage.objects.order_by("id").last()
    assert match is not None
    fragment = poll(signed_in, poller(page))

    assert row_ids(fragment) == [match.pk]
    assert poller(fragment) == (
        f"{url}?after={match.pk}&floor={first.pk}&shown={first.pk},{match.pk}"
        f"&integration={prod.pk}&outcome=rejected"
    )


def test_polling_after_a_burst_delivers_every_row_over_several_polls(
    signed_in: Client, no_signatures: None
) -> None:
    integration = IntegrationFactory()
    now = timezone.now()
    InboundMessage.objects.create(integration=integration, received_at=now, outcome="rejected")
    url = reverse("integrations:inbound-list")
    page = signed_in.get(url)
    InboundMessage.objects.bulk_create(
        InboundMessage(integration=integration, received_at=now, outcome="rejected")
        for _ in range(130)
    )
    ids = list(InboundMessage.objects.order_by("id").values_list("id", flat=True))

    seen: list[int] = []
    next_url = poller(page)
    for _ in range(3):
        fragment = poll(signed_in, next_url)
        seen += row_ids(fragment)
        next_url = poller(fragment)

    assert sorted(seen) == ids[1:]
    assert len(seen) == len(set(seen))


def test_the_first_poll_of_a_long_log_sends_nothing_old(signed_in: Client) -> None:
    """The rows under the newest page are history, not late arrivals."""
    integration = IntegrationFactory()
    InboundMessage.objects.bulk_create(
        InboundMessage(integration=integration, received_at=timezone.now(), outcome="rejected")
        for _ in range(150)
    )
    page = signed_in.get(reverse("integrations:inbound-list"))
    assert len(row_ids(page)) == 100
    assert row_ids(poll(signed_in, poller(page))) == []


def test_inbound_log_pages_back_to_older_rows(signed_in: Client) -> None:
    integration = IntegrationFactory()
    InboundMessage.objects.bulk_create(
        InboundMessage(integration=integration, received_at=timezone.now(), outcome="rejected")
        for _ in range(105)
    )
    ids = list(InboundMessage.objects.order_by("-id").values_list("id", flat=True))
    url = reverse("integrations:inbound-list")

    newest = signed_in.get(url)
    assert row_ids(newest) == ids[:100]
    older_link = re.search(r'href="\?(before=\d+)"', newest.content.decode())
    assert older_link is not None
    older = signed_in.get(f"{url}?{older_link.group(1)}")

    assert row_ids(older) == ids[100:]
    assertNotContains(older, 'id="inbound-poller"')  # an old page does not grow new rows
    assertContains(older, "Newest</a>")


def test_inbound_log_uses_a_fixed_number_of_queries(
    signed_in: Client, django_assert_max_num_queries: Any
) -> None:
    integrations = [IntegrationFactory() for _ in range(3)]
    InboundMessage.objects.bulk_create(
        InboundMessage(
            integration=integrations[n % 3],
            received_at=timezone.now() - timedelta(seconds=n),
            outcome="rejected",
            reason="bad signature: it does not match the message",
        )
        for n in range(30)
    )
    url = reverse("integrations:inbound-list")

    # Session, user, the integration filter, the rows (with their integrations joined).
    with django_assert_max_num_queries(5):
        page = signed_in.get(url)
    with django_assert_max_num_queries(4):
        fragment = signed_in.get(url, {"after": 0}, headers={"HX-Request": "true"})

    assert len(row_ids(page)) == len(row_ids(fragment)) == 30


# ------------------------------------------------------------------- access and CSRF


@pytest.mark.parametrize(
    "name", ["integrations:list", "integrations:create", "integrations:inbound-list"]
)
def test_integration_pages_need_sign_in(client: Client, name: str) -> None:
    response = client.get(reverse(name))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_dashboard_posts_without_a_csrf_token_are_refused(user: Any) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    integration = IntegrationFactory()
    token = integration.token

    refused = browser.post(reverse("integrations:rotate", args=[integration.pk]))
    integration.refresh_from_db()
    assert refused.status_code == 403
    assert integration.token == token

    page = browser.get(integration.get_absolute_url()).content.decode()
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert csrf is not None
    accepted = browser.post(
        reverse("integrations:rotate", args=[integration.pk]),
        {"csrfmiddlewaretoken": csrf.group(1)},
    )
    integration.refresh_from_db()
    assert accepted.status_code == 302
    assert integration.token != token


def test_integration_list_shows_each_integration_and_its_open_incidents(
    signed_in: Client,
) -> None:
    prod = IntegrationFactory(name="Prod")
    IntegrationFactory(name="Staging", enabled=False)
    signed_in.post(reverse("integrations:test-alert", args=[prod.pk]))

    response = signed_in.get(reverse("integrations:list"))

    rows = text_of(response)
    assert "Prod Amazon SNS (CloudWatch alarms) Waiting for a subscription — — 1" in rows
    assert "Staging disabled" in rows
    assertContains(response, f'href="{prod.get_absolute_url()}"')
