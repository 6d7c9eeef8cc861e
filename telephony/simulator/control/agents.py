"""What the control API says and does about agents and the floor itself:
`/_sim/agents` (who is available), `/_sim/agents/{ext}/presence` (step
an agent away or back) and `/_sim/floor` (pause and resume the floor).

`control.py` routes the requests here.
"""

from __future__ import annotations

from typing import Any

from telephony.simulator.defaults import Agent
from telephony.simulator.engine.account import Account
from telephony.simulator.engine.presence import (
    DND_STATUSES,
    USER_STATUSES,
    PresenceBook,
)
from telephony.simulator.floor.floor import Floor
from telephony.simulator.rest.errors import ApiError, api_error

# dndStatus values that only members of a call queue (Department) may set:
# the platform answers 400 for anyone else (spec, PresenceInfoResponse).
DEPARTMENT_ONLY = frozenset({"DoNotAcceptDepartmentCalls", "TakeDepartmentCallsOnly"})


def floor_state(floor: Floor) -> dict[str, Any]:
    """`GET /_sim/floor`: profile, speed, paused, live calls."""
    return {
        "profile": floor.profile.name,
        "speed": floor.speed,
        "paused": floor.paused,
        "liveCalls": len(floor.engine.sessions),
    }


def set_floor(floor: Floor, body: dict[str, Any]) -> dict[str, Any]:
    """`POST /_sim/floor {"paused": bool}`: freeze or resume the floor."""
    paused = body.get("paused")
    if not isinstance(paused, bool):
        raise invalid("paused")
    if paused:
        floor.pause()
    else:
        floor.resume()
    return floor_state(floor)


def agents(account: Account, book: PresenceBook) -> dict[str, Any]:
    """`GET /_sim/agents`: every agent with queues and presence."""
    return {"records": [agent_record(account, book, a) for a in account.agents]}


def agent_record(account: Account, book: PresenceBook, agent: Agent) -> dict[str, Any]:
    """One agent: ids, name, queues, what they set and their phone's state."""
    state = book.current(agent.extension_id)
    return {
        "extensionId": agent.extension_id,
        "extensionNumber": agent.extension_number,
        "name": agent.name,
        "queues": [
            {"extensionNumber": q.extension_number, "name": q.name}
            for q in account.queues_of(agent.extension_id)
        ],
        "userStatus": state.user_status,
        "dndStatus": state.dnd_status,
        "presenceStatus": state.presence_status,
        "telephonyStatus": state.telephony_status,
    }


def set_presence(
    account: Account, book: PresenceBook, number: str, body: dict[str, Any]
) -> dict[str, Any]:
    """`POST /_sim/agents/{extensionNumber}/presence`: what the agent sets
    (`userStatus`, `dndStatus`, either or both); presence reports it."""
    agent = account.agent_by_number(number)
    if agent is None:
        raise api_error(
            404,
            "CMN-102",
            "Resource for parameter [extensionNumber] is not found",
            parameterName="extensionNumber",
        )
    user_status = body.get("userStatus")
    dnd_status = body.get("dndStatus")
    if user_status is None and dnd_status is None:
        raise invalid("userStatus")
    if user_status is not None and user_status not in USER_STATUSES:
        raise invalid("userStatus")
    if dnd_status is not None and dnd_status not in DND_STATUSES:
        raise invalid("dndStatus")
    if dnd_status in DEPARTMENT_ONLY and not account.queues_of(agent.extension_id):
        raise invalid("dndStatus")
    book.set_availability(
        agent.extension_id, user_status=user_status, dnd_status=dnd_status
    )
    return agent_record(account, book, agent)


def invalid(name: str) -> ApiError:
    """400 CMN-101 naming the bad field."""
    return api_error(
        400, "CMN-101", f"Parameter [{name}] value is invalid", parameterName=name
    )
