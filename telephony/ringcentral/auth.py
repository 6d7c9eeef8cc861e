"""RingCentral's OAuth session (JWT grant) as an `httpx.Auth` flow.

Every request of the client passes through `TokenAuth.async_auth_flow`: it
logs in when there is no token (a JWT login is a new OAuth session, and
RingCentral keeps only a few per user and app: docs/ringcentral.md 2.5),
refreshes the access token `REFRESH_MARGIN` seconds before it expires, and
after a 401 drops the token once (however many requests failed together),
logs in anew and repeats the request. Token requests take the Auth group's
rate budget. Reference:
https://developers.ringcentral.com/guide/authentication/jwt-flow
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import AsyncGenerator, Generator
from typing import Literal
from urllib.parse import urlencode

import httpx

from telephony.ringcentral.exceptions import AuthenticationFailed
from telephony.ringcentral.ratelimit import RateGate, group_of
from telephony.ringcentral.responses import checked_body, error_details, retry_after

logger = logging.getLogger("telephony.ringcentral.auth")

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_PATH = "/restapi/oauth/token"
# Refresh this long before the access token expires, so no request ever
# races the expiry (RingCentral: refresh proactively, not on 401).
REFRESH_MARGIN = 120.0
# Marks a request that waits for rate budget instead of failing fast.
BACKGROUND = "switchboard.background"

Grant = Literal["jwt", "refresh"]


class TokenAuth(httpx.Auth):
    """Bearer tokens of one OAuth session, obtained with the JWT grant."""

    def __init__(
        self, *, client_id: str, client_secret: str, jwt: str, rate_gate: RateGate
    ) -> None:
        pair = f"{client_id}:{client_secret}".encode()
        self._basic = "Basic " + base64.b64encode(pair).decode()
        self._jwt = jwt
        self.rate_gate = rate_gate
        self.access_token: str | None = None
        self._refresh_token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()
        self.logins = 0  # JWT logins so far (each a new OAuth session)

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("the RingCentral client is asynchronous only")
        yield request  # pragma: no cover

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = None
        for attempt in range(2):
            async with self._lock:
                if attempt and self.access_token == token:
                    self.access_token = None  # the first 401 of a batch
                while (grant := self.grant_needed()) is not None:
                    response = yield self.token_request(request.url, grant)
                    await response.aread()
                    self.absorb(grant, response)
                token = self.access_token
            if attempt:
                await self._take_again(request)
            request.headers["Authorization"] = f"Bearer {token}"
            response = yield request
            if response.status_code != 401:
                return

    def grant_needed(self) -> Grant | None:
        """Which token request must come first (None: the token is good)."""
        if self.access_token is None:
            return "jwt"
        if time.monotonic() > self._expires_at - REFRESH_MARGIN:
            return "refresh" if self._refresh_token else "jwt"
        return None

    def token_request(self, url: httpx.URL, grant: Grant) -> httpx.Request:
        """A token request (JWT login or refresh); spends Auth budget."""
        self.rate_gate.take("Auth")
        if grant == "jwt":
            self.logins += 1
            form = {"grant_type": JWT_GRANT, "assertion": self._jwt}
        else:
            form = {
                "grant_type": "refresh_token",
                "refresh_token": str(self._refresh_token),
            }
        return httpx.Request(
            "POST",
            url.join(TOKEN_PATH),
            content=urlencode(form),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
                "Authorization": self._basic,
            },
        )

    def absorb(self, grant: Grant, response: httpx.Response) -> None:
        """Keep the tokens of a token response, or raise what it means."""
        status = response.status_code
        if status == 429:
            self.rate_gate.penalize("Auth", retry_after(response))
        elif status in (400, 401, 403):
            code, message = error_details(response)
            if grant == "refresh":
                # The session was revoked (e.g. too many sessions): start anew.
                logger.warning("token refresh rejected (%s %s); logging in again",
                               code, message)  # fmt: skip
                self.access_token = self._refresh_token = None
                return
            raise AuthenticationFailed(status=status, error_code=code, message=message)
        body = checked_body(response)
        self.access_token = body["access_token"]
        self._refresh_token = body.get("refresh_token")
        self._expires_at = time.monotonic() + float(body.get("expires_in", 3600))
        if grant == "jwt":
            logger.info("logged in to %s", response.request.url.host)

    async def _take_again(self, request: httpx.Request) -> None:
        # The repeated request counts against RingCentral's window too.
        group = group_of(request.method, request.url.path)
        if request.extensions.get(BACKGROUND):
            await self.rate_gate.take_background(group)
        else:
            self.rate_gate.take(group)
