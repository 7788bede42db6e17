"""The "Test a pattern" page: a pattern, typed events or library samples, the matches
per event, and an invalid pattern pointed at where it goes wrong. Works as a plain form
and with htmx."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from pytest_django.asserts import assertContains, assertNotContains

from aws.api import MAX_EVENTS
from aws.cloudtrail_samples import SAMPLES, sample_by_id
from aws.detections import detection_by_id
from tests.aws.conftest import client_for

pytestmark = pytest.mark.django_db

URL = "/aws/patterns/"
FAILED_LOGIN = '{ ($.eventName = ConsoleLogin) && ($.errorMessage = "Failed authentication") }'


def results(html: str) -> list[tuple[str, str]]:
    """(Match / No match, the event's title) for each tested event, in order."""
    found = re.findall(
        r'<span class="badge (?:match|no-match)">(Match|No match)</span> <strong>([^<]*)</strong>',
        html,
    )
    return [(verdict, title) for verdict, title in found]


def test_the_empty_page_has_the_form_and_the_grouped_sample_library(viewer: Any) -> None:
    page = client_for(viewer).get(URL)

    assert page.status_code == 200
    assertContains(page, '<form method="post" action="/aws/patterns/"')
    assertContains(page, 'hx-post="/aws/patterns/"')
    for group in ("Console sign-ins", "IAM", "EC2 and networking", "KMS", "S3"):
        assertContains(page, f"<legend>{group}</legend>", html=True)
    for sample in SAMPLES:
        assertContains(page, f'name="sample" value="{sample.id}"')
    assertContains(page, "Write a pattern, add events or pick samples")


def test_a_plain_post_marks_each_sample_and_typed_line(viewer: Any) -> None:
    page = client_for(viewer).post(
        URL,
        {
            "pattern": FAILED_LOGIN,
            "events": '\n{"eventName":"ConsoleLogin","errorMessage":"Failed authentication"}\r\n'
            "plain text line\n",
            "sample": ["signin-failure-wrong-password", "signin-success-with-mfa"],
        },
    )

    assert page.status_code == 200
    html = page.content.decode()
    assert results(html) == [
        ("Match", sample_by_id("signin-failure-wrong-password").title),
        ("No match", sample_by_id("signin-success-with-mfa").title),
        ("Match", "Event 3"),
        ("No match", "Event 4"),
    ]
    assertContains(page, "<strong>2 of 4</strong> events match.")
    assertContains(page, 'class="tested-event hit"', count=2)
    # A CloudTrail sample says who, from where.
    assertContains(page, "ConsoleLogin by alice from 203.0.113.10")
    assert "<html" in html  # the whole page


def test_with_htmx_only_the_result_is_sent(viewer: Any) -> None:
    page = client_for(viewer).post(
        URL,
        {"pattern": "ERROR", "events": "ERROR one\nall fine"},
        headers={"HX-Request": "true"},
    )

    html = page.content.decode()
    assert html.lstrip().startswith('<section id="pattern-result"')
    assert "<html" not in html
    assert results(html) == [("Match", "Event 1"), ("No match", "Event 2")]


def test_an_invalid_pattern_is_pointed_at_its_position(viewer: Any) -> None:
    pattern = "{ $.eventName ConsoleLogin }"
    page = client_for(viewer).post(URL, {"pattern": pattern, "events": "x"})

    html = page.content.decode()
    assertContains(page, "Invalid pattern")
    assertContains(page, "at position 14")
    assertContains(page, "expected a comparison operator")
    caret = re.search(r'<pre class="caret" aria-hidden="true">(.*?)\n(.*?)</pre>', html, re.S)
    assert caret is not None
    assert caret[1] == pattern
    assert caret[2] == " " * 14 + "^"
    assertContains(page, "{ $.eventName <mark", count=1)
    assertContains(page, '<mark title="position 14">C</mark>onsoleLogin }')
    assert results(html) == []


def test_an_error_at_the_end_of_the_pattern_is_marked_too(viewer: Any) -> None:
    page = client_for(viewer).post(URL, {"pattern": "{ $.a = ", "events": "x"})

    assertContains(page, "Invalid pattern")
    assertContains(page, '<mark title="position 8">&nbsp;</mark>')


def test_a_detection_prefills_its_pattern_and_samples_and_shows_the_result(viewer: Any) -> None:
    detection = detection_by_id("cis-cloudwatch-6")
    page = client_for(viewer).get(URL, {"detection": detection.id})

    assert page.status_code == 200
    html = page.content.decode()
    assert "Console sign-in failures" in html
    tested = results(html)
    must = {sample_by_id(i).title for i in detection.must_match}
    must_not = {sample_by_id(i).title for i in detection.must_not_match}
    assert {title for verdict, title in tested if verdict == "Match"} == must
    assert {title for verdict, title in tested if verdict == "No match"} == must_not
    for sample_id in detection.must_match:
        assertContains(page, f'value="{sample_id}" checked')


def test_an_unknown_detection_is_404(viewer: Any) -> None:
    assert client_for(viewer).get(URL, {"detection": "nope"}).status_code == 404


def test_too_many_events_are_refused_in_words(viewer: Any) -> None:
    page = client_for(viewer).post(
        URL, {"pattern": "x", "events": "\n".join(["line"] * (MAX_EVENTS + 1))}
    )

    assertContains(page, f"{MAX_EVENTS + 1} events: at most {MAX_EVENTS} at a time.")
    assertNotContains(page, "events match")


def test_signed_out_visitors_cannot_use_it(client: Client) -> None:
    assert client.post(URL, {"pattern": "x", "events": "x"}).status_code == 302
