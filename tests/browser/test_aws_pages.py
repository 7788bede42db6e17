"""The AWS security pack's pages in Chromium: the detection pack, "Test a pattern" (an
htmx swap, no reload), the integration's generated setup and an incident's evidence,
on a 375 px phone without sideways scrolling and under the Content-Security-Policy.
Screenshots for the README (docs/screenshots/ with KLAXON_SCREENSHOTS=docs)."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import User
from aws.cloudtrail_samples import sample_by_id
from aws.detections import detection_by_id
from aws.evidence import cloudtrail_evidence
from aws.models import CloudTrailEvidence
from aws.services import aws_credentials_set
from incidents.models import Incident
from integrations.models import Integration
from tests.browser.conftest import SHOTS
from tests.browser.csp import Watcher
from tests.helpers import sign_in

pytestmark = pytest.mark.browser


def no_sideways_scroll(page: Any, where: str) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1, f"{where} scrolls sideways by {overflow} px"


def part_shot(target: Any, name: str) -> None:
    """A screenshot of one element (a locator) or of the visible window (a page): these
    pages are long, and the README shows their top or one part."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    target.screenshot(path=str(SHOTS / f"{name}.png"))


def attach_evidence(incident: Incident) -> None:
    """Three failed sign-ins attached as a metric-filter search would attach them."""
    for n, sample_id in enumerate(
        ["signin-failure-wrong-password", "signin-failure-unknown-user", "kms-access-denied"]
    ):
        record = sample_by_id(sample_id).record
        CloudTrailEvidence.objects.create(
            incident=incident,
            source=CloudTrailEvidence.Source.METRIC_FILTER,
            event_id=f"{record['eventID']}-{n}",
            event_time=cloudtrail_evidence(record).event_time,
            record=record,
            log_group="CloudTrail/DefaultLogGroup",
            filter_name="klaxon-cis-cloudwatch-6",
        )


def test_the_pattern_tester_swaps_its_result_in_place(browser_page: Any, demo: None) -> None:
    page = browser_page
    watcher = Watcher(page)
    sign_in(page, "alice", "klaxon-demo")

    watcher.visit("/aws/patterns/")
    page.evaluate("window.__noReload = true")
    detection = detection_by_id("cis-cloudwatch-6")
    page.get_by_label("Pattern", exact=True).fill(detection.filter_pattern)
    page.get_by_text("Sample CloudTrail records").click()
    page.get_by_label("Console sign-in failed: wrong password for IAM user alice").check()
    page.get_by_label("Console sign-in with MFA: IAM user alice").check()
    page.get_by_label("Log events, one per line", exact=True).fill("just a line of text")
    page.get_by_role("button", name="Test", exact=True).click()
    page.get_by_text("1 of 3").wait_for()
    assert page.evaluate("window.__noReload") is True, "the page was reloaded, not swapped"
    assert page.locator(".tested-event.hit").count() == 1
    page.evaluate("window.scrollTo(0, 0)")
    part_shot(page, "pattern-test")

    # An invalid pattern: the error and a caret under its position.
    page.get_by_label("Pattern", exact=True).fill("{ $.eventName ConsoleLogin }")
    page.get_by_role("button", name="Test", exact=True).click()
    page.get_by_text("Invalid pattern").wait_for()
    assert page.locator("pre.caret").inner_text().splitlines()[1] == " " * 14 + "^"
    assert page.evaluate("window.__noReload") is True
    watcher.check("pattern tester")


def test_the_aws_pages_fit_a_phone(browser_page: Any, demo: None) -> None:
    page = browser_page
    watcher = Watcher(page)
    integration = Integration.objects.get()
    incident = Incident.objects.latest("id")
    attach_evidence(incident)
    aws_credentials_set(
        actor=User.objects.get(username="admin"),
        integration=integration,
        kind="keys",
        region="eu-west-1",
        access_key_id="AKIAIOSFODNN7EXAMPLE",
        secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    )
    sign_in(page, "admin", "klaxon-demo")
    page.set_viewport_size({"width": 375, "height": 800})
    pages = {
        "detections": "/aws/detections/",
        "pattern-test": "/aws/patterns/?detection=cis-cloudwatch-6",
        "integration": integration.get_absolute_url(),
        "aws-setup": f"/aws/integrations/{integration.pk}/setup/",
        "aws-credentials": f"/aws/integrations/{integration.pk}/credentials/",
        "incident-evidence": incident.get_absolute_url(),
    }
    for name, path in pages.items():
        watcher.visit(path)
        no_sideways_scroll(page, name)
        if name == "pattern-test":
            part_shot(page.locator("#pattern-result"), "phone-pattern-test")
        elif name == "incident-evidence":
            part_shot(page.locator("#evidence"), "phone-incident-evidence")
        # Open every fold, so what it holds must fit too (long records, patterns).
        page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        no_sideways_scroll(page, f"{name} with every fold open")
    watcher.check("aws pages")


def test_screenshots_and_copying_a_pattern(browser_page: Any, demo: None) -> None:
    page = browser_page
    integration = Integration.objects.get()
    incident = Incident.objects.latest("id")
    attach_evidence(incident)
    sign_in(page, "admin", "klaxon-demo")

    page.goto("/aws/detections/")
    page.locator("#cis-cloudwatch-6").get_by_role("button", name="Copy pattern").click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == detection_by_id("cis-cloudwatch-6").filter_pattern
    page.evaluate("window.scrollTo(0, 0)")
    part_shot(page, "detections")

    page.goto(integration.get_absolute_url())
    part_shot(page.locator("#aws-setup"), "integration-aws-setup")

    page.goto(incident.get_absolute_url())
    page.get_by_text("Evidence: who, from where, what").wait_for()
    part_shot(page, "incident-evidence")
