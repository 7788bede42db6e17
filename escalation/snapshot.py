"""The escalation snapshot: an incident's policy as it was when escalation started.

Stored on the incident (``Incident.escalation_snapshot``, a JSONField) so later edits to
the policy do not change an incident already being escalated. Users, schedules and teams
are kept by id and name: who is on call for a schedule, and who is in a team, are looked
up when the step runs; the name says who was meant if the row is gone by then."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Ref:
    """A user, schedule or team as the snapshot names it."""

    id: int
    name: str

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Ref:
        return cls(id=int(data["id"]), name=str(data["name"]))


@dataclass(frozen=True)
class SnapshotStep:
    """One step: page these users, whoever is on call in these schedules, and the
    members of these teams; wait ``delay_minutes`` for an acknowledgement."""

    delay_minutes: int
    users: tuple[Ref, ...] = ()
    schedules: tuple[Ref, ...] = ()
    teams: tuple[Ref, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "delay_minutes": self.delay_minutes,
            "users": [ref.to_json() for ref in self.users],
            "schedules": [ref.to_json() for ref in self.schedules],
            "teams": [ref.to_json() for ref in self.teams],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SnapshotStep:
        def refs(key: str) -> tuple[Ref, ...]:
            return tuple(Ref.from_json(item) for item in data.get(key) or ())

        return cls(
            delay_minutes=int(data["delay_minutes"]),
            users=refs("users"),
            schedules=refs("schedules"),
            teams=refs("teams"),
        )


@dataclass(frozen=True)
class PolicySnapshot:
    """An escalation policy, frozen: its steps run ``repeat + 1`` times in all."""

    policy: Ref
    repeat: int
    steps: tuple[SnapshotStep, ...]

    @property
    def rounds(self) -> int:
        return self.repeat + 1

    def to_json(self) -> dict[str, Any]:
        return {
            "policy": self.policy.to_json(),
            "repeat": self.repeat,
            "steps": [step.to_json() for step in self.steps],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PolicySnapshot | None:
        """The snapshot stored on an incident; None for ``{}`` (no policy)."""
        if not data:
            return None
        return cls(
            policy=Ref.from_json(data["policy"]),
            repeat=int(data.get("repeat", 0)),
            steps=tuple(SnapshotStep.from_json(step) for step in data.get("steps") or ()),
        )
