"""RingCentral's HTTP answers -> bodies or our exceptions (docs/ringcentral.md
3.1): transport failures and 5xx are `TelephonyUnavailable` (retryable),
other error statuses `TelephonyRejected` with RingCentral's `errorCode`."""

from __future__ import annotations

from typing import Any

import httpx

from telephony.ringcentral.exceptions import TelephonyRejected, TelephonyUnavailable

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


def parameter_name(response: httpx.Response) -> str | None:
    """The request field an error body blames (`errors[0].parameterName`)."""
    try:
        body = response.json()
    except ValueError:
        return None
    errors = body.get("errors") if isinstance(body, dict) else None
    first = errors[0] if isinstance(errors, list) and errors else None
    name = first.get("parameterName") if isinstance(first, dict) else None
    return str(name) if name else None


def retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("Retry-After")
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        return None


def checked_body(response: httpx.Response) -> JsonDict:
    """The JSON body of a success, or the matching exception."""
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
            parameter=parameter_name(response),
        )
    if not response.content:
        return {}
    body = response.json()
    return body if isinstance(body, dict) else {"records": body}
