"""The one role check in front of every change a person makes to an incident.

The services that acknowledge, resolve, escalate and note call it first, whatever way
the person acted (``IncidentEvent.Via``: the dashboard, the API, an SMS reply, a voice
key, an email link, and any way added later), so a viewer or a deactivated user is
refused the same way everywhere. Each of them turns the
:class:`~accounts.roles.NotAllowed` it raises into its own polite answer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils import timezone

from accounts.roles import respond_refusal
from incidents.models import Incident, IncidentEvent

if TYPE_CHECKING:
    from accounts.models import User

ACKNOWLEDGE = "acknowledge"
RESOLVE = "resolve"
ESCALATE = "escalate"
NOTE = "add notes to"


def incident_check_actor(
    *, incident_id: int, user: User, action: str, via: IncidentEvent.Via
) -> None:
    """Return when ``user`` may ``action`` incidents; otherwise note the refused attempt on
    the incident's timeline (it changes nothing else) and raise NotAllowed (or
    Incident.DoesNotExist when there is no such incident).

    Called before the change's own transaction, so the note stays when the change does
    not happen; inside a caller's transaction (a Twilio webhook) it commits with the
    caller's Inbound Log row."""
    refusal = respond_refusal(user, action)
    if refusal is None:
        return
    # A missing incident is reported as the service would report it (and a note on it
    # would be a dangling foreign key, failing the caller's transaction at commit).
    if not Incident.objects.filter(pk=incident_id).exists():
        raise Incident.DoesNotExist(f"no incident #{incident_id}")
    IncidentEvent.objects.create(
        incident_id=incident_id,
        kind=IncidentEvent.Kind.NOTE,
        at=timezone.now(),
        actor=user,
        via=via,
        message=f"Refused: {refusal.reason}. Nothing changed.",
        data={"refused": action},
    )
    raise refusal
