from __future__ import annotations

from django.db.models import QuerySet

from incidents.models import Incident

# The largest value a 64-bit id column holds; anything bigger cannot name a row and
# would make the database driver raise (SQLite: OverflowError, PostgreSQL: DataError).
MAX_ID = 2**63 - 1

# What the incident list can show: the three states, plus "open" (not resolved) and "all".
LIST_STATES = ("open", *Incident.State.values, "all")


def parse_id(raw: str | None) -> int | None:
    """An id from a query parameter, or None when it is not one ("abc", "-1", "²", or
    a number no database column can hold). ``str.isdigit`` alone is not enough:
    "²".isdigit() is true but int("²") raises."""
    text = raw or ""
    if not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if value <= MAX_ID else None


def incident_list(*, state: str = "", integration_id: int | None = None) -> QuerySet[Incident]:
    """Incidents newest first; ``state`` is one of LIST_STATES ("" or "all": every one)."""
    incidents = Incident.objects.select_related("integration")
    if state == "open":
        incidents = incidents.exclude(state=Incident.State.RESOLVED)
    elif state in Incident.State.values:
        incidents = incidents.filter(state=state)
    if integration_id is not None:
        incidents = incidents.filter(integration_id=integration_id)
    return incidents.order_by("-id")
