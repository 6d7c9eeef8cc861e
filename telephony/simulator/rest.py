"""The /restapi router: bearer check, routing, errors, rate-limit headers.

The same router answers plain HTTP and REST-over-WebSocket `ClientRequest`
frames (PROTOCOL.md 5.5); over the socket the caller is already
authenticated by its OAuth session, so no Authorization header is needed.
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from telephony.simulator.auth import OAuthSession, TokenStore
from telephony.simulator.callcontrol import CallControl
from telephony.simulator.engine import EngineError
from telephony.simulator.errors import ApiError, api_error, not_found_uri, unauthorized
from telephony.simulator.httpserver import Request, Response, json_response
from telephony.simulator.oauth import OAuthEndpoints

RouteHandler = Callable[[Request, "re.Match[str]", "OAuthSession | None"], Response]

# PROTOCOL.md 3.2: default per-user limits per group over a 60 s window.
# They are reported, not enforced (enforcement is a later fault knob).
LIMITS = {"Auth": 5, "Light": 50, "Medium": 40, "Heavy": 10}
WINDOW_SECONDS = 60

_SESSION = (
    r"^/restapi/v1\.0/account/(?P<account>[^/]+)/telephony/sessions/(?P<session>[^/]+)"
)
_PARTY = _SESSION + r"/parties/(?P<party>[^/]+)"


@dataclass(frozen=True)
class Route:
    """One endpoint: method, path pattern, handler, throttling group."""

    method: str
    pattern: re.Pattern[str]
    handler: RouteHandler
    group: str
    authenticated: bool = True


def engine_error(exc: EngineError) -> ApiError:
    """Map an engine refusal to the platform's status and body."""
    if exc.kind == "state":
        # No TAS-xxx code is confirmed in public sources (PROTOCOL.md 12);
        # the simulator uses one invented code for every state conflict.
        return api_error(409, "TAS-409", exc.message)
    parameter = "telephonySessionId" if exc.kind == "session" else "partyId"
    return api_error(
        404,
        "CMN-102",
        f"Resource for parameter [{parameter}] is not found",
        parameterName=parameter,
    )


class RestApi:
    """Routes /restapi requests to the OAuth and Call Control handlers."""

    def __init__(
        self,
        *,
        tokens: TokenStore,
        oauth: OAuthEndpoints,
        calls: CallControl,
        account_id: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._tokens = tokens
        self._account_id = account_id
        self._clock = clock
        self._hits: dict[str, deque[float]] = {group: deque() for group in LIMITS}
        self._routes = _routes(oauth, calls)

    def handle(self, request: Request, session: OAuthSession | None = None) -> Response:
        """Answer one request; `session` is set for REST over WebSocket."""
        route: Route | None = None
        try:
            route, match = self._route(request, over_socket=session is not None)
            caller = self._caller(request, session) if route.authenticated else None
            self._check_account(match)
            response = route.handler(request, match, caller)
        except ApiError as exc:
            response = json_response(exc.status, exc.body)
        except EngineError as exc:
            error = engine_error(exc)
            response = json_response(error.status, error.body)
        if route is not None:
            response.headers.update(self._rate_headers(route.group))
        return response

    def _route(
        self, request: Request, *, over_socket: bool
    ) -> tuple[Route, re.Match[str]]:
        path = request.path.rstrip("/") or "/"
        for route in self._routes:
            if route.method != request.method:
                continue
            # The socket is already authenticated; OAuth calls go over HTTP.
            if over_socket and not route.authenticated:
                continue
            match = route.pattern.match(path)
            if match is not None:
                return route, match
        raise not_found_uri()

    def _caller(self, request: Request, session: OAuthSession | None) -> OAuthSession:
        if session is not None:
            if not self._tokens.is_alive(session.id):
                raise unauthorized("OAU-213", "Token not found")
            return session
        scheme, _, token = request.header("authorization").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthorized("OAU-123", "Authorization header is not specified")
        return self._tokens.authenticate(token.strip())

    def _check_account(self, match: re.Match[str]) -> None:
        account = match.groupdict().get("account")
        if account is not None and account not in ("~", self._account_id):
            raise api_error(
                404,
                "CMN-102",
                "Resource for parameter [accountId] is not found",
                parameterName="accountId",
            )

    def _rate_headers(self, group: str) -> dict[str, str]:
        hits = self._hits[group]
        now = self._clock()
        hits.append(now)
        while hits and hits[0] <= now - WINDOW_SECONDS:
            hits.popleft()
        limit = LIMITS[group]
        return {
            "X-Rate-Limit-Group": group,
            "X-Rate-Limit-Limit": str(limit),
            "X-Rate-Limit-Remaining": str(max(0, limit - len(hits))),
            "X-Rate-Limit-Window": str(WINDOW_SECONDS),
        }


def _routes(oauth: OAuthEndpoints, calls: CallControl) -> tuple[Route, ...]:
    def plain(handler: Callable[[Request], Response]) -> RouteHandler:
        return lambda request, match, session: handler(request)

    def matched(handler: Callable[[Request, re.Match[str]], Response]) -> RouteHandler:
        return lambda request, match, session: handler(request, match)

    def wstoken(
        request: Request, match: re.Match[str], session: OAuthSession | None
    ) -> Response:
        assert session is not None
        return oauth.wstoken(request, session)

    def route(
        method: str, pattern: str, handler: RouteHandler, group: str, auth: bool = True
    ) -> Route:
        return Route(method, re.compile(pattern), handler, group, auth)

    return (
        route("POST", r"^/restapi/oauth/token$", plain(oauth.token), "Auth", False),
        route("POST", r"^/restapi/oauth/revoke$", plain(oauth.revoke), "Auth", False),
        route("POST", r"^/restapi/oauth/wstoken$", wstoken, "Auth"),
        route("GET", _SESSION + "$", matched(calls.get_session), "Light"),
        route("DELETE", _SESSION + "$", matched(calls.delete_session), "Light"),
        route("GET", _PARTY + "$", matched(calls.get_party), "Light"),
        route("PATCH", _PARTY + "$", matched(calls.patch_party), "Light"),
        route("POST", _PARTY + "/hold$", matched(calls.hold), "Light"),
        route("POST", _PARTY + "/unhold$", matched(calls.unhold), "Light"),
    )
