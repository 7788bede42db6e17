"""Auto-confirmation travels through the real broker to a real worker process."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from django.test import Client

from integrations.models import InboundMessage
from tests.factories import IntegrationFactory
from tests.sns_peer import SnsPeer
from tests.sns_signing import DEFAULT_TOPIC_ARN, signed_envelope


@pytest.mark.broker
def test_subscription_is_confirmed_by_the_worker(celery_worker: Any, settings: Any) -> None:
    peer = SnsPeer().start()
    try:
        settings.SNS_CERT_URL_PATTERN = peer.cert_url_pattern
        settings.SNS_SUBSCRIBE_URL_PATTERN = peer.subscribe_url_pattern
        integration = IntegrationFactory()
        envelope = signed_envelope(
            type="SubscriptionConfirmation",
            message="You have chosen to subscribe to the topic.",
            cert_url=peer.cert_url,
            subscribe_url=peer.subscribe_url(DEFAULT_TOPIC_ARN),
        )
        response = Client().post(
            integration.inbound_path, json.dumps(envelope), content_type="text/plain"
        )
        assert response.status_code == 200
        row = InboundMessage.objects.get()
        deadline = time.monotonic() + 30
        while row.outcome != "subscription_confirmed" and time.monotonic() < deadline:
            time.sleep(0.2)
            row.refresh_from_db()
        assert row.outcome == "subscription_confirmed", row.confirm_result
        assert peer.hits["/"] == 1
        integration.refresh_from_db()
        assert integration.subscription_status == "confirmed"
        assert integration.subscription_arn.startswith(DEFAULT_TOPIC_ARN)
    finally:
        peer.stop()
