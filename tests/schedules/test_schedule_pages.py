"""Schedule pages used the way a person uses them: who is on call, the 14-day timeline
with its gaps, and the forms for schedules, layers and overrides."""

from __future__ import annotations

import html
import re
import zoneinfo
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from accounts.models import Team, User
from schedules.models import Layer, LayerMember, Override, Schedule
from tests.factories import UserFactory
from tests.helpers import layer_form_data

pytestmark = pytest.mark.django_db

LONDON = zoneinfo.ZoneInfo("Europe/London")


@pytest.fixture
def user(db: Any) -> Any:
    """Changing schedules needs an admin: staff here (team admins, responders and
    viewers: tests/foundation/test_roles.py)."""
    return UserFactory(username="admin", is_staff=True)


def make_user(username: str, first: str = "", last: str = "") -> User:
    return User.objects.create_user(username=username, first_name=first, last_name=last)


def make_schedule(
    name: str = "Primary on-call",
    zone: str = "Europe/London",
    users: list[User] | None = None,
    **layer: Any,
) -> Schedule:
    """A schedule with one daily rotation (handoff 09:00) that started ten days ago."""
    schedule = Schedule.objects.create(name=name, time_zone=zone)
    today = timezone.now().astimezone(zoneinfo.ZoneInfo(zone)).date()
    row = Layer.objects.create(
        schedule=schedule,
        name=layer.pop("layer_name", "Weekdays"),
        start=today - timedelta(days=10),
        turn=layer.pop("turn", Layer.Turn.DAILY),
        handoff_time=time(9),
        **layer,
    )
    for i, user in enumerate(users or []):
        LayerMember.objects.create(layer=row, user=user, position=i)
    return schedule


def text(response: Any) -> str:
    return str(html.unescape(response.content.decode()))


# ----------------------------------------------------------------------------- list


def test_schedule_pages_need_sign_in(client: Client) -> None:
    schedule = make_schedule()
    for url in (
        reverse("schedules:list"),
        reverse("schedules:create"),
        reverse("schedules:detail", args=[schedule.pk]),
        reverse("schedules:override-create", args=[schedule.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")


def test_list_shows_who_is_on_call_now_until_when_and_who_is_next(signed_in: Client) -> None:
    alice = make_user("alice", "Alice", "Archer")
    bob = make_user("bob", "Bob", "Baker")
    make_schedule(users=[alice, bob])

    page = text(signed_in.get(reverse("schedules:list")))

    assert "Primary on-call" in page
    assert "Alice Archer" in page
    assert "Bob Baker" in page
    # Daily turns hand off at 09:00 London time, so "until" is a 09:00 local time.
    assert re.search(r"until \w{3} \d{1,2} \w{3} 09:00", page)
    now_cell, next_cell = re.search(
        r"<strong>(.*?)</strong></td>\s*<td>until .*?</td>\s*<td>then (.*?)</td>", page, re.S
    ).groups()  # type: ignore[union-attr]
    assert {now_cell, next_cell.strip()} == {"Alice Archer", "Bob Baker"}


def test_list_flags_a_schedule_with_nobody_on_call(signed_in: Client) -> None:
    make_schedule(name="Empty rota")
    assertContains(signed_in.get(reverse("schedules:list")), "No one on call")


def test_list_without_schedules_offers_to_create_one(signed_in: Client) -> None:
    response = signed_in.get(reverse("schedules:list"))
    assertContains(response, "No schedules yet")
    assertContains(response, reverse("schedules:create"))


def test_list_query_count_does_not_grow_with_schedules(
    signed_in: Client, django_assert_max_num_queries: Any
) -> None:
    people = [make_user(f"p{i}") for i in range(4)]
    for i in range(6):
        schedule = make_schedule(name=f"Rota {i}", users=people)
        Override.objects.create(
            schedule=schedule,
            user=people[0],
            start=timezone.now() + timedelta(days=1),
            end=timezone.now() + timedelta(days=2),
        )
    # session + user, schedules, layers, members, overrides, on-call users, the teams of
    # the Team filter
    with django_assert_max_num_queries(8):
        response = signed_in.get(reverse("schedules:list"))
    assert response.status_code == 200
    assert text(response).count("Rota ") == 6


# ----------------------------------------------------------------------------- forms


def test_create_schedule_with_a_listed_time_zone(signed_in: Client) -> None:
    team = Team.objects.create(name="Platform")
    response = signed_in.post(
        reverse("schedules:create"),
        {"name": "Platform", "team": team.pk, "zone_choice": "Europe/Paris", "zone_other": ""},
    )
    schedule = Schedule.objects.get(name="Platform")
    assert response.status_code == 302
    assert response["Location"] == reverse("schedules:detail", args=[schedule.pk])
    assert schedule.time_zone == "Europe/Paris"
    assert schedule.team == team


def test_create_schedule_with_a_typed_time_zone(signed_in: Client) -> None:
    signed_in.post(
        reverse("schedules:create"),
        {"name": "Toronto", "zone_choice": "", "zone_other": " America/Toronto "},
    )
    assert Schedule.objects.get(name="Toronto").time_zone == "America/Toronto"


def test_create_schedule_rejects_an_unknown_time_zone(signed_in: Client) -> None:
    response = signed_in.post(
        reverse("schedules:create"),
        {"name": "Mars", "zone_choice": "", "zone_other": "Mars/Olympus_Mons"},
    )
    assert response.status_code == 200
    assertContains(response, "is not an IANA time zone")
    assert not Schedule.objects.filter(name="Mars").exists()


def test_create_schedule_needs_a_name(signed_in: Client) -> None:
    response = signed_in.post(reverse("schedules:create"), {"name": "", "zone_choice": "UTC"})
    assertContains(response, "This field is required.")
    assert not Schedule.objects.exists()


def test_edit_schedule_keeps_an_uncommon_zone_in_the_text_box(signed_in: Client) -> None:
    schedule = make_schedule(zone="America/Toronto")
    page = signed_in.get(reverse("schedules:edit", args=[schedule.pk]))
    assertContains(page, 'value="America/Toronto"')

    signed_in.post(
        reverse("schedules:edit", args=[schedule.pk]),
        {"name": "Renamed", "zone_choice": "Asia/Tokyo", "zone_other": ""},
    )
    schedule.refresh_from_db()
    assert (schedule.name, schedule.time_zone) == ("Renamed", "Asia/Tokyo")


def test_delete_schedule_asks_first(signed_in: Client) -> None:
    schedule = make_schedule()
    url = reverse("schedules:delete", args=[schedule.pk])
    assertContains(signed_in.get(url), "Delete Primary on-call?")
    assert Schedule.objects.exists()

    response = signed_in.post(url)
    assert response["Location"] == reverse("schedules:list")
    assert not Schedule.objects.exists()


def test_unknown_ids_are_404(signed_in: Client) -> None:
    schedule = make_schedule()
    other = make_schedule(name="Other")
    layer = other.layers.get()
    for url in (
        "/schedules/999999/",
        "/schedules/99999999999999999999999/",
        "/schedules/999999/edit/",
        "/schedules/999999/delete/",
        "/schedules/999999/overrides/new/",
        f"/schedules/{schedule.pk}/layers/{layer.pk}/",  # a layer of another schedule
        f"/schedules/{schedule.pk}/layers/{layer.pk}/delete/",
    ):
        assert signed_in.get(url).status_code == 404, url
    response = signed_in.post(f"/schedules/{schedule.pk}/overrides/999999/delete/")
    assert response.status_code == 404


# ----------------------------------------------------------------------------- layers


def layer_data(**changes: Any) -> dict[str, Any]:
    return layer_form_data(**changes)


def test_add_layer_with_ordered_users_and_restrictions(signed_in: Client) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    schedule = Schedule.objects.create(name="Rota", time_zone="UTC")

    response = signed_in.post(reverse("schedules:layer-create", args=[schedule.pk]), layer_data())

    assert response["Location"] == reverse("schedules:detail", args=[schedule.pk])
    layer = schedule.layers.get()
    assert layer.name == "Business hours"
    assert [m.user for m in layer.members.order_by("position")] == [bob, alice]
    assert layer.restrict_weekdays == [0, 1, 2, 3, 4]
    assert (layer.restrict_start, layer.restrict_end) == (time(9), time(17, 30))
    assert layer.turn_hours is None


def test_layer_form_explains_its_errors(signed_in: Client) -> None:
    make_user("alice")
    schedule = Schedule.objects.create(name="Rota", time_zone="UTC")
    url = reverse("schedules:layer-create", args=[schedule.pk])

    response = signed_in.post(url, layer_data(order="alice, mallory"))
    assertContains(response, "No user named mallory.")

    response = signed_in.post(url, layer_data(order="alice", turn="hours"))
    assertContains(response, "Say how many hours each turn lasts.")

    response = signed_in.post(url, layer_data(order="alice", restrict_end=""))
    assertContains(response, "Give both times, or neither for all day.")

    response = signed_in.post(url, layer_data(order="alice", start="not a date"))
    assertContains(response, "Enter a valid date.")
    assert not schedule.layers.exists()


def test_edit_layer_changes_the_order_and_turn(signed_in: Client) -> None:
    alice, bob, carol = make_user("alice"), make_user("bob"), make_user("carol")
    schedule = make_schedule(users=[alice, bob])
    layer = schedule.layers.get()
    url = reverse("schedules:layer-edit", args=[schedule.pk, layer.pk])
    assertContains(signed_in.get(url), "alice, bob")

    signed_in.post(
        url, layer_data(order="carol\nalice carol", turn="hours", turn_hours="12", weekdays=[])
    )

    layer.refresh_from_db()
    assert [m.user for m in layer.members.order_by("position")] == [carol, alice, carol]
    assert (layer.turn, layer.turn_hours, layer.restrict_weekdays) == ("hours", 12, [])


def test_delete_layer(signed_in: Client) -> None:
    schedule = make_schedule()
    layer = schedule.layers.get()
    url = reverse("schedules:layer-delete", args=[schedule.pk, layer.pk])
    assertContains(signed_in.get(url), "Delete layer Weekdays?")
    signed_in.post(url)
    assert not schedule.layers.exists()


# ----------------------------------------------------------------------------- detail / timeline


def test_timeline_shows_layers_overrides_and_the_final_answer(signed_in: Client) -> None:
    alice = make_user("alice", "Alice", "Archer")
    bob = make_user("bob", "Bob", "Baker")
    carol = make_user("carol", "Carol", "Cook")
    schedule = make_schedule(users=[alice, bob], layer_name="Daily rota")
    start = timezone.now() + timedelta(days=2)
    Override.objects.create(
        schedule=schedule, user=carol, start=start, end=start + timedelta(hours=6)
    )

    response = signed_in.get(reverse("schedules:detail", args=[schedule.pk]))
    page = text(response)

    rows = re.findall(r'<div class="tl-row tl-(\w+)">\s*<div class="tl-label"[^>]*>([^<]*)<', page)
    assert rows == [
        ("head", ""),
        ("layer", "Daily rota"),
        ("overrides", "Overrides"),
        ("final", "Final"),
    ]
    final_row = page.split('class="tl-row tl-final"')[1]
    assert "Alice Archer" in final_row and "Bob Baker" in final_row and "Carol Cook" in final_row
    overrides_row = page.split('class="tl-row tl-overrides"')[1].split("tl-row tl-final")[0]
    assert "Carol Cook" in overrides_row and "Alice Archer" not in overrides_row
    # 14 day columns, each block's time range in its tooltip.
    assert page.count('class="tl-day') == 14
    assert re.search(r'title="Alice Archer: \w{3} \d+ \w{3} 09:00 – \w{3} \d+ \w{3} 09:00', page)
    assert "Someone is on call for the whole 14 days." in page


def test_gaps_are_highlighted_and_listed(signed_in: Client) -> None:
    alice = make_user("alice", "Alice", "Archer")
    schedule = make_schedule(
        users=[alice], restrict_start=time(9), restrict_end=time(17), layer_name="Office hours"
    )

    page = text(signed_in.get(reverse("schedules:detail", args=[schedule.pk])))

    listed = page.split('id="gaps"')[1].split("</section>")[0]
    gaps = re.findall(
        r"No one on call: (\w{3} \d+ \w{3} \d\d:\d\d) – (\w{3} \d+ \w{3} \d\d:\d\d) Europe/London",
        listed,
    )
    # Every night from 17:00 to 09:00; the first and last are clipped to the window,
    # which runs from midnight today for 14 days.
    assert len(gaps) == 15
    assert gaps[0][0].endswith("00:00") and gaps[0][1].endswith("09:00")
    middle = gaps[1:-1]
    assert all(a.endswith("17:00") and b.endswith("09:00") for a, b in middle)
    assert 'class="tl-block gap"' in page


def test_clicking_a_final_shift_opens_a_prefilled_override_form(signed_in: Client) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    schedule = make_schedule(zone="Asia/Tokyo", users=[alice, bob])
    page = text(signed_in.get(reverse("schedules:detail", args=[schedule.pk])))
    final_row = page.split('class="tl-row tl-final"')[1]
    link = re.findall(r'<a class="tl-block shift" href="([^"]+)"', final_row)[1]

    form_page = signed_in.get(link)

    # Daily Tokyo turns start at 09:00 local (00:00 UTC): the form shows local times.
    start, end = re.findall(r'name="(?:start|end)" value="([^"]+)"', text(form_page))
    assert start.endswith("T09:00") and end.endswith("T09:00")
    response = signed_in.post(link, {"user": bob.pk, "start": start, "end": end})
    assert response["Location"] == reverse("schedules:detail", args=[schedule.pk])
    override = Override.objects.get()
    assert override.user == bob
    assert override.start.astimezone(UTC).time() == time(0)
    assert override.end - override.start == timedelta(days=1)
    # Bob now covers that day in the final row.
    page = text(signed_in.get(reverse("schedules:detail", args=[schedule.pk])))
    assertContains(signed_in.get(reverse("schedules:detail", args=[schedule.pk])), "bob")
    assert re.search(r'<strong>bob</strong> <span class="muted">\w{3} \d+ \w{3} 09:00', page)


def test_override_form_rejects_an_end_before_the_start(signed_in: Client) -> None:
    alice = make_user("alice")
    schedule = make_schedule()
    response = signed_in.post(
        reverse("schedules:override-create", args=[schedule.pk]),
        {"user": alice.pk, "start": "2030-01-02T10:00", "end": "2030-01-02T09:00"},
    )
    assertContains(response, "The end must be after the start.")
    response = signed_in.post(
        reverse("schedules:override-create", args=[schedule.pk]),
        {"user": alice.pk, "start": "yesterday", "end": ""},
    )
    assertContains(response, "Enter a valid date/time.")
    assert not Override.objects.exists()


def test_override_form_ignores_garbage_query_parameters(signed_in: Client) -> None:
    schedule = make_schedule()
    url = reverse("schedules:override-create", args=[schedule.pk])
    response = signed_in.get(url + "?start=garbage&end=2030-13-45T99:00Z")
    assert response.status_code == 200


def test_delete_an_override(signed_in: Client) -> None:
    alice = make_user("alice", "Alice", "Archer")
    schedule = make_schedule()
    start = timezone.now() + timedelta(hours=1)
    override = Override.objects.create(
        schedule=schedule, user=alice, start=start, end=start + timedelta(hours=2)
    )
    assertContains(signed_in.get(reverse("schedules:detail", args=[schedule.pk])), "Alice Archer")
    url = reverse("schedules:override-delete", args=[schedule.pk, override.pk])
    assert signed_in.get(url).status_code == 405
    signed_in.post(url)
    assert not Override.objects.exists()
    assertNotContains(
        signed_in.get(reverse("schedules:detail", args=[schedule.pk])), "Alice Archer"
    )


def test_detail_query_count_does_not_grow_with_layers_and_overrides(
    signed_in: Client, django_assert_max_num_queries: Any
) -> None:
    people = [make_user(f"p{i}") for i in range(5)]
    schedule = make_schedule(users=people)
    for i in range(4):
        layer = Layer.objects.create(
            schedule=schedule,
            name=f"Layer {i}",
            position=i + 1,
            start=datetime(2026, 1, 1).date(),
            handoff_time=time(8),
            restrict_start=time(8),
            restrict_end=time(12),
        )
        for j, person in enumerate(people):
            LayerMember.objects.create(layer=layer, user=person, position=j)
        Override.objects.create(
            schedule=schedule,
            user=people[i],
            start=timezone.now() + timedelta(days=i),
            end=timezone.now() + timedelta(days=i, hours=3),
        )
    # session + user, schedule, layers, members, overrides (spec), current overrides,
    # users of the shifts, users of the layers
    with django_assert_max_num_queries(9):
        response = signed_in.get(reverse("schedules:detail", args=[schedule.pk]))
    assert response.status_code == 200
    assert text(response).count('class="tl-row tl-layer"') == 5
