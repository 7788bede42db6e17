"""Web Push: VAPID keys, browser subscriptions, and a page that reaches the phone
encrypted and signed (checked and decrypted by a local push service)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid02

from notifications.channels import push
from notifications.channels.base import ChannelError, PermanentChannelError, Purpose
from tests.channels.conftest import incident, message
from tests.fakes.push import FakePushService, VapidRefused, verify_vapid
from tests.fakes.server import Reply

KEYS = push.vapid_keys_generate()
SUBJECT = "mailto:oncall@example.com"


def channel(**kwargs: Any) -> push.PushChannel:
    kwargs.setdefault("vapid_private_key", KEYS.private_key)
    kwargs.setdefault("subject", SUBJECT)
    kwargs.setdefault("allow_private", True)  # the fake push service is on loopback
    kwargs.setdefault("timeout", 2.0)
    return push.PushChannel(**kwargs)


# --- Keys and subscriptions -------------------------------------------------------------


def test_a_generated_key_pair_loads_back_from_its_stored_form() -> None:
    keys = push.vapid_keys_generate()
    assert push.vapid_keys_load(keys.private_key) == keys
    public = push.b64url_decode(keys.public_key)
    assert len(public) == 65 and public[0] == 4  # what applicationServerKey takes
    assert push.vapid_keys_generate() != keys


def test_a_pem_private_key_is_accepted() -> None:
    pem = (
        KEYS.signing_key()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    assert push.vapid_keys_load(pem) == KEYS


@pytest.mark.parametrize(
    ("stored", "problem"),
    [
        ("c2hvcnQ", "32 bytes"),
        ("-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----", "not a usable"),
    ],
)
def test_unusable_private_keys_are_refused(stored: str, problem: str) -> None:
    with pytest.raises(push.PushConfigError, match=problem):
        push.vapid_keys_load(stored)


def test_a_browser_subscription_parses(push_service: FakePushService) -> None:
    browser = push_service.subscribe()
    parsed = push.parse_subscription(browser.subscription_json())
    assert parsed.as_dict() == browser.subscription()
    assert push.parse_subscription(parsed.to_json()) == parsed


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda s: "not json", "not JSON"),
        (lambda s: {**s, "endpoint": "ftp://push.example/"}, "no http"),
        (lambda s: {"endpoint": s["endpoint"]}, "no keys"),
        (lambda s: {**s, "keys": {"auth": s["keys"]["auth"]}}, "needs keys.p256dh"),
        (lambda s: {**s, "keys": {**s["keys"], "p256dh": "AAAA"}}, "not a P-256 public key"),
        (lambda s: {**s, "keys": {**s["keys"], "auth": "AAAA"}}, "16 bytes, not 3"),
    ],
)
def test_broken_subscriptions_are_refused_with_the_problem(
    push_service: FakePushService, change: Any, problem: str
) -> None:
    changed = change(push_service.subscribe().subscription())
    with pytest.raises(push.PushConfigError, match=problem):
        push.parse_subscription(changed if isinstance(changed, str) else json.dumps(changed))


# --- Sending ----------------------------------------------------------------------------


def test_a_page_reaches_the_browser_encrypted_with_an_acknowledge_action(
    push_service: FakePushService,
) -> None:
    browser = push_service.subscribe()
    delivery = channel(ttl=600).send(message(browser.subscription_json()))

    [pushed] = push_service.pushed
    assert pushed.browser == browser.id
    assert pushed.payload == {
        "version": 1,
        "title": "#12 CPU high on db-1",
        "body": "Paging alice: escalation step 1 of 2",
        "url": "https://klaxon.example.com/incidents/12/",
        "tag": "klaxon-incident-12",
        "incident": 12,
        "state": "triggered",
        "purpose": "triggered",
        "actions": [
            {
                "action": "acknowledge",
                "title": "Acknowledge",
                "url": "https://klaxon.example.com/n/act/ACK-TOKEN/",
            }
        ],
    }
    assert pushed.headers["urgency"] == "high"
    assert pushed.headers["ttl"] == "600"
    assert pushed.headers["topic"] == "klaxon-incident-12"
    assert pushed.claims["sub"] == SUBJECT
    assert pushed.claims["aud"] == push_service.base_url
    assert delivery.provider_id == f"{push_service.base_url}/messages/1"
    assert delivery.provider_status == "201"
    assert (delivery.subject, delivery.body) == (
        "#12 CPU high on db-1",
        "Paging alice: escalation step 1 of 2",
    )


def test_no_acknowledge_action_once_acknowledged(push_service: FakePushService) -> None:
    browser = push_service.subscribe()
    channel().send(
        message(
            browser.subscription_json(),
            purpose=Purpose.RESOLVED,
            incident=incident(state="resolved"),
            text="Resolved by bob",
        )
    )
    payload = push_service.pushed[0].payload
    assert (payload["actions"], payload["state"], payload["body"]) == (
        [],
        "resolved",
        "Resolved by bob",
    )


def test_a_test_push_needs_no_incident(push_service: FakePushService) -> None:
    browser = push_service.subscribe()
    channel().send(
        message(browser.subscription_json(), purpose=Purpose.TEST, incident=None, text="")
    )
    payload = push_service.pushed[0].payload
    assert payload["title"] == "Klaxon test message"
    assert payload["incident"] is None
    assert "topic" not in push_service.pushed[0].headers


def test_a_long_text_is_shortened_to_fit_one_push_message(push_service: FakePushService) -> None:
    browser = push_service.subscribe()
    channel().send(message(browser.subscription_json(), text="é" * 5000))
    payload = push_service.pushed[0].payload
    assert payload["body"].endswith("...")
    assert len(push_service.requests[0].body) <= 4096  # one push message, encrypted


def test_a_gone_subscription_is_a_permanent_error(push_service: FakePushService) -> None:
    browser = push_service.subscribe()
    push_service.gone.add(browser.id)
    with pytest.raises(PermanentChannelError) as failed:
        channel().send(message(browser.subscription_json()))
    assert failed.value.code == "http_410"
    assert "subscription is gone" in failed.value.message


@pytest.mark.parametrize(
    ("reply", "permanent", "retry_after"),
    [
        (Reply(404, b"unknown"), True, None),
        (Reply(413, b"too big"), True, None),
        (Reply(429, b"slow down", {"Retry-After": "120"}), False, 120),
        (Reply(503, b"busy"), False, None),
    ],
)
def test_push_service_answers_map_to_permanent_or_transient(
    push_service: FakePushService, reply: Reply, permanent: bool, retry_after: float | None
) -> None:
    browser = push_service.subscribe()
    push_service.then_reply(reply)
    with pytest.raises(ChannelError) as failed:
        channel().send(message(browser.subscription_json()))
    assert failed.value.permanent is permanent
    assert failed.value.retry_after == retry_after
    assert failed.value.response is not None and failed.value.response.status_code == reply.status


def test_a_slow_push_service_is_a_transient_timeout(push_service: FakePushService) -> None:
    browser = push_service.subscribe()
    push_service.then_reply(Reply(201, b"", delay=1.5))
    with pytest.raises(ChannelError) as failed:
        channel(timeout=0.3).send(message(browser.subscription_json()))
    assert (failed.value.permanent, failed.value.code) == (False, "timeout")


def test_a_broken_subscription_is_a_permanent_error() -> None:
    with pytest.raises(PermanentChannelError) as failed:
        channel().send(message('{"endpoint": "https://push.example/x"}'))
    assert failed.value.code == "subscription"


def test_an_endpoint_on_a_private_address_is_refused(push_service: FakePushService) -> None:
    browser = push_service.subscribe()
    with pytest.raises(PermanentChannelError, match="loopback"):
        channel(allow_private=False).send(message(browser.subscription_json()))
    assert push_service.requests == []


def test_without_a_vapid_key_pushes_are_recorded_not_sent(push_service: FakePushService) -> None:
    browser = push_service.subscribe()
    delivery = channel(vapid_private_key="").send(message(browser.subscription_json()))
    assert (delivery.outbox, delivery.provider_status) == (True, "recorded")
    assert delivery.subject == "#12 CPU high on db-1"
    assert push_service.requests == []


def test_the_subject_must_be_a_mailto_or_https_url() -> None:
    with pytest.raises(push.PushConfigError, match="mailto: or https:"):
        channel(subject="oncall@example.com")


def test_from_settings_defaults_the_subject_to_the_from_address(settings: Any) -> None:
    settings.WEBPUSH_VAPID_PRIVATE_KEY = KEYS.private_key
    settings.DEFAULT_FROM_EMAIL = "Klaxon <pager@example.com>"
    built = push.PushChannel.from_settings()
    assert built.subject == "mailto:pager@example.com"
    assert built.keys == KEYS


# --- The fake checks what a push service checks (so the tests above mean something) -----


def _vapid_header(audience: str, **claims: Any) -> str:
    signer = Vapid02(KEYS.signing_key())
    return str(
        signer.sign({"sub": SUBJECT, "aud": audience, "exp": int(time.time()) + 600, **claims})[
            "Authorization"
        ]
    )


def test_the_fake_push_service_refuses_a_forged_or_misaddressed_token() -> None:
    audience = "http://127.0.0.1:1234"
    good = _vapid_header(audience)
    assert verify_vapid(good, audience=audience, now=time.time())["sub"] == SUBJECT
    token = good.split("t=")[1].split(",")[0]
    head, body, signature = token.split(".")
    forged = good.replace(body, push.b64url(b'{"aud":"http://127.0.0.1:1234","exp":1,"sub":"x"}'))
    with pytest.raises(VapidRefused, match="does not verify"):
        verify_vapid(forged, audience=audience, now=time.time())
    with pytest.raises(VapidRefused, match="aud is"):
        verify_vapid(good, audience="http://127.0.0.1:9999", now=time.time())
    late = _vapid_header(audience, exp=int(time.time()) + 3 * 24 * 3600)
    with pytest.raises(VapidRefused, match="24 hours"):
        verify_vapid(late, audience=audience, now=time.time())
