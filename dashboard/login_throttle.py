"""Login throttling: failed logins are counted per username and per client
address in Django's cache; past a limit, that username (or address) is
locked out for a cool-off, and its login attempts are refused before any
password is hashed (docs/operations.md "Login throttling").

- `LoginThrottleBackend`, first in AUTHENTICATION_BACKENDS, refuses a
  locked-out attempt (PermissionDenied ends Django's `authenticate()`
  before ModelBackend hashes the password). Every login form (the site's
  and the admin's) authenticates through it.
- `user_login_failed` counts a failure for the username and the address;
  the attempt that reaches a limit starts that lockout (and already gets
  the lockout page). Attempts during a lockout are not counted and do not
  extend it.
- `user_logged_in` forgets the username's failures (not the address's: one
  supervisor's good login must not reset the count of guesses from an
  address that many share).
- `LoginThrottleMiddleware` answers a refused attempt with the lockout
  page, HTTP 429 with Retry-After.
- `lockouts_view` (/admin/lockouts/) lists the lockouts and clears them.

The cache is the default one: in-process memory for `manage.py serve`,
Redis (shared by every dashboard process) when REDIS_URL is set. Why not
django-axes: one failure limit for every lockout parameter (a username
and an address shared by a contact centre's NAT want different limits),
and database writes on every login attempt, a flood's included.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.contrib import messages
from django.contrib.admin import site as admin_site
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse

logger = logging.getLogger("dashboard.login_throttle")

PREFIX = "login-throttle"
INDEX_KEY = f"{PREFIX}:index"
# Set on a request whose login was refused: the seconds the lockout has left.
LOCKED_FOR = "switchboard_login_locked_for"
KINDS = ("username", "address")


@dataclass(frozen=True)
class Counted:
    """One thing failures are counted for: a username or an address."""

    kind: str
    value: str

    @property
    def limit(self) -> int:
        if self.kind == "username":
            return int(settings.LOGIN_FAILURES_PER_USERNAME)
        return int(settings.LOGIN_FAILURES_PER_ADDRESS)

    def _key(self, what: str) -> str:
        digest = hashlib.sha256(f"{self.kind}\0{self.value}".encode()).hexdigest()
        return f"{PREFIX}:{what}:{digest[:40]}"

    @property
    def count_key(self) -> str:
        return self._key("failures")

    @property
    def lock_key(self) -> str:
        return self._key("lock")


def cool_off_seconds() -> int:
    return max(1, round(float(settings.LOGIN_LOCKOUT_MINUTES) * 60))


def client_address(request: HttpRequest) -> str:
    """REMOTE_ADDR; behind a proxy, the header LOGIN_CLIENT_ADDRESS_HEADER
    names (never X-Forwarded-For unless configured: a client could send
    it). A list (X-Forwarded-For) gives its last entry, the one the proxy
    in front of Switchboard appended."""
    header = settings.LOGIN_CLIENT_ADDRESS_HEADER
    if header:
        raw = request.META.get("HTTP_" + header.upper().replace("-", "_"), "")
        hops = [hop.strip() for hop in str(raw).split(",") if hop.strip()]
        if hops:
            return hops[-1]
    return str(request.META.get("REMOTE_ADDR") or "unknown")


def normal_username(username: Any) -> str:
    return str(username or "").strip().casefold()


def counted(request: HttpRequest, username: Any) -> list[Counted]:
    found = [Counted("address", client_address(request))]
    name = normal_username(username)
    if name:
        found.insert(0, Counted("username", name))
    return [c for c in found if c.limit > 0]


def locked_for(request: HttpRequest, username: Any) -> float:
    """Seconds left of the longest lockout on this username or address (0:
    none). Cache reads only: a flood of refused attempts stays cheap."""
    keys = [c.lock_key for c in counted(request, username)]
    locks = cache.get_many(keys)
    until = max((lock["until"] for lock in locks.values()), default=0.0)
    return max(0.0, until - time.time())


def record_failure(request: HttpRequest, username: Any) -> int:
    """Count a failed login; the seconds of the lockout it started, or 0."""
    window = cool_off_seconds()
    started = 0
    for item in counted(request, username):
        cache.add(item.count_key, 0, timeout=window)
        try:
            failures = cache.incr(item.count_key)
        except ValueError:  # expired between add and incr
            cache.set(item.count_key, 1, timeout=window)
            failures = 1
        if failures >= item.limit:
            _lock(item, failures, window)
            started = window
    return started


def _lock(item: Counted, failures: int, seconds: int) -> None:
    until = time.time() + seconds
    entry = {"kind": item.kind, "value": item.value, "until": until}
    cache.set(item.lock_key, entry, timeout=seconds)
    cache.delete(item.count_key)
    # The admin's list. A read-modify-write: two lockouts starting in the
    # same instant in two processes can lose one entry here (never the
    # lockout itself, which the admin can still clear by name).
    index = _index()
    index[item.lock_key] = entry
    cache.set(INDEX_KEY, index, timeout=seconds)
    logger.warning(
        "Login locked out: %s %r after %d failed logins, for %d min",
        item.kind,
        item.value,
        failures,
        math.ceil(seconds / 60),
    )


def _index() -> dict[str, dict[str, Any]]:
    now = time.time()
    index = cache.get(INDEX_KEY) or {}
    return {key: entry for key, entry in index.items() if entry["until"] > now}


def lockouts() -> list[dict[str, Any]]:
    """The lockouts in force, longest first, each with `minutes` left."""
    index = _index()
    live = cache.get_many(list(index))
    now = time.time()
    rows = [
        {**entry, "minutes": math.ceil((entry["until"] - now) / 60)}
        for entry in live.values()
        if entry["until"] > now
    ]
    return sorted(rows, key=lambda row: (-row["until"], row["kind"], row["value"]))


def clear(kind: str, value: str) -> bool:
    """End a lockout and forget the failures counted; whether one was on."""
    if kind not in KINDS:
        raise ValueError(f"not a lockout kind: {kind!r}")
    item = Counted(kind, normal_username(value) if kind == "username" else value)
    was_locked = cache.get(item.lock_key) is not None
    cache.delete_many([item.lock_key, item.count_key])
    index = _index()
    if index.pop(item.lock_key, None) is not None:
        cache.set(INDEX_KEY, index, timeout=cool_off_seconds())
    if was_locked:
        logger.warning("Login lockout cleared: %s %r", item.kind, item.value)
    return was_locked


class LoginThrottleBackend:
    """Authenticates nobody: refuses a locked-out attempt before the next
    backend (ModelBackend) hashes its password. Without a request (the
    test client's login(), a shell) nothing is throttled.

    Not a BaseBackend on purpose: with no get_user() it is never a
    session's backend (the test client's force_login() takes the first
    backend that has one), and with no has_perm() it grants nothing."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        if request is None:
            return None
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        seconds = locked_for(request, username)
        if seconds > 0:
            setattr(request, LOCKED_FOR, seconds)
            raise PermissionDenied("too many failed logins")
        return None

    async def aauthenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        return await sync_to_async(self.authenticate)(
            request, username, password, **kwargs
        )


def _login_failed(
    sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any
) -> None:
    if request is None or hasattr(request, LOCKED_FOR):
        return  # no request to count by, or refused without a check
    started = record_failure(request, credentials.get(get_user_model().USERNAME_FIELD))
    if started:  # this failure was the last one allowed: say so at once
        setattr(request, LOCKED_FOR, started)


def _logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if request is None:
        return
    cache.delete(Counted("username", normal_username(user.get_username())).count_key)


def connect_signals() -> None:
    user_login_failed.connect(_login_failed, dispatch_uid="login-throttle-failed")
    user_logged_in.connect(_logged_in, dispatch_uid="login-throttle-logged-in")


def locked_out_response(request: HttpRequest, seconds: float) -> HttpResponse:
    minutes = max(1, math.ceil(seconds / 60))
    response = render(
        request,
        "registration/locked_out.html",
        {"minutes": minutes},
        status=429,
    )
    response["Retry-After"] = str(math.ceil(seconds))
    return response


class LoginThrottleMiddleware:
    """Replaces the response to a refused login with the lockout page."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: Any) -> Any:
        if iscoroutinefunction(self):
            return self._acall(request)
        response = self.get_response(request)
        seconds = getattr(request, LOCKED_FOR, 0)
        return locked_out_response(request, seconds) if seconds else response

    async def _acall(self, request: Any) -> Any:
        response = await self.get_response(request)
        seconds = getattr(request, LOCKED_FOR, 0)
        if not seconds:
            return response
        # The page names the user if logged in: a session read.
        return await sync_to_async(locked_out_response)(request, seconds)


def lockouts_view(request: HttpRequest) -> HttpResponse:
    """/admin/lockouts/ (staff who may change users): the lockouts in
    force, each with a button that clears it, and a form that clears a
    username's or an address's by name."""
    if not request.user.has_perm("auth.change_user"):
        raise PermissionDenied
    if request.method == "POST":
        kind = request.POST.get("kind", "")
        value = request.POST.get("value", "").strip()
        if kind in KINDS and value:
            if clear(kind, value):
                messages.success(request, f"Cleared the lockout of {kind} {value}.")
            else:
                messages.info(
                    request,
                    f"{kind.title()} {value} was not locked out;"
                    " its failed logins are forgotten.",
                )
        return HttpResponseRedirect(reverse("login_lockouts"))
    context = {
        **admin_site.each_context(request),
        "title": "Login lockouts",
        "lockouts": lockouts(),
        "per_username": settings.LOGIN_FAILURES_PER_USERNAME,
        "per_address": settings.LOGIN_FAILURES_PER_ADDRESS,
        "minutes": math.ceil(cool_off_seconds() / 60),
    }
    return render(request, "admin/login_lockouts.html", context)
