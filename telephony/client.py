"""RingCentral REST: OAuth (JWT grant), the WebSocket token, Call Control.

One long-lived `httpx.AsyncClient` per worker; configuration arrives as
arguments (never from Django settings), so the same class talks to
https://platform.ringcentral.com and to the embedded simulator.

Errors: transport failures and 5xx become `TelephonyUnavailable`
(retryable); any other error status becomes `TelephonyRejected` carrying
RingCentral's `errorCode`; a rejected login becomes `AuthenticationFailed`.
References: https://developers.ringcentral.com/api-reference
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from telephony.exceptions import (
    AuthenticationFailed,
    TelephonyRejected,
    TelephonyUnavailable,
)

logger = logging.getLogger("telephony.client")

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SESSIONS = "/restapi/v1.0/account/~/telephony/sessions"
# Refresh this long before the access token expires, so no request ever
# races the expiry (RingCentral: refresh proactively, not on 401).
REFRESH_MARGIN = 120.0
# Connect fast, but give Call Control a few seconds: it waits for the PBX.
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)

JsonDict = dict[str, Any]


def error_details(response: httpx.Response) -> tuple[str | None, str]:
    """Return (errorCode, message) from any RingCentral error body."""
    try:
        body = response.json()
    except ValueError:
        return None, response.text[:200] or response.reason_phrase
    if not isinstance(body, dict):
        return None, str(body)[:200]
    errors = body.get("errors") or [{}]
    first = errors[0] if isinstance(errors[0], dict) else {}
    code = body.get("errorCode") or first.get("errorCode") or body.get("error")
    message = (
        body.get("message")
        or first.get("message")
        or body.get("error_description")
        or response.reason_phrase
    )
    return code, message


def retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("Retry-After")
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        return None


class RingCentralClient:
    """The only holder of the OAuth session; every REST call goes through it."""

    def __init__(
        self,
        *,
        server_url: str,
        client_id: str,
        client_secret: str,
        jwt: str,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.server_url = server_url.rstrip("/")
        self._client_id = client_id
        self._client_secret = client_secret
        self._jwt = jwt
        self._http = httpx.AsyncClient(
            base_url=self.server_url,
            timeout=timeout,
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": "Switchboard/0.1"},
        )
        self._access_token: str | None = None
        self._refresh_token: str | None = None
        self._expires_at = 0.0
        self._auth_lock = asyncio.Lock()

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- OAuth ------------------------------------------------------------

    async def login(self) -> None:
        """Start an OAuth session with the JWT grant.

        Each login is a new OAuth session and RingCentral keeps only a few
        per user and app, so this runs once per worker start, not per call.
        """
        await self._token_request({"grant_type": JWT_GRANT, "assertion": self._jwt})
        logger.info("logged in to %s", self.server_url)

    async def _refresh(self) -> None:
        try:
            await self._token_request(
                {"grant_type": "refresh_token", "refresh_token": self._refresh_token}
            )
        except AuthenticationFailed as exc:
            # The session was revoked (e.g. too many sessions): start anew.
            logger.warning("token refresh rejected (%s); logging in again", exc)
            await self.login()

    async def _token_request(self, form: dict[str, Any]) -> None:
        response = await self._send(
            "POST",
            "/restapi/oauth/token",
            content=urlencode(form),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            auth=(self._client_id, self._client_secret),
        )
        if response.status_code in (400, 401, 403):
            code, message = error_details(response)
            raise AuthenticationFailed(
                status=response.status_code, error_code=code, message=message
            )
        body = self._check(response)
        self._access_token = body["access_token"]
        self._refresh_token = body.get("refresh_token")
        self._expires_at = time.monotonic() + float(body.get("expires_in", 3600))

    async def _bearer(self) -> str:
        async with self._auth_lock:
            if self._access_token is None:
                await self.login()
            elif time.monotonic() > self._expires_at - REFRESH_MARGIN:
                await self._refresh()
            assert self._access_token is not None
            return self._access_token

    # --- transport --------------------------------------------------------

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise TelephonyUnavailable(f"{method} {path}: {exc!r}") from exc

    def _check(self, response: httpx.Response) -> JsonDict:
        if response.status_code >= 500:
            code, message = error_details(response)
            raise TelephonyUnavailable(
                f"{response.status_code} {code or ''} {message}".strip()
            )
        if response.status_code >= 400:
            code, message = error_details(response)
            raise TelephonyRejected(
                status=response.status_code,
                error_code=code,
                message=message,
                retry_after=retry_after(response),
            )
        if not response.content:
            return {}
        body = response.json()
        return body if isinstance(body, dict) else {"records": body}

    async def request(
        self, method: str, path: str, *, json: JsonDict | None = None
    ) -> JsonDict:
        """Authenticated REST call; one retry after a fresh login on 401."""
        token = await self._bearer()
        response = await self._send(
            method, path, json=json, headers={"Authorization": f"Bearer {token}"}
        )
        if response.status_code == 401:
            # Revoked or expired under us (another login, a server restart).
            async with self._auth_lock:
                if self._access_token == token:
                    self._access_token = None
            token = await self._bearer()
            response = await self._send(
                method, path, json=json, headers={"Authorization": f"Bearer {token}"}
            )
        return self._check(response)

    # --- WebSocket --------------------------------------------------------

    async def ws_url(self) -> str:
        """Fetch a fresh single-use WebSocket token; return the URL to open."""
        body = await self.request("POST", "/restapi/oauth/wstoken")
        uri, token = body["uri"], body["ws_access_token"]
        separator = "&" if "?" in uri else "?"
        return f"{uri}{separator}access_token={quote(token, safe='')}"

    # --- Call Control -----------------------------------------------------

    async def get_session(self, session_id: str) -> JsonDict:
        """GET a telephony session with all its parties."""
        return await self.request("GET", f"{SESSIONS}/{quote(session_id)}")

    async def hold(self, session_id: str, party_id: str) -> JsonDict:
        """Put a party on hold; returns the CallParty."""
        return await self._party_action(session_id, party_id, "hold")

    async def unhold(self, session_id: str, party_id: str) -> JsonDict:
        """Take a party off hold; returns the CallParty."""
        return await self._party_action(session_id, party_id, "unhold")

    async def _party_action(
        self, session_id: str, party_id: str, action: str, json: JsonDict | None = None
    ) -> JsonDict:
        path = f"{SESSIONS}/{quote(session_id)}/parties/{quote(party_id)}/{action}"
        return await self.request("POST", path, json=json)
