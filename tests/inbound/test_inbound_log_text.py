"""The Inbound Log shows every stored row, whatever was posted: arbitrary bytes, JSON
whose escapes decode to lone surrogates ("\\ud800"), NUL, deep nesting. Requests go
through the real views (the Twilio webhook and an integration URL store them), and
rows already stored with bad text (inserted with SQL, as each database allows) render on
the list page, the detail page and the API list and detail, never as a 500."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token

from integrations.models import InboundMessage
from tests.conftest import TWILIO_TEST_TOKEN as TOKEN
from tests.conftest import WORKER_BASE_URL as BASE
from tests.factories import IntegrationFactory, UserFactory
from tests.twilio_signing import twilio_signature

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("twilio_webhooks")]

SMS_URL = "/webhooks/twilio/sms/"
LIST = "/integrations/inbound-log/"
API_LIST = "/api/v1/inbound-messages/"


@pytest.fixture
def reader() -> tuple[Client, Client]:
    """A signed-in page client and an API client."""
    user = UserFactory(username="reader")
    page = Client()
    page.force_login(user)
    api = Client(headers={"Authorization": f"Token {Token.objects.create(user=user).key}"})
    return page, api


def assert_shown(reader: tuple[Client, Client], row_id: int) -> dict[str, Any]:
    """Every view of the Inbound Log answers 200 with ``row_id`` on it; the API detail."""
    page, api = reader
    listed = page.get(LIST)
    assert listed.status_code == 200
    assert f'href="{LIST}{row_id}/"' in listed.content.decode()
    assert page.get(f"{LIST}{row_id}/").status_code == 200
    api_list = api.get(API_LIST)
    assert api_list.status_code == 200
    assert row_id in [row["id"] for row in api_list.json()["results"]]
    detail = api.get(f"{API_LIST}{row_id}/")
    assert detail.status_code == 200
    data: dict[str, Any] = detail.json()
    return data


def newest_row() -> InboundMessage:
    row = InboundMessage.objects.order_by("-id").first()
    assert row is not None
    return row


def test_a_lone_surrogate_posted_to_the_sms_webhook_is_stored_and_shown(
    client: Client, reader: tuple[Client, Client]
) -> None:
    # The attack as reported: unsigned, so refused (403) and stored.
    response = client.post(SMS_URL, '{"Body":"\\ud800"}', content_type="application/json")

    assert response.status_code == 403
    row = newest_row()
    assert row.body == '{"Body":"\\ud800"}'  # kept exactly as it came
    shown = assert_shown(reader, row.pk)
    assert shown["body"] == '{\n  "Body": "\ufffd"\n}'
    assert "\ufffd" in reader[0].get(f"{LIST}{row.pk}/").content.decode()


def test_a_signed_webhook_whose_fields_decode_to_lone_surrogates_is_stored(
    client: Client, reader: tuple[Client, Client]
) -> None:
    body = json.dumps({"From": "\ud800+1500", "Body": "4", "MessageSid": "SM\udfff\x00"})
    path = f"{SMS_URL}?bodySHA256={hashlib.sha256(body.encode()).hexdigest()}"

    response = client.post(
        path,
        body,
        content_type="application/json",
        headers={"X-Twilio-Signature": twilio_signature(TOKEN, BASE + path, {})},
    )

    assert response.status_code == 200  # "not registered", answered in a TwiML reply
    row = newest_row()
    assert row.message_id == "SM\ufffd\ufffd"
    assert row.reason.startswith("\ufffd+1500 is not a verified number")
    assert_shown(reader, row.pk)


def test_rows_stored_with_bad_text_before_the_fix_still_render(
    reader: tuple[Client, Client],
) -> None:
    # (stored body, what the API shows of it)
    bodies = [
        ('{"Body":"\\ud800"}', '"Body": "\ufffd"'),
        (
            '{"Message": "{\\"AlarmName\\": \\"\\\\udfff\\"}", "Type": "Notification"}',
            '"AlarmName": "\ufffd"',
        ),
        # Too deep to walk: shown as stored (the escape is six plain characters).
        ("[" * 5000 + '"\\ud800"' + "]" * 5000, '[["\\ud800"]]'),
        (
            '"\\udc00 https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=x"',
            "\ufffd https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=…",
        ),
    ]
    # PostgreSQL's jsonb refuses a lone surrogate escape; SQLite keeps whatever text.
    headers = "{}" if connection.vendor == "postgresql" else '{"X-Evil": "\\ud800"}'
    integration = IntegrationFactory()
    table = InboundMessage._meta.db_table
    for body, expected in bodies:
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (source, integration_id, received_at, headers, body, "
                "body_size, message_type, message_id, topic_arn, subscribe_url, outcome, "
                "reason, confirm_result) VALUES ('twilio', %s, CURRENT_TIMESTAMP, %s, %s, 0, "
                "'', '', '', '', 'rejected', '', '')",
                [integration.pk, headers, body],
            )
        shown = assert_shown(reader, newest_row().pk)
        assert expected in shown["body"]
        json.dumps(shown, ensure_ascii=False).encode("utf-8")  # no lone surrogate left


# --- Property: anything posted is shown -------------------------------------------------

# Text that may hold lone surrogates and NUL (hypothesis leaves surrogates out by default).
any_text = st.text(st.characters(exclude_categories=()), max_size=20)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | any_text,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(any_text, children, max_size=4)
    ),
    max_leaves=20,
)


@st.composite
def hostile_bodies(draw: st.DrawFn) -> bytes:
    """Arbitrary bytes, or JSON (escaped or raw, surrogates and all), or deep nesting."""
    kind = draw(st.sampled_from(["bytes", "json", "nested"]))
    if kind == "bytes":
        return draw(st.binary(max_size=300))
    if kind == "nested":
        depth = draw(st.integers(min_value=1, max_value=5_000))
        opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
        return (opener * depth + '"\\ud800"' + closer * depth).encode()
    value = draw(json_values)
    if draw(st.booleans()):
        envelope = {"Type": "Notification", "Message": json.dumps(value)}
        value = draw(st.sampled_from([value, envelope]))
    # ensure_ascii writes lone surrogates as \ud800 escapes; without it they go out as
    # the (invalid) UTF-8 a careless encoder would send.
    ascii_only = draw(st.booleans())
    return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=hostile_bodies(), content_type=st.sampled_from(["application/json", "text/plain"]))
@example(body=b'{"Body":"\\ud800"}', content_type="application/json")
@example(body=b'{"a":"\\ud800\\u0000"}', content_type="text/plain")
def test_anything_posted_to_the_sms_webhook_or_an_integration_url_is_shown(
    client: Client, reader: tuple[Client, Client], body: bytes, content_type: str
) -> None:
    integration = IntegrationFactory()
    for path in (SMS_URL, integration.inbound_path):
        response = client.post(path, body, content_type=content_type)
        assert response.status_code in (400, 403, 413), response.content
        assert_shown(reader, newest_row().pk)
