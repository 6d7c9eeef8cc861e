"""OAuth sessions, bearer tokens and single-use WebSocket tokens.

Pure bookkeeping with an injected monotonic clock (docs/ringcentral.md 2 and 5.2):
a JWT login opens an OAuth session; refresh rotates both tokens inside the
same session and kills the old access token at once; revoke ends the whole
session. Like the platform, at most five sessions live per user and app, so
a sixth login silently revokes the oldest. Whoever holds resources of a
session (the gateway's sockets) learns of its end through `on_end`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

from telephony.simulator.rest.errors import oauth_error, unauthorized

MAX_SESSIONS = 5
MAX_ACCESS_TTL = 3600
MAX_REFRESH_TTL = 2_592_000


@dataclass
class OAuthSession:
    """One OAuth session and its current token pair."""

    id: str
    owner_id: str
    endpoint_id: str
    access_token: str
    refresh_token: str
    access_ttl: int
    refresh_ttl: int
    access_expires_at: float
    refresh_expires_at: float


@dataclass(frozen=True)
class WsToken:
    """A WebSocket gateway token: single use, bound to one OAuth session."""

    session_id: str
    expires_at: float


def _token() -> str:
    return secrets.token_urlsafe(32)


class TokenStore:
    """All OAuth sessions of the one simulated user."""

    def __init__(
        self,
        *,
        owner_id: str,
        clock: Callable[[], float],
        access_ttl: int,
        refresh_ttl: int,
        ws_ttl: int,
    ) -> None:
        self.owner_id = owner_id
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl
        self.ws_ttl = ws_ttl
        self._clock = clock
        self._sessions: dict[str, OAuthSession] = {}
        self._by_access: dict[str, OAuthSession] = {}
        self._by_refresh: dict[str, OAuthSession] = {}
        self._ws_tokens: dict[str, WsToken] = {}
        self._next_id = 3719385011
        # Called with the id of every session that ends (revoke, eviction).
        self.on_end: Callable[[str], None] = lambda session_id: None

    def login(
        self,
        *,
        endpoint_id: str | None = None,
        access_ttl: int | None = None,
        refresh_ttl: int | None = None,
    ) -> OAuthSession:
        """Open a new OAuth session (JWT grant)."""
        while len(self._sessions) >= MAX_SESSIONS:
            self._drop(next(iter(self._sessions.values())))
        self._next_id += 1
        session = OAuthSession(
            id=str(self._next_id),
            owner_id=self.owner_id,
            endpoint_id=endpoint_id or secrets.token_urlsafe(16),
            access_token="",
            refresh_token="",
            access_ttl=min(access_ttl or self.access_ttl, MAX_ACCESS_TTL),
            refresh_ttl=min(refresh_ttl or self.refresh_ttl, MAX_REFRESH_TTL),
            access_expires_at=0.0,
            refresh_expires_at=0.0,
        )
        self._sessions[session.id] = session
        self._rotate(session)
        return session

    def refresh(self, refresh_token: str) -> OAuthSession:
        """Rotate the token pair of the session owning `refresh_token`."""
        session = self._by_refresh.get(refresh_token)
        if session is None:
            raise oauth_error(400, "invalid_grant", "OAU-211", "Token is revoked")
        if self._clock() >= session.refresh_expires_at:
            self._drop(session)
            raise oauth_error(400, "invalid_grant", "OAU-210", "Token expired")
        self._rotate(session)
        return session

    def revoke(self, token: str) -> None:
        """End the session owning this access or refresh token, if any."""
        session = self._by_access.get(token) or self._by_refresh.get(token)
        if session is not None:
            self._drop(session)

    def authenticate(self, access_token: str) -> OAuthSession:
        """Session for a bearer token, or a 401 ApiError."""
        session = self._by_access.get(access_token)
        if session is None:
            raise unauthorized("OAU-213", "Token not found")
        if self._clock() >= session.access_expires_at:
            raise unauthorized("OAU-128", "Access token expired")
        return session

    def expire_access_tokens(self) -> int:
        """Expire every live access token now (a fault); refresh still works."""
        now = self._clock()
        for session in self._sessions.values():
            session.access_expires_at = min(session.access_expires_at, now)
        return len(self._sessions)

    def get(self, session_id: str) -> OAuthSession | None:
        """The live OAuth session with this id, if any."""
        return self._sessions.get(session_id)

    def is_alive(self, session_id: str) -> bool:
        """True while the OAuth session has not been revoked or replaced."""
        return session_id in self._sessions

    def issue_ws_token(self, session: OAuthSession) -> str:
        """A fresh single-use gateway token for this session."""
        self._purge_ws_tokens()
        token = _token()
        self._ws_tokens[token] = WsToken(session.id, self._clock() + self.ws_ttl)
        return token

    def consume_ws_token(self, token: str) -> str | None:
        """OAuth session id for an unused, unexpired ws token; burns it."""
        entry = self._ws_tokens.pop(token, None)
        if entry is None or self._clock() >= entry.expires_at:
            return None
        return entry.session_id if self.is_alive(entry.session_id) else None

    def _rotate(self, session: OAuthSession) -> None:
        self._by_access.pop(session.access_token, None)
        self._by_refresh.pop(session.refresh_token, None)
        now = self._clock()
        session.access_token = _token()
        session.refresh_token = _token()
        session.access_expires_at = now + session.access_ttl
        session.refresh_expires_at = now + session.refresh_ttl
        self._by_access[session.access_token] = session
        self._by_refresh[session.refresh_token] = session

    def _drop(self, session: OAuthSession) -> None:
        self._sessions.pop(session.id, None)
        self._by_access.pop(session.access_token, None)
        self._by_refresh.pop(session.refresh_token, None)
        self.on_end(session.id)

    def _purge_ws_tokens(self) -> None:
        # Unused tokens would otherwise pile up in a long demo run.
        now = self._clock()
        stale = [t for t, e in self._ws_tokens.items() if now >= e.expires_at]
        for token in stale:
            del self._ws_tokens[token]
