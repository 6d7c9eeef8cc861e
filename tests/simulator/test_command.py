"""`manage.py ringcentral_simulator`: options, credentials, clean stop."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

import pytest
from django.core.management import call_command

from telephony.management.commands import ringcentral_simulator as command
from telephony.management.runtime import simulator_credentials
from telephony.simulator import SimulatorConfig
from telephony.simulator.defaults import LOCAL_CLIENT_ID, LOCAL_JWT


def test_options_and_local_default_credentials_reach_the_config(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.RINGCENTRAL_CLIENT_ID = ""
    settings.RINGCENTRAL_CLIENT_SECRET = ""
    settings.RINGCENTRAL_JWT = ""
    seen: dict[str, Any] = {}

    async def fake_serve(config: SimulatorConfig, *, host: str, port: int) -> None:
        seen.update(config=config, host=host, port=port)

    monkeypatch.setattr(command, "serve", fake_serve)
    call_command(
        "ringcentral_simulator",
        "--port",
        "0",
        "--profile",
        "none",
        "--speed",
        "5",
        "--seed",
        "3",
    )
    config = seen["config"]
    assert (seen["host"], seen["port"]) == ("127.0.0.1", 0)
    assert (config.profile, config.speed, config.seed) == ("none", 5.0, 3)
    assert (config.client_id, config.jwt) == (LOCAL_CLIENT_ID, LOCAL_JWT)


def test_configured_credentials_win_and_stay_out_of_logs(settings: Any) -> None:
    settings.RINGCENTRAL_CLIENT_ID = "prod-id"
    settings.RINGCENTRAL_CLIENT_SECRET = "prod-secret"
    settings.RINGCENTRAL_JWT = "prod-jwt"
    config = SimulatorConfig(**simulator_credentials())
    assert (config.client_id, config.client_secret, config.jwt) == (
        "prod-id",
        "prod-secret",
        "prod-jwt",
    )
    described = command.describe_credentials(config)
    assert "prod-id" in described
    assert "prod-secret" not in described and "prod-jwt" not in described


async def test_serve_logs_url_and_stops_cleanly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stop = asyncio.Event()
    stop.set()
    before = asyncio.all_tasks()
    with caplog.at_level(logging.INFO, logger="telephony.simulator"):
        async with asyncio.timeout(5):
            await command.serve(
                SimulatorConfig(profile="none"), host="127.0.0.1", port=0, stop=stop
            )
    assert "RINGCENTRAL_SERVER_URL=http://127.0.0.1:" in caplog.text
    assert "RINGCENTRAL_JWT=switchboard-local-jwt" in caplog.text
    assert asyncio.all_tasks() == before
    # The handlers were removed again: nothing left to remove.
    assert not asyncio.get_running_loop().remove_signal_handler(signal.SIGTERM)


@pytest.mark.parametrize(
    "profile", ["office", "contact-centre", "load-5000", "load-2000"]
)
def test_every_named_profile_is_selectable(
    profile: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}

    async def fake_serve(config: SimulatorConfig, *, host: str, port: int) -> None:
        seen["config"] = config

    monkeypatch.setattr(command, "serve", fake_serve)
    call_command("ringcentral_simulator", "--port", "0", "--profile", profile)
    assert seen["config"].profile == profile
