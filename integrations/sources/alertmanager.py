"""Prometheus Alertmanager's webhook (``webhook_config``) and Grafana alerting's webhook.

Alertmanager posts a group of alerts (``version`` "4": receiver, status, alerts,
groupLabels, commonLabels, commonAnnotations, externalURL, groupKey, truncatedAlerts);
Grafana posts the same shape with a few additions (orgId, title, state, message, and per
alert silenceURL, dashboardURL, panelURL, values/valueString, imageURL). Each alert
becomes one event: its ``fingerprint`` is the dedup key (a stable hash of its sorted
labels when absent), ``firing`` triggers and ``resolved`` resolves.

Pure module: no Django, no database.
"""

from __future__ import annotations

from typing import Any, Final

from integrations.sources.events import (
    Action,
    AlertEvent,
    Image,
    Link,
    SourceError,
    bounded_title,
    parse_timestamp,
    safe_url,
    severity_from,
    stable_hash,
)
from integrations.sources.jsonbody import as_labels, as_text, decode_json, describe_json

__all__ = ["MAX_ALERTS", "parse"]

KIND: Final = "alertmanager"
# Alertmanager sends every alert of a group in one request unless max_alerts is set;
# this bounds the work one request can cause.
MAX_ALERTS: Final = 1000
_STATUSES: Final[dict[str, Action]] = {"firing": "trigger", "resolved": "resolve"}
# Per-alert URL fields and how their links read.
_LINK_FIELDS: Final = (
    ("generatorURL", "Source"),
    ("silenceURL", "Silence"),
    ("dashboardURL", "Dashboard"),
    ("panelURL", "Panel"),
)


def parse(body: bytes, *, content_type: str = "") -> list[AlertEvent]:
    """One event per alert in the notification; raises SourceError for an unusable one."""
    data = decode_json(body, content_type=content_type)
    if not isinstance(data, dict):
        raise SourceError(
            "", f"the body is {describe_json(data)}; an Alertmanager notification was expected"
        )
    alerts = data.get("alerts")
    if not isinstance(alerts, list):
        raise SourceError("alerts", "alerts is missing or not a list")
    if len(alerts) > MAX_ALERTS:
        raise SourceError(
            "alerts", f"alerts has {len(alerts)} items; at most {MAX_ALERTS} are accepted"
        )
    group = _Group(data)
    return [group.event(index, alert) for index, alert in enumerate(alerts)]


class _Group:
    """What the notification says about all its alerts."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.grafana = "orgId" in data
        self.client = "Grafana" if self.grafana else "Prometheus Alertmanager"
        self.external_url = safe_url(data.get("externalURL"))
        self.common: dict[str, Any] = {
            "receiver": as_text(data.get("receiver")),
            "group_key": as_text(data.get("groupKey")),
            "group_labels": as_labels(data.get("groupLabels")),
        }
        truncated = data.get("truncatedAlerts")
        if isinstance(truncated, int) and not isinstance(truncated, bool) and truncated > 0:
            # Alertmanager's max_alerts left these out of the request: say so on each alert.
            self.common["truncated_alerts"] = truncated
        if self.grafana:
            self.common["org_id"] = data.get("orgId")

    def event(self, index: int, alert: Any) -> AlertEvent:
        where = f"alerts[{index}]"
        if not isinstance(alert, dict):
            raise SourceError(where, f"{where} is {describe_json(alert)}, not an alert object")
        action = _action(alert.get("status", self.data.get("status")), where)
        labels = _mapping(alert, "labels", where)
        annotations = _mapping(alert, "annotations", where)

        fingerprint = alert.get("fingerprint")
        if isinstance(fingerprint, str) and fingerprint.strip():
            dedup_key = fingerprint.strip()
        else:
            dedup_key = stable_hash(sorted(labels.items()))[:16]

        time_field = "endsAt" if action == "resolve" else "startsAt"
        source_time = parse_timestamp(alert.get(time_field)) or parse_timestamp(
            alert.get("startsAt")
        )
        return AlertEvent(
            source=KIND,
            action=action,
            dedup_key=dedup_key,
            title=self._title(labels, annotations),
            description=annotations.get("description") or annotations.get("message") or "",
            severity=severity_from(labels.get("severity") or labels.get("priority")),
            source_time=source_time,
            details=self._details(alert, annotations),
            labels=labels,
            links=self._links(alert, annotations),
            images=_images(alert),
            client=self.client,
            client_url=self.external_url,
            entity=labels.get("instance") or labels.get("job") or "",
        )

    def _title(self, labels: dict[str, str], annotations: dict[str, str]) -> str:
        for candidate in (
            annotations.get("summary"),
            labels.get("alertname"),
            as_text(self.data.get("title")) if self.grafana else "",
        ):
            if candidate and candidate.strip():
                return bounded_title(candidate.strip())
        return f"{self.client} alert"

    def _details(self, alert: dict[str, Any], annotations: dict[str, str]) -> dict[str, Any]:
        details: dict[str, Any] = {"status": as_text(alert.get("status"))}
        for name, key in (("starts_at", "startsAt"), ("ends_at", "endsAt")):
            if parse_timestamp(alert.get(key)) is not None:
                details[name] = alert[key]
        if annotations:
            details["annotations"] = annotations
        details.update((name, value) for name, value in self.common.items() if value)
        if self.grafana:
            for name, key in (("values", "values"), ("value_string", "valueString")):
                if alert.get(key) not in (None, "", {}):
                    details[name] = alert[key]
        return details

    def _links(self, alert: dict[str, Any], annotations: dict[str, str]) -> tuple[Link, ...]:
        candidates = [(alert.get(key), text) for key, text in _LINK_FIELDS]
        candidates.append((annotations.get("runbook_url"), "Runbook"))
        candidates.append((self.external_url, self.client))
        links: list[Link] = []
        for value, text in candidates:
            href = safe_url(value)
            if href and all(link.href != href for link in links):
                links.append(Link(href=href, text=text))
        return tuple(links)


def _action(status: Any, where: str) -> Action:
    action = _STATUSES.get(status) if isinstance(status, str) else None
    if action is None:
        shown = as_text(status)[:40] or "absent"
        raise SourceError(
            f"{where}.status", f'{where}.status must be "firing" or "resolved", not {shown}'
        )
    return action


def _mapping(alert: dict[str, Any], name: str, where: str) -> dict[str, str]:
    value = alert.get(name)
    if value is not None and not isinstance(value, dict):
        raise SourceError(
            f"{where}.{name}", f"{where}.{name} is {describe_json(value)}, not an object"
        )
    return as_labels(value)


def _images(alert: dict[str, Any]) -> tuple[Image, ...]:
    src = safe_url(alert.get("imageURL"))
    return (Image(src=src, alt="Alert image"),) if src else ()
