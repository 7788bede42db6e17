"""Acknowledge and resolve links in emails: signed, expiring, single use, no login.

The link carries the notification's id and the action, signed with SECRET_KEY and a
timestamp (django.core.signing). Opening it shows one button; pressing it (a POST) acts
and spends the link: the notification's ``link_used_at`` is set by a conditional
UPDATE, so a second press, or the other action from the same email, does nothing. A
GET never acts, because mail scanners open links before people do."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils import timezone

from notifications.models import Notification

SALT = "klaxon.notifications.email-action"
ACTIONS = ("acknowledge", "resolve")


class LinkError(ValueError):
    """The link cannot be used; the message says why, in words for the person."""


def action_url(notification: Notification, action: str) -> str:
    assert action in ACTIONS
    token = signing.dumps({"n": notification.pk, "a": action}, salt=SALT, compress=True)
    return settings.KLAXON_BASE_URL + reverse("notifications:email-action", args=[token])


@dataclass(frozen=True)
class LinkAction:
    notification: Notification
    action: str


def read(token: str) -> LinkAction:
    """The notification and action a link names, or LinkError (bad, expired, used)."""
    max_age = settings.EMAIL_LINK_MAX_AGE_HOURS * 3600
    try:
        data = signing.loads(token, salt=SALT, max_age=max_age)
    except signing.SignatureExpired:
        raise LinkError("This link has expired. Open the incident in Klaxon instead.") from None
    except signing.BadSignature:
        raise LinkError("This link is not valid.") from None
    notification = (
        Notification.objects.select_related("incident", "user").filter(pk=data.get("n")).first()
    )
    if notification is None or notification.incident is None or data.get("a") not in ACTIONS:
        raise LinkError("This link is not valid.")
    if notification.link_used_at is not None:
        raise LinkError("This link was already used. Open the incident in Klaxon instead.")
    return LinkAction(notification, str(data["a"]))


def spend(notification: Notification) -> bool:
    """Mark the link used; False when another click got there first."""
    return (
        Notification.objects.filter(pk=notification.pk, link_used_at=None).update(
            link_used_at=timezone.now()
        )
        == 1
    )
