"""What an import would create, whatever the source: a plan of frozen dataclasses.

A converter (``importers.opsgenie``, ``importers.oncall``) turns a source's API data into
an ``ImportPlan``; the plan is pure data, so ``--dry-run`` prints it and the checker in
``importers.verify`` compares its schedules with the source's own answers. The database
writer creates the objects in ``ImportPlan.ORDER`` (teams, users, then each team's
memberships, schedules, escalation policies, heartbeats, integrations), finds what an
earlier run created by (``source``, ``source_id``), and only changes it with ``--update``.

References between objects are source ids (a layer names its users by their
``source_id``), so the writer maps them to database ids as it goes. Anything a converter
cannot express in Klaxon is an ``Unmapped`` item saying what, which, and why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time

from schedules.oncall import NOBODY, LayerSpec, OverrideSpec, ScheduleSpec, WeeklyWindow

OPSGENIE = "opsgenie"
GRAFANA_ONCALL = "grafana_oncall"
SOURCES = (OPSGENIE, GRAFANA_ONCALL)

# Klaxon's integration kinds (see ARCHITECTURE.md).
KINDS = ("aws_sns", "pagerduty", "alertmanager", "opsgenie", "webhook")
CHANNELS = ("sms", "voice", "email")
EVENTS = ("triggered", "resolved")
ROLES = ("admin", "responder", "viewer")


@dataclass(frozen=True)
class PlannedRule:
    """Notify the user by ``channel`` ``delay_minutes`` after the event.

    ``contact`` is the phone number (E.164) or email address the rule uses; None when the
    source does not say (the writer uses the user's phone for sms/voice, their email for
    email, and reports the rule when there is none).
    """

    event: str  # "triggered" | "resolved"
    channel: str  # "sms" | "voice" | "email"
    delay_minutes: int
    contact: str | None


@dataclass(frozen=True)
class PlannedUser:
    source: str
    source_id: str
    username: str
    email: str
    full_name: str
    role: str  # "admin" | "responder" | "viewer": Klaxon's role for a user without a team
    time_zone: str | None
    phones: tuple[str, ...]  # E.164
    emails: tuple[str, ...]  # contact addresses besides ``email``
    rules: tuple[PlannedRule, ...]


@dataclass(frozen=True)
class PlannedMembership:
    user_source_id: str
    role: str  # "admin" | "responder" | "viewer"


@dataclass(frozen=True)
class PlannedTeam:
    source: str
    source_id: str
    name: str
    description: str
    members: tuple[PlannedMembership, ...]


@dataclass(frozen=True)
class PlannedLayer:
    """A layer as ``schedules.oncall.LayerSpec`` has it, users by source id."""

    source_id: str  # the rotation/shift it came from (with a suffix when one made several)
    name: str
    position: int
    start: date
    turn: str  # "daily" | "weekly" | "hours"
    turn_hours: int | None
    turn_length: int
    handoff_time: time
    user_source_ids: tuple[str | None, ...]  # None: nobody in that turn
    restrict_weekdays: tuple[int, ...] = ()
    restrict_start: time | None = None
    restrict_end: time | None = None
    windows: tuple[WeeklyWindow, ...] = ()
    begin: datetime | None = None
    end: datetime | None = None
    time_zone: str | None = None


@dataclass(frozen=True)
class PlannedOverride:
    source_id: str
    user_source_id: str | None  # None: nobody
    start: datetime
    end: datetime
    layers: tuple[str, ...] = ()  # layer names; empty: the whole schedule


@dataclass(frozen=True)
class PlannedSchedule:
    source: str
    source_id: str
    name: str
    team_source_id: str | None
    time_zone: str
    ties: str  # "first" | "together"
    layers: tuple[PlannedLayer, ...]
    overrides: tuple[PlannedOverride, ...]

    def user_source_ids(self) -> set[str]:
        found = {u for layer in self.layers for u in layer.user_source_ids if u is not None}
        return found | {o.user_source_id for o in self.overrides if o.user_source_id}

    def spec(self, user_ids: Mapping[str, int]) -> ScheduleSpec:
        """The pure on-call spec, users mapped to ``user_ids`` (every one must be there)."""

        def uid(source_id: str | None) -> int:
            return NOBODY if source_id is None else user_ids[source_id]

        layers = tuple(
            LayerSpec(
                name=layer.name,
                position=layer.position,
                start=layer.start,
                turn=layer.turn,
                turn_hours=layer.turn_hours,
                handoff_time=layer.handoff_time,
                user_ids=tuple(uid(u) for u in layer.user_source_ids),
                restrict_weekdays=layer.restrict_weekdays,
                restrict_start=layer.restrict_start,
                restrict_end=layer.restrict_end,
                turn_length=layer.turn_length,
                windows=layer.windows,
                begin=layer.begin,
                end=layer.end,
                time_zone=layer.time_zone,
            )
            for layer in self.layers
        )
        overrides = tuple(
            OverrideSpec(uid(o.user_source_id), o.start, o.end, o.layers) for o in self.overrides
        )
        return ScheduleSpec(self.time_zone, layers, overrides, self.ties)


@dataclass(frozen=True)
class PlannedStep:
    """Page these targets, then wait ``delay_minutes`` for an acknowledgement."""

    delay_minutes: int
    user_source_ids: tuple[str, ...] = ()
    schedule_source_ids: tuple[str, ...] = ()
    team_source_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlannedPolicy:
    source: str
    source_id: str
    name: str
    team_source_id: str | None
    steps: tuple[PlannedStep, ...]
    repeat: int  # 0-9 more rounds


@dataclass(frozen=True)
class PlannedHeartbeat:
    source: str
    source_id: str
    name: str
    interval_seconds: int
    grace_seconds: int
    enabled: bool
    team_source_id: str | None


@dataclass(frozen=True)
class PlannedIntegration:
    """A placeholder integration: the writer creates it and prints its new URL."""

    source: str
    source_id: str
    name: str
    kind: str  # one of KINDS
    source_kind: str  # the source's own type name
    team_source_id: str | None
    policy_source_id: str | None  # the escalation policy alerts follow, when the source says
    enabled: bool
    old_url: str  # where alerts go today ("" when the source does not say)
    note: str  # why this kind, when it is not an obvious match


@dataclass(frozen=True)
class Unmapped:
    what: str  # "user", "rotation", "escalation rule", ...
    source_id: str
    why: str


@dataclass(frozen=True)
class ImportPlan:
    source: str
    teams: tuple[PlannedTeam, ...] = ()
    users: tuple[PlannedUser, ...] = ()
    schedules: tuple[PlannedSchedule, ...] = ()
    policies: tuple[PlannedPolicy, ...] = ()
    heartbeats: tuple[PlannedHeartbeat, ...] = ()
    integrations: tuple[PlannedIntegration, ...] = ()
    unmapped: tuple[Unmapped, ...] = ()

    ORDER = ("teams", "users", "schedules", "policies", "heartbeats", "integrations")

    def user_ids(self) -> dict[str, int]:
        """Stand-in integer ids for the plan's users (1, 2, ... in plan order)."""
        return {user.source_id: i for i, user in enumerate(self.users, start=1)}

    def describe(self) -> str:
        """What would be created and what cannot be mapped: the ``--dry-run`` text."""
        names = {user.source_id: user.username for user in self.users}
        lines = [f"Import from {self.source}:"]
        lines.append(f"  {len(self.teams)} teams")
        lines += [f"    {t.name} ({len(t.members)} members)" for t in self.teams]
        lines.append(f"  {len(self.users)} users")
        for u in self.users:
            rules = ", ".join(_rule_text(r) for r in u.rules) or "no rules"
            lines.append(f"    {u.username} <{u.email}> {len(u.phones)} phones; {rules}")
        lines.append(f"  {len(self.schedules)} schedules")
        for s in self.schedules:
            lines.append(f"    {s.name} ({s.time_zone}, {len(s.overrides)} overrides)")
            for layer in s.layers:
                people = ", ".join(
                    names.get(u, u) if u else "nobody" for u in layer.user_source_ids
                )
                lines.append(f"      {layer.name}: {_turn_text(layer)}: {people}")
        lines.append(f"  {len(self.policies)} escalation policies")
        for p in self.policies:
            lines.append(f"    {p.name} ({len(p.steps)} steps, repeat {p.repeat})")
        lines.append(f"  {len(self.heartbeats)} heartbeats")
        lines += [f"    {h.name} every {h.interval_seconds} s" for h in self.heartbeats]
        lines.append(f"  {len(self.integrations)} integrations (placeholders)")
        for i in self.integrations:
            note = f" ({i.note})" if i.note else ""
            lines.append(f"    {i.name}: {i.source_kind} -> {i.kind}{note}")
        lines.append(f"  {len(self.unmapped)} cannot be mapped")
        lines += [f"    {u.what} {u.source_id}: {u.why}" for u in self.unmapped]
        return "\n".join(lines)


def _rule_text(rule: PlannedRule) -> str:
    when = "at once" if not rule.delay_minutes else f"after {rule.delay_minutes} min"
    return f"{rule.event}: {rule.channel} {when}"


def _turn_text(layer: PlannedLayer) -> str:
    if layer.turn == "hours":
        return f"every {layer.turn_hours} h"
    unit = "day" if layer.turn == "daily" else "week"
    length = f"{layer.turn_length} {unit}s" if layer.turn_length > 1 else unit
    return f"every {length} at {layer.handoff_time:%H:%M} from {layer.start}"
