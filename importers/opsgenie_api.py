"""Reading Opsgenie's REST API (v2): https://docs.opsgenie.com/docs/api-overview.

``--api-base`` is the API host (``https://api.opsgenie.com``, or
``https://api.eu.opsgenie.com``); the key is an API integration's key, sent as
``Authorization: GenieKey <key>``. Lists are paged with ``limit``/``offset``: a page's
``paging.next`` link says the offset to ask for next.

``fetch_opsgenie`` gathers everything the importer reads into one JSON object, which is
also the export file format (``--file``)::

    {"source": "opsgenie",
     "users": [<user> + {"contacts": [<contact>],
                         "notificationRules": [<rule> + {"steps": [<step>]}]}],
     "teams": [<team as GET /v2/teams/{id} answers, with "members">],
     "schedules": [<schedule with "rotations" (expand=rotation)> + {"overrides": [...]}],
     "escalations": [<escalation>], "heartbeats": [<heartbeat>],
     "integrations": [<integration>]}

Each <...> is the object exactly as the API returns it in ``data``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from importers.client import ImportSourceError, Params, SourceClient, path_part
from importers.plan import OPSGENIE

PAGE_SIZE = 100


class OpsgenieClient(SourceClient):
    NAME = "Opsgenie"

    def auth_headers(self, api_key: str) -> dict[str, str]:
        return {"Authorization": f"GenieKey {api_key}"}

    def _data(self, path: str, params: Params | None = None) -> Any:
        body = self.http.get(path, params)
        if not isinstance(body, dict) or "data" not in body:
            raise ImportSourceError(f"Opsgenie's answer to {path} has no 'data'")
        return body["data"]

    def _list(self, path: str, params: Params | None = None) -> list[dict[str, Any]]:
        """Every item of a list, following ``paging.next`` page after page."""
        query = {"limit": PAGE_SIZE, "offset": 0, **(params or {})}
        return self.pages(
            path,
            query,
            lambda body: body.get("data"),
            lambda body: (body.get("paging") or {}).get("next"),
        )

    def users(self) -> list[dict[str, Any]]:
        return self._list("/v2/users")

    def user_contacts(self, user_id: str) -> list[dict[str, Any]]:
        return list(self._data(f"/v2/users/{path_part(user_id)}/contacts"))

    def notification_rules(self, user_id: str) -> list[dict[str, Any]]:
        return list(self._data(f"/v2/users/{path_part(user_id)}/notification-rules"))

    def notification_rule_steps(self, user_id: str, rule_id: str) -> list[dict[str, Any]]:
        path = f"/v2/users/{path_part(user_id)}/notification-rules/{path_part(rule_id)}/steps"
        return list(self._data(path))

    def teams(self) -> list[dict[str, Any]]:
        return list(self._data("/v2/teams"))

    def team(self, team_id: str) -> dict[str, Any]:
        return dict(self._data(f"/v2/teams/{path_part(team_id)}"))

    def schedules(self) -> list[dict[str, Any]]:
        return self._list("/v2/schedules", {"expand": "rotation"})

    def schedule_overrides(self, schedule_id: str) -> list[dict[str, Any]]:
        return list(self._data(f"/v2/schedules/{path_part(schedule_id)}/overrides"))

    def escalations(self) -> list[dict[str, Any]]:
        return list(self._data("/v2/escalations"))

    def heartbeats(self) -> list[dict[str, Any]]:
        return list(self._data("/v2/heartbeats").get("heartbeats", []))

    def integrations(self) -> list[dict[str, Any]]:
        return list(self._data("/v2/integrations"))

    def on_call_usernames(self, schedule_id: str, at: datetime) -> list[str]:
        """Who Opsgenie says is on call at ``at``: usernames, teams and escalations resolved."""
        params = {"date": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "flat": "true"}
        data = self._data(f"/v2/schedules/{path_part(schedule_id)}/on-calls", params)
        return [str(name) for name in data.get("onCallRecipients", [])]


def fetch_opsgenie(client: OpsgenieClient) -> dict[str, Any]:
    """Everything the importer reads, as one export object (the ``--file`` format)."""
    users = client.users()
    for user in users:
        uid = str(user["id"])
        user["contacts"] = client.user_contacts(uid)
        rules = client.notification_rules(uid)
        for rule in rules:
            rule["steps"] = client.notification_rule_steps(uid, str(rule["id"]))
        user["notificationRules"] = rules
    teams = [client.team(str(team["id"])) for team in client.teams()]
    schedules = client.schedules()
    for schedule in schedules:
        schedule["overrides"] = client.schedule_overrides(str(schedule["id"]))
    return {
        "source": OPSGENIE,
        "users": users,
        "teams": teams,
        "schedules": schedules,
        "escalations": client.escalations(),
        "heartbeats": client.heartbeats(),
        "integrations": client.integrations(),
    }
