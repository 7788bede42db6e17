"""Reading Grafana OnCall's public API (v1):
https://grafana.com/docs/oncall/latest/oncall-api-reference/.

``--api-base`` is the OnCall API URL shown on OnCall's settings page (for example
``https://oncall-prod-us-central-0.grafana.net/oncall``); paths below it start with
``/api/v1/``. The key is an OnCall API token, sent as ``Authorization: <token>``. Lists
are paged: ``{"count", "next", "previous", "results"}``, ``next`` being the link to the
next page (we ask the same path with that link's query, so a proxy rewriting the host
does not matter).

``fetch_oncall`` gathers everything the importer reads into one JSON object, which is
also the export file format (``--file``)::

    {"source": "grafana_oncall",
     "users": [<user>], "teams": [<team>],
     "personal_notification_rules": [<rule>],
     "schedules": [<schedule> + {"on_call_shifts": [<shift>],
                                 "ical_primary": <iCal text> | absent,
                                 "ical_overrides": <iCal text> | absent,
                                 "ical_error": <why an iCal URL could not be read>}],
     "escalation_chains": [<chain>], "escalation_policies": [<policy>],
     "integrations": [<integration>]}

Each <...> is the object as the API returns it in ``results``. A web schedule's shifts are
``GET /api/v1/on_call_shifts/?schedule_id=<id>``; a calendar schedule lists its shift ids
in ``shifts``. iCal-backed schedules are read from their ``ical_url_primary`` (and any
schedule's ``ical_url_overrides``) when that URL answers.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlsplit

import requests

from importers.client import ImportSourceError, Params, SourceClient, path_part
from importers.plan import GRAFANA_ONCALL

MAX_ICAL_BYTES = 5_000_000


class OnCallClient(SourceClient):
    NAME = "Grafana OnCall"

    def auth_headers(self, api_key: str) -> dict[str, str]:
        return {"Authorization": api_key}

    def _list(self, path: str, params: Params | None = None) -> list[dict[str, Any]]:
        """Every item of a list, following ``next`` page after page."""
        return self.pages(
            path, params, lambda body: body.get("results"), lambda body: body.get("next")
        )

    def users(self) -> list[dict[str, Any]]:
        return self._list("/api/v1/users/")

    def teams(self) -> list[dict[str, Any]]:
        return self._list("/api/v1/teams/")

    def personal_notification_rules(self) -> list[dict[str, Any]]:
        return self._list("/api/v1/personal_notification_rules/")

    def schedules(self) -> list[dict[str, Any]]:
        return self._list("/api/v1/schedules/")

    def on_call_shifts(self, schedule_id: str | None = None) -> list[dict[str, Any]]:
        params = {"schedule_id": schedule_id} if schedule_id else None
        return self._list("/api/v1/on_call_shifts/", params)

    def escalation_chains(self) -> list[dict[str, Any]]:
        return self._list("/api/v1/escalation_chains/")

    def escalation_policies(self) -> list[dict[str, Any]]:
        return self._list("/api/v1/escalation_policies/")

    def integrations(self) -> list[dict[str, Any]]:
        return self._list("/api/v1/integrations/")

    def final_shifts(self, schedule_id: str, start: date, end: date) -> list[dict[str, Any]]:
        """OnCall's own final shifts over [start, end] (dates, at most 365 days apart)."""
        path = f"/api/v1/schedules/{path_part(schedule_id)}/final_shifts"
        params = {"start_date": start.isoformat(), "end_date": end.isoformat()}
        return self._list(path, params)

    def ical(self, url: str) -> str:
        """An iCal calendar's text (the schedule's own secret URL; no API key sent)."""
        if urlsplit(url).scheme not in ("http", "https"):
            raise ImportSourceError(f"the iCal URL {url!r} is not http(s)")
        try:
            with self.http.session.get(url, timeout=self.timeout, stream=True) as response:
                status = response.status_code
                body = response.raw.read(MAX_ICAL_BYTES + 1, decode_content=True)
        except requests.RequestException as exc:
            raise ImportSourceError(f"cannot read the iCal calendar at {url}: {exc}") from exc
        if status != 200:
            raise ImportSourceError(f"the iCal URL {url} answered HTTP {status}")
        if len(body) > MAX_ICAL_BYTES:
            raise ImportSourceError(f"the iCal calendar at {url} is over {MAX_ICAL_BYTES} bytes")
        return bytes(body).decode("utf-8", errors="replace")


def fetch_oncall(client: OnCallClient) -> dict[str, Any]:
    """Everything the importer reads, as one export object (the ``--file`` format)."""
    shifts_by_id = {str(s["id"]): s for s in client.on_call_shifts()}
    schedules = client.schedules()
    for schedule in schedules:
        kind = schedule.get("type")
        if kind == "web":
            schedule["on_call_shifts"] = client.on_call_shifts(str(schedule["id"]))
        else:
            wanted = [str(i) for i in schedule.get("shifts") or []]
            schedule["on_call_shifts"] = [shifts_by_id[i] for i in wanted if i in shifts_by_id]
        for key in ("ical_primary", "ical_overrides"):
            url = schedule.get(f"ical_url_{key.split('_')[1]}")
            if not url:
                continue
            try:
                schedule[key] = client.ical(str(url))
            except ImportSourceError as exc:
                schedule["ical_error"] = str(exc)
    return {
        "source": GRAFANA_ONCALL,
        "users": client.users(),
        "teams": client.teams(),
        "personal_notification_rules": client.personal_notification_rules(),
        "schedules": schedules,
        "escalation_chains": client.escalation_chains(),
        "escalation_policies": client.escalation_policies(),
        "integrations": client.integrations(),
    }
