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

from telephony.ringcentral.exceptions import (
    AuthenticationFailed,
    TelephonyRejected,
    TelephonyTimeout,
    TelephonyUnavailable,
)
from telephony.ringcentral.ratelimit import RateGate, group_of

logger = logging.getLogger("telephony.ringcentral.client")

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SESSIONS = "/restapi/v1.0/account/~/telephony/sessions"
# Refresh this long before the access token expires, so no request ever
# races the expiry (RingCentral: refresh proactively, not on 401).
REFRESH_MARGIN = 120.0
# Connect fast, but give Call Control a few seconds: it waits for the PBX.
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)

JsonDict = dict[str, Any]


def session_path(session_id: str, *parts: str) -> str:
    """A Call Control path. Ids are opaque (some are base64-like) and are
    encoded whole, `/` included, so one can never address another."""
    return "/".join([SESSIONS, *(quote(p, safe="") for p in (session_id, *parts))])


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
        rate_gate: RateGate | None = None,
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
        self.rate_gate = rate_gate or RateGate()

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
        self.rate_gate.take("Auth")
        response = await self._send(
            "POST",
            "/restapi/oauth/token",
            content=urlencode(form),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            auth=(self._client_id, self._client_secret),
        )
        if response.status_code == 429:
            self.rate_gate.penalize("Auth", retry_after(response))
        elif response.status_code in (400, 401, 403):
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
        except (httpx.ReadTimeout, httpx.WriteTimeout) as exc:
            raise TelephonyTimeout(f"{method} {path}: no answer ({exc!r})") from exc
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
        self,
        method: str,
        path: str,
        *,
        json: JsonDict | None = None,
        background: bool = False,
    ) -> JsonDict:
        """Authenticated REST call within RingCentral's rate limits.

        `background` requests (resync, ghost checks) wait for budget and
        leave a reserve for supervisors' commands; others fail fast with a
        429 `TelephonyRejected` instead of walking into a penalty. One retry
        after a fresh login on 401.
        """
        group = group_of(method, path)
        await self._take(group, background)
        token = await self._bearer()
        response = await self._send_with(token, method, path, json)
        if response.status_code == 401:
            # Revoked or expired under us (another login, a server restart).
            # Only the first of several failed requests may drop the token:
            # each login is a new OAuth session, and there are few.
            async with self._auth_lock:
                if self._access_token == token:
                    self._access_token = None
            await self._take(group, background)
            response = await self._send_with(await self._bearer(), method, path, json)
        if response.status_code == 429:
            self.rate_gate.penalize(group, retry_after(response))
        return self._check(response)

    async def _take(self, group: str, background: bool) -> None:
        if background:
            await self.rate_gate.take_background(group)
        else:
            self.rate_gate.take(group)

    async def _send_with(
        self, token: str, method: str, path: str, json: JsonDict | None
    ) -> httpx.Response:
        return await self._send(
            method, path, json=json, headers={"Authorization": f"Bearer {token}"}
        )

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
        return await self.request("GET", session_path(session_id))

    async def hold(self, session_id: str, party_id: str) -> JsonDict:
        """Put a party on hold; returns the CallParty."""
        return await self._party_action(session_id, party_id, "hold")

    async def unhold(self, session_id: str, party_id: str) -> JsonDict:
        """Take a party off hold; returns the CallParty."""
        return await self._party_action(session_id, party_id, "unhold")

    async def end_call(self, session_id: str) -> None:
        """Drop the whole call for every party (DELETE session, 204)."""
        await self.request("DELETE", session_path(session_id))

    async def set_muted(self, session_id: str, party_id: str, muted: bool) -> JsonDict:
        """Mute or unmute a party from the API side.

        The body is the flat form RingCentral's docs and its call-control
        SDK send in production; the OpenAPI file wraps it in `party`
        (PROTOCOL.md 9). API mute and phone mute are independent.
        """
        path = session_path(session_id, "parties", party_id)
        return await self.request("PATCH", path, json={"muted": muted})

    async def start_recording(self, session_id: str, party_id: str) -> JsonDict:
        """Start on-demand recording; returns `{id, active}` (201)."""
        return await self._party_action(session_id, party_id, "recordings")

    async def set_recording(
        self, session_id: str, party_id: str, recording_id: str, *, active: bool
    ) -> JsonDict:
        """Pause (`active=False`) or resume a recording."""
        path = session_path(session_id, "parties", party_id, "recordings", recording_id)
        return await self.request("PATCH", path, json={"active": active})

    async def transfer(
        self, session_id: str, party_id: str, target: JsonDict
    ) -> JsonDict:
        """Blind-transfer a party; `target` holds exactly one of
        phoneNumber, extensionNumber, extensionId, voicemail, parkOrbit."""
        return await self._party_action(session_id, party_id, "transfer", target)

    async def supervise(
        self, session_id: str, *, device_id: str, agent_extension_id: str
    ) -> JsonDict:
        """Listen in on a call from a supervisor's SIP device (201)."""
        return await self.request(
            "POST",
            session_path(session_id, "supervise"),
            json={
                "mode": "Listen",
                "supervisorDeviceId": device_id,
                "agentExtensionId": agent_extension_id,
            },
        )

    async def account_presence(
        self, *, page: int = 1, per_page: int = 1000
    ) -> JsonDict:
        """One page of every user's presence with detailed telephony state
        (Heavy group): the live calls of the account, for a resync."""
        return await self.request(
            "GET",
            f"/restapi/v1.0/account/~/presence?detailedTelephonyState=true"
            f"&page={page}&perPage={per_page}",
            background=True,
        )

    async def _party_action(
        self, session_id: str, party_id: str, action: str, json: JsonDict | None = None
    ) -> JsonDict:
        path = session_path(session_id, "parties", party_id, action)
        return await self.request("POST", path, json=json)
