"""Writes to schedules, layers and overrides, from the pages and the API alike. Each
runs in one transaction with its audit entry (``audit.services.record``): the "before"
is read from the locked row, so it is what was really there, not what a form already
changed on its instance."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import transaction

from accounts.models import Team, User, new_secret
from audit import services as audit
from schedules.models import Layer, LayerMember, Override, Schedule

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    Actor = User | AnonymousUser | None

ROTATED_FEED = "rotated calendar URL"


# ----------------------------------------------------------------------------- schedules


def schedule_save(*, actor: Actor, schedule: Schedule) -> Schedule:
    """Create ``schedule`` (no id yet) or save its edited name, team and time zone."""
    with transaction.atomic():
        before = None
        if schedule.pk is not None:
            before = audit.snapshot(Schedule.objects.select_for_update().get(pk=schedule.pk))
        schedule.save()
        audit.record_saved(actor, schedule, before=before)
    return schedule


def schedule_create(
    *,
    actor: Actor,
    name: str,
    team: Team | None,
    time_zone: str,
    layers: list[dict[str, Any]],
) -> Schedule:
    """A schedule with its layers and their members, in list order (the API's POST): the
    writes and audit lines the pages make one at a time, in one transaction."""
    with transaction.atomic():
        schedule = schedule_save(
            actor=actor, schedule=Schedule(name=name, team=team, time_zone=time_zone)
        )
        users = User.objects.in_bulk({pk for data in layers for pk in data["users"]})
        for index, data in enumerate(layers):
            turn, turn_hours = data["turn"]
            layer = Layer(
                schedule=schedule,
                name=data["name"],
                position=data.get("position", index),
                start=data["start"],
                turn=turn,
                turn_hours=turn_hours,
                handoff_time=data["handoff_time"],
                restrict_weekdays=sorted(set(data["restrict_weekdays"])),
                restrict_start=data["restrict_start"],
                restrict_end=data["restrict_end"],
            )
            layer_save(actor=actor, layer=layer, users=[users[pk] for pk in data["users"]])
    return schedule


def schedule_delete(*, actor: Actor, schedule: Schedule) -> None:
    """Delete a schedule; its layers (each audited) and overrides go with it."""
    with transaction.atomic():
        current = Schedule.objects.select_for_update().get(pk=schedule.pk)
        for layer in current.layers.select_related("schedule").order_by("-position", "id"):
            audit.record(actor, audit.DELETED, layer, before=audit.snapshot(layer))
        audit.record(actor, audit.DELETED, current, before=audit.snapshot(current))
        current.delete()


# -------------------------------------------------------------------------- calendar feeds


def _rotate_feed(*, actor: Actor, model: type[Schedule] | type[User], pk: int) -> str:
    """A new secret feed token for the schedule or user ``pk``; returns it."""
    with transaction.atomic():
        current = model.objects.select_for_update().get(pk=pk)
        old = current.ical_token
        current.ical_token = new_secret()
        current.save(update_fields=["ical_token"])
        # The audit log shows that the URL changed, never a usable URL.
        audit.record(
            actor,
            ROTATED_FEED,
            current,
            before={"calendar_url": audit.mask_secret(old)},
            after={"calendar_url": audit.mask_secret(current.ical_token)},
        )
    return current.ical_token


def schedule_rotate_feed(*, actor: Actor, schedule: Schedule) -> Schedule:
    """Give the schedule's iCal feed a new secret URL; the old one answers 404 at once."""
    schedule.ical_token = _rotate_feed(actor=actor, model=Schedule, pk=schedule.pk)
    return schedule


def user_rotate_feed(*, actor: Actor, user: User) -> User:
    """Give ``user``'s personal iCal feed a new secret URL; the old one answers 404."""
    user.ical_token = _rotate_feed(actor=actor, model=User, pk=user.pk)
    return user


# -------------------------------------------------------------------------------- layers


def layer_save(*, actor: Actor, layer: Layer, users: list[User]) -> Layer:
    """Create or save ``layer`` with ``users`` taking turns in this order (a user may
    appear more than once)."""
    with transaction.atomic():
        before = None
        if layer.pk is not None:
            locked = Layer.objects.select_for_update().select_related("schedule").get(pk=layer.pk)
            before = audit.snapshot(locked)
        layer.save()
        # Rewrite the whole order: simpler than diffing, and the (layer, position)
        # constraint cannot trip because the old rows are gone first.
        layer.members.all().delete()
        LayerMember.objects.bulk_create(
            LayerMember(layer=layer, user=user, position=i) for i, user in enumerate(users)
        )
        audit.record_saved(actor, layer, before=before)
    return layer


def layer_delete(*, actor: Actor, layer: Layer) -> None:
    with transaction.atomic():
        current = Layer.objects.select_for_update().select_related("schedule").get(pk=layer.pk)
        audit.record(actor, audit.DELETED, current, before=audit.snapshot(current))
        current.delete()


# ----------------------------------------------------------------------------- overrides


def override_create(*, actor: Actor, override: Override) -> Override:
    """Save a new override (schedule, user, start and end set)."""
    with transaction.atomic():
        override.save()
        audit.record_saved(actor, override, before=None)
    return override


def override_delete(*, actor: Actor, override: Override) -> None:
    with transaction.atomic():
        current = (
            Override.objects.select_for_update()
            .select_related("schedule", "user")
            .filter(pk=override.pk)
            .first()
        )
        if current is None:
            return  # deleted a moment ago by someone else
        audit.record(actor, audit.DELETED, current, before=audit.snapshot(current))
        current.delete()
