"""OAuth endpoints: token grants, client checks, refresh rotation, revoke."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.support import WAIT
from tests.support.gateway import (
    ACCOUNT_FILTER,
    CLIENT_AUTH,
    JWT_GRANT,
    bearer,
    login,
    next_event,
    open_socket,
    place_call,
    recv,
    subscribe,
    ws_url,
)
from tests.support.openapi import assert_valid, assert_valid_response, required

SESSION_PATH = "/restapi/v1.0/account/~/telephony/sessions/s-unknown"


def assert_oauth_error(
    response: httpx.Response, status: int, error: str, code: str
) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert_valid_response("OauthInvalidRequest", body)
    assert body["error"] == error
    assert body["errors"][0]["errorCode"] == code
    assert body["error_description"] == body["errors"][0]["message"]


async def test_jwt_login_returns_token_info(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/restapi/oauth/token",
        data={"grant_type": JWT_GRANT, "assertion": "switchboard-local-jwt"},
        auth=CLIENT_AUTH,
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-rate-limit-group"] == "Auth"
    body = response.json()
    assert_valid("TokenInfo", body)
    assert set(required("TokenInfo")) <= body.keys()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    assert body["refresh_token_expires_in"] == 604800
    assert body["owner_id"] == "1000000101"
    assert {"refresh_token", "endpoint_id", "session_id"} <= body.keys()


async def test_wrong_client_secret_is_invalid_client(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/restapi/oauth/token",
        data={"grant_type": JWT_GRANT, "assertion": "switchboard-local-jwt"},
        auth=("switchboard-local-client", "wrong"),
    )
    assert_oauth_error(response, 401, "invalid_client", "OAU-146")


async def test_missing_client_authentication_is_invalid_client(
    http: httpx.AsyncClient,
) -> None:
    response = await http.post(
        "/restapi/oauth/token",
        data={"grant_type": JWT_GRANT, "assertion": "switchboard-local-jwt"},
    )
    assert_oauth_error(response, 401, "invalid_client", "OAU-123")


async def test_wrong_jwt_is_invalid_grant(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/restapi/oauth/token",
        data={"grant_type": JWT_GRANT, "assertion": "not-the-jwt"},
        auth=CLIENT_AUTH,
    )
    assert_oauth_error(response, 400, "invalid_grant", "OAU-140")


async def test_json_body_is_unsupported_media_type(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/restapi/oauth/token",
        json={"grant_type": JWT_GRANT, "assertion": "switchboard-local-jwt"},
        auth=CLIENT_AUTH,
    )
    assert response.status_code == 415
    assert_valid("ApiErrorResponseModel", response.json())


async def test_password_grant_is_unsupported(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/restapi/oauth/token",
        data={"grant_type": "password", "username": "101", "password": "x"},
        auth=CLIENT_AUTH,
    )
    assert_oauth_error(response, 400, "unsupported_grant_type", "OAU-250")


async def refresh(http: httpx.AsyncClient, refresh_token: str) -> httpx.Response:
    return await http.post(
        "/restapi/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        auth=CLIENT_AUTH,
    )


async def test_refresh_rotates_and_kills_old_access_token(
    http: httpx.AsyncClient, tokens: dict[str, Any]
) -> None:
    response = await refresh(http, tokens["refresh_token"])
    assert response.status_code == 200
    fresh = response.json()
    assert_valid("TokenInfo", fresh)
    assert fresh["session_id"] == tokens["session_id"]
    assert fresh["access_token"] != tokens["access_token"]
    old = await http.get(SESSION_PATH, headers=bearer(tokens["access_token"]))
    assert old.status_code == 401
    assert old.json()["errorCode"] == "OAU-213"
    new = await http.get(SESSION_PATH, headers=bearer(fresh["access_token"]))
    assert new.status_code == 404


async def test_used_refresh_token_is_rejected(
    http: httpx.AsyncClient, tokens: dict[str, Any]
) -> None:
    assert (await refresh(http, tokens["refresh_token"])).status_code == 200
    assert_oauth_error(
        await refresh(http, tokens["refresh_token"]), 400, "invalid_grant", "OAU-211"
    )


async def test_revoke_ends_the_session(
    http: httpx.AsyncClient, tokens: dict[str, Any]
) -> None:
    response = await http.post(
        "/restapi/oauth/revoke",
        data={"token": tokens["access_token"]},
        auth=CLIENT_AUTH,
    )
    assert response.status_code == 200
    assert response.content == b""
    after = await http.get(SESSION_PATH, headers=bearer(tokens["access_token"]))
    assert after.status_code == 401
    assert_oauth_error(
        await refresh(http, tokens["refresh_token"]), 400, "invalid_grant", "OAU-211"
    )


async def test_sixth_login_revokes_the_oldest_session(http: httpx.AsyncClient) -> None:
    sessions = [await login(http) for _ in range(6)]
    oldest = await http.get(SESSION_PATH, headers=bearer(sessions[0]["access_token"]))
    newest = await http.get(SESSION_PATH, headers=bearer(sessions[-1]["access_token"]))
    assert oldest.status_code == 401
    assert newest.status_code == 404


async def open_subscribed(http: httpx.AsyncClient, access_token: str) -> Any:
    ws = await open_socket(await ws_url(http, access_token))
    await recv(ws)
    await subscribe(ws, ACCOUNT_FILTER)
    return ws


async def test_revoke_closes_the_sessions_websockets(
    http: httpx.AsyncClient, tokens: dict[str, Any]
) -> None:
    ws = await open_subscribed(http, tokens["access_token"])
    await http.post(
        "/restapi/oauth/revoke",
        data={"token": tokens["access_token"]},
        auth=CLIENT_AUTH,
    )
    async with asyncio.timeout(WAIT):
        await ws.wait_closed()
    assert ws.close_code == 1008


async def test_evicted_session_loses_its_websockets_but_others_keep_theirs(
    http: httpx.AsyncClient, tokens: dict[str, Any]
) -> None:
    oldest = await open_subscribed(http, tokens["access_token"])
    newer = await login(http)
    survivor = await open_subscribed(http, newer["access_token"])
    for _ in range(4):
        await login(http)  # the sixth session evicts the first
    async with asyncio.timeout(WAIT):
        await oldest.wait_closed()
    await place_call(http, auto_answer=False)
    assert (await next_event(survivor))["body"]["sequence"] == 2
    await survivor.close()


async def test_expired_access_token_is_oau_128_and_refresh_still_works(
    http: httpx.AsyncClient, tokens: dict[str, Any]
) -> None:
    response = await http.post("/_sim/faults", json={"fault": "expire_tokens"})
    assert response.json()["expired"] == 1
    expired = await http.get(SESSION_PATH, headers=bearer(tokens["access_token"]))
    assert expired.status_code == 401
    assert_valid("ApiErrorResponseModel", expired.json())
    assert expired.json()["errorCode"] == "OAU-128"
    fresh = await refresh(http, tokens["refresh_token"])
    assert fresh.status_code == 200
    again = await http.get(SESSION_PATH, headers=bearer(fresh.json()["access_token"]))
    assert again.status_code == 404


async def test_missing_and_unknown_bearer_get_the_error_body(
    http: httpx.AsyncClient,
) -> None:
    missing = await http.get(SESSION_PATH)
    unknown = await http.get(SESSION_PATH, headers=bearer("nope"))
    for response, code in ((missing, "OAU-123"), (unknown, "OAU-213")):
        assert response.status_code == 401
        assert_valid("ApiErrorResponseModel", response.json())
        assert response.json()["errorCode"] == code
