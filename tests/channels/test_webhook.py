"""Outgoing webhooks: Standard Webhooks signatures a receiver's library accepts, the
documented body or a sandboxed template, and what each kind of answer means."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import socket
from typing import Any

import pytest
import standardwebhooks

from notifications.channels import webhook
from notifications.channels.base import ChannelError, PermanentChannelError, Purpose
from tests.channels.conftest import message
from tests.fakes.server import Reply, WebhookReceiver

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def channel(**kwargs: Any) -> webhook.WebhookChannel:
    kwargs.setdefault("secret", SECRET)
    kwargs.setdefault("allow_private", True)  # the receiver is on loopback
    kwargs.setdefault("timeout", 2.0)
    return webhook.WebhookChannel(**kwargs)


def test_signature_matches_the_published_standard_webhooks_vector() -> None:
    signature = webhook.sign(
        secret=SECRET,
        message_id="msg_p5jXN8AQM9LWM0D4loKWxJek",
        timestamp=1614265330,
        body=b'{"test": 2432232314}',
    )
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_new_secrets_are_random_32_byte_whsec_keys() -> None:
    first, second = webhook.secret_new(), webhook.secret_new()
    assert first.startswith("whsec_") and first != second
    assert len(webhook.secret_key(first)) == 32


@pytest.mark.parametrize(
    ("secret", "problem"),
    [("MfKQ9r8GKYqr", "starts with whsec_"), ("whsec_not base64!", "base64"), ("whsec_", "empty")],
)
def test_unusable_secrets_are_refused_when_the_channel_is_built(secret: str, problem: str) -> None:
    with pytest.raises(webhook.WebhookConfigError, match=problem):
        webhook.WebhookChannel(secret=secret)


def test_a_delivery_verifies_with_the_standard_webhooks_library(receiver: WebhookReceiver) -> None:
    delivery = channel().send(message(receiver.url()))

    [request] = receiver.requests
    document = standardwebhooks.Webhook(SECRET).verify(request.body, request.headers)
    assert document == webhook.default_document(message(receiver.url()))
    assert request.headers["webhook-id"] == "ntf_42"
    assert request.headers["content-type"] == "application/json"
    assert delivery.provider_id == "ntf_42"
    assert delivery.provider_status == "200"
    assert delivery.body == request.body.decode()


def test_a_delivery_verifies_with_an_independent_hmac(receiver: WebhookReceiver) -> None:
    channel(clock=lambda: 1_700_000_000.7).send(message(receiver.url()))

    [request] = receiver.requests
    assert request.headers["webhook-timestamp"] == "1700000000"
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    signed = b"ntf_42.1700000000." + request.body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert request.headers["webhook-signature"] == f"v1,{expected}"


def test_a_tampered_body_or_another_secret_does_not_verify(receiver: WebhookReceiver) -> None:
    channel().send(message(receiver.url()))
    [request] = receiver.requests
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(SECRET).verify(request.body + b" ", request.headers)
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(webhook.secret_new()).verify(request.body, request.headers)


def test_retries_keep_the_webhook_id_and_sign_a_fresh_timestamp(receiver: WebhookReceiver) -> None:
    now = [1_700_000_000.0]
    hook = channel(clock=lambda: now[0])
    hook.send(message(receiver.url()))
    now[0] += 30
    hook.send(message(receiver.url()))

    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == "ntf_42"
    assert int(second.headers["webhook-timestamp"]) - int(first.headers["webhook-timestamp"]) == 30
    assert first.headers["webhook-signature"] != second.headers["webhook-signature"]


def test_the_default_body_is_the_documented_version_1_document(receiver: WebhookReceiver) -> None:
    channel().send(message(receiver.url(), purpose=Purpose.ACKNOWLEDGED, text="Acked by alice"))

    assert receiver.requests[0].json() == {
        "version": 1,
        "event": "incident.acknowledged",
        "id": "ntf_42",
        "occurred_at": "2025-03-04T05:07:00+00:00",
        "message": "Acked by alice",
        "incident": {
            "number": 12,
            "title": "CPU high on db-1",
            "state": "triggered",
            "severity": "critical",
            "url": "https://klaxon.example.com/incidents/12/",
            "integration": "prod AWS",
            "description": "Threshold Crossed: 1 datapoint [97.0] was greater than 90.",
            "opened_at": "2025-03-04T05:06:00+00:00",
        },
    }


def test_a_test_message_has_event_test_and_no_incident(receiver: WebhookReceiver) -> None:
    channel().send(message(receiver.url(), purpose=Purpose.TEST, incident=None, text="Hello"))
    sent = receiver.requests[0].json()
    assert (sent["event"], sent["incident"], sent["message"]) == ("test", None, "Hello")


def test_a_template_shapes_the_body_and_the_signature_covers_it(
    receiver: WebhookReceiver,
) -> None:
    template = (
        '{"text": "[{{ incident.severity | upper }}] #{{ incident.number }} '
        '{{ incident.title }} is {{ incident.state }}", "raw": {{ payload | tojson }}}'
    )
    delivery = channel(template=template).send(message(receiver.url()))

    [request] = receiver.requests
    sent = standardwebhooks.Webhook(SECRET).verify(request.body, request.headers)
    assert sent["text"] == "[CRITICAL] #12 CPU high on db-1 is triggered"
    assert sent["raw"]["event"] == "incident.triggered"
    assert delivery.body == request.body.decode()


def test_a_plain_text_template_is_sent_with_its_content_type(receiver: WebhookReceiver) -> None:
    channel(template="#{{ incident.number }}: {{ message }}", content_type="text/plain").send(
        message(receiver.url())
    )
    [request] = receiver.requests
    assert request.body == b"#12: Paging alice: escalation step 1 of 2"
    assert request.headers["content-type"] == "text/plain"


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("{{ incident.title ", "template error"),
        ("{{ incident.nope }}", "has no attribute 'nope'"),
        ("{{ unknown_name }}", "'unknown_name' is undefined"),
        ("{{ ''.__class__.__mro__ }}", "unsafe"),
        ("{{ incident.__init__.__globals__ }}", "unsafe"),
        ("{% for i in range(100000) %}x{% endfor %}", "range() is limited"),
        ("{% for i in range(900) %}{{ payload | tojson }}{% endfor %}", "output is over"),
        ("{{ 1 / 0 }}", "ZeroDivisionError"),
        ("x" * (webhook.TEMPLATE_MAX_CHARS + 1), "over 16384 characters"),
    ],
)
def test_bad_templates_are_refused_with_the_problem(template: str, problem: str) -> None:
    with pytest.raises(webhook.WebhookConfigError, match=re.escape(problem)):
        webhook.validate_template(template)


def test_a_template_cannot_change_the_data_it_is_given() -> None:
    with pytest.raises(webhook.WebhookConfigError, match="unsafe|not safely"):
        webhook.validate_template("{{ payload.update({'event': 'x'}) }}")


def test_a_template_that_fails_at_send_time_is_a_permanent_error_and_sends_nothing(
    receiver: WebhookReceiver,
) -> None:
    # Valid for an incident, but a test message has none.
    hook = channel(template="{{ incident.title }}")
    with pytest.raises(PermanentChannelError) as failed:
        hook.send(message(receiver.url(), purpose=Purpose.TEST, incident=None))
    assert failed.value.code == "template"
    assert receiver.requests == []


def test_the_answer_is_recorded(receiver: WebhookReceiver) -> None:
    receiver.then_reply(Reply(201, b"A" * 5000, {"Content-Type": "text/plain"}))
    delivery = channel().send(message(receiver.url()))
    assert delivery.response is not None
    assert delivery.response.status_code == 201
    assert delivery.response.body == "A" * 1024
    assert 0 <= delivery.response.duration_ms < 2000


@pytest.mark.parametrize(
    ("reply", "permanent", "code"),
    [
        (Reply(410, b"unsubscribed"), True, "http_410"),
        (Reply(404, b"no such hook"), True, "http_404"),
        (Reply(400, b"bad payload"), True, "http_400"),
        (Reply(401, b"bad signature"), True, "http_401"),
        (Reply(500, b"oops"), False, "http_500"),
        (Reply(503, b"later"), False, "http_503"),
        (Reply(429, b"slow down", {"Retry-After": "17"}), False, "http_429"),
        (Reply(302, b"", {"Location": "https://elsewhere.example/"}), True, "http_302"),
    ],
)
def test_answers_map_to_permanent_or_transient_errors(
    receiver: WebhookReceiver, reply: Reply, permanent: bool, code: str
) -> None:
    receiver.then_reply(reply)
    with pytest.raises(ChannelError) as failed:
        channel().send(message(receiver.url()))
    assert (failed.value.permanent, failed.value.code) == (permanent, code)
    assert failed.value.response is not None
    assert failed.value.response.status_code == reply.status
    if reply.status == 429:
        assert failed.value.retry_after == 17
    if reply.status == 302:
        assert "redirects are not followed" in failed.value.message
    if reply.status == 400:
        assert "bad payload" in failed.value.message


def test_a_slow_receiver_is_a_transient_timeout(receiver: WebhookReceiver) -> None:
    receiver.then_reply(Reply(200, b"late", delay=1.5))
    with pytest.raises(ChannelError) as failed:
        channel(timeout=0.3).send(message(receiver.url()))
    assert (failed.value.permanent, failed.value.code) == (False, "timeout")


def test_a_closed_port_is_a_transient_failure() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ChannelError) as failed:
        channel().send(message(f"http://127.0.0.1:{port}/hook"))
    assert (failed.value.permanent, failed.value.code) == (False, "unreachable")


def test_private_targets_are_refused_unless_allowed(receiver: WebhookReceiver) -> None:
    with pytest.raises(PermanentChannelError) as failed:
        channel(allow_private=False).send(message(receiver.url()))
    assert failed.value.code == "url_refused"
    assert "loopback" in failed.value.message
    assert receiver.requests == []


def test_from_settings_reads_the_allow_private_setting(
    receiver: WebhookReceiver, settings: Any
) -> None:
    settings.KLAXON_WEBHOOK_ALLOW_PRIVATE = False
    refused = webhook.WebhookChannel.from_settings({"secret": SECRET})
    with pytest.raises(PermanentChannelError):
        refused.send(message(receiver.url()))

    settings.KLAXON_WEBHOOK_ALLOW_PRIVATE = True
    allowed = webhook.WebhookChannel.from_settings({"secret": SECRET, "template": "{{ id }}"})
    assert allowed.send(message(receiver.url())).provider_status == "200"
    assert receiver.requests[0].body == b"ntf_42"


def test_from_settings_needs_a_secret() -> None:
    with pytest.raises(webhook.WebhookConfigError, match="needs its secret"):
        webhook.WebhookChannel.from_settings({})
