"""How long templates and rules add to one alert (target: under 1 ms).

    .venv/bin/python bench/rules.py [--alerts 2000] [--repeat 5]

A typical integration: 3 templates (title, description, dedup_key) and 10 rules (clauses
with equals/contains/regex/exists/gt, two expressions, template actions, a drop, a
route, continue). Each alert is a Prometheus Alertmanager notification with one alert,
varied so that different rules match. Parsing is timed separately for reference.
Pure Python, no database; prints the best of ``--repeat`` runs per alert.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from integrations.rules import Rule, evaluate, parse_rules  # noqa: E402
from integrations.sources import alertmanager  # noqa: E402
from integrations.sources.events import AlertEvent  # noqa: E402
from integrations.templating import apply_templates  # noqa: E402

TEMPLATES = {
    "title": "[{{ event.labels.env | upper }}] {{ event.title | truncate(120) }}",
    "description": (
        "{{ payload.alerts[0].annotations.description | default('no description') }}\n"
        "Started {{ payload.alerts[0].startsAt | iso }}"
    ),
    "dedup_key": "{{ event.labels.alertname }}/{{ event.labels.instance }}",
}

RULES: list[dict[str, Any]] = [
    {
        "name": "Drop staging",
        "when": {"clauses": [{"path": "event.labels.env", "op": "equals", "value": "staging"}]},
        "actions": {"drop": True},
    },
    {
        "name": "Watchdog is not an alert",
        "when": {
            "clauses": [{"path": "event.labels.alertname", "op": "equals", "value": "Watchdog"}]
        },
        "actions": {"drop": True},
    },
    {
        "name": "Databases are critical",
        "when": {
            "match": "any",
            "clauses": [
                {"path": "event.labels.job", "op": "contains", "value": "postgres"},
                {"path": "event.title", "op": "regex", "value": "(?i)replication|database"},
            ],
        },
        "actions": {"severity": "critical", "title": "DB: {{ event.title }}"},
        "continue": True,
    },
    {
        "name": "Route payments",
        "when": {"clauses": [{"path": "event.labels.team", "op": "equals", "value": "payments"}]},
        "actions": {"escalation_policy": 4},
        "continue": True,
    },
    {
        "name": "Route storage",
        "when": {"clauses": [{"path": "event.labels.team", "op": "equals", "value": "storage"}]},
        "actions": {"escalation_policy": 7},
        "continue": True,
    },
    {
        "name": "Noisy disks",
        "when": {
            "clauses": [
                {"path": "event.labels.alertname", "op": "equals", "value": "DiskFilling"},
                {"path": "payload.alerts[0].labels.hours_left", "op": "gt", "value": 24},
            ]
        },
        "actions": {"annotate_only": True},
    },
    {
        "name": "Has runbook",
        "when": {
            "clauses": [{"path": "payload.alerts[0].annotations.runbook_url", "op": "exists"}]
        },
        "actions": {
            "description": "{{ event.description }}\nRunbook: "
            "{{ payload.alerts[0].annotations.runbook_url }}"
        },
        "continue": True,
    },
    {
        "name": "Business hours only",
        "when": {"expression": "event.severity == 'info' and payload.receiver == 'low'"},
        "actions": {"annotate_only": True},
    },
    {
        "name": "Many alerts at once",
        "when": {"expression": "payload.alerts | length > 20"},
        "actions": {"severity": "critical"},
        "continue": True,
    },
    {
        "name": "Resolve OK checks",
        "when": {"clauses": [{"path": "event.labels.state", "op": "equals", "value": "ok"}]},
        "actions": {"resolve": True},
    },
]

TEAMS = ["payments", "storage", "search", "identity"]
JOBS = ["postgres-exporter", "node", "checkout-api", "redis"]
ENVS = ["prod", "prod", "prod", "staging"]
NAMES = ["HighLatency", "DiskFilling", "ReplicationLag", "ErrorRate", "Watchdog"]


def notification(n: int) -> bytes:
    labels = {
        "alertname": NAMES[n % len(NAMES)],
        "instance": f"host-{n % 97}:9100",
        "job": JOBS[n % len(JOBS)],
        "team": TEAMS[n % len(TEAMS)],
        "env": ENVS[n % len(ENVS)],
        "severity": ["warning", "critical", "info"][n % 3],
        "hours_left": str(n % 48),
    }
    annotations = {
        "summary": f"{labels['alertname']} on {labels['instance']}",
        "description": "Something measurable crossed its threshold for 10 minutes.",
    }
    if n % 2:
        annotations["runbook_url"] = f"https://runbooks.example.net/{labels['alertname']}"
    alert = {
        "status": "firing",
        "labels": labels,
        "annotations": annotations,
        "startsAt": "2026-02-11T03:05:12.481923617Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.example.net:9090/graph?g0.expr=up",
        "fingerprint": f"{n:016x}",
    }
    return json.dumps(
        {
            "version": "4",
            "status": "firing",
            "receiver": "klaxon",
            "groupKey": "{}:{}",
            "groupLabels": {},
            "commonLabels": labels,
            "commonAnnotations": annotations,
            "externalURL": "http://alertmanager.example.net:9093",
            "truncatedAlerts": 0,
            "alerts": [alert],
        }
    ).encode()


def shape(rules: tuple[Rule, ...], event: AlertEvent, payload: Any) -> None:
    shaped, _errors = apply_templates(event, TEMPLATES, payload=payload)
    evaluate(rules, shaped, payload)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    rules = parse_rules(RULES)
    bodies = [notification(n) for n in range(args.alerts)]
    parsed = [(alertmanager.parse(body)[0], json.loads(body)) for body in bodies]
    for event, payload in parsed[:50]:  # warm-up: compiles templates once
        shape(rules, event, payload)

    parse_times, shape_times = [], []
    for _ in range(args.repeat):
        started = time.perf_counter()
        for body in bodies:
            alertmanager.parse(body)
        parse_times.append((time.perf_counter() - started) / len(bodies))
        started = time.perf_counter()
        for event, payload in parsed:
            shape(rules, event, payload)
        shape_times.append((time.perf_counter() - started) / len(parsed))

    outcomes = [evaluate(rules, event, payload) for event, payload in parsed[:200]]
    dropped = sum(outcome.dropped for outcome in outcomes)
    print(f"{len(RULES)} rules, {len(TEMPLATES)} templates, {args.alerts} alerts x {args.repeat}")
    print(f"  parse (Alertmanager, 1 alert):  best {min(parse_times) * 1e6:7.1f} us/alert")
    print(
        f"  templates + rules:              best {min(shape_times) * 1e6:7.1f} us/alert, "
        f"median {statistics.median(shape_times) * 1e6:7.1f} us/alert"
    )
    print(f"  (sample of 200: {dropped} dropped by a rule)")
    target = "PASS" if min(shape_times) < 0.001 else "SLOW"
    print(f"  target under 1 ms per alert: {target}")


if __name__ == "__main__":
    main()
