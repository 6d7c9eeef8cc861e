"""HTML pages and the operations endpoints. Live data never comes from
here: the console page opens a WebSocket and gets a snapshot plus deltas
from the worker. /healthz asks the worker over the channel layer; /metrics
serves the Prometheus registry (docs/operations.md)."""

from __future__ import annotations

import asyncio
import hmac
import logging
from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from dashboard.selectors import call_queues_get, extension_directory_get
from telephony import actions, broadcast

logger = logging.getLogger("dashboard.views")

# How long /healthz waits for the worker's answer (seconds); a load
# balancer's probe times out after a few seconds, so answer before it does.
HEALTH_TIMEOUT = 2.0
# The worker's figures /healthz passes on: counts and ages only, never a
# call, a number or a name (the endpoint needs no login); and which worker
# leads (hostname:pid) with its lease generation, for operators.
HEALTH_FIELDS = (
    "leader",
    "generation",
    "subscription_active",
    "seconds_since_last_event",
    "seconds_since_connected",
    "live_calls",
    "reconnects",
    "resyncs",
    "error",
)


def _no_floor(request: HttpRequest) -> HttpResponse:
    return render(request, "dashboard/no_floor.html", status=403)


@login_required
def console(request: HttpRequest) -> HttpResponse:
    """The console page, for users who may watch the floor (else a page
    saying so). Besides the live floor (over its WebSocket), the page gets,
    once, the extension directory with each extension's type (json_script
    "directory"), the call queues with their members ("queues") for the
    queue view and the agent board, and what this user may do ("access":
    the socket says it again when it changes)."""
    user = request.user
    if not user.has_perm(actions.VIEW_FLOOR):
        return _no_floor(request)
    directory = extension_directory_get()
    return render(
        request,
        "dashboard/console.html",
        {
            "directory": directory,
            "queues": call_queues_get(directory),
            "actions": actions.page_registry(),
            "access": {
                "actions": actions.allowed(user.has_perm),
                "acknowledge": user.has_perm(actions.ACKNOWLEDGE_ALERTS),
            },
        },
    )


@login_required
@never_cache
@require_GET
def directory(request: HttpRequest) -> HttpResponse:
    """The extension directory and the call queues with their members, as
    the console page embeds them: the page reads them again now and then
    (the worker refreshes them from RingCentral on its own schedule)."""
    if not request.user.has_perm(actions.VIEW_FLOOR):
        return _no_floor(request)
    entries = extension_directory_get()
    return JsonResponse({"directory": entries, "queues": call_queues_get(entries)})


@never_cache
@require_GET
async def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the worker answers within HEALTH_TIMEOUT and is connected to
    RingCentral, else 503. No login: it reveals only counts and ages."""
    health = await _worker_health()
    if health is None:
        body: dict[str, Any] = dict.fromkeys(HEALTH_FIELDS)
        body.update(
            worker_connected=False,
            worker_answered=False,
            subscription_active=False,
            error=f"the telephony worker did not answer within {HEALTH_TIMEOUT:g} s",
        )
        return JsonResponse(body, status=503)
    body = {"worker_connected": bool(health.get("connected")), "worker_answered": True}
    body.update((key, health.get(key)) for key in HEALTH_FIELDS)
    return JsonResponse(body, status=200 if body["worker_connected"] else 503)


async def _worker_health() -> dict[str, Any] | None:
    layer = get_channel_layer()
    reply_to = await layer.new_channel()
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT):
            await broadcast.request_health(layer, reply_to=reply_to)
            while True:
                message = await layer.receive(reply_to)
                if message.get("type") == "telephony.health_sent":
                    health: dict[str, Any] = message["health"]
                    return health
    except TimeoutError:
        return None
    except Exception:  # layer unreachable or the inbox full: unhealthy
        logger.exception("/healthz could not reach the worker")
        return None


@never_cache
@require_GET
async def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus exposition of this process's registry: for a scraper that
    sends `Authorization: Bearer <METRICS_TOKEN>` (a setting; unset, no
    token works), or for a staff user's session. Never by address: a proxy
    on the same host would make every visitor look local."""
    if not _bearer_ok(request):
        user = await request.auser()
        if not (user.is_active and user.is_staff):
            return HttpResponse("Forbidden\n", status=403, content_type="text/plain")
    return HttpResponse(generate_latest(), content_type=CONTENT_TYPE_LATEST)


def _bearer_ok(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if not token:
        return False
    scheme, _, given = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )
