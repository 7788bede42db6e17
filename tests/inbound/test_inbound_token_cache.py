"""Each web process keeps integrations it looked up by token for a few seconds."""

from __future__ import annotations

import time
from typing import Any

import pytest

from integrations.inbound import integration_for_token
from integrations.models import Integration
from integrations.services import integration_rotate_token
from tests.factories import IntegrationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def cached(settings: Any) -> None:
    settings.INTEGRATION_CACHE_SECONDS = 5.0


def test_a_known_token_is_served_from_memory_after_the_first_lookup(
    cached: None, django_assert_num_queries: Any
) -> None:
    integration = IntegrationFactory()
    with django_assert_num_queries(1):
        assert integration_for_token(integration.token) == integration
    with django_assert_num_queries(0):
        assert integration_for_token(integration.token) == integration


def test_unknown_tokens_are_never_cached(cached: None, django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(2):
        assert integration_for_token("no-such-token") is None
        assert integration_for_token("no-such-token") is None


def test_rotating_in_this_process_retires_the_old_token_at_once(cached: None) -> None:
    integration = IntegrationFactory()
    old = integration.token
    assert integration_for_token(old) is not None
    integration_rotate_token(integration=integration)
    assert integration_for_token(old) is None
    assert integration_for_token(integration.token) == integration


def test_a_change_made_by_another_process_applies_when_the_entry_expires(
    settings: Any,
) -> None:
    settings.INTEGRATION_CACHE_SECONDS = 0.3
    integration = IntegrationFactory()
    found = integration_for_token(integration.token)
    assert found is not None and found.enabled
    # Another process disables it: no signal reaches this one.
    Integration.objects.filter(pk=integration.pk).update(enabled=False)
    found = integration_for_token(integration.token)
    assert found is not None and found.enabled  # still the cached copy
    time.sleep(0.35)
    found = integration_for_token(integration.token)
    assert found is not None and not found.enabled


def test_a_stale_copy_never_overwrites_a_topic_pinned_elsewhere(
    cached: None, settings: Any
) -> None:
    from integrations.inbound import WrongTopic, _set_subscription

    integration = IntegrationFactory()
    stale = integration_for_token(integration.token)
    assert stale is not None and stale.topic_arn == ""
    Integration.objects.filter(pk=integration.pk).update(topic_arn="arn:aws:sns:x:1:first")
    with pytest.raises(WrongTopic) as refused:
        _set_subscription(stale, "confirmed", topic_arn="arn:aws:sns:x:1:second")
    assert refused.value.pinned == "arn:aws:sns:x:1:first"
    assert Integration.objects.get(pk=integration.pk).topic_arn == "arn:aws:sns:x:1:first"
