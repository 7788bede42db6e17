"""Opsgenie export (``importers.opsgenie_api``) -> ImportPlan. Pure: no I/O.

Semantics followed (Opsgenie documentation, "Manage on-call schedules and rotations",
"Schedule Rotation API", "Schedule Override API", "Escalation API"):

* A schedule's rotations are all on call at once ("all on-call users in all the
  different rotations are notified"): every rotation becomes a layer at position 0 and
  the schedule's ties are "together".
* A rotation's turns start at ``startDate`` and repeat every ``length`` days, weeks or
  hours (``type`` daily/weekly/hourly); ``startDate``'s local time in the schedule's zone
  is the handoff time. ``endDate`` ends it. Participants take turns in order; ``none``
  is a turn with nobody; a team or escalation as participant has no Klaxon equivalent.
* ``timeRestriction`` of type ``time-of-day`` is one daily window; of type
  ``weekday-and-time-of-day`` a list of weekly windows (start day/time to end day/time).
* An override without ``rotations`` replaces everyone for its period; with
  ``rotations`` it replaces only those rotations' participants, where they have one.
* An escalation rule's delay counts from the alert's creation; Klaxon's step delay is
  the wait after the step, so steps are the rules grouped by delay, each waiting until
  the next group (the last one waits ``repeat.waitInterval`` before a repeat).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, time
from typing import Any

from importers.convert import (
    Notes,
    aware,
    e164,
    each,
    klaxon_kind,
    local_instant,
    unique_name,
    zone,
)
from importers.plan import (
    OPSGENIE,
    ImportPlan,
    PlannedHeartbeat,
    PlannedIntegration,
    PlannedLayer,
    PlannedMembership,
    PlannedOverride,
    PlannedPolicy,
    PlannedRule,
    PlannedSchedule,
    PlannedStep,
    PlannedTeam,
    PlannedUser,
)
from schedules.oncall import TIES_TOGETHER, WeeklyWindow

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MAX_RULE_DELAY = 1440
MAX_REPEAT = 9
MAX_TURN_HOURS = 24 * 28
UNIT_MINUTES = {"minutes": 1, "hours": 60, "days": 1440}
USER_ROLES = {"owner": "admin", "admin": "admin", "user": "responder"}
TEAM_ROLES = {"admin": "admin", "user": "responder"}
RULE_EVENTS = {"create-alert": "triggered", "closed-alert": "resolved"}
STEP_CHANNELS = {"sms": "sms", "voice": "voice", "email": "email"}
# Opsgenie integration type -> (Klaxon kind, why, when it is not the obvious match).
INTEGRATION_KINDS = {
    "API": (
        "opsgenie",
        "Klaxon answers Opsgenie's alert API: keep the sender, change URL and key",
    ),
    "AmazonSns": ("aws_sns", ""),
    "AmazonSnsOutgoing": ("aws_sns", ""),
    "CloudWatch": ("aws_sns", "CloudWatch alarms reach Klaxon through Amazon SNS"),
    "CloudWatchEvents": ("aws_sns", "EventBridge events reach Klaxon through Amazon SNS"),
    "Prometheus": ("alertmanager", ""),
    "Alertmanager": ("alertmanager", ""),
    "Grafana": ("alertmanager", "Grafana alerting sends Alertmanager's webhook format"),
    "PagerDuty": ("pagerduty", ""),
    "Webhook": ("webhook", ""),
}


def opsgenie_plan(export: Mapping[str, Any]) -> ImportPlan:
    """The plan for an Opsgenie export; what cannot be mapped is in ``unmapped``."""
    notes = Notes()
    users = each(export.get("users"), "user", lambda raw: _user(raw, notes), notes)
    known = {u.source_id: u for u in users}
    teams = each(export.get("teams"), "team", lambda raw: _team(raw, known, notes), notes)
    schedules = each(
        export.get("schedules"), "schedule", lambda raw: _schedule(raw, known, notes), notes
    )
    scheduled = {s.source_id for s in schedules}
    team_ids = {t.source_id for t in teams}
    policies = each(
        export.get("escalations"),
        "escalation",
        lambda raw: _policy(raw, set(known), scheduled, team_ids, notes),
        notes,
    )
    heartbeats = each(export.get("heartbeats"), "heartbeat", _heartbeat, notes)
    integrations = each(
        export.get("integrations"), "integration", lambda raw: _integration(raw, notes), notes
    )
    return ImportPlan(
        source=OPSGENIE,
        teams=tuple(teams),
        users=tuple(users),
        schedules=tuple(schedules),
        policies=tuple(policies),
        heartbeats=tuple(heartbeats),
        integrations=tuple(integrations),
        unmapped=tuple(notes.items),
    )


# ----------------------------------------------------------------------- users, teams


def _user(raw: dict[str, Any], notes: Notes) -> PlannedUser:
    uid, username = str(raw["id"]), str(raw["username"])
    phones: list[str] = []
    emails: list[str] = []
    for contact in raw.get("contacts") or []:
        method, to = contact.get("method"), str(contact.get("to", ""))
        where = f"{username} {method} {to}"
        if method in ("sms", "voice"):
            number = e164(to)
            if number is None:
                notes.add("contact", where, "not a phone number with its country code")
            elif number not in phones:
                phones.append(number)
        elif method == "email":
            if to.lower() != username.lower() and to not in emails:
                emails.append(to)
        else:
            notes.add("contact", where, "Klaxon pages by SMS, voice and email, not this")
    return PlannedUser(
        source=OPSGENIE,
        source_id=uid,
        username=username,
        email=username if "@" in username else "",
        full_name=str(raw.get("fullName") or ""),
        role=_user_role(raw),
        time_zone=raw.get("timeZone"),
        phones=tuple(phones),
        emails=tuple(emails),
        rules=tuple(_rules(raw, username, notes)),
    )


def _user_role(raw: dict[str, Any]) -> str:
    role = raw.get("role")
    name = str(role.get("name") if isinstance(role, dict) else role or "").lower()
    return USER_ROLES.get(name, "viewer" if name in ("observer", "stakeholder") else "responder")


def _rules(raw: dict[str, Any], username: str, notes: Notes) -> list[PlannedRule]:
    rules: list[PlannedRule] = []
    seen: set[str] = set()
    ordered = sorted(raw.get("notificationRules") or [], key=lambda r: r.get("order", 0))
    for rule in ordered:
        rid = f"{username} {rule.get('name') or rule.get('id')}"
        if not rule.get("enabled", True):
            continue
        event = RULE_EVENTS.get(str(rule.get("actionType")))
        if event is None:
            notes.add(
                "notification rule", rid,
                f"{rule.get('actionType')}: Klaxon notifies when incidents trigger or resolve",
            )  # fmt: skip
            continue
        if event in seen:
            notes.add(
                "notification rule", rid,
                f"a second rule for {rule.get('actionType')}: Klaxon has one list per event; "
                "the first enabled rule (by order) was kept",
            )  # fmt: skip
            continue
        seen.add(event)
        criteria = (rule.get("criteria") or {}).get("type", "match-all")
        if criteria != "match-all" or rule.get("timeRestriction"):
            notes.add(
                "notification rule", rid,
                "its conditions or time restriction were dropped: the steps apply always",
            )  # fmt: skip
        for step in rule.get("steps") or []:
            if step.get("enabled", True):
                planned = _step(step, event, rid, notes)
                if planned:
                    rules.append(planned)
    return rules


def _step(step: dict[str, Any], event: str, rid: str, notes: Notes) -> PlannedRule | None:
    contact = step.get("contact") or {}
    method, to = contact.get("method"), str(contact.get("to", ""))
    channel = STEP_CHANNELS.get(str(method))
    if channel is None:
        notes.add("notification step", rid, f"{method}: Klaxon pages by SMS, voice and email")
        return None
    address = to if channel == "email" else e164(to)
    if not address:
        notes.add("notification step", rid, f"{to!r} is not a phone number")
        return None
    send_after = step.get("sendAfter") or {}
    unit = UNIT_MINUTES.get(str(send_after.get("timeUnit", "minutes")), 1)
    delay = int(send_after.get("timeAmount", 0)) * unit
    if delay > MAX_RULE_DELAY:
        notes.add("notification step", rid, f"after {delay} min: Klaxon waits at most a day")
        delay = MAX_RULE_DELAY
    return PlannedRule(event=event, channel=channel, delay_minutes=delay, contact=address)


def _team(raw: dict[str, Any], known: Mapping[str, PlannedUser], notes: Notes) -> PlannedTeam:
    members: list[PlannedMembership] = []
    for member in raw.get("members") or []:
        user = member.get("user") or {}
        uid = str(user.get("id"))
        if uid not in known:
            notes.add("team member", f"{raw['name']} {user.get('username', uid)}", "unknown user")
            continue
        role = TEAM_ROLES.get(str(member.get("role", "user")), "responder")
        members.append(PlannedMembership(user_source_id=uid, role=role))
    return PlannedTeam(
        source=OPSGENIE,
        source_id=str(raw["id"]),
        name=str(raw["name"]),
        description=str(raw.get("description") or ""),
        members=tuple(members),
    )


# -------------------------------------------------------------------------- schedules


def _schedule(
    raw: dict[str, Any], known: Mapping[str, PlannedUser], notes: Notes
) -> PlannedSchedule | None:
    sid, name = str(raw["id"]), str(raw["name"])
    tz_name = str(raw.get("timezone") or "UTC")
    if zone(tz_name) is None:
        notes.add("schedule", name, f"time zone {tz_name!r} is not an IANA zone")
        return None
    if raw.get("enabled") is False:
        notes.add("schedule", name, "disabled in Opsgenie; imported (Klaxon has no off switch)")
    taken: set[str] = set()
    layers: list[PlannedLayer] = []
    names_by_rotation: dict[str, str] = {}
    for rotation in raw.get("rotations") or []:
        rid = str(rotation.get("id") or rotation.get("name"))
        if rotation.get("enabled") is False:
            notes.add("rotation", f"{name}/{rotation.get('name')}", "disabled: not imported")
            continue
        try:
            layer = _layer(
                rotation, tz_name, known, taken, f"{name}/{rotation.get('name')}", notes
            )
        except (KeyError, TypeError, ValueError) as exc:
            notes.add("rotation", f"{name}/{rotation.get('name')}", f"malformed ({exc!r})")
            continue
        if layer is not None:
            layers.append(layer)
            names_by_rotation[rid] = names_by_rotation[str(rotation.get("name"))] = layer.name
    overrides = each(
        raw.get("overrides"),
        "override",
        lambda o: _override(o, names_by_rotation, known, f"{name}/{o.get('alias')}", notes),
        notes,
    )
    owner = raw.get("ownerTeam") or {}
    return PlannedSchedule(
        source=OPSGENIE,
        source_id=sid,
        name=name,
        team_source_id=str(owner["id"]) if owner.get("id") else None,
        time_zone=tz_name,
        ties=TIES_TOGETHER,
        layers=tuple(layers),
        overrides=tuple(overrides),
    )


def _layer(
    rotation: dict[str, Any],
    tz_name: str,
    known: Mapping[str, PlannedUser],
    taken: set[str],
    where: str,
    notes: Notes,
) -> PlannedLayer | None:
    tz = zone(tz_name)
    assert tz is not None
    kind, length = str(rotation["type"]), int(rotation.get("length") or 1)
    first = aware(rotation["startDate"])
    local = first.astimezone(tz)
    if kind == "hourly":
        if length > MAX_TURN_HOURS:
            notes.add("rotation", where, f"{length}-hour turns: Klaxon's longest is 4 weeks")
            return None
        if local_instant(local.date(), local.time(), tz) != first:
            notes.add("rotation", where, "starts in the repeated hour of a clock change")
            return None
        turn, hours, turns_of = "hours", length, 1
    elif kind in ("daily", "weekly"):
        turn, hours, turns_of = kind, None, length
    else:
        notes.add("rotation", where, f"rotation type {kind!r} is not daily, weekly or hourly")
        return None
    people: list[str | None] = []
    for participant in rotation.get("participants") or []:
        ptype = participant.get("type")
        if ptype == "user" and str(participant.get("id")) in known:
            people.append(str(participant["id"]))
            continue
        people.append(None)
        if ptype != "none":
            label = participant.get("name") or participant.get("username") or participant.get("id")
            notes.add(
                "rotation participant", f"{where} {ptype} {label}",
                "Klaxon rotations hold people; this participant's turns are left empty"
                if ptype in ("team", "escalation") else "unknown user; their turns are left empty",
            )  # fmt: skip
    if not people:
        notes.add("rotation", where, "no participants")
        return None
    restriction = _restriction(rotation.get("timeRestriction"), where, notes)
    if restriction is None:
        return None
    end = aware(rotation["endDate"]) if rotation.get("endDate") else None
    return PlannedLayer(
        source_id=str(rotation.get("id") or rotation["name"]),
        name=unique_name(str(rotation.get("name") or "Rotation"), taken),
        position=0,
        start=local.date(),
        turn=turn,
        turn_hours=hours,
        turn_length=turns_of,
        handoff_time=local.time().replace(tzinfo=None),
        user_source_ids=tuple(people),
        end=end.astimezone(UTC) if end else None,
        **restriction,
    )


def _clock(hour: Any, minute: Any) -> time:
    return time(int(hour or 0) % 24, int(minute or 0))


def _restriction(raw: object, where: str, notes: Notes) -> dict[str, Any] | None:
    """LayerSpec restriction fields for a timeRestriction (None: cannot be expressed)."""
    if not raw:
        return {}
    assert isinstance(raw, dict)
    kind = raw.get("type")
    if kind == "time-of-day":
        one = raw.get("restriction") or (raw.get("restrictions") or [{}])[0]
        start = _clock(one.get("startHour"), one.get("startMin"))
        end = _clock(one.get("endHour"), one.get("endMin"))
        return {"restrict_start": start, "restrict_end": end}
    if kind == "weekday-and-time-of-day":
        ranges = raw.get("restrictions") or (
            [raw["restriction"]] if raw.get("restriction") else []
        )
        windows = tuple(
            WeeklyWindow(
                DAYS.index(str(r["startDay"]).lower()),
                _clock(r.get("startHour"), r.get("startMin")),
                DAYS.index(str(r["endDay"]).lower()),
                _clock(r.get("endHour"), r.get("endMin")),
            )
            for r in ranges
        )
        if windows:
            return {"windows": windows}
    notes.add("rotation", where, f"time restriction {kind!r} is not one Opsgenie documents")
    return None


def _override(
    raw: dict[str, Any],
    names_by_rotation: Mapping[str, str],
    known: Mapping[str, PlannedUser],
    where: str,
    notes: Notes,
) -> PlannedOverride | None:
    user = raw.get("user") or {}
    utype = user.get("type", "user")
    uid: str | None = None
    if utype == "user":
        uid = str(user.get("id"))
        by_name = {u.username.lower(): u.source_id for u in known.values()}
        uid = uid if uid in known else by_name.get(str(user.get("username", "")).lower())
        if uid is None:
            notes.add("override", where, f"unknown user {user.get('username')}")
            return None
    elif utype != "none":
        notes.add("override", where, f"a {utype} as override: Klaxon overrides name a person")
        return None
    layers: list[str] = []
    for rotation in raw.get("rotations") or []:
        key = str(rotation.get("id") or rotation.get("name"))
        name = names_by_rotation.get(key) or names_by_rotation.get(str(rotation.get("name")))
        if name:
            layers.append(name)
    if raw.get("rotations") and not layers:
        notes.add("override", where, "its rotations were not imported; dropped")
        return None
    return PlannedOverride(
        source_id=str(raw.get("alias") or raw.get("id")),
        user_source_id=uid,
        start=aware(raw["startDate"]).astimezone(UTC),
        end=aware(raw["endDate"]).astimezone(UTC),
        layers=tuple(layers),
    )


# ---------------------------------------------------------- escalations, heartbeats...


def _minutes(amount: Any) -> int:
    """Minutes from ``{"timeAmount", "timeUnit"}`` or a bare number of minutes."""
    if isinstance(amount, dict):
        unit = UNIT_MINUTES.get(str(amount.get("timeUnit", "minutes")), 1)
        return int(amount.get("timeAmount", 0)) * unit
    return int(amount or 0)


def _policy(
    raw: dict[str, Any],
    users: set[str],
    schedules: set[str],
    teams: set[str],
    notes: Notes,
) -> PlannedPolicy:
    name = str(raw["name"])
    targets: dict[int, tuple[list[str], list[str], list[str]]] = {}
    for rule in raw.get("rules") or []:
        delay = _minutes(rule.get("delay"))
        recipient = rule.get("recipient") or {}
        rtype, rid = recipient.get("type"), str(recipient.get("id"))
        label = f"{name}: {rtype} {recipient.get('name') or recipient.get('username') or rid}"
        notify = rule.get("notifyType", "default")
        if rule.get("condition", "if-not-acked") != "if-not-acked":
            notes.add(
                "escalation rule", label,
                f"{rule.get('condition')}: Klaxon escalates until acknowledged",
            )  # fmt: skip
        step_users, step_schedules, step_teams = targets.setdefault(delay, ([], [], []))
        if rtype == "user" and rid in users:
            step_users.append(rid)
        elif rtype == "schedule" and rid in schedules and notify == "default":
            step_schedules.append(rid)
        elif rtype == "schedule" and rid in schedules:
            notes.add(
                "escalation rule", label, f"{notify} on-call: Klaxon pages who is on call now"
            )
        elif rtype == "team" and rid in teams:
            step_teams.append(rid)
            if notify not in ("users", "all"):
                notes.add(
                    "escalation rule", label,
                    f"notifies the team ({notify}); Klaxon pages every member of the team",
                )  # fmt: skip
        else:
            notes.add("escalation rule", label, "its recipient was not imported")
    repeat = raw.get("repeat") or {}
    rounds = int(repeat.get("count") or 0)
    if rounds > MAX_REPEAT:
        notes.add("escalation", name, f"repeats {rounds} times: Klaxon repeats at most 9")
        rounds = MAX_REPEAT
    wait = _minutes(repeat.get("waitInterval")) if rounds else 0
    delays = sorted(targets)
    steps: list[PlannedStep] = []
    if delays and delays[0] > 0:
        steps.append(PlannedStep(delay_minutes=delays[0]))  # Opsgenie waits before the first
    for i, delay in enumerate(delays):
        after = delays[i + 1] - delay if i + 1 < len(delays) else wait
        found_users, found_schedules, found_teams = targets[delay]
        steps.append(
            PlannedStep(
                delay_minutes=after,
                user_source_ids=tuple(dict.fromkeys(found_users)),
                schedule_source_ids=tuple(dict.fromkeys(found_schedules)),
                team_source_ids=tuple(dict.fromkeys(found_teams)),
            )
        )
    owner = raw.get("ownerTeam") or {}
    return PlannedPolicy(
        source=OPSGENIE,
        source_id=str(raw["id"]),
        name=name,
        team_source_id=str(owner["id"]) if owner.get("id") in teams else None,
        steps=tuple(steps),
        repeat=rounds,
    )


def _heartbeat(raw: dict[str, Any]) -> PlannedHeartbeat:
    unit = str(raw.get("intervalUnit", "minutes"))
    owner = raw.get("ownerTeam") or {}
    return PlannedHeartbeat(
        source=OPSGENIE,
        source_id=str(raw["name"]),  # Opsgenie names heartbeats uniquely; pings use the name
        name=str(raw["name"]),
        interval_seconds=int(raw["interval"]) * UNIT_MINUTES[unit] * 60,
        grace_seconds=0,  # Opsgenie alerts as soon as the interval passes without a ping
        enabled=bool(raw.get("enabled", True)),
        team_source_id=str(owner["id"]) if owner.get("id") else None,
    )


def _integration(raw: dict[str, Any], notes: Notes) -> PlannedIntegration | None:
    name, kind = str(raw["name"]), str(raw.get("type", ""))
    if kind in ("Email", "IncomingEmail"):
        notes.add("integration", name, "email integration: Klaxon has no inbound email")
        return None
    mapped, note = klaxon_kind(kind, INTEGRATION_KINDS)
    return PlannedIntegration(
        source=OPSGENIE,
        source_id=str(raw["id"]),
        name=name,
        kind=mapped,
        source_kind=kind,
        team_source_id=str(raw["teamId"]) if raw.get("teamId") else None,
        policy_source_id=None,  # Opsgenie routes by team, not straight to an escalation
        enabled=bool(raw.get("enabled", True)),
        old_url="",
        note=note,
    )
