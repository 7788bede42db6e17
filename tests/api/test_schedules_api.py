"""The schedules and escalation-policy REST API, as a script would use it."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from escalation.models import EscalationPolicy
from schedules.models import Layer, Override, Schedule
from tests.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def user(db: Any) -> Any:
    """Creating schedules and policies needs an admin: staff here (team admins, responders and
    viewers: tests/foundation/test_roles.py)."""
    return UserFactory(username="admin", is_staff=True)


@pytest.fixture
def api(user: Any) -> Client:
    key = Token.objects.create(user=user).key
    return Client(headers={"Authorization": f"Token {key}"}, enforce_csrf_checks=True)


@pytest.fixture
def people() -> list[Any]:
    # No password: hashing one costs more than the whole test.
    return [UserFactory(username=name, password=None) for name in ("alice", "bob", "carol")]


def body(response: Any) -> Any:
    return json.loads(response.content)


def post(api: Client, url: str, data: object) -> Any:
    return api.post(url, json.dumps(data), content_type="application/json")


def london_schedule(api: Client, people: list[Any], **layer: object) -> dict[str, Any]:
    payload = {
        "name": "Primary",
        "time_zone": "Europe/London",
        "layers": [
            {
                "name": "Daily",
                "start": "2026-03-27",
                "turn": "daily",
                "handoff_time": "09:00",
                "users": [p.pk for p in people],
                **layer,
            }
        ],
    }
    response = post(api, "/api/v1/schedules/", payload)
    assert response.status_code == 201, response.content
    result: dict[str, Any] = body(response)
    return result


def oncall(api: Client, schedule_id: int, at: str) -> Any:
    return api.get(f"/api/v1/schedules/{schedule_id}/oncall/?at={quote(at)}")


# ------------------------------------------------------------------------------ create


def test_posting_a_schedule_creates_its_layers_in_order(api: Client, people: list[Any]) -> None:
    created = london_schedule(api, people)

    schedule = Schedule.objects.get(pk=created["id"])
    layer = Layer.objects.get(schedule=schedule)
    assert created["time_zone"] == "Europe/London"
    assert created["layers"][0]["users"] == [p.pk for p in people]
    assert created["layers"][0]["handoff_time"] == "09:00:00"
    assert created["ical_url"].endswith(f"/ical/schedules/{schedule.ical_token}.ics")
    assert [m.user_id for m in layer.members.order_by("position")] == [p.pk for p in people]
    listed = body(api.get("/api/v1/schedules/"))["results"]
    assert [s["id"] for s in listed] == [schedule.pk]


def test_an_hour_count_makes_an_hours_turn(api: Client, people: list[Any]) -> None:
    created = london_schedule(api, people, turn=12)

    assert (created["layers"][0]["turn"], created["layers"][0]["turn_hours"]) == ("hours", 12)


def test_later_layers_rank_higher_unless_a_position_is_given(
    api: Client, people: list[Any]
) -> None:
    layer = {"start": "2026-01-01", "turn": "weekly", "handoff_time": "09:00"}
    response = post(api, "/api/v1/schedules/", {
        "name": "Two layers",
        "layers": [
            {**layer, "name": "base", "users": [people[0].pk]},
            {**layer, "name": "office", "users": [people[1].pk],
             "restrict_weekdays": [0, 1, 2, 3, 4], "restrict_start": "09:00",
             "restrict_end": "17:00"},
        ],
    })  # fmt: skip

    assert response.status_code == 201
    positions = {row["name"]: row["position"] for row in body(response)["layers"]}
    assert positions == {"base": 0, "office": 1}
    on_monday = body(oncall(api, body(response)["id"], "2026-07-06T10:00:00+00:00"))
    assert on_monday["users"] == [{"id": people[1].pk, "username": "bob"}]


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"time_zone": "Mars/Olympus"}, "time_zone", "IANA"),
        ({"layers": []}, "layers", ""),
        ({"name": ""}, "name", ""),
    ],
)
def test_a_bad_schedule_is_refused_naming_the_field(
    api: Client, people: list[Any], change: dict[str, object], field: str, words: str
) -> None:
    payload = {"name": "S", "time_zone": "UTC", "layers": [
        {"name": "L", "start": "2026-01-01", "turn": "daily", "handoff_time": "09:00",
         "users": [people[0].pk]}]}  # fmt: skip
    response = post(api, "/api/v1/schedules/", {**payload, **change})

    assert response.status_code == 400
    assert field in body(response)
    assert words in json.dumps(body(response)[field])
    assert not Schedule.objects.exists()


@pytest.mark.parametrize(
    ("layer", "field", "words"),
    [
        ({"turn": "monthly"}, "turn", "daily"),
        ({"turn": 0}, "turn", "hours"),
        ({"turn": True}, "turn", "hours"),
        ({"users": [999_999]}, "users", "999999"),
        ({"users": []}, "users", ""),
        ({"handoff_time": "25:00"}, "handoff_time", ""),
        ({"handoff_time": "09:00+01:00"}, "handoff_time", "without a UTC offset"),
        ({"restrict_start": "08:00Z"}, "restrict_start", "schedule's time zone"),
        ({"restrict_weekdays": [7]}, "restrict_weekdays", ""),
    ],
)
def test_a_bad_layer_is_refused_naming_the_field(
    api: Client, people: list[Any], layer: dict[str, object], field: str, words: str
) -> None:
    base = {"name": "L", "start": "2026-01-01", "turn": "daily", "handoff_time": "09:00",
            "users": [people[0].pk]}  # fmt: skip
    response = post(api, "/api/v1/schedules/", {"name": "S", "layers": [{**base, **layer}]})

    assert response.status_code == 400
    errors = body(response)["layers"]["0"]  # DRF keys list items by index
    assert field in errors
    assert words in json.dumps(errors[field])
    assert not Schedule.objects.exists()


def test_the_schedule_api_needs_a_token(people: list[Any]) -> None:
    assert Client().get("/api/v1/schedules/").status_code == 401
    assert Client().post("/api/v1/schedules/", {}).status_code == 401


# ------------------------------------------------------------------------------ on call


def test_oncall_answers_the_user_and_when_the_turn_ends_across_the_clock_change(
    api: Client, people: list[Any]
) -> None:
    schedule = london_schedule(api, people)

    before = body(oncall(api, schedule["id"], "2026-03-29T08:30:00+01:00"))
    after = body(oncall(api, schedule["id"], "2026-03-29T09:00:00+01:00"))

    assert before == {
        "users": [{"id": people[1].pk, "username": "bob"}],
        "until": "2026-03-29T08:00:00+00:00",  # 09:00 BST
    }
    assert after["users"] == [{"id": people[2].pk, "username": "carol"}]


def test_oncall_accepts_an_unencoded_plus_and_z(api: Client, people: list[Any]) -> None:
    schedule = london_schedule(api, people)
    url = f"/api/v1/schedules/{schedule['id']}/oncall/"

    plus = api.get(url + "?at=2026-03-28T10:00:00+00:00")  # "+" arrives as a space
    zulu = api.get(url + "?at=2026-03-28T10:00:00Z")

    assert plus.status_code == zulu.status_code == 200
    assert body(plus) == body(zulu)
    assert body(plus)["users"][0]["username"] == "bob"


def test_oncall_without_at_answers_for_now(api: Client, people: list[Any]) -> None:
    schedule = london_schedule(api, people)

    response = api.get(f"/api/v1/schedules/{schedule['id']}/oncall/")

    assert response.status_code == 200
    assert len(body(response)["users"]) == 1


@pytest.mark.parametrize(
    "at", ["yesterday", "2026-03-29T09:00:00", "2026-13-01T00:00:00Z", "9999-12-31T23:00:00Z"]
)
def test_a_bad_at_is_refused_naming_it(api: Client, people: list[Any], at: str) -> None:
    schedule = london_schedule(api, people)

    response = oncall(api, schedule["id"], at)

    assert response.status_code == 400
    assert "at" in body(response)


def test_nobody_on_call_answers_an_empty_list(api: Client, people: list[Any]) -> None:
    schedule = london_schedule(api, people)

    answer = body(oncall(api, schedule["id"], "2026-01-01T00:00:00Z"))

    assert answer == {"users": [], "until": "2026-03-27T09:00:00+00:00"}


# ---------------------------------------------------------------------------- overrides


def test_an_override_puts_someone_on_call_over_the_rotation(
    api: Client, people: list[Any]
) -> None:
    schedule = london_schedule(api, people)
    dan = UserFactory(username="dan", password=None)
    url = f"/api/v1/schedules/{schedule['id']}/overrides/"

    created = post(
        api, url, {"user": dan.pk, "start": "2026-03-28T12:00:00Z", "end": "2026-03-28T14:00:00Z"}
    )
    answer = body(oncall(api, schedule["id"], "2026-03-28T13:00:00Z"))

    assert created.status_code == 201
    assert body(created)["user"] == dan.pk
    assert answer == {"users": [{"id": dan.pk, "username": "dan"}],
                      "until": "2026-03-28T14:00:00+00:00"}  # fmt: skip
    assert [o["id"] for o in body(api.get(url))] == [body(created)["id"]]


def test_an_override_must_end_after_it_starts(api: Client, people: list[Any]) -> None:
    schedule = london_schedule(api, people)

    response = post(
        api,
        f"/api/v1/schedules/{schedule['id']}/overrides/",
        {"user": people[0].pk, "start": "2026-03-28T14:00:00Z", "end": "2026-03-28T14:00:00Z"},
    )

    assert response.status_code == 400
    assert "end" in body(response)
    assert not Override.objects.exists()


def test_an_override_for_an_unknown_user_is_refused(api: Client, people: list[Any]) -> None:
    schedule = london_schedule(api, people)

    response = post(
        api,
        f"/api/v1/schedules/{schedule['id']}/overrides/",
        {"user": 999_999, "start": "2026-03-28T12:00:00Z", "end": "2026-03-28T14:00:00Z"},
    )

    assert response.status_code == 400
    assert "user" in body(response)


def test_my_calendar_gives_the_callers_secret_feed(api: Client, user: Any) -> None:
    response = api.get("/api/v1/schedules/my-calendar/")

    assert response.status_code == 200
    assert body(response)["url"].endswith(f"/ical/users/{user.ical_token}.ics")


# ---------------------------------------------------------------------- escalation policies


def test_posting_a_policy_creates_its_steps_in_order(api: Client, people: list[Any]) -> None:
    team = TeamFactory()
    schedule = london_schedule(api, people)

    response = post(api, "/api/v1/escalation-policies/", {
        "name": "Wake someone", "team": team.pk, "repeat": 2,
        "steps": [
            {"delay_minutes": 5, "schedules": [schedule["id"]]},
            {"delay_minutes": 10, "users": [people[0].pk, people[1].pk]},
            {"delay_minutes": 15, "teams": [team.pk]},
        ],
    })  # fmt: skip

    assert response.status_code == 201, response.content
    created = body(response)
    assert (created["name"], created["team"], created["repeat"]) == ("Wake someone", team.pk, 2)
    assert [(s["position"], s["delay_minutes"]) for s in created["steps"]] == [
        (0, 5), (1, 10), (2, 15)]  # fmt: skip
    assert created["steps"][0]["schedules"] == [schedule["id"]]
    assert sorted(created["steps"][1]["users"]) == sorted([people[0].pk, people[1].pk])
    policy = EscalationPolicy.objects.get(pk=created["id"])
    assert list(policy.steps.values_list("position", flat=True)) == [0, 1, 2]


def test_putting_a_policy_replaces_its_steps(api: Client, people: list[Any]) -> None:
    created = body(
        post(
            api,
            "/api/v1/escalation-policies/",
            {"name": "P", "steps": [{"users": [people[0].pk]}, {"users": [people[1].pk]}]},
        )
    )

    response = api.put(
        f"/api/v1/escalation-policies/{created['id']}/",
        json.dumps({"name": "P2", "repeat": 1, "steps": [{"delay_minutes": 3,
                                                          "users": [people[2].pk]}]}),
        content_type="application/json",
    )  # fmt: skip

    assert response.status_code == 200, response.content
    replaced = body(response)
    assert (replaced["name"], replaced["repeat"]) == ("P2", 1)
    assert [(s["position"], s["delay_minutes"], s["users"]) for s in replaced["steps"]] == [
        (0, 3, [people[2].pk])]  # fmt: skip
    assert EscalationPolicy.objects.get(pk=created["id"]).steps.count() == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"repeat": 10}, "repeat"),
        ({"steps": []}, "steps"),
        ({"steps": [{"users": [999_999]}]}, "steps"),
        ({"steps": [{"delay_minutes": 5}]}, "steps"),
        ({"team": 999_999}, "team"),
    ],
)
def test_a_bad_policy_is_refused_naming_the_field(
    api: Client, people: list[Any], change: dict[str, object], field: str
) -> None:
    payload = {"name": "P", "repeat": 0, "steps": [{"users": [people[0].pk]}]}

    response = post(api, "/api/v1/escalation-policies/", {**payload, **change})

    assert response.status_code == 400
    assert field in body(response)
    assert not EscalationPolicy.objects.exists()


def test_the_schema_still_builds_with_the_new_actions(api: Client) -> None:
    response = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    paths = body(response)["paths"]
    assert "/api/v1/schedules/{id}/oncall/" in paths
    assert "post" in paths["/api/v1/schedules/{id}/overrides/"]
    assert "put" in paths["/api/v1/escalation-policies/{id}/"]


def test_the_schema_describes_what_the_answers_hold(api: Client, people: list[Any]) -> None:
    """Local times are HH:MM[:SS] without an offset, the overrides list is a plain list,
    verify's refusal has its own body: as the answers are (tests/api/test_openapi_conformance.py
    checks every operation)."""
    schema = body(api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json"))
    layer = schema["components"]["schemas"]["Layer"]["properties"]["handoff_time"]
    overrides = schema["paths"]["/api/v1/schedules/{id}/overrides/"]["get"]["responses"]["200"]
    verify = schema["paths"]["/api/v1/me/contact-methods/{id}/verify/"]["post"]["responses"]

    assert "format" not in layer and layer["pattern"].startswith("^([01][0-9]|2[0-3])")
    assert overrides["content"]["application/json"]["schema"]["type"] == "array"
    assert verify["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/VerifyResult"
    }
    created = london_schedule(api, people)
    assert created["layers"][0]["handoff_time"] == "09:00:00"
    assert body(api.get(f"/api/v1/schedules/{created['id']}/overrides/")) == []
