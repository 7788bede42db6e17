"""A responder's whole loop in a real browser: sign in, create an integration and copy
its URL, an SNS ALARM arrives and the incident appears without a reload, acknowledge it
from the list in place, read its timeline, resolve it, find the request in the Inbound
Log."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.browser.conftest import shot
from tests.factories import UserFactory
from tests.helpers import alarm_message, sign_in
from tests.sns_peer import SnsPeer
from tests.sns_signing import signed_envelope

pytestmark = pytest.mark.browser
# Skipped with the rest of tests/browser/ where Playwright is not installed (conftest.py).
expect = pytest.importorskip("playwright.sync_api").expect


@pytest.fixture
def peer() -> Iterator[SnsPeer]:
    peer = SnsPeer().start()
    yield peer
    peer.stop()


def test_responder_loop(browser_page: Any, live_server: Any, settings: Any, peer: SnsPeer) -> None:
    page = browser_page
    settings.KLAXON_BASE_URL = live_server.url
    settings.SNS_CERT_URL_PATTERN = peer.cert_url_pattern
    UserFactory(username="dana", is_staff=True)
    sign_in(page, "dana")

    # Create an integration and copy its URL.
    page.get_by_role("link", name="Integrations").click()
    page.get_by_role("link", name="New integration").click()
    page.get_by_label("Name").fill("Prod CloudTrail")
    page.get_by_role("button", name="Save").click()
    page.get_by_role("heading", name="Prod CloudTrail").wait_for()
    page.get_by_role("button", name="Copy URL").click()
    url = page.evaluate("navigator.clipboard.readText()")
    assert (
        url.startswith(f"{live_server.url}/in/")
        and url == page.locator("#inbound-url").inner_text()
    )
    shot(page, "flow-integration")

    # Watch the incident list; the marker proves the page is never reloaded.
    page.get_by_role("link", name="Incidents").click()
    page.evaluate("window.__noReload = true")
    envelope = signed_envelope(message=alarm_message("ALARM"), cert_url=peer.cert_url)
    answer = requests.post(url, data=json.dumps(envelope), timeout=10,
                           headers={"Content-Type": "text/plain; charset=UTF-8"})  # fmt: skip
    assert answer.status_code == 200, answer.text
    row = page.locator("tr", has_text="ConsoleSignInFailures")
    row.wait_for(timeout=8_000)  # the list polls every few seconds
    assert page.evaluate("window.__noReload") is True
    # (expect polls from Python: a wait_for_function predicate would be eval'd in the
    # page, which its Content-Security-Policy forbids.)
    expect(page).to_have_title(re.compile(r"^\(1\)"))
    shot(page, "flow-incidents")

    # Acknowledge it from the list, in place.
    row.get_by_role("button", name="Acknowledge").click()
    page.locator("tr", has_text="ConsoleSignInFailures").get_by_text("Acknowledged").wait_for()
    assert page.evaluate("window.__noReload") is True

    # The timeline says who acknowledged, and how.
    page.get_by_role("link", name="ConsoleSignInFailures").first.click()
    page.get_by_text("Acknowledged by dana via web").wait_for()
    shot(page, "flow-incident")
    page.get_by_role("button", name="Resolve").click()
    page.get_by_text("Resolved by dana via web").wait_for()

    # The request is in the Inbound Log.
    page.get_by_role("link", name="Inbound Log").click()
    log_row = page.locator("tr", has_text="Prod CloudTrail")
    log_row.get_by_text("Created incident").wait_for()
    shot(page, "flow-inbound-log")
