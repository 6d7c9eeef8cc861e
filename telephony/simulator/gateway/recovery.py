"""WebSocket session contexts and their recovery with `wsc` (docs/ringcentral.md 5.9).

A session context is what outlives a socket: the `wsc` token and sequence,
the subscription, and the OAuth session it was opened under. When a socket
drops, its context is *detached*: the subscription keeps matching events,
which are buffered (at most `buffer_size`, oldest dropped). Reconnecting
with `&wsc=<token>` within `timeout` seconds under the same OAuth session
re-attaches it ("Successful") and replays the buffer; otherwise the new
socket gets a fresh context ("Failed" + `WSG-1003`/`WSG-1005`). A token
that is not one of ours at all is "malformed" (`WSG-400`, socket closed).

Tokens carry an HMAC tag, so "garbled" and "unknown or expired" differ as
on the platform. Pure bookkeeping with an injected monotonic clock.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from telephony.simulator.gateway.subscriptions import Subscription

JsonDict = dict[str, Any]
RecoveryState = Literal["Successful", "Failed"]

_ID_BYTES = 18
_TAG_BYTES = 6


class MalformedToken(Exception):
    """A `wsc` value the gateway never issued (answered with WSG-400)."""


@dataclass
class SessionContext:
    """The recoverable part of one gateway connection."""

    token: str
    oauth_session_id: str
    missed: deque[JsonDict]
    subscription: Subscription | None = None
    sequence: int = 0
    # The socket currently bound (any object); None while detached.
    owner: object | None = None
    detached_at: float = 0.0

    def next_wsc(self) -> JsonDict:
        """The `wsc` header value of the next server frame."""
        self.sequence += 1
        return {"token": self.token, "sequence": self.sequence}


@dataclass(frozen=True)
class Recovery:
    """Outcome of a connect with `wsc`."""

    context: SessionContext
    state: RecoveryState
    error_code: str | None = None
    replay: tuple[JsonDict, ...] = ()
    # A socket still bound to the context when it was recovered elsewhere.
    displaced: object | None = None


class ContextStore:
    """Every live or recoverable session context of one simulator."""

    def __init__(
        self, *, clock: Callable[[], float], timeout: float, buffer_size: int
    ) -> None:
        self._clock = clock
        self._timeout = timeout
        self._buffer_size = buffer_size
        self._key = secrets.token_bytes(16)
        self._contexts: dict[str, SessionContext] = {}
        self._detached: dict[str, SessionContext] = {}

    def create(self, oauth_session_id: str) -> SessionContext:
        """A fresh context for a new socket (the caller sets `owner`)."""
        context = SessionContext(
            self._new_token(), oauth_session_id, deque(maxlen=self._buffer_size)
        )
        self._contexts[context.token] = context
        return context

    def recover(self, token: str, oauth_session_id: str) -> Recovery:
        """Re-attach the context of `token`, or start a fresh one.

        The caller binds the returned context to its socket (`owner`).

        Raises MalformedToken for a token the store could never have issued.
        """
        self._check_tag(token)
        old = self._contexts.get(token)
        code = self._refusal(old, oauth_session_id)
        if code is not None or old is None:
            return Recovery(self.create(oauth_session_id), "Failed", code)
        replay = tuple(old.missed)
        old.missed.clear()
        displaced, old.owner = old.owner, None
        self._detached.pop(old.token, None)
        return Recovery(old, "Successful", None, replay, displaced)

    def detach(self, context: SessionContext, owner: object) -> None:
        """The socket `owner` is gone; keep the context for recovery."""
        if context.owner is not owner:
            return  # already taken over by a recovering socket
        context.owner = None
        context.detached_at = self._clock()
        self._detached[context.token] = context

    def forget(self, context: SessionContext) -> None:
        """Lose the context for good (recovery will fail)."""
        self._contexts.pop(context.token, None)
        self._detached.pop(context.token, None)

    def forget_session(self, oauth_session_id: str) -> None:
        """Lose every context of an OAuth session that ended."""
        for context in list(self._contexts.values()):
            if context.oauth_session_id == oauth_session_id:
                self.forget(context)

    def detached(self) -> Iterator[SessionContext]:
        """Detached contexts that still buffer events for a subscription."""
        return (c for c in self._detached.values() if c.subscription is not None)

    def purge(self) -> None:
        """Forget detached contexts older than the recovery timeout."""
        horizon = self._clock() - self._timeout
        for context in list(self._detached.values()):
            if context.detached_at <= horizon:
                self.forget(context)

    def _refusal(self, old: SessionContext | None, oauth_session_id: str) -> str | None:
        if old is None or (
            old.owner is None and self._clock() - old.detached_at > self._timeout
        ):
            # Unknown or expired context: like "no subscription" [inferred].
            return "WSG-1005"
        if old.oauth_session_id != oauth_session_id:
            return "WSG-1003"
        if old.subscription is None:
            return "WSG-1005"
        return None

    def _new_token(self) -> str:
        raw = secrets.token_bytes(_ID_BYTES)
        return base64.urlsafe_b64encode(raw + self._tag(raw)).decode()

    def _tag(self, raw: bytes) -> bytes:
        return hmac.new(self._key, raw, hashlib.sha256).digest()[:_TAG_BYTES]

    def _check_tag(self, token: str) -> None:
        try:
            data = base64.urlsafe_b64decode(token.encode())
        except (binascii.Error, ValueError, UnicodeEncodeError):
            raise MalformedToken(token) from None
        raw, tag = data[:_ID_BYTES], data[_ID_BYTES:]
        if len(data) != _ID_BYTES + _TAG_BYTES or not hmac.compare_digest(
            tag, self._tag(raw)
        ):
            raise MalformedToken(token)
