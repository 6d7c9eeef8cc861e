"""Rate limits per throttling group, the 429 trap, and their headers."""

from __future__ import annotations

import httpx

from telephony.simulator.rest.ratelimit import RateLimits
from tests.support.clock import rig
from tests.support.gateway import (
    ACCOUNT_FILTER,
    bearer,
    login,
    recv,
    request,
    subscription_body,
)
from tests.support.openapi import assert_valid

SESSION = "/restapi/v1.0/account/~/telephony/sessions/s-unknown"
SMALL = RateLimits(light=3, medium=2, heavy=1, auth=50, window=60, penalty=60)


async def get(
    http: httpx.AsyncClient, token: str, path: str = SESSION
) -> httpx.Response:
    return await http.get(path, headers=bearer(token))


def assert_429(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["retry-after"] == "60"
    assert response.headers["x-rate-limit-remaining"] == "0"
    body = response.json()
    assert_valid("ApiErrorResponseModel", body)
    assert body["errorCode"] == "CMN-301"


async def test_every_response_carries_its_groups_headers() -> None:
    async with rig() as r:
        token = r.tokens["access_token"]
        cases = {
            SESSION: ("Light", "50"),
            "/restapi/v1.0/account/~/extension": ("Medium", "40"),
            "/restapi/v1.0/account/~/active-calls": ("Heavy", "10"),
            "/restapi/v1.0/account/~/presence": ("Heavy", "10"),
            "/restapi/v1.0/account/~/extension/~/presence": ("Light", "50"),
        }
        for path, (group, limit) in cases.items():
            response = await get(r.http, token, path)
            assert response.headers["x-rate-limit-group"] == group, path
            assert response.headers["x-rate-limit-limit"] == limit
            assert response.headers["x-rate-limit-window"] == "60"
            assert int(response.headers["x-rate-limit-remaining"]) < int(limit)


async def test_exceeding_a_group_is_429_and_every_retry_restarts_the_penalty() -> None:
    async with rig(rate_limits=SMALL) as r:
        token = r.tokens["access_token"]
        remaining = [
            (await get(r.http, token)).headers["x-rate-limit-remaining"]
            for _ in range(3)
        ]
        assert remaining == ["2", "1", "0"]
        assert_429(await get(r.http, token))
        for _ in range(2):
            # Retrying inside the penalty restarts it: the 429 trap.
            r.clock.advance(59)
            assert_429(await get(r.http, token))
        r.clock.advance(60)
        assert (await get(r.http, token)).status_code == 404


async def test_groups_are_counted_separately() -> None:
    async with rig(rate_limits=SMALL) as r:
        token = r.tokens["access_token"]
        for _ in range(3):
            await get(r.http, token)
        assert_429(await get(r.http, token))
        extensions = await get(r.http, token, "/restapi/v1.0/account/~/extension")
        assert extensions.status_code == 200


async def test_the_window_slides() -> None:
    async with rig(rate_limits=SMALL) as r:
        token = r.tokens["access_token"]
        for _ in range(3):
            await get(r.http, token)
            r.clock.advance(20)
        # The first hit left the 60 s window, so one request is free again.
        assert (await get(r.http, token)).status_code == 404
        assert_429(await get(r.http, token))


async def test_token_endpoint_is_in_the_auth_group() -> None:
    async with rig(rate_limits=RateLimits(auth=2)) as r:
        # The rig's own login was the first Auth request.
        await login(r.http)
        response = await r.http.post("/restapi/oauth/token", data={})
        assert_429(response)
        assert response.headers["x-rate-limit-group"] == "Auth"


async def test_disabled_limits_never_refuse() -> None:
    async with rig(rate_limits=None) as r:
        token = r.tokens["access_token"]
        statuses = {(await get(r.http, token)).status_code for _ in range(60)}
        assert statuses == {404}


async def test_subscriptions_over_the_socket_are_limited_too() -> None:
    async with rig(rate_limits=SMALL) as r:
        ws = await r.socket()
        await recv(ws)
        body = subscription_body(ACCOUNT_FILTER)
        path = "/restapi/v1.0/subscription"
        for _ in range(2):
            header, _ = await request(ws, "POST", path, body)
            assert header["status"] == 200
            assert header["headers"]["X-Rate-Limit-Group"] == "Medium"
        header, error = await request(ws, "POST", path, body)
        await ws.close()
        assert header["status"] == 429
        assert header["headers"]["Retry-After"] == "60"
        assert error["errorCode"] == "CMN-301"
