"""The audit log: every create, change and delete of integrations, schedules, layers,
overrides, escalation policies (with their steps) and teams, from the pages and the API,
with who, when, and before/after; no secrets in it; the /audit/ page and its filters."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains
from rest_framework.authtoken.models import Token

from accounts.models import Membership, Team, User
from audit.models import AuditEntry
from audit.selectors import PAGE_SIZE
from escalation.models import EscalationPolicy, EscalationStep
from integrations import services as integration_services
from integrations.models import InboundMessage, Integration, token_digest
from schedules.models import Layer, LayerMember, Override, Schedule
from tests.factories import IntegrationFactory, TeamFactory, UserFactory
from tests.helpers import layer_form_data
from tests.sns_peer import SnsPeer

pytestmark = pytest.mark.django_db


def member(username: str, role: str) -> User:
    user: User = UserFactory(username=username, password=None)
    Membership.objects.create(team=TeamFactory(), user=user, role=role)
    return user


@pytest.fixture
def admin() -> User:
    return member("ada", Membership.Role.ADMIN)


@pytest.fixture
def browser(admin: User) -> Client:
    client = Client()
    client.force_login(admin)
    return client


@pytest.fixture
def api(admin: User) -> Client:
    key = Token.objects.create(user=admin).key
    return Client(headers={"Authorization": f"Token {key}"}, enforce_csrf_checks=True)


def send(client: Client, method: str, url: str, data: object = None) -> Any:
    return getattr(client, method)(url, json.dumps(data), content_type="application/json")


def entries(object_type: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(object_type=object_type).order_by("at", "id"))


def only_entry(object_type: str) -> AuditEntry:
    found = entries(object_type)
    assert len(found) == 1, [(e.action, e.object_repr) for e in found]
    return found[0]


# ---------------------------------------------------------------------- integrations


def test_integration_create_change_delete_on_the_pages_are_audited(
    browser: Client, admin: User
) -> None:
    team = Team.objects.create(name="Ops")
    browser.post(reverse("integrations:create"), {"name": "Prod", "kind": "aws_sns"})
    integration = Integration.objects.get()
    browser.post(
        reverse("integrations:edit", args=[integration.pk]),
        {"name": "Production", "kind": "aws_sns", "team": team.pk, "enabled": "on"},
    )
    browser.post(reverse("integrations:delete", args=[integration.pk]))

    created, changed, deleted = entries("integration")
    assert [e.action for e in (created, changed, deleted)] == ["created", "changed", "deleted"]
    assert {e.actor for e in (created, changed, deleted)} == {admin}
    assert {e.actor_name for e in (created, changed, deleted)} == {"ada"}
    assert {e.object_id for e in (created, changed, deleted)} == {integration.pk}

    assert created.before is None
    assert created.after is not None and created.after["name"] == "Prod"
    assert created.after["enabled"] is False  # an unticked box
    assert changed.object_repr == "Production"
    assert changed.changes == {
        "name": ["Prod", "Production"],
        "team": [None, {"id": team.pk, "name": "Ops"}],
        "enabled": [False, True],
    }
    assert deleted.before == changed.after
    assert deleted.after is None


def test_saving_an_integration_without_changes_writes_no_entry(browser: Client) -> None:
    integration = IntegrationFactory(name="Prod")
    browser.post(
        reverse("integrations:edit", args=[integration.pk]),
        {"name": "Prod", "kind": "aws_sns", "enabled": "on"},
    )
    assert not AuditEntry.objects.exists()


def test_integration_writes_over_the_api_are_audited_with_the_token_masked(
    api: Client, admin: User
) -> None:
    created = send(api, "post", "/api/v1/integrations/", {"name": "Prod", "kind": "aws_sns"})
    pk = created.json()["id"]
    first_token = Integration.objects.get(pk=pk).token
    send(api, "patch", f"/api/v1/integrations/{pk}/", {"security_mode": True})
    api.post(f"/api/v1/integrations/{pk}/rotate-url/")
    second_token = Integration.objects.get(pk=pk).token
    api.delete(f"/api/v1/integrations/{pk}/")

    rows = entries("integration")
    assert [e.action for e in rows] == ["created", "changed", "rotated URL", "deleted"]
    assert all(e.actor == admin for e in rows)
    assert rows[1].changes == {"security_mode": [False, True]}
    assert rows[2].changes == {"token": [f"…{first_token[-4:]}", f"…{second_token[-4:]}"]}

    stored = json.dumps([[e.before, e.after, e.changes, e.object_repr] for e in rows])
    for token in (first_token, second_token):
        assert token not in stored
        assert token[:8] not in stored
        assert token_digest(token) not in stored
    assert "token_hash" not in stored


def test_rebind_and_a_confirmed_subscription_are_audited(browser: Client, admin: User) -> None:
    integration = IntegrationFactory(
        topic_arn="arn:aws:sns:us-east-1:1:alarms", subscription_status="confirmed"
    )
    browser.post(reverse("integrations:rebind", args=[integration.pk]))

    entry = only_entry("integration")
    assert entry.action == "released topic"
    assert entry.actor == admin
    assert entry.changes["topic_arn"] == ["arn:aws:sns:us-east-1:1:alarms", ""]
    assert entry.changes["subscription_status"] == ["confirmed", "none"]


@pytest.fixture
def sns_peer(settings: Any) -> Iterator[SnsPeer]:
    peer = SnsPeer().start()
    settings.SNS_SUBSCRIBE_URL_PATTERN = peer.subscribe_url_pattern
    yield peer
    peer.stop()


def pending_confirmation(peer: SnsPeer, topic: str) -> InboundMessage:
    return InboundMessage.objects.create(
        integration=IntegrationFactory(name="Prod", subscription_status="pending"),
        received_at=timezone.now(),
        message_type="SubscriptionConfirmation",
        topic_arn=topic,
        subscribe_url=peer.subscribe_url(topic),
        outcome=InboundMessage.Outcome.SUBSCRIPTION_PENDING,
    )


def test_confirming_a_subscription_is_audited_by_whoever_confirmed_it(
    sns_peer: SnsPeer, browser: Client, admin: User
) -> None:
    topic = "arn:aws:sns:us-east-1:123456789012:alarms"
    by_hand = pending_confirmation(sns_peer, topic)
    browser.post(reverse("integrations:inbound-confirm", args=[by_hand.pk]))
    automatic = pending_confirmation(sns_peer, topic)
    integration_services.subscription_confirm(inbound_message_id=automatic.pk)  # the task

    clicked, auto = entries("integration")
    assert (clicked.action, clicked.actor, clicked.object_id) == (
        "confirmed subscription",
        admin,
        by_hand.integration_id,
    )
    assert clicked.changes["topic_arn"] == ["", topic]
    assert clicked.changes["subscription_status"] == ["pending", "confirmed"]
    assert (auto.actor, auto.actor_name) == (None, "Klaxon (automatic)")
    assert auto.object_id == automatic.integration_id


def test_an_edit_writes_only_edited_fields_so_a_confirmation_meanwhile_stays(
    admin: User,
) -> None:
    integration = IntegrationFactory(name="Prod")
    stale = Integration.objects.get(pk=integration.pk)  # loaded by the edit request
    Integration.objects.filter(pk=integration.pk).update(  # confirmed by the task meanwhile
        topic_arn="arn:aws:sns:us-east-1:1:alarms", subscription_status="confirmed"
    )
    stale.name = "Production"

    integration_services.integration_update(actor=admin, integration=stale)

    saved = Integration.objects.get(pk=integration.pk)
    assert (saved.name, saved.topic_arn, saved.subscription_status) == (
        "Production",
        "arn:aws:sns:us-east-1:1:alarms",
        "confirmed",
    )
    assert only_entry("integration").changes == {"name": ["Prod", "Production"]}


def test_a_change_and_its_entry_commit_together(
    admin: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    integration = IntegrationFactory(name="Prod")

    def refuse(**kwargs: Any) -> None:
        raise RuntimeError("audit table unavailable")

    monkeypatch.setattr(AuditEntry.objects, "create", refuse)
    integration.name = "Renamed"
    with pytest.raises(RuntimeError):
        integration_services.integration_update(actor=admin, integration=integration)

    assert Integration.objects.get(pk=integration.pk).name == "Prod"


# ------------------------------------------------------------------------- schedules


def layer_form(**changes: Any) -> dict[str, Any]:
    return layer_form_data(
        **{"name": "Weekdays", "restrict_start": "", "restrict_end": "", **changes}
    )


def test_schedule_and_layer_pages_are_audited(browser: Client, admin: User) -> None:
    alice = UserFactory(username="alice", password=None)
    bob = UserFactory(username="bob", password=None)
    browser.post(reverse("schedules:create"), {"name": "Primary", "zone_choice": "UTC"})
    schedule = Schedule.objects.get()
    browser.post(
        reverse("schedules:edit", args=[schedule.pk]),
        {"name": "Primary", "zone_choice": "Europe/London"},
    )
    browser.post(reverse("schedules:layer-create", args=[schedule.pk]), layer_form())
    layer = Layer.objects.get()
    browser.post(
        reverse("schedules:layer-edit", args=[schedule.pk, layer.pk]),
        layer_form(order="alice, bob", handoff_time="10:30"),
    )

    created, changed = entries("schedule")
    assert (created.action, created.after) == (
        "created",
        {"name": "Primary", "team": None, "time_zone": "UTC"},
    )
    assert changed.changes == {"time_zone": ["UTC", "Europe/London"]}
    assert "ical_token" not in json.dumps([created.after, changed.after])
    assert schedule.ical_token not in json.dumps([created.after, changed.after])

    layer_created, layer_changed = entries("layer")
    assert layer_created.object_repr == "Primary: Weekdays"
    assert layer_created.after is not None
    assert layer_created.after["users"] == [
        {"id": bob.pk, "name": "bob"},
        {"id": alice.pk, "name": "alice"},
    ]
    assert layer_created.after["restrict_weekdays"] == [0, 1, 2, 3, 4]
    assert layer_changed.changes == {
        "handoff_time": ["09:00:00", "10:30:00"],
        "users": [
            [{"id": bob.pk, "name": "bob"}, {"id": alice.pk, "name": "alice"}],
            [{"id": alice.pk, "name": "alice"}, {"id": bob.pk, "name": "bob"}],
        ],
    }
    assert {e.actor for e in entries("schedule") + entries("layer")} == {admin}


def test_deleting_a_schedule_audits_it_and_its_layers(browser: Client) -> None:
    schedule = Schedule.objects.create(name="Primary")
    layer = Layer.objects.create(
        schedule=schedule, name="Weekly", start="2026-01-05", handoff_time="09:00"
    )
    LayerMember.objects.create(layer=layer, user=UserFactory(username="alice"), position=0)

    browser.post(reverse("schedules:layer-delete", args=[schedule.pk, layer.pk]))
    browser.post(reverse("schedules:delete", args=[schedule.pk]))

    layer_deleted = only_entry("layer")
    assert layer_deleted.action == "deleted"
    assert layer_deleted.before is not None
    assert layer_deleted.before["users"][0]["name"] == "alice"
    deleted = only_entry("schedule")
    assert (deleted.action, deleted.object_id, deleted.after) == ("deleted", schedule.pk, None)
    assert not Schedule.objects.exists()


def test_a_schedule_made_over_the_api_is_audited_with_its_layers(api: Client, admin: User) -> None:
    alice = UserFactory(username="alice", password=None)
    response = send(
        api,
        "post",
        "/api/v1/schedules/",
        {
            "name": "Primary",
            "time_zone": "Europe/London",
            "layers": [
                {
                    "name": "Daily",
                    "start": "2026-03-27",
                    "turn": "daily",
                    "handoff_time": "09:00",
                    "users": [alice.pk],
                }
            ],
        },
    )
    assert response.status_code == 201

    schedule = only_entry("schedule")
    layer = only_entry("layer")
    assert (schedule.action, schedule.actor, schedule.object_id) == (
        "created",
        admin,
        response.json()["id"],
    )
    assert layer.after is not None
    assert layer.after["users"] == [{"id": alice.pk, "name": "alice"}]
    assert layer.after["turn"] == "daily"


def test_overrides_are_audited_with_the_responder_who_made_them() -> None:
    responder = member("rita", Membership.Role.RESPONDER)
    schedule = Schedule.objects.create(name="Primary", time_zone="UTC")
    client = Client()
    client.force_login(responder)
    client.post(
        reverse("schedules:override-create", args=[schedule.pk]),
        {"user": responder.pk, "start": "2026-06-01T09:00", "end": "2026-06-01T17:00"},
    )
    override = Override.objects.get()
    client.post(reverse("schedules:override-delete", args=[schedule.pk, override.pk]))

    key = Token.objects.create(user=responder).key
    api = Client(headers={"Authorization": f"Token {key}"})
    send(
        api,
        "post",
        f"/api/v1/schedules/{schedule.pk}/overrides/",
        {"user": responder.pk, "start": "2026-06-02T09:00Z", "end": "2026-06-02T10:00Z"},
    )

    created, deleted, via_api = entries("override")
    assert [e.action for e in (created, deleted, via_api)] == ["created", "deleted", "created"]
    assert {e.actor for e in (created, deleted, via_api)} == {responder}
    assert created.after == {
        "schedule": {"id": schedule.pk, "name": "Primary"},
        "user": {"id": responder.pk, "name": "rita"},
        "start": "2026-06-01T09:00:00+00:00",
        "end": "2026-06-01T17:00:00+00:00",
    }
    assert created.object_repr == "rita on Primary, 2026-06-01 09:00 to 2026-06-01 17:00 UTC"
    assert deleted.before == created.after
    assert via_api.after is not None and via_api.after["end"] == "2026-06-02T10:00:00+00:00"


# ----------------------------------------------------------------------------- policies


def test_policy_and_step_changes_on_the_pages_are_audited_with_the_steps(
    browser: Client, admin: User
) -> None:
    alice = UserFactory(username="alice", password=None)
    schedule = Schedule.objects.create(name="Primary")
    browser.post(reverse("policies:create"), {"name": "Prod", "repeat": "0"})
    policy = EscalationPolicy.objects.get()
    step_url = reverse("policies:step-create", args=[policy.pk])
    browser.post(step_url, {"delay_minutes": "5", "users": [alice.pk]})
    browser.post(step_url, {"delay_minutes": "15", "schedules": [schedule.pk]})
    second = policy.steps.get(position=1)
    browser.post(reverse("policies:step-move", args=[policy.pk, second.pk]), {"direction": "up"})
    browser.post(
        reverse("policies:step-edit", args=[policy.pk, second.pk]),
        {"delay_minutes": "20", "schedules": [schedule.pk]},
    )
    first = policy.steps.get(position=1)
    browser.post(reverse("policies:step-delete", args=[policy.pk, first.pk]))
    browser.post(reverse("policies:edit", args=[policy.pk]), {"name": "Prod", "repeat": "2"})
    browser.post(reverse("policies:delete", args=[policy.pk]))

    rows = entries("escalation policy")
    assert [e.action for e in rows] == [
        "created",
        "added step",
        "added step",
        "moved step",
        "changed step",
        "removed step",
        "changed",
        "deleted",
    ]
    assert all(e.actor == admin and e.object_id == policy.pk for e in rows)
    alice_step = {
        "delay_minutes": 5,
        "users": [{"id": alice.pk, "name": "alice"}],
        "schedules": [],
        "teams": [],
    }
    schedule_step = {
        "delay_minutes": 15,
        "users": [],
        "schedules": [{"id": schedule.pk, "name": "Primary"}],
        "teams": [],
    }
    assert rows[0].after == {"name": "Prod", "team": None, "repeat": 0, "steps": []}
    assert rows[2].after is not None
    assert rows[2].after["steps"] == [alice_step, schedule_step]
    assert rows[3].after is not None
    assert rows[3].after["steps"] == [schedule_step, alice_step]
    assert rows[3].changes["steps[1].delay_minutes"] == [5, 15]
    assert rows[4].changes == {"steps[1].delay_minutes": [15, 20]}
    assert rows[5].changes == {"steps[2]": [alice_step, None]}
    assert rows[6].changes == {"repeat": [0, 2]}
    assert rows[7].before is not None
    assert rows[7].before["steps"] == [{**schedule_step, "delay_minutes": 20}]
    assert rows[7].after is None

    page = browser.get(reverse("audit:list") + "?type=escalation+policy")
    removed = page.context["rows"][2]
    assert removed.entry.action == "removed step"
    assert [(line.field, line.new) for line in removed.lines] == [("step 2", "(removed)")]
    assert removed.lines[0].old == "delay minutes: 5; schedules: none; teams: none; users: alice"
    moved = page.context["rows"][4]
    assert ("step 1 delay minutes", "5", "15") in [(x.field, x.old, x.new) for x in moved.lines]


def test_policies_written_over_the_api_are_audited(api: Client, admin: User) -> None:
    alice = UserFactory(username="alice", password=None)
    team = Team.objects.create(name="Ops")
    created = send(
        api,
        "post",
        "/api/v1/escalation-policies/",
        {"name": "Prod", "steps": [{"delay_minutes": 5, "users": [alice.pk]}]},
    )
    pk = created.json()["id"]
    send(
        api,
        "put",
        f"/api/v1/escalation-policies/{pk}/",
        {"name": "Prod", "repeat": 1, "steps": [{"delay_minutes": 5, "teams": [team.pk]}]},
    )

    first, second = entries("escalation policy")
    assert (first.action, second.action) == ("created", "changed")
    assert first.actor == second.actor == admin
    assert second.changes == {
        "repeat": [0, 1],
        "steps[1].users": [[{"id": alice.pk, "name": "alice"}], []],
        "steps[1].teams": [[], [{"id": team.pk, "name": "Ops"}]],
    }


def test_refused_writes_leave_no_entry() -> None:
    viewer = member("vera", Membership.Role.VIEWER)
    policy = EscalationPolicy.objects.create(name="Prod")
    EscalationStep.objects.create(policy=policy, position=0)
    client = Client()
    client.force_login(viewer)
    client.post(reverse("policies:edit", args=[policy.pk]), {"name": "X", "repeat": "1"})
    client.post(reverse("integrations:create"), {"name": "X", "kind": "aws_sns"})
    assert not AuditEntry.objects.exists()


# --------------------------------------------------------------------------- the page


def make_entries(actor: User | None, count: int, object_type: str = "integration") -> None:
    start = timezone.now() - timedelta(days=1)
    AuditEntry.objects.bulk_create(
        AuditEntry(
            at=start + timedelta(seconds=i),
            actor=actor,
            actor_name=actor.username if actor else "Klaxon (automatic)",
            action="changed",
            object_type=object_type,
            object_id=i,
            object_repr=f"{object_type} {i}",
            before={"name": f"old {i}"},
            after={"name": f"new {i}"},
            changes={"name": [f"old {i}", f"new {i}"]},
        )
        for i in range(count)
    )


def test_every_signed_in_user_reads_the_log_with_a_compact_diff(browser: Client) -> None:
    integration = IntegrationFactory(name="Prod", enabled=True)
    browser.post(
        reverse("integrations:edit", args=[integration.pk]),
        {"name": "Production", "kind": "aws_sns"},
    )
    viewer = member("vera", Membership.Role.VIEWER)
    client = Client()
    client.force_login(viewer)

    page = client.get(reverse("audit:list"))

    assert page.status_code == 200
    assertContains(page, "ada")
    assertContains(page, "changed")
    assertContains(page, '<del class="audit-old">Prod</del>', html=True)
    assertContains(page, '<ins class="audit-new">Production</ins>', html=True)
    assertContains(page, '<del class="audit-old">yes</del>', html=True)  # enabled: yes → no
    entry = AuditEntry.objects.get()
    assertContains(page, f'href="{entry.get_absolute_url()}"')
    assert Client().get(reverse("audit:list")).status_code == 302  # signed out


def test_the_detail_page_shows_the_full_before_and_after(browser: Client) -> None:
    browser.post(reverse("policies:create"), {"name": "Prod", "repeat": "0"})
    policy = EscalationPolicy.objects.get()
    browser.post(reverse("policies:edit", args=[policy.pk]), {"name": "Prod 2", "repeat": "3"})
    entry = AuditEntry.objects.get(action="changed")

    page = browser.get(entry.get_absolute_url())

    assertContains(page, "ada changed escalation policy Prod 2")
    assertContains(
        page,
        '<tr class="audit-changed"><th scope="row">repeat <span class="visually-hidden">'
        '(changed)</span></th><td data-label="Before">0</td><td data-label="After">3</td></tr>',
        html=True,
    )
    assertContains(
        page,
        '<tr class=""><th scope="row">team</th><td data-label="Before">—</td>'
        '<td data-label="After">—</td></tr>',
        html=True,
    )
    assertContains(page, f"?type=escalation+policy&amp;object={policy.pk}")
    assert browser.get(reverse("audit:detail", args=[entry.pk + 100])).status_code == 404


def test_the_log_filters_by_object_type_and_actor(browser: Client, admin: User) -> None:
    other = UserFactory(username="otto", password=None)
    make_entries(admin, 3, "integration")
    make_entries(other, 2, "schedule")
    make_entries(None, 1, "integration")

    def shown(query: str) -> list[str]:
        page = browser.get(reverse("audit:list") + query)
        assert page.status_code == 200
        return [e.object_repr for e in (row.entry for row in page.context["rows"])]

    assert len(shown("")) == 6
    assert sorted(shown("?type=schedule")) == ["schedule 0", "schedule 1"]
    assert shown(f"?actor={admin.pk}") == ["integration 2", "integration 1", "integration 0"]
    assert shown(f"?actor={other.pk}&type=integration") == []
    assert shown("?actor=system") == ["integration 0"]
    assert shown("?type=integration&object=1") == ["integration 1"]
    assert len(shown("?type=nonsense&actor=x")) == 6  # unusable filters are ignored
    page = browser.get(reverse("audit:list") + "?type=schedule")
    assertContains(page, '<option value="schedule" selected>Schedules</option>', html=True)


def test_the_log_pages_back_newest_first_keeping_the_filters(browser: Client) -> None:
    otto = UserFactory(username="otto", password=None)
    make_entries(otto, PAGE_SIZE + 5)
    make_entries(None, 3, "team")

    first = browser.get(reverse("audit:list") + f"?actor={otto.pk}")
    shown = [row.entry.object_id for row in first.context["rows"]]
    assert shown == list(range(PAGE_SIZE + 4, 4, -1))
    older = first.context["older_query"]
    assert f"actor={otto.pk}" in older

    second = browser.get(reverse("audit:list") + "?" + older)
    assert [row.entry.object_id for row in second.context["rows"]] == [4, 3, 2, 1, 0]
    assert second.context["older_query"] == ""
    assertContains(second, "Newest")


def test_entries_at_the_same_instant_are_neither_skipped_nor_repeated(browser: Client) -> None:
    at = timezone.now()
    AuditEntry.objects.bulk_create(
        AuditEntry(
            at=at,
            actor_name="x",
            action="changed",
            object_type="team",
            object_id=i,
            object_repr=f"t{i}",
        )
        for i in range(PAGE_SIZE + 2)
    )
    first = browser.get(reverse("audit:list"))
    second = browser.get(reverse("audit:list") + "?" + first.context["older_query"])
    ids = [row.entry.pk for page in (first, second) for row in page.context["rows"]]
    assert len(ids) == len(set(ids)) == PAGE_SIZE + 2


def test_the_page_costs_the_same_queries_however_long_the_log(
    browser: Client, admin: User, django_assert_max_num_queries: Any
) -> None:
    make_entries(admin, 120)
    # session, user, role, entries, actors (+ the cursor entry when paging back)
    with django_assert_max_num_queries(5):
        first = browser.get(reverse("audit:list"))
    with django_assert_max_num_queries(6):
        browser.get(reverse("audit:list") + "?" + first.context["older_query"])


def test_the_list_says_so_when_nothing_matches(browser: Client) -> None:
    assertContains(browser.get(reverse("audit:list")), "No changes yet.")
    page = browser.get(reverse("audit:list") + "?type=team")
    assertContains(page, "No changes match these filters.")
    assertNotContains(page, "audit-entry")
