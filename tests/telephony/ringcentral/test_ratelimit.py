"""The client-side rate gate: budget per group, 429 penalties, reserve."""

from __future__ import annotations

import pytest

from telephony.ringcentral import ratelimit
from telephony.ringcentral.exceptions import TelephonyRejected
from telephony.ringcentral.ratelimit import RateGate, group_of


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("method", "path", "group"),
    [
        ("POST", "/restapi/oauth/token", "Auth"),
        ("POST", "/restapi/oauth/wstoken", "Auth"),
        ("GET", "/restapi/v1.0/account/~/telephony/sessions/s-1", "Light"),
        (
            "POST",
            "/restapi/v1.0/account/~/telephony/sessions/s-1/parties/p/hold",
            "Light",
        ),
        ("POST", "/restapi/v1.0/account/~/telephony/call-out", "Heavy"),
        ("GET", "/restapi/v1.0/account/~/active-calls", "Heavy"),
        (
            "GET",
            "/restapi/v1.0/account/~/presence?detailedTelephonyState=true",
            "Heavy",
        ),
        ("GET", "/restapi/v1.0/account/~/extension/~/presence", "Light"),
        ("GET", "/restapi/v1.0/account/~/extension?perPage=100", "Medium"),
        ("GET", "/restapi/v1.0/account/~/extension/101", "Light"),
        ("GET", "/restapi/v1.0/account/~/call-queues?perPage=100&page=1", "Medium"),
        (
            "GET",
            "/restapi/v1.0/account/~/call-queues/1000000201/members?perPage=1000",
            "Light",
        ),
    ],
)
def test_endpoints_map_to_ringcentral_throttling_groups(method, path, group):
    assert group_of(method, path) == group


def test_budget_is_a_sliding_window_and_refusal_says_when_to_retry():
    clock = Clock()
    gate = RateGate({"Light": 2}, window=60, clock=clock)
    gate.take("Light")
    clock.now += 10
    gate.take("Light")
    with pytest.raises(TelephonyRejected) as info:
        gate.take("Light")
    assert info.value.status == 429
    assert info.value.retry_after == 50.0  # the first request leaves the window
    clock.now += 50
    gate.take("Light")


def test_a_429_penalty_blocks_the_group_without_sending():
    clock = Clock()
    gate = RateGate(clock=clock)
    gate.penalize("Light", 30)
    with pytest.raises(TelephonyRejected) as info:
        gate.take("Light")
    assert info.value.retry_after == 30.0
    gate.take("Heavy")  # groups are counted separately
    clock.now += 30
    gate.take("Light")


async def test_background_work_waits_and_leaves_the_command_reserve(monkeypatch):
    clock = Clock()
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:  # time is the one thing mocked
        slept.append(seconds)
        clock.now += seconds

    monkeypatch.setattr(ratelimit.asyncio, "sleep", fake_sleep)
    gate = RateGate({"Light": ratelimit.COMMAND_RESERVE + 2}, window=60, clock=clock)
    await gate.take_background("Light")
    await gate.take_background("Light")
    assert slept == []
    await gate.take_background("Light")  # would eat into the reserve: waits
    assert slept == [60.0]
    for _ in range(ratelimit.COMMAND_RESERVE - 1):
        gate.take("Light")  # commands may still use the reserve
