from __future__ import annotations

from django.db.models import QuerySet

from incidents.models import Incident


def incident_list(*, state: str = "", integration_id: int | None = None) -> QuerySet[Incident]:
    incidents = Incident.objects.select_related("integration")
    if state in Incident.State.values:
        incidents = incidents.filter(state=state)
    if integration_id is not None:
        incidents = incidents.filter(integration_id=integration_id)
    return incidents.order_by("-id")
