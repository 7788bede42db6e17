"""Secret iCal feeds, per schedule and per user, as a calendar client reads them."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import icalendar
import pytest
from django.test import Client
from django.utils import timezone

from schedules.feeds import calendar, schedule_events, user_events
from schedules.models import Layer, LayerMember, Override, Schedule
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LONDON = zoneinfo.ZoneInfo("Europe/London")


def make_schedule(name: str, users: list[Any], **layer: Any) -> Schedule:
    schedule = Schedule.objects.create(name=name, time_zone="Europe/London")
    fields = {"name": "Daily", "start": date.today() - timedelta(days=30), "turn": "daily",
              "handoff_time": time(9)}  # fmt: skip
    fields.update(layer)
    created = Layer.objects.create(schedule=schedule, **fields)
    for position, user in enumerate(users):
        LayerMember.objects.create(layer=created, user=user, position=position)
    return schedule


def unfold(text: str) -> list[str]:
    """Content lines as RFC 5545 3.1 says to read them back."""
    return text.replace("\r\n ", "").split("\r\n")[:-1]


def parsed(text: str) -> icalendar.Calendar:
    """The feed as a calendar app reads it (icalendar's parser, strict about syntax)."""
    return icalendar.Calendar.from_ical(text)


def events(text: str) -> list[dict[str, Any]]:
    """Each VEVENT's fields, decoded: times as aware datetimes, text unescaped."""
    return [
        {
            "UID": str(event["UID"]),
            "SUMMARY": str(event["SUMMARY"]),
            "DESCRIPTION": str(event["DESCRIPTION"]),
            "DTSTART": event.decoded("DTSTART"),
            "DTEND": event.decoded("DTEND"),
        }
        for event in parsed(text).walk("VEVENT")
    ]


@pytest.fixture
def people() -> list[Any]:
    return [
        UserFactory(username=u, first_name=f, last_name="Smith", password=None)
        for u, f in (("alice", "Alice"), ("bob", "Bob"))
    ]


def test_a_schedule_feed_is_a_valid_calendar_of_its_shifts(people: list[Any]) -> None:
    schedule = make_schedule("Primary", people)

    response = Client().get(f"/ical/schedules/{schedule.ical_token}.ics")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    text = response.content.decode()
    assert text.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n")
    assert text.endswith("END:VCALENDAR\r\n")
    assert "\n" not in text.replace("\r\n", "")  # every line ends in CRLF
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    assert "X-WR-CALNAME:Klaxon: Primary" in unfold(text)
    found = events(text)
    # Daily turns, 7 days back to 60 ahead: about 68 of them, alternating.
    assert 66 <= len(found) <= 69
    assert {e["SUMMARY"] for e in found} == {"Alice Smith", "Bob Smith"}
    # In the schedule's own zone, which the feed describes (VTIMEZONE).
    assert all(e["DTSTART"].tzinfo == LONDON and e["DTEND"].tzinfo == LONDON for e in found)
    assert [str(tz["TZID"]) for tz in parsed(text).walk("VTIMEZONE")] == ["Europe/London"]
    assert len({e["UID"] for e in found}) == len(found)
    now = timezone.now()
    first_end, last_start = found[0]["DTEND"], found[-1]["DTSTART"]
    assert now - timedelta(days=8) < first_end <= now - timedelta(days=6)
    assert now + timedelta(days=59) <= last_start < now + timedelta(days=60)


def test_event_uids_and_times_stay_put_as_the_feed_window_moves(people: list[Any]) -> None:
    schedule = make_schedule("Primary", people)
    now = timezone.now()

    today = {e.uid: (e.start, e.end) for e in schedule_events(schedule, now)}
    later = {e.uid: (e.start, e.end) for e in schedule_events(schedule, now + timedelta(hours=5))}

    shared = today.keys() & later.keys()
    assert len(shared) >= len(today) - 1
    assert all(today[uid] == later[uid] for uid in shared)
    # The first event keeps its real start, not the window's edge.
    first_start = min(start for start, _ in today.values())
    assert first_start.astimezone(UTC).time() in (time(8), time(9))  # 09:00 London


def test_an_override_shows_in_the_schedule_feed(people: list[Any]) -> None:
    schedule = make_schedule("Primary", people[:1])
    dan = UserFactory(username="dan", first_name="Dan", password=None)
    start = timezone.now().replace(microsecond=0) + timedelta(days=2)
    Override.objects.create(
        schedule=schedule, user=dan, start=start, end=start + timedelta(hours=3)
    )

    text = Client().get(f"/ical/schedules/{schedule.ical_token}.ics").content.decode()

    (override,) = [e for e in events(text) if e["SUMMARY"] == "Dan"]
    assert override["DTSTART"] == start
    assert "override" in override["DESCRIPTION"]


def test_a_user_feed_has_their_shifts_from_every_schedule_and_nobody_elses(
    people: list[Any],
) -> None:
    alice, bob = people
    make_schedule("Databases", [alice, bob])
    make_schedule("Network", [alice], turn="weekly")
    make_schedule("Bob only", [bob])

    response = Client().get(f"/ical/users/{alice.ical_token}.ics")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    found = events(response.content.decode())
    summaries = {e["SUMMARY"] for e in found}
    assert summaries == {"On call: Databases", "On call: Network"}
    # Alice alone in Network: one stretch since the layer started, not one per week.
    assert [e["SUMMARY"] for e in found].count("On call: Network") == 1
    assert 30 <= [e["SUMMARY"] for e in found].count("On call: Databases") <= 36


@pytest.mark.parametrize("kind", ["schedules", "users"])
def test_an_unknown_token_is_not_found(kind: str, people: list[Any]) -> None:
    make_schedule("Primary", people)

    assert Client().get(f"/ical/{kind}/not-a-token.ics").status_code == 404
    assert Client().get(f"/ical/{kind}/{'x' * 500}.ics").status_code == 404


def test_feeds_refuse_writes(people: list[Any]) -> None:
    schedule = make_schedule("Primary", people)

    assert Client().post(f"/ical/schedules/{schedule.ical_token}.ics").status_code == 405


def test_text_is_escaped_and_long_lines_folded_without_splitting_characters(
    people: list[Any],
) -> None:
    name = "Ops, nights; \\ on call\n" + "é" * 60
    schedule = make_schedule(name, people)

    text = Client().get(f"/ical/schedules/{schedule.ical_token}.ics").content.decode()

    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    calname = next(line for line in unfold(text) if line.startswith("X-WR-CALNAME:"))
    assert calname == "X-WR-CALNAME:Klaxon: Ops\\, nights\\; \\\\ on call\\n" + "é" * 60
    assert all(e["DESCRIPTION"] == f"On call for {name} (layer Daily)." for e in events(text))


def test_the_feeds_read_back_as_the_shifts_they_were_made_from(people: list[Any]) -> None:
    alice, _ = people
    schedule = make_schedule("Primary", people)
    make_schedule("Network", [alice], turn="weekly")
    now = timezone.now()

    feeds = {
        f"/ical/schedules/{schedule.ical_token}.ics": schedule_events(schedule, now),
        f"/ical/users/{alice.ical_token}.ics": user_events(alice, now),
    }

    for url, made in feeds.items():
        read = events(Client().get(url).content.decode())
        # iCalendar times have whole seconds (a feed's last event ends at the window's
        # edge, which has microseconds).
        assert [(e["UID"], e["DTSTART"], e["DTEND"], e["SUMMARY"]) for e in read] == [
            (e.uid, e.start, e.end.replace(microsecond=0), e.summary) for e in made
        ], url


def test_a_local_handoff_stays_at_its_local_time_across_a_dst_change(
    people: list[Any],
) -> None:
    # Daily turns handing off at 09:00 London, around the end of March: 09:00 GMT is
    # 09:00 UTC before the change and 08:00 UTC after it.
    schedule = make_schedule("Primary", people, start=date(2026, 3, 1))
    before_change = datetime(2026, 3, 27, 12, tzinfo=UTC)

    text = calendar("Primary", schedule_events(schedule, before_change), before_change)
    read = events(text)

    local_starts = {(e["DTSTART"].date(), e["DTSTART"].time()) for e in read}
    assert (date(2026, 3, 28), time(9)) in local_starts  # GMT
    assert (date(2026, 3, 30), time(9)) in local_starts  # BST
    assert {e["DTSTART"].utcoffset() for e in read} == {timedelta(0), timedelta(hours=1)}
    assert "BEGIN:VTIMEZONE" in text and "TZID:Europe/London" in text


def test_the_schedule_page_shows_its_calendar_feed_url(signed_in: Any) -> None:
    from django.conf import settings

    from schedules.models import Schedule

    schedule = Schedule.objects.create(name="Feeds", time_zone="UTC")
    page = signed_in.get(f"/schedules/{schedule.pk}/").content.decode()
    assert f"{settings.KLAXON_BASE_URL}/ical/schedules/{schedule.ical_token}.ics" in page
