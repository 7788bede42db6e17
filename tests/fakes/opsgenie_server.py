"""An Opsgenie-compatible API (v2) serving recorded data, shaped as Opsgenie's REST API
documentation shows: ``{"data": ..., "took", "requestId"}``, lists paged with
``limit``/``offset`` and ``paging.next``, ``Authorization: GenieKey <key>`` checked
(401 ``{"message": "Could not authenticate"}`` otherwise). Who is on call
(``/v2/schedules/{id}/on-calls?date=...&flat=true``) is computed from the recorded
rotations by ``tests.fakes.opsgenie_reference``, not by the importer."""

from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from tests.fakes.json_api import FakeJsonApi, Reply
from tests.fakes.opsgenie_reference import on_call_usernames

API_KEY = "eb243592-faa2-4ba2-a551-1afdf565c889"
RECORDED = (
    Path(__file__).resolve().parent.parent / "fixtures" / "importers" / "opsgenie_export.json"
)


def recorded_export() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(RECORDED.read_text())
    return data


def _envelope(data: Any, **extra: Any) -> dict[str, Any]:
    return {"data": data, **extra, "took": 0.011, "requestId": str(uuid.uuid4())}


@dataclass
class FakeOpsgenie(FakeJsonApi):
    export: dict[str, Any] = field(default_factory=recorded_export)
    page_size: int = 4  # smaller than Opsgenie's 100, so the six users take two pages
    api_key: str = API_KEY

    def __post_init__(self) -> None:
        ok = self._ok
        self.routes = [
            (r"/v2/users", self._users, True),
            (
                r"/v2/users/(?P<user>[^/]+)/contacts",
                lambda g, q: ok(self._user(g)["contacts"]),
                True,
            ),
            (
                r"/v2/users/(?P<user>[^/]+)/notification-rules",
                lambda g, q: ok(
                    [_without(r, "steps") for r in self._user(g)["notificationRules"]]
                ),
                True,
            ),
            (
                r"/v2/users/(?P<user>[^/]+)/notification-rules/(?P<rule>[^/]+)/steps",
                self._steps,
                True,
            ),
            (
                r"/v2/teams",
                lambda g, q: ok([_without(t, "members") for t in self._all("teams")]),
                True,
            ),
            (r"/v2/teams/(?P<team>[^/]+)", self._team, True),
            (r"/v2/schedules", self._schedules, True),
            (r"/v2/schedules/(?P<schedule>[^/]+)/overrides", self._overrides, True),
            (r"/v2/schedules/(?P<schedule>[^/]+)/on-calls", self._on_calls, True),
            (r"/v2/escalations", lambda g, q: ok(self._all("escalations")), True),
            (r"/v2/heartbeats", lambda g, q: ok({"heartbeats": self._all("heartbeats")}), True),
            (r"/v2/integrations", lambda g, q: ok(self._all("integrations")), True),
        ]

    def authorized(self, headers: dict[str, str]) -> bool:
        return headers.get("Authorization") == f"GenieKey {self.api_key}"

    def refusal(self) -> Reply:
        return Reply(401, {"message": "Could not authenticate", "took": 0.0, "requestId": "x"})

    def _all(self, key: str) -> list[dict[str, Any]]:
        return copy.deepcopy(self.export.get(key, []))

    def _ok(self, data: Any) -> Reply:
        return Reply(200, _envelope(data))

    def _missing(self, what: str) -> Reply:
        return Reply(404, {"message": f"No {what} exists with the given identifier"})

    def _user(self, groups: dict[str, str]) -> dict[str, Any]:
        for user in self._all("users"):
            if groups["user"] in (user["id"], user["username"]):
                return user
        raise LookupError(groups["user"])

    def _users(self, groups: dict[str, str], query: dict[str, str]) -> Reply:
        limit = min(int(query.get("limit", 100)), self.page_size)
        offset = int(query.get("offset", 0))
        users = [_without(u, "contacts", "notificationRules") for u in self._all("users")]
        page = users[offset : offset + limit]
        paging = {"first": f"{self.base_url}/v2/users?{urlencode({'limit': limit, 'offset': 0})}"}
        if offset + limit < len(users):
            after = urlencode({"limit": limit, "offset": offset + limit})
            paging["next"] = f"https://api.opsgenie.com/v2/users?{after}"
        return Reply(200, _envelope(page, paging=paging, totalCount=len(users)))

    def _steps(self, groups: dict[str, str], query: dict[str, str]) -> Reply:
        for rule in self._user(groups)["notificationRules"]:
            if rule["id"] == groups["rule"]:
                return self._ok(rule["steps"])
        return self._missing("notification rule")

    def _team(self, groups: dict[str, str], query: dict[str, str]) -> Reply:
        for team in self._all("teams"):
            if groups["team"] in (team["id"], team["name"]):
                return self._ok(team)
        return self._missing("team")

    def _schedule(self, identifier: str) -> dict[str, Any] | None:
        for schedule in self._all("schedules"):
            if identifier in (schedule["id"], schedule["name"]):
                return schedule
        return None

    def _schedules(self, groups: dict[str, str], query: dict[str, str]) -> Reply:
        expand = query.get("expand") == "rotation"
        schedules = []
        for schedule in self._all("schedules"):
            schedule.pop("overrides", None)
            if not expand:
                schedule.pop("rotations", None)
            schedules.append(schedule)
        return Reply(200, _envelope(schedules, expandable=["rotation"]))

    def _overrides(self, groups: dict[str, str], query: dict[str, str]) -> Reply:
        schedule = self._schedule(groups["schedule"])
        return self._ok(schedule["overrides"]) if schedule else self._missing("schedule")

    def _on_calls(self, groups: dict[str, str], query: dict[str, str]) -> Reply:
        schedule = self._schedule(groups["schedule"])
        if schedule is None:
            return self._missing("schedule")
        if query.get("flat") != "true":
            return Reply(422, {"message": "this fake answers flat=true only"})
        at = datetime.fromisoformat(query["date"].replace(" ", "+"))
        parent = {"id": schedule["id"], "name": schedule["name"], "enabled": True}
        return self._ok({"_parent": parent, "onCallRecipients": on_call_usernames(schedule, at)})


def _without(obj: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in keys}
