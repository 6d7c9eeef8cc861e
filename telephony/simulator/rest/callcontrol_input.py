"""Reading Call Control request bodies: JSON, ids, devices, targets.

Validation failures become RingCentral errors: 400 `CMN-101` with the
parameter's name for a missing or bad value, 404 `CMN-102` for an id that
names nothing in the account (docs/ringcentral.md 3.1, 7).
"""

from __future__ import annotations

import json
import re
from typing import Any

from telephony.simulator.engine.account import Account, Device
from telephony.simulator.engine.engine import CallEngine
from telephony.simulator.engine.model import Endpoint
from telephony.simulator.engine.transfers import Target
from telephony.simulator.rest.errors import ApiError, api_error
from telephony.simulator.rest.httpserver import Request

TRANSFER_FIELDS = (
    "phoneNumber",
    "voicemail",
    "extensionNumber",
    "parkOrbit",
    "extensionId",
)
FORWARD_FIELDS = ("phoneNumber", "voicemail", "extensionNumber", "extensionId")
_E164 = re.compile(r"^\+?[0-9]{3,15}$")
# How many idle members a transfer to a queue rings at once.
QUEUE_TRANSFER_RING = 2


def json_body(request: Request) -> dict[str, Any]:
    """Optional JSON object body; 415 for other media, 400 if unparsable."""
    if not request.body.strip():
        return {}
    media_type = request.header("content-type").split(";")[0].strip().lower()
    if media_type and media_type != "application/json":
        raise api_error(415, "CMN-415", f"Unsupported Media Type: [{media_type}]")
    try:
        body = json.loads(request.body)
    except ValueError:
        raise api_error(400, "CMN-103", "Request body is not a valid JSON") from None
    if not isinstance(body, dict):
        raise api_error(400, "CMN-101", "Request body is not a JSON object")
    return body


def invalid(name: str) -> ApiError:
    """400 CMN-101 naming the bad parameter."""
    return api_error(
        400, "CMN-101", f"Parameter [{name}] value is invalid", parameterName=name
    )


def not_found(name: str) -> ApiError:
    """404 CMN-102: the id in `name` names nothing."""
    return api_error(
        404,
        "CMN-102",
        f"Resource for parameter [{name}] is not found",
        parameterName=name,
    )


def text(body: dict[str, Any], *names: str, required: bool = True) -> str | None:
    """The first of `names` present as a non-empty string (aliases)."""
    for name in names:
        value = body.get(name)
        if value is not None:
            if not isinstance(value, str | int) or isinstance(value, bool):
                raise invalid(name)
            if str(value):
                return str(value)
    if required:
        raise invalid(names[0])
    return None


def device(account: Account, device_id: str, *, online: bool = False) -> Device:
    """A device of the account (online if asked); else 404 for deviceId."""
    found = account.device(device_id)
    if found is None or (online and found.status != "Online"):
        raise not_found("deviceId")
    return found


def parse_target(
    body: dict[str, Any], account: Account, engine: CallEngine, fields: tuple[str, ...]
) -> Target:
    """Exactly one target field of a transfer or forward, resolved."""
    given = [name for name in fields if body.get(name) not in (None, "")]
    if len(given) != 1:
        raise invalid(fields[0] if not given else given[1])
    name = given[0]
    value = text(body, name) or ""
    if name == "phoneNumber":
        main, star, ext = value.partition("*")
        if star and ext:
            return _extension(account, engine, ext, None, "phoneNumber")
        if not _E164.match(main):
            raise invalid(name)
        return Target("number", Endpoint(value))
    if name == "extensionNumber":
        return _extension(account, engine, value, None, name)
    if name == "extensionId":
        return _extension(account, engine, None, value, name)
    if name == "parkOrbit":
        park = account.park_by_id(value)
        if park is None:
            raise not_found(name)
        to = Endpoint(park.extension_number, park.name, park.extension_id)
        return Target("park", to, park.extension_id)
    target = _extension(account, engine, None, value, name)
    return Target("voicemail", target.endpoint, target.extension_id)


def _extension(
    account: Account,
    engine: CallEngine,
    number: str | None,
    ext_id: str | None,
    name: str,
) -> Target:
    agent = (
        account.agent_by_number(number) if number else account.agent_by_id(ext_id or "")
    )
    if agent is not None:
        to = Endpoint(agent.extension_number, agent.name, agent.extension_id)
        return Target("agent", to, agent.extension_id)
    queue = (
        account.queue_by_number(number) if number else account.queue_by_id(ext_id or "")
    )
    if queue is None:
        raise not_found(name)
    # A queue skips members who do not take queue calls (DND, away).
    idle = [
        a
        for a in queue.members
        if not engine.is_busy(a.extension_id)
        and engine.availability_of(a.extension_id).takes_queue_calls
    ]
    to = Endpoint(account.company_number, queue.name, queue.extension_id)
    return Target(
        "queue", to, queue.extension_id, queue, tuple(idle[:QUEUE_TRANSFER_RING])
    )
