"""Debian's Chromium through Playwright, logged in to a served Switchboard
(docs/development.md 4: never `playwright install`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from playwright.async_api import expect

from tests.support.served import ServedApp

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 15_000
# Where tests leave screenshots (docs/screenshots/ when refreshing the
# docs: SCREENSHOT_DIR=docs/screenshots make test); none when unset.
SCREENSHOTS = (
    Path(os.environ["SCREENSHOT_DIR"]) if os.environ.get("SCREENSHOT_DIR") else None
)


async def logged_in(
    p: Any,
    served: ServedApp,
    *,
    viewport: dict[str, int] | None = None,
    path: str = "/",
    args: list[str] | None = None,
    init_script: str | None = None,
    username: str = "",
    password: str = "",
) -> tuple[Any, Any]:
    """Chromium, logged in as the demo supervisor, the console live.
    `args` are added to Chromium's; `init_script` runs in every document
    before the page's own scripts (benchmarks instrument the page).
    `username`/`password`: another user than the demo supervisor."""
    browser = await p.chromium.launch(
        executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *(args or [])]
    )
    page = await browser.new_page(viewport=viewport)
    if init_script:
        await page.add_init_script(init_script)
    page.set_default_timeout(TIMEOUT_MS)
    await page.goto(f"{served.url}{path}")
    await page.get_by_label("Username").fill(username or served.username)
    await page.get_by_label("Password").fill(password or served.password)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.locator("#worker-status")).to_have_text("Live")
    return browser, page


async def screenshot(page: Any, name: str) -> None:
    """Save `name`.png under SCREENSHOT_DIR, if set."""
    if SCREENSHOTS is not None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
