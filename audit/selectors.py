"""Reads for the audit log page: filters, keyset pages, and changes put into words."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from audit.models import AuditEntry
from audit.services import CREATED, DELETED
from config.ids import parse_id

PAGE_SIZE = 50
# How many changed fields a row of the list shows before "and N more".
COMPACT_LINES = 4
SYSTEM = "system"


@dataclass(frozen=True)
class AuditFilters:
    object_type: str = ""  # "" or one of AuditEntry.ObjectType
    actor: str = ""  # "", "system" (no person) or a user id
    object_id: int | None = None  # only with object_type: one object's history

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> AuditFilters:
        object_type = params.get("type", "")
        if object_type not in AuditEntry.ObjectType.values:
            object_type = ""
        actor = params.get("actor", "")
        if actor != SYSTEM:
            actor_id = parse_id(actor)
            actor = "" if actor_id is None else str(actor_id)
        object_id = parse_id(params.get("object")) if object_type else None
        return cls(object_type=object_type, actor=actor, object_id=object_id)

    def apply(self, rows: QuerySet[AuditEntry]) -> QuerySet[AuditEntry]:
        if self.object_type:
            rows = rows.filter(object_type=self.object_type)
        if self.object_id is not None:
            rows = rows.filter(object_id=self.object_id)
        if self.actor == SYSTEM:
            rows = rows.filter(actor__isnull=True)
        elif self.actor:
            rows = rows.filter(actor_id=int(self.actor))
        return rows

    def params(self) -> dict[str, str]:
        """The filters as query parameters (empty ones left out)."""
        out = {"type": self.object_type, "actor": self.actor}
        if self.object_id is not None:
            out["object"] = str(self.object_id)
        return {key: value for key, value in out.items() if value}

    @property
    def active(self) -> bool:
        return bool(self.params())


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    older_than: int | None  # the cursor of the next (older) page, if there is one


def audit_page(*, filters: AuditFilters, before: int | None = None) -> AuditPage:
    """One page of entries, newest first, older than the entry ``before`` (an id).

    Keyset paging on (at, id): each page is an index range scan, as fast at row 100,000
    as at row 1, and an entry written while someone pages back does not shift the pages.
    """
    rows = filters.apply(AuditEntry.objects.all()).defer("before", "after")
    if before is not None:
        cursor = AuditEntry.objects.filter(pk=before).values("at", "id").first()
        if cursor is not None:
            # at <= cursor bounds the index scan; the OR then drops the ties already shown.
            rows = rows.filter(at__lte=cursor["at"]).filter(
                Q(at__lt=cursor["at"]) | Q(id__lt=cursor["id"])
            )
    entries = list(rows.order_by("-at", "-id")[: PAGE_SIZE + 1])
    older_than = entries[PAGE_SIZE - 1].pk if len(entries) > PAGE_SIZE else None
    return AuditPage(entries=entries[:PAGE_SIZE], older_than=older_than)


# --------------------------------------------------------------------------- in words


def field_label(key: str) -> str:
    """ "escalation_policy" -> "escalation policy"; "steps[2].delay_minutes" -> "step 2
    delay minutes"."""
    text = re.sub(r"(\w+?)s?\[(\d+)\]\.?", r"\1 \2 ", key)
    return " ".join(text.replace("_", " ").split())


def describe(value: Any) -> str:
    """A stored value as a person reads it."""
    if value is None:
        return "—"
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if value == "":
        return "(empty)"
    if isinstance(value, dict):
        if set(value) == {"id", "name"}:
            return str(value["name"])
        # Sorted: PostgreSQL's jsonb does not keep the order the keys were written in.
        return "; ".join(f"{field_label(k)}: {describe(v)}" for k, v in sorted(value.items()))
    if isinstance(value, list):
        if not value:
            return "none"
        if all(isinstance(v, dict) and set(v) != {"id", "name"} for v in value):
            return " | ".join(f"{i}. {describe(v)}" for i, v in enumerate(value, 1))
        return ", ".join(describe(v) for v in value)
    return str(value)


@dataclass(frozen=True)
class ChangeLine:
    field: str
    old: str
    new: str
    kind: str  # "changed", "set" (a created object's value), "removed" (a deleted one's)


def _is_blank(value: Any) -> bool:
    return value is None or value == "" or value == []


def change_lines(entry: AuditEntry) -> list[ChangeLine]:
    """Every changed field of ``entry``; for a creation or deletion the fields that had a
    value."""
    lines = []
    # Sorted by field: PostgreSQL's jsonb does not keep the order the keys were written in.
    for key, old, new in sorted(entry.changed_fields, key=lambda change: change[0]):
        if entry.action == CREATED:
            if not _is_blank(new):
                lines.append(ChangeLine(field_label(key), "", describe(new), "set"))
        elif entry.action == DELETED:
            if not _is_blank(old):
                lines.append(ChangeLine(field_label(key), describe(old), "", "removed"))
        else:
            # A list item (a policy step) that appeared or went away.
            item = key.endswith("]")
            old_text = "(none)" if item and old is None else describe(old)
            new_text = "(removed)" if item and new is None else describe(new)
            lines.append(ChangeLine(field_label(key), old_text, new_text, "changed"))
    return lines


@dataclass(frozen=True)
class EntryRow:
    entry: AuditEntry
    lines: list[ChangeLine]
    more: int


def entry_rows(entries: list[AuditEntry], limit: int = COMPACT_LINES) -> list[EntryRow]:
    rows = []
    for entry in entries:
        lines = change_lines(entry)
        rows.append(EntryRow(entry=entry, lines=lines[:limit], more=max(0, len(lines) - limit)))
    return rows


@dataclass(frozen=True)
class FieldRow:
    field: str
    before: str
    after: str
    changed: bool


def snapshot_rows(entry: AuditEntry) -> list[FieldRow]:
    """Every field of the before and after snapshots, side by side."""
    before, after = entry.before or {}, entry.after or {}
    return [
        FieldRow(
            field=field_label(key),
            before=describe(before.get(key)) if entry.before is not None else "",
            after=describe(after.get(key)) if entry.after is not None else "",
            changed=before.get(key) != after.get(key),
        )
        for key in dict.fromkeys([*after, *before])
    ]
