"""The paging layer as the escalation engine sees it: "tell these people about this
incident, for this reason".

Until notifications (SMS, voice, email) are built, paging only records on the timeline
what it would send, following each user's default rules: an SMS at once, then a voice
call after 5 minutes; an email when the user has no phone number. Those lines stay as
the audit trail once real sending is added behind this function.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from django.utils import timezone

from incidents.models import Incident, IncidentEvent

if TYPE_CHECKING:
    from accounts.models import User

VOICE_CALL_AFTER_MINUTES = 5


def notification_plan(user: User) -> str:
    """The default rules for one user, in words: what would be sent, how and when."""
    name = user.get_username()
    if user.phone:
        return (
            f"Would notify {name} by SMS to {user.phone}, "
            f"then voice call after {VOICE_CALL_AFTER_MINUTES} min"
        )
    if user.email:
        return f"Would notify {name} by email to {user.email} (no phone number)"
    return f"Cannot notify {name}: no phone number or email address"


def notification_events(
    incident: Incident, users: Sequence[User], reason: str, *, now: datetime | None = None
) -> list[IncidentEvent]:
    """The ``notified`` timeline lines for paging ``users``, one per user, unsaved (the
    escalation engine writes many incidents' lines in one INSERT)."""
    at = now or timezone.now()
    return [
        IncidentEvent(
            incident=incident,
            kind=IncidentEvent.Kind.NOTIFIED,
            at=at,
            channel="escalation",
            message=f"{notification_plan(user)}. Reason: {reason}",
            data={
                "user_id": user.pk,
                "phone": user.phone,
                "email": user.email,
                "mode": "record_only",
            },
        )
        for user in users
    ]


def page_users(
    incident: Incident, users: Sequence[User], reason: str, *, now: datetime | None = None
) -> list[IncidentEvent]:
    """Page ``users`` about ``incident``: for now, record one ``notified`` line each."""
    return IncidentEvent.objects.bulk_create(notification_events(incident, users, reason, now=now))
