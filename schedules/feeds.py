"""iCal feeds (RFC 5545, written by the icalendar package) behind secret URLs: one per
schedule, one per user.

No login: the URL is the secret, as with Google Calendar's "secret address". Calendar
clients poll these, so each event's UID depends only on the shift (schedule, user,
start) and the first and last events keep their real start and end rather than the
feed window's edges: a re-fetch updates events instead of duplicating them.
"""

from __future__ import annotations

import hashlib
import hmac
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import icalendar
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_safe

from accounts.models import User
from schedules.models import Schedule
from schedules.oncall import ScheduleSpec, Shift, final_shifts, who_is_on_call
from schedules.selectors import schedule_spec, schedules_of_user, schedules_with_rotations

PAST = timedelta(days=7)
FUTURE = timedelta(days=60)
MAX_TOKEN_LENGTH = 64
PRODID = "-//Klaxon//On-call schedules//EN"
# How often calendar apps should fetch again (X-PUBLISHED-TTL says the same).
REFRESH = timedelta(hours=1)


@dataclass(frozen=True)
class Event:
    uid: str
    start: datetime
    end: datetime
    summary: str
    description: str
    zone: zoneinfo.ZoneInfo  # the schedule's: the event is written in its local time


# --------------------------------------------------------------------------- RFC 5545


def utc_stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def calendar(name: str, events: Iterable[Event], now: datetime) -> str:
    """The feed as RFC 5545 text. The icalendar package escapes the text, folds long
    lines and writes each event in its schedule's time zone (TZID) with that zone's
    VTIMEZONE, so a calendar app shows a 09:00 handoff at 09:00 across DST changes."""
    cal = icalendar.Calendar()
    cal.add("version", "2.0")
    cal.add("prodid", PRODID)
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    # Non-standard properties default to TEXT (RFC 5545 3.8.8.2): escaped like SUMMARY.
    cal.add("x-wr-calname", icalendar.vText(name))
    cal.add("x-published-ttl", "PT1H")
    cal.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    events = list(events)
    for event in events:
        item = icalendar.Event()
        item.add("uid", event.uid)
        item.add("dtstamp", now.astimezone(UTC))
        item.add("dtstart", event.start.astimezone(event.zone))
        item.add("dtend", event.end.astimezone(event.zone))
        item.add("summary", event.summary)
        item.add("description", event.description)
        item.add("transp", "TRANSPARENT")
        cal.add_component(item)
    if events:
        # Each zone's rules over the events' span only (a day either side), not decades.
        cal.add_missing_timezones(
            first_date=min(e.start for e in events).date() - timedelta(days=1),
            last_date=max(e.end for e in events).date() + timedelta(days=1),
        )
    return str(cal.to_ical().decode())


def shift_uid(*parts: object) -> str:
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:32]
    return f"{digest}@klaxon"


# ------------------------------------------------------------------------------ shifts


def unclipped_shifts(spec: ScheduleSpec, start: datetime, end: datetime) -> list[Shift]:
    """Final shifts over [start, end) with someone on call, the edge ones un-clipped."""
    shifts = final_shifts(spec, start, end)
    if shifts:
        since = who_is_on_call(spec, shifts[0].start).since
        if since is not None:
            shifts[0] = replace(shifts[0], start=since)
        until = who_is_on_call(spec, shifts[-1].start).until
        if until is not None:
            shifts[-1] = replace(shifts[-1], end=until)
    return [shift for shift in shifts if shift.user_ids]


def feed_window(now: datetime) -> tuple[datetime, datetime]:
    return now - PAST, now + FUTURE


def schedule_events(schedule: Schedule, now: datetime) -> list[Event]:
    shifts = unclipped_shifts(schedule_spec(schedule), *feed_window(now))
    names = {
        user.pk: str(user)
        for user in User.objects.filter(pk__in={pk for s in shifts for pk in s.user_ids})
    }
    return [
        Event(
            uid=shift_uid("schedule", schedule.pk, utc_stamp(shift.start), shift.user_ids),
            start=shift.start,
            end=shift.end,
            summary=", ".join(names.get(pk, f"user {pk}") for pk in shift.user_ids),
            description=f"On call for {schedule.name} ({_source_text(shift.source)}).",
            zone=schedule.zone,
        )
        for shift in shifts
    ]


def user_events(user: User, now: datetime) -> list[Event]:
    events: list[Event] = []
    for schedule in schedules_of_user(user):
        mine = [
            s
            for s in unclipped_shifts(schedule_spec(schedule), *feed_window(now))
            if user.pk in s.user_ids
        ]
        # Back-to-back shifts of the same person (another layer took over, a colleague
        # joined by override) read as one stretch on call in a personal calendar.
        merged: list[Shift] = []
        for shift in mine:
            if merged and merged[-1].end == shift.start:
                merged[-1] = replace(merged[-1], end=shift.end)
            else:
                merged.append(shift)
        events += [
            Event(
                uid=shift_uid("user", user.pk, schedule.pk, utc_stamp(shift.start)),
                start=shift.start,
                end=shift.end,
                summary=f"On call: {schedule.name}",
                description=f"{user} is on call for {schedule.name}.",
                zone=schedule.zone,
            )
            for shift in merged
        ]
    return sorted(events, key=lambda e: (e.start, e.uid))


def _source_text(source: str) -> str:
    return "override" if source == "override" else f"layer {source}"


# ------------------------------------------------------------------------------- views


def _token_matches(stored: str, given: str) -> bool:
    return hmac.compare_digest(stored.encode(), given.encode())


def _ics(text: str, filename: str) -> HttpResponse:
    response = HttpResponse(text, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["Cache-Control"] = "private, max-age=300"
    response["X-Robots-Tag"] = "noindex"
    return response


@require_safe
def schedule_feed(request: HttpRequest, token: str) -> HttpResponse:
    """All final shifts of one schedule, 7 days back and 60 days ahead."""
    schedule = None
    if len(token) <= MAX_TOKEN_LENGTH:
        # The unique index finds the row; the final comparison takes constant time.
        schedule = schedules_with_rotations().filter(ical_token=token).first()
    if schedule is None or not _token_matches(schedule.ical_token, token):
        raise Http404("No such calendar.")
    now = timezone.now()
    text = calendar(f"Klaxon: {schedule.name}", schedule_events(schedule, now), now)
    return _ics(text, f"schedule-{schedule.pk}.ics")


@require_safe
def user_feed(request: HttpRequest, token: str) -> HttpResponse:
    """One user's shifts across every schedule, 7 days back and 60 days ahead."""
    user = None
    if len(token) <= MAX_TOKEN_LENGTH:
        user = User.objects.filter(ical_token=token, is_active=True).first()
    if user is None or not _token_matches(user.ical_token, token):
        raise Http404("No such calendar.")
    now = timezone.now()
    text = calendar(f"Klaxon: {user} on call", user_events(user, now), now)
    return _ics(text, f"user-{user.pk}.ics")


def feed_url(kind: str, token: str) -> str:
    """The secret iCal URL for a schedule (kind "schedule") or a user (kind "user")."""
    return settings.KLAXON_BASE_URL + reverse(f"feeds:{kind}", kwargs={"token": token})
