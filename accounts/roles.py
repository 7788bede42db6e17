"""Who may do what. Three roles, from team memberships:

- admin: staff users, and anyone who is an admin of any team. Manages everything:
  integrations, schedules, escalation policies, teams, users.
- responder: a responder of any team, and any active user without a membership (users
  created through the API start like this). Acknowledges, resolves, escalates and notes
  incidents, adds overrides to schedules, and edits their own profile.
- viewer: someone whose every membership is "viewer". Reads everything, changes nothing
  but their own profile.

A person's role is the highest their memberships give; it is looked up once per request
(cached on the user object). Deactivated users have no role: they can do nothing.

Every way of acting on an incident (the web, the API, an SMS reply, a key pressed on a
call, an email link) goes through the incident services, which refuse with
:class:`NotAllowed` anyone who may not respond; each channel turns it into its own
polite answer."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial, wraps
from typing import Any, TypeVar

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from rest_framework import permissions
from rest_framework.request import Request
from rest_framework.views import APIView

ADMIN = "admin"
RESPONDER = "responder"
VIEWER = "viewer"
_RANK = {VIEWER: 0, RESPONDER: 1, ADMIN: 2}
_CACHE_ATTR = "_klaxon_role"


def role_of(user: Any) -> str | None:
    """The user's role, or None when not signed in (or deactivated)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    cached = getattr(user, _CACHE_ATTR, None)
    if cached is not None:
        return str(cached)
    if user.is_staff or user.is_superuser:
        return remember_role(user, [])
    from accounts.models import Membership

    return remember_role(
        user, Membership.objects.filter(user_id=user.pk).values_list("role", flat=True)
    )


def remember_role(user: Any, membership_roles: Iterable[str]) -> str:
    """The role ``membership_roles`` (every membership of ``user``) give, cached on the user
    for the rest of the request: for a page that has loaded the memberships anyway (the
    Teams page), so ``role_of`` need not ask the database again."""
    if user.is_staff or user.is_superuser:
        role = ADMIN
    else:
        roles = set(membership_roles)
        role = max(roles, key=_RANK.__getitem__) if roles else RESPONDER
    setattr(user, _CACHE_ATTR, role)
    return role


def has_role(user: Any, needed: str) -> bool:
    role = role_of(user)
    return role is not None and _RANK[role] >= _RANK[needed]


def can_respond(user: Any) -> bool:
    """Acknowledge, resolve, escalate, note incidents; add schedule overrides."""
    return has_role(user, RESPONDER)


def can_manage(user: Any) -> bool:
    """Create, change and delete integrations, schedules, policies, teams and users."""
    return has_role(user, ADMIN)


class NotAllowed(Exception):
    """``user`` may not ``action`` incidents (a viewer, or a deactivated account).

    ``sentence`` speaks to the person (an SMS reply, the call, the email page);
    ``reason`` names them for the Inbound Log and the timeline."""

    def __init__(self, user: Any, action: str) -> None:
        self.user = user
        self.action = action
        self.deactivated = not getattr(user, "is_active", False)
        super().__init__(self.reason)

    @property
    def sentence(self) -> str:
        if self.deactivated:
            return f"Your Klaxon account is deactivated, so it cannot {self.action} incidents."
        return (
            f"You are a viewer in Klaxon: only responders and admins can {self.action} incidents."
        )

    @property
    def reason(self) -> str:
        who = self.user.get_username() if self.user is not None else "someone"
        if self.deactivated:
            return f"{who} is deactivated and cannot {self.action} incidents"
        return f"{who} is a viewer: only responders and admins can {self.action} incidents"


def respond_refusal(user: Any, action: str) -> NotAllowed | None:
    """Why ``user`` may not ``action`` ("acknowledge", "resolve", ...) incidents, or None
    when they may: the one rule every channel's services apply."""
    return None if can_respond(user) else NotAllowed(user, action)


WHAT_NEEDS = {
    RESPONDER: "a responder or an admin",
    ADMIN: "an admin",
}

View = TypeVar("View", bound=Callable[..., HttpResponse])


def role_required(needed: str) -> Callable[[View], View]:
    """A page view only users with ``needed`` (or higher) may use; others get a 403 page
    that says why, and anonymous users the sign-in page."""

    def decorate(view: View) -> View:
        @login_required
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not has_role(request.user, needed):
                return forbidden(request, needed)
            try:
                return view(request, *args, **kwargs)
            except NotAllowed:
                # The service's own check refused (say the role changed meanwhile).
                return forbidden(request, needed)

        return wrapper  # type: ignore[return-value]

    return decorate


def forbidden(request: HttpRequest, needed: str) -> HttpResponse:
    return render(
        request,
        "403.html",
        {"needed": WHAT_NEEDS[needed], "role": role_of(request.user)},
        status=403,
    )


class RoleOrReadOnly(permissions.BasePermission):
    """API: everyone signed in reads; writing needs ``needed`` (set by subclasses)."""

    needed = ADMIN
    message = "This needs an admin."

    def has_permission(self, request: Request, view: APIView) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if request.method in permissions.SAFE_METHODS:
            return True
        return has_role(request.user, self.needed)


class AdminOrReadOnly(RoleOrReadOnly):
    needed = ADMIN
    message = "Only an admin can change this."


class ResponderOrReadOnly(RoleOrReadOnly):
    needed = RESPONDER
    message = "Only a responder or an admin can do this; viewers read."


def context(request: HttpRequest) -> dict[str, Any]:
    """Template context: ``role``, ``can_respond``, ``can_manage`` for the signed-in user.

    Each is a callable the template calls when it first uses it, so a page that shows
    no role-dependent button costs no membership query (and one that does, one)."""
    user = getattr(request, "user", None)
    return {
        "role": partial(role_of, user),
        "can_respond": partial(can_respond, user),
        "can_manage": partial(can_manage, user),
    }
