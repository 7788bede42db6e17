"""The dashboard on a 375 px phone and from the keyboard, plus screenshots of the main
pages (test-results/screenshots/, or docs/screenshots/ with KLAXON_SCREENSHOTS=docs)."""

from __future__ import annotations

from typing import Any

import pytest

from incidents.models import Incident
from tests.browser.conftest import shot
from tests.helpers import sign_in

pytestmark = pytest.mark.browser

PAGES = {
    "incidents": "/incidents/",
    "inbound-log": "/integrations/inbound-log/",
    "integrations": "/integrations/",
    "schedules": "/schedules/",
    "policies": "/escalation-policies/",
    "outbox": "/notifications/outbox/",
    "reports": "/reports/",
    "audit-log": "/audit/",
    "profile": "/profile/",
}


def test_main_pages_fit_a_phone_and_show_no_error(browser_page: Any, demo: None) -> None:
    page = browser_page
    sign_in(page, "alice", "klaxon-demo")
    page.set_viewport_size({"width": 375, "height": 800})
    incident = Incident.objects.latest("id")
    for name, path in {**PAGES, "incident": incident.get_absolute_url()}.items():
        response = page.goto(path)
        assert response is not None and response.status == 200, (name, response)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 1, f"{name} scrolls sideways by {overflow} px at 375 px"
        assert page.locator("h1").count() >= 1, name
        if name in ("incidents", "incident", "reports", "profile"):
            shot(page, f"phone-{name}")


def test_acknowledge_with_the_keyboard_only(browser_page: Any, demo: None) -> None:
    page = browser_page
    sign_in(page, "alice", "klaxon-demo")
    page.goto("/incidents/")
    button = page.get_by_role("button", name="Acknowledge", exact=True).first
    # Tab until the row's Acknowledge button has focus, then press Enter.
    for _ in range(60):
        page.keyboard.press("Tab")
        if button.evaluate("el => el === document.activeElement"):
            break
    else:
        raise AssertionError("the Acknowledge button cannot be reached with Tab")
    outline = button.evaluate("el => getComputedStyle(el).outlineStyle")
    assert outline != "none", "focus must be visible"
    page.keyboard.press("Enter")
    page.locator("tr", has_text="Klaxon test alert").get_by_text("Acknowledged").wait_for()
    assert Incident.objects.latest("id").state == Incident.State.ACKNOWLEDGED


def test_screenshots_of_the_main_pages(browser_page: Any, demo: None) -> None:
    page = browser_page
    sign_in(page, "admin", "klaxon-demo")
    incident = Incident.objects.latest("id")
    for name, path in {**PAGES, "incident": incident.get_absolute_url()}.items():
        assert page.goto(path).status == 200
        shot(page, name)
