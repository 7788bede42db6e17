"""How SNS (or what stands in front of it) may deliver: a chunked body from a re-chunking
proxy, read for real through gunicorn; and a subscription with raw message delivery on,
which is refused with the fix in the answer, the Inbound Log and on the integration page."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from incidents.models import Incident
from integrations.inbound import RAW_DELIVERY_REASON
from integrations.models import InboundMessage, Integration
from tests.conftest import FIXTURES, ROOT, _worker_env
from tests.factories import IntegrationFactory, UserFactory
from tests.sns_peer import SnsPeer
from tests.sns_signing import signed_envelope
from tests.waiting import stop, wait_for

ALARM = (FIXTURES / "cloudwatch/alarm_message_console_signin_failures_alarm.json").read_text()


# --- Chunked bodies through gunicorn ------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def gunicorn(django_db_setup: Any, django_db_blocker: Any) -> Iterator[int]:
    """Klaxon on gunicorn (one sync worker) against the test database; yields its port."""
    port = _free_port()
    env = _worker_env(settings.DATABASES["default"]["NAME"])
    env["INTEGRATION_CACHE_SECONDS"] = "0"
    command = [
        sys.executable, "-m", "gunicorn", "config.wsgi:application",
        "--bind", f"127.0.0.1:{port}", "--workers", "1", "--log-level", "warning",
    ]  # fmt: skip
    proc = subprocess.Popen(command, cwd=ROOT, env=env)
    try:
        wait_for(lambda: _healthy(proc, port), "gunicorn to answer /healthz")
        yield port
    finally:
        stop(proc)


def _healthy(proc: subprocess.Popen[bytes], port: int) -> bool:
    if proc.poll() is not None:
        raise RuntimeError(f"gunicorn exited with {proc.returncode}")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def post_chunked(port: int, path: str, body: bytes) -> tuple[int, str]:
    """POST ``body`` with Transfer-Encoding: chunked (no Content-Length), 8 KiB chunks."""
    pieces = (body[i : i + 8192] for i in range(0, len(body), 8192))
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(
            "POST",
            path,
            body=pieces,
            # As the TLS proxy in front of Klaxon says: the base URL is https, so a
            # request that came over plain http would be redirected (301).
            headers={"Content-Type": "text/plain; charset=UTF-8", "X-Forwarded-Proto": "https"},
            encode_chunked=True,
        )
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def test_a_signed_alarm_sent_chunked_opens_the_incident(
    transactional_db: Any, gunicorn: int
) -> None:
    integration = IntegrationFactory()
    peer = SnsPeer().start()  # serves the signing certificate to gunicorn
    try:
        body = json.dumps(signed_envelope(message=ALARM, cert_url=peer.cert_url)).encode()
        status, text = post_chunked(gunicorn, integration.inbound_path, body)
    finally:
        peer.stop()

    assert (status, text.split(":")[0]) == (200, "Created incident"), text
    row = InboundMessage.objects.get(integration=integration)
    assert (row.outcome, row.body_size) == (InboundMessage.Outcome.CREATED, len(body))
    assert row.incident is not None and row.incident.integration_id == integration.pk


def test_a_chunked_body_over_the_limit_is_refused_and_stored(
    transactional_db: Any, gunicorn: int
) -> None:
    integration = IntegrationFactory()
    body = b'{"Type": "Notification", "Message": "' + b"x" * (300 * 1024) + b'"}'

    status, text = post_chunked(gunicorn, integration.inbound_path, body)

    assert (status, text.strip()) == (413, "rejected: body over 256 KiB")
    row = InboundMessage.objects.get(integration=integration)
    assert row.outcome == InboundMessage.Outcome.REJECTED
    assert row.reason == "body over 256 KiB"
    assert row.body.startswith('{"Type": "Notification"')


# --- Raw message delivery -----------------------------------------------------------------

RAW_HEADERS = {
    "x-amz-sns-message-type": "Notification",
    "x-amz-sns-rawdelivery": "true",
    "x-amz-sns-topic-arn": "arn:aws:sns:us-east-1:123456789012:klaxon-test",
}


def post_raw(client: Client, integration: Integration) -> Any:
    """What SNS posts with RawMessageDelivery=true: the bare alarm JSON, unsigned."""
    return client.post(
        integration.inbound_path, ALARM, content_type="text/plain; charset=UTF-8",
        headers=RAW_HEADERS,
    )  # fmt: skip


@pytest.mark.django_db
def test_raw_message_delivery_is_refused_naming_the_fix(client: Client) -> None:
    integration = IntegrationFactory()

    response = post_raw(client, integration)

    assert response.status_code == 400
    assert response.content.decode().strip() == f"rejected: {RAW_DELIVERY_REASON}"
    assert RAW_DELIVERY_REASON.startswith(
        "raw message delivery is on: turn it off for this subscription"
    )
    row = InboundMessage.objects.get(integration=integration)
    assert (row.outcome, row.reason) == (InboundMessage.Outcome.REJECTED, RAW_DELIVERY_REASON)
    assert not Incident.objects.exists()


@pytest.mark.django_db
def test_the_integration_page_warns_while_raw_delivery_is_refused(
    client: Client, settings: Any
) -> None:
    settings.SNS_CERT_URL_PATTERN = r"http://127\.0\.0\.1:[0-9]+/[^?#]*\.pem"
    integration = IntegrationFactory()
    reader = Client()
    reader.force_login(UserFactory())
    page = integration.get_absolute_url()
    warning = "Raw message delivery is on."
    assert warning not in reader.get(page).content.decode()

    post_raw(client, integration)
    shown = reader.get(page).content.decode()
    assert warning in shown
    assert "--attribute-name RawMessageDelivery --attribute-value false" in shown

    # Fixed: the next alarm arrives in its signed envelope and is accepted.
    peer = SnsPeer().start()
    try:
        body = json.dumps(signed_envelope(message=ALARM, cert_url=peer.cert_url))
        accepted = client.post(integration.inbound_path, body, content_type="text/plain")
    finally:
        peer.stop()
    assert accepted.status_code == 200, accepted.content
    assert warning not in reader.get(page).content.decode()
