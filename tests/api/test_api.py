"""The REST API as a script uses it: token auth, JSON in and out, the integration URL it
hands back actually receiving alarms, incidents acknowledged and resolved over HTTP."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.conf import LazySettings
from django.test import Client
from rest_framework.authtoken.models import Token

from accounts.models import Membership
from incidents.models import Incident
from integrations.models import InboundMessage, Integration
from tests.factories import IncidentFactory, IntegrationFactory, TeamFactory, UserFactory
from tests.helpers import ALARM, post_sns
from tests.sns_signing import signed_envelope

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(user: Any) -> Client:
    """A client that sends `Authorization: Token <key>` like a script would."""
    key = Token.objects.create(user=user).key
    return Client(headers={"Authorization": f"Token {key}"}, enforce_csrf_checks=True)


@pytest.fixture
def admin_api(db: Any) -> Client:
    """Changing integrations needs an admin: here a team's admin who is not staff."""
    admin = UserFactory(username="admin")
    Membership.objects.create(team=TeamFactory(), user=admin, role=Membership.Role.ADMIN)
    key = Token.objects.create(user=admin).key
    return Client(headers={"Authorization": f"Token {key}"}, enforce_csrf_checks=True)


@pytest.fixture
def no_signatures(settings: LazySettings) -> None:
    settings.SNS_VERIFY_SIGNATURES = False
    settings.SNS_AUTO_CONFIRM = False


def body(response: Any) -> Any:
    return json.loads(response.content)


# -------------------------------------------------------------------------------- auth


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/integrations/"),
        ("post", "/api/v1/integrations/"),
        ("get", "/api/v1/incidents/"),
        ("post", "/api/v1/incidents/{incident}/acknowledge/"),
        ("post", "/api/v1/incidents/{incident}/resolve/"),
        ("get", "/api/v1/inbound-messages/"),
    ],
)
def test_the_api_refuses_requests_without_a_valid_token(method: str, path: str) -> None:
    incident = IncidentFactory()
    url = path.format(incident=incident.pk)

    anonymous = getattr(Client(), method)(url)
    wrong = getattr(Client(headers={"Authorization": "Token not-a-real-token"}), method)(url)

    assert anonymous.status_code == 401
    assert wrong.status_code == 401
    assert body(wrong) == {"detail": "Invalid token."}
    incident.refresh_from_db()
    assert incident.state == Incident.State.TRIGGERED


def test_a_signed_in_browser_still_needs_the_csrf_token_to_post(user: Any) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    incident = IncidentFactory()

    assert browser.get("/api/v1/incidents/").status_code == 200
    response = browser.post(f"/api/v1/incidents/{incident.pk}/acknowledge/")

    incident.refresh_from_db()
    assert response.status_code == 403
    assert "CSRF" in body(response)["detail"]
    assert incident.state == Incident.State.TRIGGERED


# ------------------------------------------------------------------------ integrations


def test_creating_an_integration_returns_201_with_its_full_url(
    admin_api: Client, settings: LazySettings
) -> None:
    response = admin_api.post(
        "/api/v1/integrations/",
        {"name": "Prod alarms", "kind": "aws_sns"},
        content_type="application/json",
    )

    assert response.status_code == 201
    data = body(response)
    integration = Integration.objects.get(pk=data["id"])
    assert data["name"] == "Prod alarms"
    assert data["kind"] == "aws_sns"
    assert data["url"].startswith(settings.KLAXON_BASE_URL + "/in/")
    assert integration.token in data["url"]
    assert data["url"] == integration.url
    assert data["subscription_status"] == "none"


def test_the_url_the_api_returns_receives_alarms(admin_api: Client, no_signatures: None) -> None:
    created = body(
        admin_api.post(
            "/api/v1/integrations/",
            {"name": "Prod", "kind": "aws_sns"},
            content_type="application/json",
        )
    )
    path = created["url"].removeprefix("http://127.0.0.1:8000")

    response = post_sns(Client(), path, signed_envelope(message=ALARM))

    assert response.status_code == 200
    assert Incident.objects.get().integration_id == created["id"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "Prod", "kind": "carrier_pigeon"}, "kind"),
        ({"kind": "aws_sns"}, "name"),
        ({"name": "", "kind": "aws_sns"}, "name"),
    ],
)
def test_a_bad_integration_is_refused_with_400_naming_the_field(
    admin_api: Client, payload: dict[str, str], field: str
) -> None:
    response = admin_api.post("/api/v1/integrations/", payload, content_type="application/json")

    assert response.status_code == 400
    assert list(body(response)) == [field]
    assert not Integration.objects.exists()


def test_the_integration_url_cannot_be_set_by_the_client(admin_api: Client) -> None:
    response = admin_api.post(
        "/api/v1/integrations/",
        {
            "name": "Prod",
            "kind": "aws_sns",
            "url": "http://evil.example/in/mine/",
            "token": "mine",
        },
        content_type="application/json",
    )

    assert response.status_code == 201
    integration = Integration.objects.get()
    assert integration.token != "mine"
    assert body(response)["url"] == integration.url


def test_rotate_url_makes_the_old_url_answer_404_and_the_new_one_work(
    admin_api: Client, no_signatures: None
) -> None:
    integration = IntegrationFactory()
    old_path = integration.inbound_path

    response = admin_api.post(f"/api/v1/integrations/{integration.pk}/rotate-url/")

    integration.refresh_from_db()
    assert response.status_code == 200
    assert body(response)["url"] == integration.url
    assert integration.inbound_path != old_path
    assert post_sns(Client(), old_path, signed_envelope(message=ALARM)).status_code == 404
    assert (
        post_sns(Client(), integration.inbound_path, signed_envelope(message=ALARM)).status_code
        == 200
    )


def test_integrations_can_be_listed_disabled_and_deleted(
    admin_api: Client, no_signatures: None
) -> None:
    integration = IntegrationFactory(name="Prod")
    path = integration.inbound_path

    listed = body(admin_api.get("/api/v1/integrations/"))
    disabled = admin_api.patch(
        f"/api/v1/integrations/{integration.pk}/",
        {"enabled": False},
        content_type="application/json",
    )
    refused = post_sns(Client(), path, signed_envelope(message=ALARM))
    deleted = admin_api.delete(f"/api/v1/integrations/{integration.pk}/")
    gone = post_sns(Client(), path, signed_envelope(message=ALARM))

    assert [(i["name"], i["url"]) for i in listed["results"]] == [("Prod", integration.url)]
    assert (disabled.status_code, body(disabled)["enabled"]) == (200, False)
    assert refused.status_code == 403
    assert deleted.status_code == 204
    assert gone.status_code == 404
    assert admin_api.get(f"/api/v1/integrations/{integration.pk}/").status_code == 404


# --------------------------------------------------------------------------- incidents


def test_incidents_are_listed_newest_first_and_filtered_by_integration_and_state(
    api: Client,
) -> None:
    prod, staging = IntegrationFactory(), IntegrationFactory()
    old = IncidentFactory(integration=prod, state="resolved")
    acked = IncidentFactory(integration=prod, state="acknowledged")
    fresh = IncidentFactory(integration=prod)
    elsewhere = IncidentFactory(integration=staging)

    def ids(query: str) -> list[int]:
        response = api.get(f"/api/v1/incidents/{query}")
        assert response.status_code == 200
        return [incident["id"] for incident in body(response)["results"]]

    assert ids("") == [elsewhere.pk, fresh.pk, acked.pk, old.pk]
    assert ids(f"?integration={prod.pk}") == [fresh.pk, acked.pk, old.pk]
    assert ids("?state=triggered") == [elsewhere.pk, fresh.pk]
    assert ids(f"?integration={prod.pk}&state=triggered") == [fresh.pk]
    assert ids("?state=resolved") == [old.pk]
    assert ids("?state=open") == [elsewhere.pk, fresh.pk, acked.pk]
    assert ids(f"?integration={staging.pk}&state=resolved") == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?state=triggred", "state"),
        ("?integration=abc", "integration"),
        ("?integration=%C2%B2", "integration"),  # "²".isdigit() is true, int("²") fails
        ("?integration=99999999999999999999999999", "integration"),
    ],
)
def test_an_unusable_incident_filter_is_a_400_naming_it(
    api: Client, query: str, field: str
) -> None:
    IncidentFactory()

    response = api.get(f"/api/v1/incidents/{query}")

    assert response.status_code == 400
    assert list(body(response)) == [field]


def test_incident_detail_has_the_timeline(api: Client, no_signatures: None) -> None:
    integration = IntegrationFactory()
    post_sns(Client(), integration.inbound_path, signed_envelope(message=ALARM))
    post_sns(Client(), integration.inbound_path, signed_envelope(message=ALARM))
    incident = Incident.objects.get()

    data = body(api.get(f"/api/v1/incidents/{incident.pk}/"))

    assert data["title"] == "ConsoleSignInFailures"
    assert data["alarm_count"] == 2
    assert [(e["kind"], e["channel"]) for e in data["events"]] == [
        ("triggered", "source"),
        ("appended", "source"),
    ]


def test_acknowledge_over_the_api_is_recorded_with_channel_api_and_is_idempotent(
    api: Client, user: Any
) -> None:
    incident = IncidentFactory()
    url = f"/api/v1/incidents/{incident.pk}/acknowledge/"

    first = api.post(url)
    second = api.post(url)

    incident.refresh_from_db()
    assert first.status_code == second.status_code == 200
    assert body(first)["state"] == body(second)["state"] == "acknowledged"
    assert body(first)["acknowledged_by"] == user.pk
    assert incident.state == Incident.State.ACKNOWLEDGED
    events = [(e["kind"], e["channel"]) for e in body(second)["events"]]
    assert events == [("acknowledged", "api")]
    assert incident.events.get().message == "Acknowledged by responder via api."


def test_resolve_over_the_api_is_recorded_with_channel_api_and_is_idempotent(
    api: Client, user: Any
) -> None:
    incident = IncidentFactory()
    url = f"/api/v1/incidents/{incident.pk}/resolve/"

    first = api.post(url)
    second = api.post(url)
    late_ack = api.post(f"/api/v1/incidents/{incident.pk}/acknowledge/")

    incident.refresh_from_db()
    assert first.status_code == second.status_code == late_ack.status_code == 200
    assert body(late_ack)["state"] == "resolved"
    assert incident.state == Incident.State.RESOLVED
    assert incident.resolved_by == user
    assert list(incident.events.values_list("kind", "via")) == [("resolved", "api")]


def test_acting_on_a_missing_incident_answers_404(api: Client) -> None:
    assert api.post("/api/v1/incidents/999999/acknowledge/").status_code == 404
    assert api.post("/api/v1/incidents/999999/resolve/").status_code == 404
    assert api.get("/api/v1/incidents/999999/").status_code == 404


def test_acknowledge_only_answers_post(api: Client) -> None:
    incident = IncidentFactory()

    response = api.get(f"/api/v1/incidents/{incident.pk}/acknowledge/")

    incident.refresh_from_db()
    assert response.status_code == 405
    assert incident.state == Incident.State.TRIGGERED


def test_incident_list_uses_a_fixed_number_of_queries(
    api: Client, django_assert_max_num_queries: Any
) -> None:
    for _ in range(30):
        IncidentFactory(acknowledged_by=UserFactory(), state="acknowledged")

    with django_assert_max_num_queries(4):
        response = api.get("/api/v1/incidents/")

    assert len(body(response)["results"]) == 30


# ----------------------------------------------------------------------- Inbound Log


def test_inbound_messages_are_filtered_by_integration_and_outcome(
    api: Client, no_signatures: None
) -> None:
    prod, staging = IntegrationFactory(), IntegrationFactory()
    post_sns(Client(), prod.inbound_path, signed_envelope(message=ALARM))
    post_sns(Client(), prod.inbound_path, "{not json")
    post_sns(Client(), staging.inbound_path, signed_envelope(message=ALARM))
    prod_ok, prod_bad, staging_ok = InboundMessage.objects.order_by("id")

    def rows(query: str) -> list[dict[str, Any]]:
        response = api.get(f"/api/v1/inbound-messages/{query}")
        assert response.status_code == 200
        return list(body(response)["results"])

    assert [r["id"] for r in rows("")] == [staging_ok.pk, prod_bad.pk, prod_ok.pk]
    assert [r["id"] for r in rows(f"?integration={prod.pk}")] == [prod_bad.pk, prod_ok.pk]
    assert [r["id"] for r in rows("?outcome=rejected")] == [prod_bad.pk]
    bad, ok = rows(f"?integration={prod.pk}")
    assert bad["outcome"] == "rejected"
    assert bad["outcome_text"].startswith("Rejected: malformed JSON:")
    assert (ok["outcome_text"], ok["message_type"]) == ("Created incident", "Notification")
    assert ok["incident"] == Incident.objects.get(integration=prod).pk


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?integration=abc", "integration"),
        ("?integration=%C2%B2", "integration"),
        ("?integration=99999999999999999999999999", "integration"),
        ("?outcome=zzz", "outcome"),
    ],
)
def test_an_unusable_inbound_filter_is_a_400_naming_it(
    api: Client, query: str, field: str
) -> None:
    response = api.get(f"/api/v1/inbound-messages/{query}")

    assert response.status_code == 400
    assert list(body(response)) == [field]


def test_unsubscribe_url_is_masked_in_the_api(api: Client, no_signatures: None) -> None:
    integration = IntegrationFactory()
    envelope = signed_envelope(message=ALARM)
    post_sns(Client(), integration.inbound_path, envelope)
    row = InboundMessage.objects.get()
    secret = envelope["UnsubscribeURL"].split("SubscriptionArn=")[1]

    listed = api.get(f"/api/v1/inbound-messages/?integration={integration.pk}")
    detail = api.get(f"/api/v1/inbound-messages/{row.pk}/")

    for response in (listed, detail):
        assert response.status_code == 200
        assert secret not in response.content.decode()
        assert envelope["UnsubscribeURL"] not in response.content.decode()
    shown = json.loads(body(detail)["body"])
    assert shown["UnsubscribeURL"] == "(masked: opening this link would unsubscribe Klaxon)"
    assert shown["Message"]["AlarmName"] == "ConsoleSignInFailures"
    assert row.body == json.dumps(envelope)  # stored as received; only the display masks


def test_schema_documents_the_filters_and_the_rotate_action(signed_in: Client) -> None:
    response = signed_in.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    paths = json.loads(response.content)["paths"]
    assert "/api/v1/integrations/{id}/rotate-url/" in paths
    parameters = {p["name"]: p for p in paths["/api/v1/incidents/"]["get"]["parameters"]}
    assert "integration" in parameters
    assert parameters["state"]["schema"]["enum"] == [
        "acknowledged",
        "open",
        "resolved",
        "triggered",
    ]
    outcome = {p["name"]: p for p in paths["/api/v1/inbound-messages/"]["get"]["parameters"]}
    assert "rejected" in outcome["outcome"]["schema"]["enum"]
