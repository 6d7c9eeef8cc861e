"""Doors of the application: a console's WebSocket handshake must come
from this site, static paths stay inside the static root, and every page
carries a Content-Security-Policy.

A browser sends `Origin` with every WebSocket handshake, and unlike an HTTP
form post nothing else (no CSRF token) guards it: a page on another origin
could otherwise open the console's socket with the supervisor's cookies.
Channels' AllowedHostsOriginValidator compares host names only, so
`http://localhost:9999` passed for a site on `http://localhost:8000`. Here
the origin must equal the site's own, scheme, host and port, as the
handshake's `Host` header and scheme say (behind a TLS-terminating proxy,
`SECURE_PROXY_SSL_HEADER` says the scheme), or one of
`CSRF_TRUSTED_ORIGINS` exactly; and the host must be in ALLOWED_HOSTS.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.exceptions import SuspiciousOperation
from django.http import HttpResponseNotFound
from django.http.request import split_domain_port, validate_host

DEFAULT_PORTS = {"http": 80, "https": 443}


def _normal(origin: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an origin, default ports made explicit."""
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/"):
        return None
    return scheme, parts.hostname.lower(), port or DEFAULT_PORTS[scheme]


def _headers(scope: dict[str, Any]) -> dict[str, str]:
    return {
        name.decode("latin1").lower(): value.decode("latin1")
        for name, value in scope.get("headers", [])
    }


def _own_scheme(scope: dict[str, Any], headers: dict[str, str]) -> str:
    secure = scope.get("scheme") in ("wss", "https")
    proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy:
        name, value = proxy
        header = name.lower().removeprefix("http_").replace("_", "-")
        secure = secure or headers.get(header, "").split(",")[0].strip() == value
    return "https" if secure else "http"


def origin_allowed(scope: dict[str, Any]) -> bool:
    """Whether a handshake's Origin is this site's own or a trusted one."""
    headers = _headers(scope)
    origin = _normal(headers.get("origin", ""))
    host = headers.get("host", "")
    if origin is None or not host:
        return False
    domain, _ = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return False
    trusted = {_normal(o) for o in getattr(settings, "CSRF_TRUSTED_ORIGINS", [])}
    if origin in trusted:
        return True
    return origin == _normal(f"{_own_scheme(scope, headers)}://{host}")


class SameOriginValidator:
    """ASGI middleware: refuse (403 at the handshake) a WebSocket whose
    Origin is not exactly this site's."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] == "websocket" and not origin_allowed(scope):
            denier = WebsocketDenier()
            return await denier(scope, receive, send)
        return await self.application(scope, receive, send)


class StaticFiles(ASGIStaticFilesHandler):
    """Django's static files handler, answering 404 to a path that leaves
    the static root (`..` encoded as `%2f`, `%2e%2e`): Django raises
    SuspiciousFileOperation there, which reached daphne as a 500."""

    async def get_response_async(self, request: Any) -> Any:
        try:
            return await super().get_response_async(request)
        except SuspiciousOperation:
            return HttpResponseNotFound("Not found\n", content_type="text/plain")


class ContentSecurityPolicyMiddleware:
    """Adds settings.CONTENT_SECURITY_POLICY to every response that has
    none (Django 5.2 has no CSP of its own)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: Any) -> Any:
        if iscoroutinefunction(self):
            return self._acall(request)
        return self._add(self.get_response(request))

    async def _acall(self, request: Any) -> Any:
        return self._add(await self.get_response(request))

    @staticmethod
    def _add(response: Any) -> Any:
        policy = getattr(settings, "CONTENT_SECURITY_POLICY", "")
        if policy and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = policy
        return response
