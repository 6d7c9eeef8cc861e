"""RingCentral error bodies (docs/ringcentral.md 2.4 and 3.1).

Every refusal the simulator makes goes through `ApiError`, so a client sees
the platform's shape, keyed by `errorCode`, and never a bare 500.
"""

from __future__ import annotations

from typing import Any

JsonDict = dict[str, Any]


class ApiError(Exception):
    """A REST error: HTTP status plus RingCentral's error body."""

    def __init__(self, status: int, body: JsonDict) -> None:
        super().__init__(f"{status} {body.get('errorCode') or body.get('error')}")
        self.status = status
        self.body = body


def error_body(code: str, message: str, **extra: str) -> JsonDict:
    """Standard error body; the first error is repeated at the top level.

    The spec only has `errors[]`; forum captures show the platform also
    copies the first error to the top, and clients read either.
    """
    error: JsonDict = {"errorCode": code, "message": message, **extra}
    return {**error, "errors": [error]}


def oauth_body(error: str, code: str, message: str) -> JsonDict:
    """RFC 6749 error plus RingCentral's `errors[]` (token endpoint)."""
    return {
        "error": error,
        "error_description": message,
        "errors": [{"errorCode": code, "message": message}],
    }


def api_error(status: int, code: str, message: str, **extra: str) -> ApiError:
    """ApiError with the standard body."""
    return ApiError(status, error_body(code, message, **extra))


def oauth_error(status: int, error: str, code: str, message: str) -> ApiError:
    """ApiError with the OAuth body."""
    return ApiError(status, oauth_body(error, code, message))


def not_found_uri() -> ApiError:
    """404 for a path the platform does not serve."""
    return api_error(404, "CMN-120", "Invalid URI")


def unauthorized(code: str, message: str) -> ApiError:
    """401 for a missing, unknown, revoked or expired bearer token."""
    return api_error(401, code, message)
