"""HTML pages. Live data never comes from here: the console page opens a
WebSocket and gets a snapshot plus deltas from the worker."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


@login_required
def console(request: HttpRequest) -> HttpResponse:
    can_control = request.user.has_perm("telephony.control_calls")
    return render(request, "dashboard/console.html", {"can_control": can_control})
