"""The doors of issue 10 that need no telephony: the WebSocket's origin
check (dashboard.security), ids that are dot segments, /metrics is in
test_ops.py."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from typing import Any

import httpx
import pytest
from playwright.async_api import async_playwright, expect
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from dashboard.consumers import BadMessage, valid_id
from dashboard.security import origin_allowed
from telephony.ringcentral.client import session_path
from tests.support import WAIT
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.paths import ROOT
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


# The production environment docs/operations.md documents.
PRODUCTION = {
    "DJANGO_SECURE": "true",
    "DJANGO_HSTS_PRELOAD": "true",
    "DJANGO_ALLOWED_HOSTS": "switchboard.example.com",
    "DJANGO_SECRET_KEY": "x" * 20
    + "-production-like-secret-key-with-enough-entropy-9Qz",
}


def test_check_deploy_is_clean_in_the_documented_production_environment() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**env, **PRODUCTION},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


async def test_every_page_carries_the_content_security_policy(
    served: ServedApp,
) -> None:
    async with httpx.AsyncClient(base_url=served.url, timeout=WAIT) as http:
        for path in ("/login/", "/static/dashboard/console.css", "/healthz"):
            response = await http.get(path)
            policy = response.headers.get("Content-Security-Policy", "")
            if path.startswith("/static/"):
                continue  # files, not documents
            assert "script-src 'self'" in policy, path
            assert "frame-ancestors 'none'" in policy, path


@pytest.mark.browser
async def test_the_pages_satisfy_their_policy(served: ServedApp) -> None:
    """The console (its dialogs and views), the login page and the admin
    run without one Content-Security-Policy violation."""
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = await browser.new_page()
        violations: list[str] = []
        page.on(
            "console",
            lambda m: (
                violations.append(m.text)
                if "Content Security Policy" in m.text
                else None
            ),
        )
        await page.add_init_script(
            "window.cspViolations = 0;"
            " addEventListener('securitypolicyviolation', e => {"
            " window.cspViolations += 1;"
            " console.error('Content Security Policy: ' + e.violatedDirective); })"
        )
        await page.goto(f"{served.url}/login/")
        await page.get_by_label("Username").fill(served.username)
        await page.get_by_label("Password").fill(served.password)
        await page.get_by_role("button", name="Log in").click()
        await expect(page.locator("#worker-status")).to_have_text("Live")
        for view in ("queues", "agents"):
            await page.get_by_role("link", name=view.title()).click()
            await expect(page.locator(f"#{view}-view")).to_be_visible()
        await page.keyboard.press("?")
        await expect(
            page.get_by_role("dialog", name="Keyboard shortcuts")
        ).to_be_visible()
        await page.keyboard.press("Escape")
        for path in (
            "/admin/",
            "/admin/telephony/queuesettings/",
            "/admin/telephony/callrecord/",
        ):
            response = await page.goto(f"{served.url}{path}")
            assert response is not None and response.ok, path
        assert violations == []
        # The policy is enforced (and the listener hears it): an inline
        # script is refused.
        await page.evaluate(
            "() => { const s = document.createElement('script');"
            " s.textContent = 'window.ran = 1'; document.body.append(s); }"
        )
        await page.wait_for_function("() => window.cspViolations > 0", timeout=5_000)
        assert await page.evaluate("() => window.ran") is None
        await browser.close()
