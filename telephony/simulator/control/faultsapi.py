"""Control API for faults: `POST`, `GET` and `DELETE /_sim/faults`.

`POST {"fault": NAME, ...}` switches one fault on (or, for the one-shot
faults `drop_websockets` and `expire_tokens`, performs it at once) and
answers 200 with the active faults; `DELETE` clears them all. Not part of
RingCentral; errors reuse its body shape like the rest of /_sim/.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from telephony.simulator.faults import Faults, HttpStatusFault, SlowHttpFault
from telephony.simulator.rest.errors import ApiError, api_error, not_found_uri
from telephony.simulator.rest.httpserver import Request, Response, json_response

PATH = "/_sim/faults"
RATIO_FAULTS = {
    "drop_events": "drop_ratio",
    "duplicate_events": "duplicate_ratio",
    "reorder_events": "reorder_ratio",
}


class FaultsApi:
    """Handlers for /_sim/faults."""

    def __init__(
        self,
        faults: Faults,
        *,
        drop_websockets: Callable[[bool], int],
        expire_tokens: Callable[[], int],
    ) -> None:
        self._faults = faults
        self._drop_websockets = drop_websockets
        self._expire_tokens = expire_tokens

    def handle(self, request: Request) -> Response:
        """Route one /_sim/faults request."""
        try:
            if request.method == "DELETE":
                self._faults.clear()
                return self._active()
            if request.method == "GET":
                return self._active()
            if request.method == "POST":
                return self._post(_json_body(request))
            raise not_found_uri()
        except ApiError as exc:
            return json_response(exc.status, exc.body)

    def _active(self, **extra: Any) -> Response:
        return json_response(200, {"faults": self._faults.describe(), **extra})

    def _post(self, body: dict[str, Any]) -> Response:
        name = body.get("fault")
        faults = self._faults
        if name in RATIO_FAULTS:
            setattr(faults, RATIO_FAULTS[name], _number(body, "ratio", 0.0, 1.0))
        elif name == "delay_events":
            faults.delay_ms = _number(body, "ms", 0.0, 600_000.0)
        elif name == "http_status":
            faults.http_status = HttpStatusFault(
                status=int(_number(body, "status", 400, 599, integer=True)),
                count=_count(body),
                path_prefix=_prefix(body),
                retry_after=int(
                    _number(body, "retry_after", 0, 3600, integer=True, default=60)
                ),
            )
        elif name == "slow_http":
            faults.slow_http = SlowHttpFault(
                _number(body, "ms", 0.0, 600_000.0), _count(body), _prefix(body)
            )
        elif name == "drop_websockets":
            recoverable = body.get("recoverable", True)
            if not isinstance(recoverable, bool):
                raise _invalid("recoverable")
            return self._active(dropped=self._drop_websockets(recoverable))
        elif name == "expire_tokens":
            return self._active(expired=self._expire_tokens())
        else:
            raise _invalid("fault")
        return self._active()


def _number(
    body: dict[str, Any],
    name: str,
    low: float,
    high: float,
    *,
    integer: bool = False,
    default: float | None = None,
) -> float:
    value = body.get(name, default)
    valid_type = int if integer else int | float
    if isinstance(value, bool) or not isinstance(value, valid_type):
        raise _invalid(name)
    number = float(value)  # type: ignore[arg-type]  # a number, checked above
    if not low <= number <= high:
        raise _invalid(name)
    return number


def _count(body: dict[str, Any]) -> int:
    return int(_number(body, "count", 1, 1_000_000, integer=True, default=1))


def _prefix(body: dict[str, Any]) -> str:
    prefix = body.get("path_prefix", "/restapi/")
    if not isinstance(prefix, str) or not prefix.startswith("/"):
        raise _invalid("path_prefix")
    if prefix.startswith("/_sim"):
        # The control API must stay usable to clear the fault again.
        raise _invalid("path_prefix")
    return prefix


def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        raise api_error(400, "CMN-103", "Request body is not a valid JSON") from None
    if not isinstance(body, dict):
        raise api_error(400, "CMN-101", "Request body is not a JSON object")
    return body


def _invalid(name: str) -> ApiError:
    return api_error(
        400, "CMN-101", f"Parameter [{name}] value is invalid", parameterName=name
    )
