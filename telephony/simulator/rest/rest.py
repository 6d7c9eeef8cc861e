"""The /restapi router: bearer check, routing, errors, rate-limit headers.

The same router answers plain HTTP and REST-over-WebSocket `ClientRequest`
frames (docs/ringcentral.md 5.5); over the socket the caller is already
authenticated by its OAuth session, so no Authorization header is needed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from telephony.simulator.engine.engine import EngineError
from telephony.simulator.rest.auth import OAuthSession, TokenStore
from telephony.simulator.rest.callcontrol import CallControl
from telephony.simulator.rest.errors import (
    ApiError,
    api_error,
    not_found_uri,
    unauthorized,
)
from telephony.simulator.rest.httpserver import Request, Response, json_response
from telephony.simulator.rest.oauth import OAuthEndpoints
from telephony.simulator.rest.ratelimit import RateLimiter, Verdict

RouteHandler = Callable[[Request, "re.Match[str]", "OAuthSession | None"], Response]

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
        # No TAS-xxx code is confirmed in public sources (docs/ringcentral.md 12);
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
        limiter: RateLimiter | None = None,
    ) -> None:
        self._tokens = tokens
        self._account_id = account_id
        # docs/ringcentral.md 3.2: limits per group; without a limiter they are
        # counted and reported, never enforced.
        self._limiter = limiter or RateLimiter(None, clock=clock)
        self._routes = _routes(oauth, calls)

    def add_routes(self, routes: Iterable[Route]) -> None:
        """Serve more endpoints (discovery and the like) after these."""
        self._routes = (*self._routes, *routes)

    def handle(self, request: Request, session: OAuthSession | None = None) -> Response:
        """Answer one request; `session` is set for REST over WebSocket."""
        verdict: Verdict | None = None
        try:
            route, match = self._route(request, over_socket=session is not None)
            # One app and one user: every OAuth session shares the budget.
            verdict = self._limiter.hit(self._tokens.owner_id, route.group)
            if verdict.refusal is not None:
                raise verdict.refusal
            caller = self._caller(request, session) if route.authenticated else None
            self._check_account(match)
            response = route.handler(request, match, caller)
        except ApiError as exc:
            response = json_response(exc.status, exc.body)
        except EngineError as exc:
            error = engine_error(exc)
            response = json_response(error.status, error.body)
        if verdict is not None:
            response.headers.update(verdict.headers)
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
        # The other Call Control endpoints (docs/ringcentral.md 7), listed there.
        *(route(m, p, matched(h), g) for m, p, h, g in calls.routes()),
    )
