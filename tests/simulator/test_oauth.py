"""OAuth endpoints: token grants, client checks, refresh rotation, revoke."""

from __future__ import annotations

from typing import Any

import httpx

from tests.simulator.helpers import CLIENT_AUTH, JWT_GRANT, bearer, login
from tests.simulator.openapi import assert_valid, required

SESSION_PATH = "/restapi/v1.0/account/~/telephony/sessions/s-unknown"


def assert_oauth_error(
    response: httpx.Response, status: int, error: str, code: str
) -> None:
    assert response.status_code == status, response.text
    body = response.json()
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
