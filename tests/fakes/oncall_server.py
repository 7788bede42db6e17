"""A Grafana OnCall-compatible public API (v1) serving recorded data, shaped as OnCall's
API reference shows: lists as ``{"count", "next", "previous", "results",
"current_page_number", "page_size", "total_pages"}`` with ``next`` an absolute link,
``Authorization: <token>`` checked (401 ``{"detail": "Invalid token."}``). A schedule's
final shifts (``/api/v1/schedules/{id}/final_shifts``) are computed from the recorded
shifts by ``tests.fakes.oncall_reference``, not by the importer. The iCal-backed
schedule's calendar is served at ``/ical/ops-primary.ics`` (no key, like a secret URL).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from tests.fakes import oncall_reference
from tests.fakes.json_api import FakeJsonApi, Reply

API_KEY = "meowmeowmeow-4f7c2b9e1d"
RECORDED = Path(__file__).resolve().parent.parent / "fixtures" / "importers" / "oncall_export.json"
PRIVATE_KEYS = ("on_call_shifts", "ical_primary", "ical_overrides", "ical_error")


def recorded_export() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(RECORDED.read_text())
    return data


@dataclass
class FakeOnCall(FakeJsonApi):
    export: dict[str, Any] = field(default_factory=recorded_export)
    page_size: int = 2  # OnCall's is 50; small here so every list is paged
    api_key: str = API_KEY

    def __post_init__(self) -> None:
        def listing(key: str) -> Any:
            return lambda g, q: self._page(f"/api/v1/{key}/", self._all(key), q)

        self.routes = [
            (r"/api/v1/users/", listing("users"), True),
            (r"/api/v1/teams/", listing("teams"), True),
            (
                r"/api/v1/personal_notification_rules/",
                listing("personal_notification_rules"),
                True,
            ),
            (r"/api/v1/escalation_chains/", listing("escalation_chains"), True),
            (r"/api/v1/escalation_policies/", listing("escalation_policies"), True),
            (r"/api/v1/integrations/", listing("integrations"), True),
            (r"/api/v1/schedules/", self._schedules, True),
            (r"/api/v1/on_call_shifts/", self._shifts, True),
            (r"/api/v1/schedules/(?P<schedule>[^/]+)/final_shifts/?", self._final_shifts, True),
            (r"/ical/ops-primary\.ics", self._ical, False),
        ]

    def authorized(self, headers: dict[str, str]) -> bool:
        return headers.get("Authorization") == self.api_key

    def refusal(self) -> Reply:
        return Reply(401, {"detail": "Invalid token."})

    def _all(self, key: str) -> list[dict[str, Any]]:
        return copy.deepcopy(self.export.get(key, []))

    def _page(
        self, path: str, items: list[Any], query: dict[str, str], size: int | None = None
    ) -> Reply:
        size = size or self.page_size
        number = int(query.get("page", 1))
        chunk = items[(number - 1) * size : number * size]
        pages = max(1, -(-len(items) // size))

        def link(n: int) -> str | None:
            if not 1 <= n <= pages:
                return None
            return f"{self.base_url}{path}?{urlencode({**query, 'page': n})}"

        return Reply(
            200,
            {"count": len(items), "next": link(number + 1), "previous": link(number - 1),
             "results": chunk, "current_page_number": number, "page_size": size,
             "total_pages": pages},
        )  # fmt: skip

    def _recorded_schedule(self, schedule_id: str) -> dict[str, Any]:
        for schedule in self._all("schedules"):
            if schedule["id"] == schedule_id:
                return schedule
        raise LookupError(schedule_id)

    def _schedules(self, groups: dict[str, str], query: dict[str, str]) -> Reply:
        public = []
        for schedule in self._all("schedules"):
            if schedule.get("ical_url_primary"):
                schedule["ical_url_primary"] = schedule["ical_url_primary"].replace(
                    "{base}", self.base_url
                )
            public.append({k: v for k, v in schedule.items() if k not in PRIVATE_KEYS})
        return self._page("/api/v1/schedules/", public, query)

    def _shifts(self, groups: dict[str, str], query: dict[str, str]) -> Reply:
        shifts = [
            shift
            for schedule in self._all("schedules")
            if query.get("schedule_id") in (None, schedule["id"])
            for shift in schedule.get("on_call_shifts") or []
        ]
        return self._page("/api/v1/on_call_shifts/", shifts, query)

    def _final_shifts(self, groups: dict[str, str], query: dict[str, str]) -> Reply:
        try:
            first = date.fromisoformat(query["start_date"])
            last = date.fromisoformat(query["end_date"])
        except (KeyError, ValueError):
            return Reply(400, {"detail": "start_date and end_date are required ISO dates"})
        if last < first or last - first > timedelta(days=365):
            return Reply(400, {"detail": "end_date must be within 365 days after start_date"})
        schedule = self._recorded_schedule(groups["schedule"])
        start = datetime.combine(first, datetime.min.time(), tzinfo=UTC)
        end = datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
        users = {u["id"]: u for u in self._all("users")}
        names = {u["username"]: u["id"] for u in users.values()}
        events = oncall_reference.schedule_events(schedule, names, end + timedelta(days=1))
        results = [
            {"user_pk": user, "user_email": users[user]["email"],
             "user_username": users[user]["username"],
             "shift_start": lower.strftime("%Y-%m-%dT%H:%M:%SZ"),
             "shift_end": upper.strftime("%Y-%m-%dT%H:%M:%SZ")}
            for lower, upper, user in oncall_reference.final_shifts(events, start, end)
        ]  # fmt: skip
        path = f"/api/v1/schedules/{groups['schedule']}/final_shifts"
        return self._page(path, results, query, size=50)

    def _ical(self, groups: dict[str, str], query: dict[str, str]) -> Reply:
        for schedule in self._all("schedules"):
            if schedule.get("ical_primary"):
                return Reply(200, schedule["ical_primary"], content_type="text/calendar")
        return Reply(404, "no calendar", content_type="text/plain")
