"""The errors the telephony layer raises: the bottom layer, stdlib only.

Callers decide by class: `TelephonyUnavailable` is worth retrying,
`TelephonyRejected` carries RingCentral's verdict (retry only when it is not
`permanent`), `AuthenticationFailed` is a configuration error that should stop
the worker, and `MalformedFrame` marks one bad upstream message to log and skip.
"""

from __future__ import annotations

from functools import partial
from typing import Any


class TelephonyError(Exception):
    """Base class of every telephony error."""


class MalformedFrame(TelephonyError):
    """An upstream frame or payload that cannot be parsed into our types."""


class TelephonyUnavailable(TelephonyError):
    """Retryable: a network error, a 5xx answer or a timeout."""


class TelephonyTimeout(TelephonyUnavailable):
    """The request was sent but no answer came in time: RingCentral may
    have carried it out (do not assume either way)."""


class TelephonyRejected(TelephonyError):
    """RingCentral answered with an error (the standard error body,
    docs/ringcentral.md 3.1).

    `permanent` is true for a 4xx other than 429: repeating the same request
    cannot succeed. 429 and 5xx may succeed later (after `retry_after` seconds
    when RingCentral said so).
    """

    def __init__(
        self,
        *,
        status: int,
        error_code: str | None,
        message: str,
        retry_after: float | None = None,
        parameter: str | None = None,
    ) -> None:
        detail = f"{error_code}: {message}" if error_code else message
        super().__init__(f"HTTP {status} {detail}")
        self.status = status
        self.error_code = error_code
        self.message = message
        self.retry_after = retry_after
        # The request field RingCentral blamed (`errors[].parameterName`),
        # e.g. `extensionNumber` for an unknown transfer target.
        self.parameter = parameter

    @property
    def permanent(self) -> bool:
        """True when retrying the same request is pointless (4xx except 429)."""
        return 400 <= self.status < 500 and self.status != 429

    def __reduce__(self) -> tuple[Any, ...]:
        # The keyword-only constructor defeats Exception's default pickling
        # (which replays positional args); copy and pickle go through here.
        rebuild = partial(
            type(self),
            status=self.status,
            error_code=self.error_code,
            message=self.message,
            retry_after=self.retry_after,
            parameter=self.parameter,
        )
        return (rebuild, ())


class AuthenticationFailed(TelephonyRejected):
    """OAuth rejected our credentials: a fatal configuration error."""


def describe_refusal(exc: TelephonyRejected) -> str:
    """RingCentral's refusal of the worker itself, for supervisors."""
    code = f" {exc.error_code}" if exc.error_code else ""
    what = "the credentials" if isinstance(exc, AuthenticationFailed) else "the worker"
    return f"RingCentral rejected {what} ({exc.status}{code}: {exc.message})"
