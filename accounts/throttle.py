"""Sign-in throttling: password guessing on /login/ and token guessing on the API.

Failures are counted in Django's cache per username and per client address, in a
fixed window of SIGNIN_WINDOW_SECONDS from the first failure: at SIGNIN_MAX_FAILURES
the username (or the address) is locked for the rest of the window, even with the
right password. A successful sign-in clears its username's count. API requests with a
token that is not valid count per address (there is no username to count by).

The default cache is per process (locmem): with several gunicorn workers each keeps
its own counts, so the limit is per worker. CACHE_URL=rediscache://... shares them.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

USERNAME = "user"
ADDRESS = "ip"
API_ADDRESS = "api-ip"


@dataclass(frozen=True)
class Lock:
    """Why and for how long sign-ins are refused."""

    by: str  # USERNAME, ADDRESS or API_ADDRESS
    seconds: int

    @property
    def minutes(self) -> int:
        return max(1, math.ceil(self.seconds / 60))

    def message(self) -> str:
        minutes = f"{self.minutes} minute{'s' if self.minutes != 1 else ''}"
        if self.by == USERNAME:
            return f"Too many failed sign-ins for this account; try again in {minutes}."
        return f"Too many failed sign-ins from your address; try again in {minutes}."


def client_address(request: HttpRequest) -> str:
    """The address failures are counted against.

    REMOTE_ADDR, unless CLIENT_IP_HEADER names the header a reverse proxy writes the
    client's address into: then the last address in it, the one the proxy itself added
    (addresses to its left come from the client and can be forged). Behind a proxy
    without that setting every client shares the proxy's address and its limit."""
    header: str = settings.CLIENT_IP_HEADER
    if header:
        meta_name = "HTTP_" + header.upper().replace("-", "_")
        last = str(request.META.get(meta_name, "")).rsplit(",", 1)[-1].strip()
        if last:
            return last[:64]
    return str(request.META.get("REMOTE_ADDR", ""))[:64]


def _key(kind: str, value: str) -> str:
    # Hashed: usernames may hold any character, and cache backends limit key contents.
    digest = hashlib.sha256(value.casefold().encode()).hexdigest()[:32]
    return f"signin-fail:{kind}:{digest}"


def _lock(kind: str, value: str, now: float) -> Lock | None:
    key = _key(kind, value)
    found = cache.get_many([key, key + ":until"])
    count, until = found.get(key, 0), found.get(key + ":until")
    if count < settings.SIGNIN_MAX_FAILURES or until is None or until <= now:
        return None
    return Lock(by=kind, seconds=math.ceil(until - now))


def _count(kind: str, value: str, now: float) -> None:
    key = _key(kind, value)
    window = settings.SIGNIN_WINDOW_SECONDS
    # add() only creates: the first failure opens the window, later ones count in it.
    cache.add(key + ":until", now + window, timeout=window)
    cache.add(key, 0, timeout=window)
    try:
        cache.incr(key)
    except ValueError:  # the window closed between add() and incr()
        cache.add(key, 1, timeout=window)


def signin_lock(*, username: str, address: str) -> Lock | None:
    """The lock in force for this username or address, if any."""
    now = time.time()
    return _lock(USERNAME, username, now) or _lock(ADDRESS, address, now)


def signin_failed(*, username: str, address: str) -> None:
    now = time.time()
    _count(USERNAME, username, now)
    _count(ADDRESS, address, now)


def signin_succeeded(*, username: str) -> None:
    key = _key(USERNAME, username)
    cache.delete_many([key, key + ":until"])


def token_lock(*, address: str) -> Lock | None:
    return _lock(API_ADDRESS, address, time.time())


def token_failed(*, address: str) -> None:
    _count(API_ADDRESS, address, time.time())
