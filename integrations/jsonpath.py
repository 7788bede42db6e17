"""A small, safe path language over JSON data: ``$.alerts[0].labels.severity``.

Used by the ``json_path`` template helper and by rule clauses (``payload.x``,
``event.labels.team``). Supported: ``.name``, ``['name']`` / ``["name"]`` for keys with
dots or spaces, ``[0]`` and ``[-1]`` for list items, ``[*]`` / ``.*`` for every item or
value (the result is then a list). ``$`` may start a path. Nothing is evaluated:
a path is parsed once into steps and resolved by plain lookups.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Final

__all__ = ["MISSING", "WILDCARD", "PathError", "Step", "parse_path", "resolve"]

MAX_PATH_LENGTH: Final = 500


class _Missing:
    """The value of a path that leads nowhere (distinct from JSON null)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


class _Wildcard:
    def __repr__(self) -> str:
        return "*"


MISSING: Final = _Missing()
WILDCARD: Final = _Wildcard()
Step = str | int | _Wildcard

_TOKEN_RE: Final = re.compile(
    r"""
    \.(?P<name>[^.\[\]]+)                 # .name  (also .*)
    | \[\s*(?P<index>-?[0-9]+)\s*\]        # [0]
    | \[\s*'(?P<single>(?:[^'\\]|\\.)*)'\s*\]   # ['name']
    | \[\s*"(?P<double>(?:[^"\\]|\\.)*)"\s*\]   # ["name"]
    | \[\s*\*\s*\]                        # [*]
    """,
    re.VERBOSE,
)
_UNESCAPE_RE: Final = re.compile(r"\\(.)")


class PathError(ValueError):
    """A path that cannot be parsed; ``position`` is where reading stopped."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.position = position


@lru_cache(maxsize=4096)
def parse_path(path: str) -> tuple[Step, ...]:
    """The steps of ``path``; raises PathError naming the position of a mistake."""
    if len(path) > MAX_PATH_LENGTH:
        raise PathError(f"the path is longer than {MAX_PATH_LENGTH} characters", 0)
    text = path.strip()
    if text.startswith("$"):
        text = text[1:]
    elif text and text[0] not in ".[":
        text = "." + text  # a bare first name: "payload.x" reads as ".payload.x"
    steps: list[Step] = []
    position = 0
    while position < len(text):
        match = _TOKEN_RE.match(text, position)
        if match is None:
            raise PathError(
                f"cannot read the path at {text[position : position + 20]!r}", position
            )
        steps.append(_step(match))
        position = match.end()
    return tuple(steps)


def _step(match: re.Match[str]) -> Step:
    if (name := match["name"]) is not None:
        return WILDCARD if name == "*" else name
    if (index := match["index"]) is not None:
        return int(index)
    quoted = match["single"] if match["single"] is not None else match["double"]
    if quoted is not None:
        return _UNESCAPE_RE.sub(r"\1", quoted)
    return WILDCARD


def resolve(data: Any, steps: tuple[Step, ...]) -> Any:
    """Follow ``steps`` into ``data``; MISSING when a step leads nowhere.

    After a wildcard the remaining steps apply to every item, and the items that lead
    somewhere are returned as a list.
    """
    current = data
    for position, step in enumerate(steps):
        if isinstance(step, _Wildcard):
            if isinstance(current, dict):
                items = list(current.values())
            elif isinstance(current, list | tuple):
                items = list(current)
            else:
                return MISSING
            rest = steps[position + 1 :]
            found = (resolve(item, rest) for item in items)
            return [value for value in found if value is not MISSING]
        current = _lookup(current, step)
        if current is MISSING:
            return MISSING
    return current


def _lookup(value: Any, step: str | int) -> Any:
    if isinstance(value, dict):
        if step in value:
            return value[step]
        if isinstance(step, int) and str(step) in value:
            return value[str(step)]
        return MISSING
    if isinstance(value, list | tuple) and isinstance(step, int):
        try:
            return value[step]
        except IndexError:
            return MISSING
    if isinstance(value, list | tuple) and isinstance(step, str) and step.lstrip("-").isdigit():
        return _lookup(value, int(step))
    return MISSING
