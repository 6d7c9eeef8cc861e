"""`ClientRequest` frames: subscriptions and REST over the socket.

Subscription calls are answered here because a WebSocket subscription
belongs to its socket (one per connection; a second create replaces the
first, docs/ringcentral.md 5.6). Every other path goes to the same REST router as
plain HTTP, authenticated by the socket's OAuth session.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from telephony.simulator.gateway import frames
from telephony.simulator.gateway.subscriptions import new_subscription, parse_request
from telephony.simulator.rest.auth import TokenStore
from telephony.simulator.rest.errors import (
    ApiError,
    api_error,
    error_body,
    not_found_uri,
)
from telephony.simulator.rest.httpserver import Request
from telephony.simulator.rest.ratelimit import RateLimiter
from telephony.simulator.rest.rest import RestApi

if TYPE_CHECKING:
    from telephony.simulator.gateway.gateway import WsClient

_SUBSCRIPTION = re.compile(
    r"^/restapi/v1\.0/subscription(?:/(?P<id>[^/]+)(?P<renew>/renew)?)?$"
)
Answer = tuple[int, Any, dict[str, str]]


@dataclass(frozen=True)
class Scope:
    """Who the gateway serves: account, token owner, known extensions."""

    account_id: str
    owner_id: str
    extensions: frozenset[str]
    server_id: str
    base_url: Callable[[], str]


class ClientRequests:
    """Answers `ClientRequest` frames with `ClientRequest` response frames."""

    def __init__(
        self,
        *,
        tokens: TokenStore,
        rest: RestApi,
        scope: Scope,
        now: Callable[[], datetime],
        limiter: RateLimiter,
    ) -> None:
        self._tokens = tokens
        self._rest = rest
        self._scope = scope
        self._now = now
        self._limiter = limiter

    def answer(self, client: WsClient, frame: frames.ClientFrame) -> list[Any]:
        """Response frame for one request frame (same messageId)."""
        method = frame.header.get("method")
        path = frame.header.get("path")
        if (
            frame.message_id is None
            or not isinstance(method, str)
            or not isinstance(path, str)
        ):
            raise frames.FrameError(
                "CMN-104",
                "ClientRequest needs [messageId], [method] and [path]",
                frame.message_id,
            )
        url = urlsplit(path)
        query = parse_qs(url.query)
        extra = frame.header.get("query")
        if isinstance(extra, dict):
            for name, value in extra.items():
                query.setdefault(str(name), []).append(str(value))
        status, body, headers = self._dispatch(
            client, method.upper(), url.path, query, frame.body
        )
        return frames.response(
            frame.message_id, status, body, client.next_wsc(), headers
        )

    def _dispatch(
        self,
        client: WsClient,
        method: str,
        path: str,
        query: dict[str, list[str]],
        body: Any,
    ) -> Answer:
        match = _SUBSCRIPTION.match(path.rstrip("/"))
        if match is not None:
            return self._subscription_call(client, method, match, body)
        session = self._tokens.get(client.oauth_session_id)
        if session is None:
            return 401, error_body("OAU-213", "Token not found"), {}
        raw = b"" if body is None else json.dumps(body).encode()
        request = Request(
            method, path, query, {"content-type": "application/json"}, raw
        )
        response = self._rest.handle(request, session=session)
        answer = json.loads(response.body) if response.body else None
        return response.status, answer, response.headers

    def _subscription_call(
        self, client: WsClient, method: str, match: re.Match[str], body: Any
    ) -> Answer:
        # docs/ringcentral.md 3.2: changes are Medium, reads and renewals Light.
        writes = method in ("POST", "PUT", "DELETE") and not match["renew"]
        verdict = self._limiter.hit(
            self._scope.owner_id, "Medium" if writes else "Light"
        )
        try:
            if verdict.refusal is not None:
                raise verdict.refusal
            status, answer = self._subscription(client, method, match, body)
        except ApiError as exc:
            status, answer = exc.status, exc.body
        return status, answer, verdict.headers

    def _subscription(
        self, client: WsClient, method: str, match: re.Match[str], body: Any
    ) -> tuple[int, Any]:
        if not self._tokens.is_alive(client.oauth_session_id):
            raise api_error(401, "OAU-213", "Token not found")
        base_url = self._scope.base_url()
        if match["id"] is None:
            if method != "POST":
                raise not_found_uri()
            client.subscription = new_subscription(
                self._filters(body), owner_id=self._scope.owner_id, now=self._now()
            )
            return 200, client.subscription.info(base_url)
        current = client.subscription
        if current is None or current.id != match["id"]:
            raise api_error(
                404,
                "CMN-102",
                "Resource for parameter [subscriptionId] is not found",
                parameterName="subscriptionId",
            )
        if method == "GET" or (method == "POST" and match["renew"]):
            return 200, current.info(base_url)
        if method == "PUT" and not match["renew"]:
            current.filters = self._filters(body)
            return 200, current.info(base_url)
        if method == "DELETE" and not match["renew"]:
            client.subscription = None
            return 204, None
        raise not_found_uri()

    def _filters(self, body: Any) -> Any:
        return parse_request(
            body,
            account_id=self._scope.account_id,
            owner_id=self._scope.owner_id,
            extensions=self._scope.extensions,
        )
