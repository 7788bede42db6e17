"""Every page works under Klaxon's Content-Security-Policy (config/security.py): Chromium
reports no violation on any main page, the API docs or the Django admin, and what the
pages do with JavaScript (htmx swaps and polls, confirmations, filters that apply on
change, the schedule timeline's layout) still works."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from accounts.models import Team
from escalation.models import EscalationPolicy
from incidents.models import Incident
from integrations.models import InboundMessage, Integration
from notifications.models import Notification
from schedules.models import Schedule
from tests.browser.csp import Watcher
from tests.helpers import sign_in

pytestmark = pytest.mark.browser
# Skipped with the rest of tests/browser/ where Playwright is not installed (conftest.py).
expect = pytest.importorskip("playwright.sync_api").expect


# Recorded from the first script that runs, before any of the page's own.
def main_pages() -> list[str]:
    integration = Integration.objects.get()
    return [
        "/incidents/",
        Incident.objects.latest("id").get_absolute_url(),
        "/integrations/",
        f"/integrations/{integration.pk}/",
        "/integrations/inbound-log/",
        reverse("integrations:inbound-detail", args=[InboundMessage.objects.latest("id").pk]),
        "/schedules/",
        f"/schedules/{Schedule.objects.get().pk}/",
        "/escalation-policies/",
        f"/escalation-policies/{EscalationPolicy.objects.get().pk}/",
        "/teams/",
        f"/teams/{Team.objects.get().pk}/",
        "/notifications/outbox/",
        f"/notifications/outbox/{Notification.objects.latest('id').pk}/",
        "/reports/",
        "/audit/",
        "/profile/",
        "/settings/",
        "/admin/",
        "/admin/accounts/user/",
        "/admin/incidents/incident/",
    ]


def test_no_page_violates_the_policy(browser_page: Any, demo: None) -> None:
    page = browser_page
    watcher = Watcher(page)
    watcher.visit("/login/")
    sign_in(page, "admin", "klaxon-demo")
    watcher.check("sign-in")

    for path in main_pages():
        watcher.visit(path)

    # Swagger UI draws the operations from the schema it fetches.
    watcher.visit("/api/docs/")
    page.locator(".swagger-ui .opblock").first.wait_for()
    page.locator(".swagger-ui .opblock-summary").first.click()
    page.locator(".swagger-ui .opblock-body").first.wait_for()
    watcher.check("/api/docs/")


def test_htmx_and_page_scripts_work_under_the_policy(browser_page: Any, demo: None) -> None:
    page = browser_page
    watcher = Watcher(page)
    sign_in(page, "admin", "klaxon-demo")

    # htmx: acknowledge in place, then the poll keeps the list fresh, never a reload.
    watcher.visit("/incidents/")
    page.evaluate("window.__noReload = true")
    row = page.locator("tr", has_text="Klaxon test alert")
    row.get_by_role("button", name="Acknowledge").click()
    row.get_by_text("Acknowledged").wait_for()
    with page.expect_response(lambda r: "/incidents/" in r.url and r.request.method == "GET"):
        pass  # the next poll arrives within its interval
    assert page.evaluate("window.__noReload") is True
    assert Incident.objects.latest("id").state == Incident.State.ACKNOWLEDGED
    watcher.check("incident list")

    # A filter that applies on change (data-autosubmit, no onchange=).
    watcher.visit("/integrations/inbound-log/")
    with page.expect_navigation():
        page.get_by_label("Outcome").select_option(index=1)
    assert "outcome=" in page.url
    watcher.check("inbound log filter")

    # The schedule timeline is laid out by its nonce'd style block.
    schedule = Schedule.objects.get()
    watcher.visit(f"/schedules/{schedule.pk}/")
    width = page.locator(".tl-final .tl-block").first.evaluate(
        "el => el.getBoundingClientRect().width"
    )
    assert width > 10, "the timeline blocks have no width: their style was blocked"

    # A confirmation (data-confirm, no onsubmit=): dismissed, nothing happens; accepted,
    # the feed gets a new URL.
    token = schedule.ical_token
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Rotate URL").click()
    page.wait_for_timeout(300)
    schedule.refresh_from_db()
    assert schedule.ical_token == token
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Rotate URL").click()
    page.get_by_text("The calendar feed has a new URL").wait_for()
    schedule.refresh_from_db()
    assert schedule.ical_token != token
    assert schedule.ical_token in page.locator("#schedule-feed-url").inner_text()
    watcher.check("schedule page")

    # htmx with hx-confirm: a policy step deleted in place.
    policy = EscalationPolicy.objects.get()
    watcher.visit(f"/escalation-policies/{policy.pk}/")
    steps = page.locator("#steps > li")
    before = steps.count()
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#steps").get_by_role("button", name="Delete").first.click()
    expect(steps).to_have_count(before - 1)
    assert policy.steps.count() == before - 1
    watcher.check("policy steps")
