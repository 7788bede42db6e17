"""The inbound path end to end: signed SNS requests to an integration URL, the Inbound
Log row each leaves, and the incidents they open, append to and resolve."""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import OperationalError
from django.db.backends.utils import CursorWrapper
from django.test import Client

from incidents.models import Incident, IncidentEvent
from integrations.models import InboundMessage, Integration
from tests.factories import IntegrationFactory
from tests.helpers import alarm_message
from tests.sns_peer import SnsPeer
from tests.sns_signing import DEFAULT_TOPIC_ARN, sign_body, signed_envelope

pytestmark = pytest.mark.django_db

ALARM_ARN = "arn:aws:cloudwatch:eu-west-1:111122223333:alarm:ConsoleSignInFailures"


@dataclass
class Sns:
    """Posts SNS deliveries to one integration, signed with our test certificate, whose
    certificate the local SNS peer serves to Klaxon's fetcher."""

    client: Client
    peer: SnsPeer
    integration: Integration

    def envelope(self, message: str = "", **kwargs: Any) -> dict[str, Any]:
        kwargs.setdefault("cert_url", self.peer.cert_url)
        return signed_envelope(message=message, **kwargs)

    def post_body(self, body: bytes | str, path: str | None = None, **extra: Any) -> Any:
        return self.client.post(
            path or self.integration.inbound_path,
            data=body,
            # SNS says UTF-8; the test client passes raw bytes through only for "utf-8".
            content_type="text/plain; charset=utf-8",
            **extra,
        )

    def post(self, envelope: dict[str, Any], **extra: Any) -> Any:
        return self.post_body(json.dumps(envelope), **extra)

    def alarm(
        self, state: str = "ALARM", at: str = "2026-11-21T03:15:12.884+0000", **kw: Any
    ) -> Any:
        return self.post(self.envelope(alarm_message(state, at, **kw)))

    def row(self) -> InboundMessage:
        return InboundMessage.objects.latest("id")


@pytest.fixture
def peer() -> Iterator[SnsPeer]:
    peer = SnsPeer().start()
    yield peer
    peer.stop()


@pytest.fixture
def sns(client: Client, peer: SnsPeer, settings: Any) -> Sns:
    settings.SNS_CERT_URL_PATTERN = peer.cert_url_pattern
    settings.SNS_SUBSCRIBE_URL_PATTERN = peer.subscribe_url_pattern
    from integrations.sns_http import clear_certificate_cache

    clear_certificate_cache()
    return Sns(client, peer, IntegrationFactory())


# --- subscription --------------------------------------------------------------------


def test_subscription_confirmation_is_logged_and_confirmed_automatically(
    sns: Sns, django_capture_on_commit_callbacks: Any
) -> None:
    envelope = sns.envelope(
        "You have chosen to subscribe to the topic.",
        type="SubscriptionConfirmation",
        subscribe_url=sns.peer.subscribe_url(DEFAULT_TOPIC_ARN),
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = sns.post(envelope)
    assert response.status_code == 200
    row = sns.row()
    assert row.message_type == "SubscriptionConfirmation"
    assert row.subscribe_url == envelope["SubscribeURL"]
    assert row.outcome == "subscription_confirmed"
    assert row.confirm_status == 200
    assert row.confirm_result.startswith(f"confirmed: {DEFAULT_TOPIC_ARN}:")
    integration = Integration.objects.get(pk=sns.integration.pk)
    assert integration.subscription_status == "confirmed"
    assert integration.topic_arn == DEFAULT_TOPIC_ARN
    assert sns.peer.hits["/"] == 1


def test_without_auto_confirm_the_subscription_waits_for_a_click(
    sns: Sns, settings: Any, django_capture_on_commit_callbacks: Any, user: Any
) -> None:
    settings.SNS_AUTO_CONFIRM = False
    envelope = sns.envelope(
        "confirm me",
        type="SubscriptionConfirmation",
        subscribe_url=sns.peer.subscribe_url(DEFAULT_TOPIC_ARN),
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert sns.post(envelope).status_code == 200
    row = sns.row()
    assert row.outcome == "subscription_pending"
    assert sns.peer.hits["/"] == 0
    assert Integration.objects.get(pk=sns.integration.pk).subscription_status == "pending"

    user.is_staff = True  # confirming a subscription is an admin's job
    user.save()
    sns.client.force_login(user)
    response = sns.client.post(f"/integrations/inbound-log/{row.pk}/confirm/")
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.outcome == "subscription_confirmed"
    assert Integration.objects.get(pk=sns.integration.pk).subscription_status == "confirmed"


def test_a_subscribe_url_off_the_sns_hosts_is_never_visited(
    sns: Sns, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.SNS_SUBSCRIBE_URL_PATTERN = r"https://sns\.[a-z0-9-]+\.amazonaws\.com/\?.*"
    envelope = sns.envelope(
        "confirm me",
        type="SubscriptionConfirmation",
        subscribe_url=sns.peer.subscribe_url(DEFAULT_TOPIC_ARN),  # the peer, not allowed now
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert sns.post(envelope).status_code == 200
    row = sns.row()
    assert row.outcome == "subscription_pending"
    assert "not allowed" in row.confirm_result
    assert sns.peer.hits["/"] == 0


def test_unsubscribe_confirmation_marks_the_integration_unsubscribed(sns: Sns) -> None:
    envelope = sns.envelope(
        "You have chosen to deactivate subscription.",
        type="UnsubscribeConfirmation",
        subscribe_url=sns.peer.subscribe_url(DEFAULT_TOPIC_ARN),
    )
    assert sns.post(envelope).status_code == 200
    assert sns.row().outcome == "unsubscribed"
    assert Integration.objects.get(pk=sns.integration.pk).subscription_status == "unsubscribed"


def test_topic_is_pinned_and_other_topics_are_rejected(sns: Sns) -> None:
    assert sns.alarm().status_code == 200
    assert Integration.objects.get(pk=sns.integration.pk).topic_arn == DEFAULT_TOPIC_ARN
    other = "arn:aws:sns:us-east-1:999999999999:someone-else"
    response = sns.post(sns.envelope(alarm_message(at="2026-11-21T04:00:00Z"), topic_arn=other))
    assert response.status_code == 403
    assert "wrong topic" in response.content.decode()
    row = sns.row()
    assert row.outcome == "rejected" and other in row.reason
    assert Incident.objects.get().alarm_count == 1


# --- CloudWatch alarms ------------------------------------------------------------------


def test_alarm_opens_an_incident_titled_after_the_alarm(sns: Sns) -> None:
    response = sns.alarm()
    assert response.status_code == 200
    incident = Incident.objects.get()
    assert incident.state == "triggered"
    assert incident.title == "ConsoleSignInFailures"
    assert incident.dedup_key == ALARM_ARN
    assert incident.details["account_id"] == "111122223333"
    assert incident.details["region_code"] == "eu-west-1"
    assert "ConsoleSigninFailureCount" in incident.details["metric_summary"]
    row = sns.row()
    assert (row.outcome, row.incident_id) == ("created", incident.pk)
    assert list(incident.events.values_list("kind", flat=True)) == ["triggered"]


def test_repeated_alarm_appends_to_the_open_incident(sns: Sns) -> None:
    sns.alarm(at="2026-11-21T03:15:12.884+0000")
    sns.alarm(at="2026-11-21T03:20:12.884+0000")
    sns.alarm(at="2026-11-21T03:25:12Z")
    incident = Incident.objects.get()
    assert incident.alarm_count == 3
    assert incident.state == "triggered"
    assert [r.outcome for r in InboundMessage.objects.order_by("id")] == [
        "created",
        "appended",
        "appended",
    ]
    kinds = list(incident.events.values_list("kind", flat=True))
    assert kinds == ["triggered", "appended", "appended"]


def test_ok_resolves_the_open_incident_by_source(sns: Sns) -> None:
    sns.alarm(at="2026-11-21T03:15:12.884+0000")
    assert sns.alarm("OK", at="2026-11-21T03:20:12.901+0000").status_code == 200
    incident = Incident.objects.get()
    assert incident.state == "resolved" and incident.resolved_by is None
    resolved = incident.events.get(kind="resolved")
    assert resolved.via == "source" and "Resolved by source" in resolved.message
    assert sns.row().outcome == "resolved"
    # The next ALARM is a new problem: a new incident.
    sns.alarm(at="2026-11-21T05:00:00Z")
    assert Incident.objects.count() == 2


def test_alarm_older_than_the_last_state_is_stale_and_changes_nothing(sns: Sns) -> None:
    sns.alarm(at="2026-11-21T03:15:12.884+0000")
    sns.alarm("OK", at="2026-11-21T03:20:12Z")
    # SNS delivered an earlier ALARM late: it must not reopen anything.
    assert sns.alarm(at="2026-11-21T03:17:00Z").status_code == 200
    row = sns.row()
    assert row.outcome == "stale" and "older than the last state" in row.reason
    assert Incident.objects.count() == 1
    assert Incident.objects.get().state == "resolved"


def test_late_ok_does_not_resolve_a_newer_alarm(sns: Sns) -> None:
    sns.alarm(at="2026-11-21T03:30:00Z")
    sns.alarm("OK", at="2026-11-21T03:20:00Z")
    assert sns.row().outcome == "stale"
    assert Incident.objects.get().state == "triggered"


def test_insufficient_data_is_ignored_unless_the_integration_says_otherwise(sns: Sns) -> None:
    sns.alarm("INSUFFICIENT_DATA")
    assert sns.row().outcome == "ignored"
    assert not Incident.objects.exists()
    Integration.objects.filter(pk=sns.integration.pk).update(insufficient_data_as_alarm=True)
    sns.alarm("INSUFFICIENT_DATA", at="2026-11-21T04:00:00Z")
    assert sns.row().outcome == "created"
    assert Incident.objects.get().state == "triggered"


def test_security_mode_only_notes_ok_and_a_person_resolves(sns: Sns) -> None:
    Integration.objects.filter(pk=sns.integration.pk).update(security_mode=True)
    sns.alarm(at="2026-11-21T03:15:00Z")
    sns.alarm("OK", at="2026-11-21T03:20:00Z")
    incident = Incident.objects.get()
    assert incident.state == "triggered"
    assert sns.row().outcome == "noted"
    assert incident.events.filter(kind="source_ok").exists()


def test_ok_without_an_open_incident_is_ignored(sns: Sns) -> None:
    sns.alarm("OK")
    assert sns.row().outcome == "ignored"
    assert not Incident.objects.exists()


def test_plain_text_message_opens_an_incident_with_the_text(sns: Sns) -> None:
    response = sns.post(sns.envelope("Disk full on db-1\nplease look", subject="Disk alert"))
    assert response.status_code == 200
    incident = Incident.objects.get()
    assert incident.title == "Disk alert"
    assert "Disk full on db-1" in incident.description
    sns.post(sns.envelope(json.dumps({"hello": "world"})))
    assert Incident.objects.count() == 2
    assert Incident.objects.order_by("-id")[0].title == '{"hello": "world"}'


def test_same_message_id_twice_is_a_duplicate_delivery(sns: Sns) -> None:
    envelope = sns.envelope(alarm_message())
    assert sns.post(envelope).status_code == 200
    response = sns.post(envelope)
    assert response.status_code == 200
    assert "duplicate delivery" in response.content.decode()
    assert sns.row().outcome == "duplicate"
    assert Incident.objects.get().alarm_count == 1
    assert InboundMessage.objects.count() == 2


# --- bad input -----------------------------------------------------------------------


def _tampered(sns: Sns) -> dict[str, Any]:
    envelope = sns.envelope(alarm_message())
    envelope["Message"] = envelope["Message"].replace("ConsoleSignInFailures", "Harmless")
    return envelope


BAD_INPUTS: list[tuple[str, Any, int, str]] = [
    ("malformed JSON", lambda sns: b"{not json", 400, "malformed JSON"),
    ("missing field", lambda sns: {"Type": "Notification"}, 400, "missing field"),
    ("unknown Type", lambda sns: {**sns.envelope("x"), "Type": "Bogus"}, 400, "unknown Type"),
    ("bad signature", _tampered, 403, "bad signature"),
    ("NUL character", lambda sns: sns.envelope("a\x00b"), 400, "NUL characters"),
    (
        "certificate URL not allowed",
        lambda sns: sns.envelope("x", cert_url="https://evil.example/cert.pem"),
        403,
        "certificate URL not allowed",
    ),
]


@pytest.mark.parametrize(
    ("case", "make", "status", "reason"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS]
)
def test_bad_input_gets_a_clear_4xx_and_is_kept_in_the_log(
    sns: Sns, case: str, make: Any, status: int, reason: str
) -> None:
    body = make(sns)
    response = sns.post_body(body if isinstance(body, bytes) else json.dumps(body))
    assert response.status_code == status
    assert reason in response.content.decode()
    row = sns.row()
    assert row.outcome == "rejected" and reason in row.reason
    assert row.body_size == len(body if isinstance(body, bytes) else json.dumps(body))
    assert not Incident.objects.exists()


def test_disallowed_certificate_url_is_never_fetched(sns: Sns) -> None:
    evil = sns.envelope("x", cert_url=sns.peer.base + "/not-a-cert.txt")
    assert sns.post(evil).status_code == 403
    assert sum(sns.peer.hits.values()) == 0


def test_certificate_is_fetched_once_and_cached(sns: Sns) -> None:
    for minute in range(3):
        sns.alarm(at=f"2026-11-21T04:0{minute}:00Z")
    assert sns.peer.hits["/SimpleNotificationService-test.pem"] == 1


def test_disabled_integration_rejects_and_logs(sns: Sns) -> None:
    Integration.objects.filter(pk=sns.integration.pk).update(enabled=False)
    response = sns.alarm()
    assert response.status_code == 403
    assert sns.row().reason == "integration is disabled"
    assert not Incident.objects.exists()


def test_body_over_256_kib_is_413_and_logged(sns: Sns) -> None:
    response = sns.post_body(b"x" * (256 * 1024 + 1))
    assert response.status_code == 413
    row = sns.row()
    assert row.outcome == "rejected" and row.reason == "body over 256 KiB"


def test_get_is_405_and_logged(sns: Sns) -> None:
    response = sns.client.get(sns.integration.inbound_path)
    assert response.status_code == 405
    assert "method GET not allowed" in sns.row().reason


def test_unknown_token_is_404_and_stores_nothing(sns: Sns) -> None:
    response = sns.post(sns.envelope(alarm_message()), path="/in/not-a-real-token/")
    assert response.status_code == 404
    assert not InboundMessage.objects.exists()


def test_rotated_url_answers_404_and_the_new_one_works(sns: Sns) -> None:
    from integrations.services import integration_rotate_token

    old_path = sns.integration.inbound_path
    integration_rotate_token(integration=sns.integration)
    assert sns.post(sns.envelope(alarm_message()), path=old_path).status_code == 404
    assert sns.alarm().status_code == 200


def test_database_down_answers_503_so_sns_retries(
    sns: Sns, monkeypatch: pytest.MonkeyPatch
) -> None:
    envelope = sns.envelope(alarm_message())
    real_execute = CursorWrapper.execute

    def down(self: CursorWrapper, sql: str, params: Any = None) -> Any:
        if sql.lstrip().upper().startswith(("INSERT", "UPDATE")):
            raise OperationalError("server closed the connection unexpectedly")
        return real_execute(self, sql, params)

    monkeypatch.setattr(CursorWrapper, "execute", down)
    response = sns.post(envelope)
    monkeypatch.undo()
    assert response.status_code == 503
    assert not Incident.objects.exists()
    # When the database is back, SNS's retry of the same message is applied.
    assert sns.post(envelope).status_code == 200
    assert Incident.objects.count() == 1


def test_no_input_produces_a_500(sns: Sns) -> None:
    rng = random.Random(20261121)
    good = json.dumps(sns.envelope(alarm_message())).encode()
    for _ in range(150):
        body = bytearray(good)
        for _ in range(rng.randint(1, 6)):
            body[rng.randrange(len(body))] = rng.randrange(256)
        response = sns.post_body(bytes(body))
        assert response.status_code < 500, (response.status_code, bytes(body)[:200])
    assert InboundMessage.objects.count() == 150


def test_resigned_envelope_with_new_fields_still_verifies(sns: Sns) -> None:
    envelope = sns.envelope(alarm_message())
    envelope["Message"] = alarm_message(at="2026-11-21T06:00:00Z")
    assert sns.post(sign_body(envelope)).status_code == 200


# --- concurrency (PostgreSQL) --------------------------------------------------------


def post_at_once(sns: Sns, live_server: Any, bodies: list[bytes]) -> list[int]:
    """POST every body to the live server at the same instant (one thread and connection
    each, released together by a barrier); the HTTP statuses, in the bodies' order."""
    import http.client
    from urllib.parse import urlsplit

    host = urlsplit(live_server.url)
    barrier = threading.Barrier(len(bodies))
    statuses = [0] * len(bodies)

    def send(index: int) -> None:
        conn = http.client.HTTPConnection(host.hostname, host.port, timeout=30)
        barrier.wait()
        conn.request(
            "POST", sns.integration.inbound_path, bodies[index], {"Content-Type": "text/plain"}
        )
        statuses[index] = conn.getresponse().status
        conn.close()

    workers = [threading.Thread(target=send, args=(i,)) for i in range(len(bodies))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return statuses


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_identical_alarms_at_the_same_instant_open_exactly_one_incident(
    sns: Sns, live_server: Any
) -> None:
    rounds, threads = 8, 4
    statuses: list[int] = []
    for n in range(rounds):
        message = alarm_message(at="2026-11-21T03:15:12.884+0000", AlarmArn=f"{ALARM_ARN}-{n}")
        bodies = [json.dumps(sns.envelope(message)).encode() for _ in range(threads)]
        statuses += post_at_once(sns, live_server, bodies)
    assert statuses == [200] * rounds * threads
    assert Incident.objects.count() == rounds
    for incident in Incident.objects.all():
        assert incident.alarm_count == threads
    outcomes = list(InboundMessage.objects.values_list("outcome", flat=True))
    assert outcomes.count("created") == rounds
    assert outcomes.count("appended") == rounds * (threads - 1)
    assert IncidentEvent.objects.filter(kind="triggered").count() == rounds


def test_confirmation_failures_say_whether_a_retry_can_help(sns: Sns, settings: Any) -> None:
    """No answer from SNS is worth retrying (the task does, finitely); a URL we refuse to
    visit, or a 4xx from SNS, is final."""
    import socket

    from integrations.services import subscription_confirm

    with socket.socket() as probe:  # a port with nothing listening
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    settings.SNS_AUTO_CONFIRM = False
    settings.SNS_SUBSCRIBE_URL_PATTERN = r"http://127\.0\.0\.1:[0-9]+/\?.*"

    def pending_row(url: str) -> InboundMessage:
        envelope = sns.envelope("c", type="SubscriptionConfirmation", subscribe_url=url)
        assert sns.post(envelope).status_code == 200
        return sns.row()

    dead = pending_row(f"http://127.0.0.1:{closed_port}/?Action=ConfirmSubscription&Token=t")
    row, transient = subscription_confirm(inbound_message_id=dead.pk)
    assert transient and "could not reach SubscribeURL" in row.confirm_result
    assert row.outcome == "subscription_pending"

    missing = pending_row(f"{sns.peer.base}/?Action=Nope&Token=t")
    row, transient = subscription_confirm(inbound_message_id=missing.pk)
    assert not transient and row.confirm_status == 404

    settings.SNS_SUBSCRIBE_URL_PATTERN = r"https://sns\.us-east-1\.amazonaws\.com/\?.*"
    row, transient = subscription_confirm(inbound_message_id=missing.pk)
    assert not transient and "not allowed" in row.confirm_result

    settings.SNS_SUBSCRIBE_URL_PATTERN = sns.peer.subscribe_url_pattern
    good = pending_row(sns.peer.subscribe_url(DEFAULT_TOPIC_ARN))
    row, transient = subscription_confirm(inbound_message_id=good.pk)
    assert row.outcome == "subscription_confirmed" and not transient
    # A duplicated task does not visit the URL again.
    hits = sns.peer.hits["/"]
    subscription_confirm(inbound_message_id=good.pk)
    assert sns.peer.hits["/"] == hits


def test_a_rejected_confirmation_is_never_visited_even_by_the_service(sns: Sns) -> None:
    from integrations.services import subscription_confirm

    envelope = sns.envelope(
        "c", type="SubscriptionConfirmation", subscribe_url=sns.peer.subscribe_url("t")
    )
    envelope["Message"] = "tampered"
    assert sns.post(envelope).status_code == 403
    row, transient = subscription_confirm(inbound_message_id=sns.row().pk)
    assert "not confirmable" in row.confirm_result and not transient
    assert sns.peer.hits["/"] == 0
    assert Integration.objects.get(pk=sns.integration.pk).topic_arn == ""


def test_admin_shows_the_body_with_the_unsubscribe_url_masked(sns: Sns) -> None:
    from django.contrib.auth import get_user_model

    envelope = sns.envelope(alarm_message())
    sns.post(envelope)
    admin = get_user_model().objects.create_superuser("root", "r@example.com", "pw-test-only")
    sns.client.force_login(admin)
    page = sns.client.get(f"/admin/integrations/inboundmessage/{sns.row().pk}/change/")
    assert page.status_code == 200
    assert "masked" in page.content.decode()
    assert envelope["UnsubscribeURL"].split("SubscriptionArn=")[1] not in page.content.decode()


def test_requests_to_unknown_urls_are_counted_on_the_inbound_log(sns: Sns, user: Any) -> None:
    for _ in range(3):
        assert sns.post_body(b"{}", path="/in/guess-" + "x" * 20 + "/").status_code == 404
    sns.client.force_login(user)
    page = sns.client.get("/integrations/inbound-log/").content.decode()
    assert "Requests to unknown URLs are answered 404 and not stored: 3 so far." in page
    assert not InboundMessage.objects.exists()


def test_an_older_repeat_of_an_open_alarm_is_stale_and_not_counted(sns: Sns) -> None:
    sns.alarm(at="2026-11-21T03:30:00Z")
    sns.alarm(at="2026-11-21T03:20:00Z")
    assert sns.row().outcome == "stale"
    incident = Incident.objects.get()
    assert incident.alarm_count == 1
    assert list(incident.events.values_list("kind", flat=True)) == ["triggered"]


def test_a_late_alarm_after_an_ok_with_no_incident_is_stale(sns: Sns) -> None:
    """The database blipped: the ALARM got a 503, the OK went through, then SNS retried
    the older ALARM. It must not open an incident that already recovered."""
    assert sns.alarm("OK", at="2026-11-21T00:00:10Z").status_code == 200
    assert sns.row().outcome == "ignored"
    assert sns.alarm(at="2026-11-21T00:00:05Z").status_code == 200
    assert sns.row().outcome == "stale"
    assert not Incident.objects.exists()
    # A genuinely newer ALARM still opens one.
    sns.alarm(at="2026-11-21T00:00:20Z")
    assert Incident.objects.get().state == "triggered"


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_racing_alarm_and_newer_ok_never_leave_an_incident_open(
    sns: Sns, live_server: Any
) -> None:
    for n in range(10):
        arn = f"{ALARM_ARN}-race-{n}"
        bodies = [
            json.dumps(sns.envelope(alarm_message(state, at, AlarmArn=arn))).encode()
            for state, at in (("ALARM", "2026-11-21T00:00:05Z"), ("OK", "2026-11-21T00:00:10Z"))
        ]
        assert post_at_once(sns, live_server, bodies) == [200, 200]
    assert not Incident.objects.exclude(state="resolved").exists()


def test_masking_a_huge_hostile_body_takes_linear_time(sns: Sns) -> None:
    import time as clock

    from integrations.masking import display_body

    hostile = '{"Message":"' + "Action=Unsubscribe" * 14000 + '"}'
    started = clock.perf_counter()
    display_body(hostile)
    # The old regex took ~46 s on this body; a linear pass takes milliseconds.
    assert clock.perf_counter() - started < 2.0
    link = "https://sns.us-east-1.amazonaws.com/?SubscriptionArn=arn:aws:sns:x:1:t:abc&Action=Unsubscribe"
    assert "abc" not in display_body(json.dumps({"Message": f"see {link}"}))


def test_a_topic_arn_of_the_maximum_length_is_stored_and_pinned(sns: Sns) -> None:
    long_topic = "arn:aws:sns:us-east-1:123456789012:" + "t" * 256
    response = sns.post(sns.envelope(alarm_message(), topic_arn=long_topic))
    assert response.status_code == 200
    assert Integration.objects.get(pk=sns.integration.pk).topic_arn == long_topic
    assert sns.row().topic_arn == long_topic


def test_the_base_url_host_is_served(settings: Any) -> None:
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    env = {"PATH": os.environ["PATH"], "KLAXON_BASE_URL": "https://klaxon.example.com"}
    code = (
        "import os; os.environ['DJANGO_SETTINGS_MODULE']='config.settings'; "
        "from django.conf import settings as s; print(s.ALLOWED_HOSTS)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert "klaxon.example.com" in out.stdout


def test_an_ok_for_an_alarm_that_paged_nobody_queues_nothing(
    sns: Sns, django_capture_on_commit_callbacks: Any
) -> None:
    sns.alarm(at="2026-11-21T03:15:12.884+0000")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert sns.alarm("OK", at="2026-11-21T03:20:12.901+0000").status_code == 200
    assert Incident.objects.get().state == "resolved"
    assert not callbacks  # no task, no follow-up: the integration has no policy
