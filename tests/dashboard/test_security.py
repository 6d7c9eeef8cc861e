"""The doors of issue 10 that need no telephony: the WebSocket's origin
check (dashboard.security), ids that are dot segments, /metrics is in
test_ops.py."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from dashboard.consumers import BadMessage, valid_id
from dashboard.security import origin_allowed
from telephony.ringcentral.client import session_path
from tests.support import WAIT
from tests.support.served import ServedApp, login_cookie, start_served_app


def scope(origin: str | None, host: str = "127.0.0.1:8000", **extra: Any) -> dict:
    headers = [(b"host", host.encode())]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    return {"type": "websocket", "scheme": "ws", "headers": headers, **extra}


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("http://127.0.0.1:8000", True),
        ("HTTP://127.0.0.1:8000/", True),
        ("http://127.0.0.1:9999", False),  # another port: another site
        ("https://127.0.0.1:8000", False),  # another scheme
        ("http://localhost:8000", False),  # another host, though allowed
        ("http://127.0.0.1:8000.evil.example", False),
        ("null", False),
        ("", False),
        (None, False),
    ],
)
def test_the_origin_must_be_the_sites_own_exactly(origin, allowed) -> None:
    assert origin_allowed(scope(origin)) is allowed


def test_default_ports_tls_behind_a_proxy_and_trusted_origins(settings) -> None:
    assert origin_allowed(scope("http://127.0.0.1", host="127.0.0.1:80"))
    assert origin_allowed(scope("https://127.0.0.1", host="127.0.0.1", scheme="wss"))
    assert not origin_allowed(scope("http://127.0.0.1", host="127.0.0.1", scheme="wss"))
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    proxied = scope("https://127.0.0.1", host="127.0.0.1")
    proxied["headers"].append((b"x-forwarded-proto", b"https"))
    assert origin_allowed(proxied)
    settings.CSRF_TRUSTED_ORIGINS = ["https://console.example.com"]
    assert origin_allowed(scope("https://console.example.com", host="127.0.0.1"))
    assert not origin_allowed(scope("https://console.example.com:8443"))
    # A Host outside ALLOWED_HOSTS is refused whatever the origin says.
    assert not origin_allowed(scope("http://evil.example", host="evil.example"))


@pytest.mark.parametrize("bad", [".", "..", "...", "a/b", "", "x" * 129])
def test_ids_that_are_dot_segments_are_refused(bad) -> None:
    with pytest.raises(BadMessage):
        valid_id({"sessionId": bad}, "sessionId")
    if bad in (".", "..", "..."):
        with pytest.raises(ValueError, match="not an id"):
            session_path(bad, "parties", "p-1")


def test_ids_are_percent_encoded_whole() -> None:
    assert session_path("s-1", "parties", "p/../x").endswith("/s-1/parties/p%2F..%2Fx")
    assert valid_id({"sessionId": "s-1.2:3=4_5"}, "sessionId") == "s-1.2:3=4_5"


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Any:
    app = start_served_app(tmp_path_factory.mktemp("served"))
    yield app
    app.stop()


async def test_a_handshake_from_another_origin_is_refused_over_a_real_socket(
    served: ServedApp,
) -> None:
    cookie = await asyncio.to_thread(
        login_cookie, served.url, served.username, served.password
    )
    url = served.url.replace("http://", "ws://") + "/ws/console/"
    port = served.url.rsplit(":", 1)[1]
    for origin in (f"http://127.0.0.1:{int(port) + 1}", "https://" + served.url[7:]):
        with pytest.raises(InvalidStatus) as refused:
            async with asyncio.timeout(WAIT):
                await connect(
                    url, additional_headers={"Cookie": cookie, "Origin": origin}
                )
        assert refused.value.response.status_code == 403
    async with asyncio.timeout(WAIT):
        async with connect(
            url, additional_headers={"Cookie": cookie, "Origin": served.url}
        ) as ws:
            assert '"type":' in str(await ws.recv())


@pytest.mark.parametrize(
    "path",
    [
        "/static/..%2f..%2fmanage.py",
        "/static/%2e%2e/%2e%2e/manage.py",
        "/static/dashboard/..%5c..%5cmanage.py",
        "/static/%00",
    ],
)
async def test_static_paths_outside_the_root_are_not_found(
    served: ServedApp, path: str
) -> None:
    async with httpx.AsyncClient(base_url=served.url, timeout=WAIT) as http:
        response = await http.get(httpx.URL(served.url + path))
    assert response.status_code == 404, response.text[:300]
    assert "Traceback" not in response.text
