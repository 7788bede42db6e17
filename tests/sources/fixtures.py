"""Recorded payloads for the source parsers: tests/fixtures/<kind>/<name>.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def fixture_bytes(kind: str, name: str) -> bytes:
    return (FIXTURES / kind / name).read_bytes()


def fixture_json(kind: str, name: str) -> Any:
    return json.loads(fixture_bytes(kind, name))


def fixture_names(kind: str) -> list[str]:
    return sorted(path.name for path in (FIXTURES / kind).glob("*.json"))


def json_body(data: Any) -> bytes:
    return json.dumps(data).encode()
