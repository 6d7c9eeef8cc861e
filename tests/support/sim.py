"""Scripting the embedded RingCentral's floor through its control API
(`/_sim/`), as the tests' stand-in for callers and agents."""

from __future__ import annotations

from typing import Any

import httpx


async def place_call(sim_api: httpx.AsyncClient, **fields: Any) -> str:
    """Create an inbound call through the control API; return its id."""
    response = await sim_api.post("/_sim/calls", json={"scenario": "inbound", **fields})
    assert response.status_code == 201, response.text
    return str(response.json()["telephonySessionId"])


async def phone(sim_api: httpx.AsyncClient, session_id: str, action: str) -> None:
    """Do what an agent does on the desk phone."""
    response = await sim_api.post(
        f"/_sim/calls/{session_id}/phone", json={"action": action}
    )
    assert response.status_code == 200, response.text
