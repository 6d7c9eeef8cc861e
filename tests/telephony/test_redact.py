"""Customers' numbers never reach a log whole: `mask_number` at the log
calls that name one, `MaskNumbersFilter` on the handler as a backstop."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator

import pytest
from websockets.asyncio.server import ServerConnection

from telephony import broadcast
from telephony.redact import MaskNumbersFilter, mask_number, mask_numbers
from telephony.worker import TelephonyWorker
from tests.support.worker import receive_until, running
from tests.telephony.ringcentral.test_stream import collect, details, subscription_reply

NUMBER = "+14155550123"


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("+14155550123", "…0123"),
        ("14155550123", "…0123"),
        ("+1 (415) 555-0123", "…0123"),
        (14155550123, "…0123"),
        ("101", "101"),  # an extension number: nothing to hide
        ("1234", "1234"),
        (None, "None"),
        ("", ""),
    ],
)
def test_mask_number_keeps_the_last_four_digits(number: object, masked: str) -> None:
    assert mask_number(number) == masked


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("from +14155550123 to +16505550199", "from …0123 to …0199"),
        ("caller 14155550123.", "caller …0123."),
        ("dial +1 415 555 0123 now", "dial …0123 now"),
        ("dial (415) 555-0123 now", "dial …0123 now"),
        ("dial 415-555-0123 now", "dial …0123 now"),
        ("+44 20 7946 0958", "…0958"),
        ("{'phoneNumber': '+14155550123'}", "{'phoneNumber': '…0123'}"),
        ('{"to": "tel:+14155550123"}', '{"to": "tel:…0123"}'),
        ("0800-12-34567", "…4567"),
        # Long all-digit ids cannot be told from numbers: masked too.
        ("uuid 7390012345678901006", "uuid …1006"),
        ("extension 1000000101", "extension …0101"),
    ],
)
def test_mask_numbers_masks_every_number_in_text(text: str, masked: str) -> None:
    assert mask_numbers(text) == masked
    assert mask_numbers(masked) == masked  # masking twice changes nothing


@pytest.mark.parametrize(
    "text",
    [
        "s-0a1b2c3d4e5f40718293a4b5c6d7e8f9",  # session ids stay readable
        "p-0a1b2c3d4e5f40718293a4b5c6d7e8f9-2",
        "s-1234567890",
        "12345678-1234-5678-9abc-123456789012",
        "2026-01-15T10:05:02.031Z",
        "2026-01-15 10:05:02,140",
        "body.parties.0.from.phoneNumber",
        "127.0.0.1:8000",
        "ext 101, queue 1234, 123456 bytes",
        "1,234,567 events",
        "HTTP 404 CMN-102",
    ],
)
def test_mask_numbers_leaves_ids_dates_and_short_figures_alone(text: str) -> None:
    assert mask_numbers(text) == text


@pytest.fixture
def masked_log() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger whose handler has the filter, as LOGGING's "console" would."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(MaskNumbersFilter())
    logger = logging.getLogger("telephony")
    logger.addHandler(handler)
    try:
        yield logger, stream
    finally:
        logger.removeHandler(handler)


def test_the_filter_masks_the_final_message(masked_log) -> None:
    logger, stream = masked_log
    logger.warning("transfer of %s to %s", "s-0a1b2c3d4e5f", NUMBER)
    written = stream.getvalue()
    assert written == "WARNING telephony: transfer of s-0a1b2c3d4e5f to …0123\n"


def test_the_filter_masks_tracebacks_and_stacks(masked_log) -> None:
    logger, stream = masked_log
    try:
        raise ValueError(f"cannot reach {NUMBER}")
    except ValueError:
        logger.exception("command failed", stack_info=True)
    written = stream.getvalue()
    assert "ValueError: cannot reach …0123" in written
    assert "Stack (most recent call last)" in written
    assert "4155550123" not in written


def test_the_filter_never_raises_on_bad_arguments(masked_log, monkeypatch) -> None:
    logger, stream = masked_log
    errors = io.StringIO()
    monkeypatch.setattr(sys, "stderr", errors)
    logger.warning("%d calls from %s", NUMBER)  # one argument short
    assert "4155550123" not in stream.getvalue() + errors.getvalue()


async def test_a_stream_line_quoting_a_number_is_masked_by_the_filter(
    masked_log,
) -> None:
    """A real log line with a number the code did not mask (the gateway's
    own error message) leaves the handler masked."""
    _, stream = masked_log
    error = [{"type": "Error", "status": 400}, {"errorCode": "WSG-400"}]
    error[1]["message"] = f"Unknown destination {NUMBER}"

    async def handler(ws: ServerConnection, attempt: int) -> None:
        await ws.send(details(("w", 1)))
        await ws.send(subscription_reply(await ws.recv()))
        if attempt == 1:
            await ws.send(json.dumps(error))
            await ws.close()
        await ws.wait_closed()

    await collect(handler, 3)  # connected, lost, connected again
    written = stream.getvalue()
    assert "gateway error WSG-400: Unknown destination …0123" in written
    assert "4155550123" not in written


async def test_a_bad_inbox_message_is_logged_with_its_numbers_masked(
    rc_client, probe, caplog
) -> None:
    """The worker's inbox logs a message it cannot handle: a transfer
    destination in it shows its last four digits only."""
    layer, _ = probe
    worker = TelephonyWorker(client=rc_client, layer=layer)
    bad = {  # no "console": cannot be handled
        "type": "telephony.viewing_reported",
        "user": "alice",
        "session_id": "s-0a1b2c3d4e5f",
        "params": {"phoneNumber": NUMBER},
    }
    async with running(worker):
        await layer.send(broadcast.WORKER_INBOX, bad)
        # The inbox handles its messages in order: once this one is
        # answered, the bad one has been logged.
        reply_to = await layer.new_channel()
        await layer.send(
            broadcast.WORKER_INBOX,
            {"type": "telephony.health_requested", "reply_to": reply_to},
        )
        await receive_until(layer, reply_to, lambda m: True)
    [line] = [r.getMessage() for r in caplog.records if "bad inbox" in r.getMessage()]
    assert "'phoneNumber': '…0123'" in line
    assert "s-0a1b2c3d4e5f" in line
    assert "4155550123" not in "\n".join(r.getMessage() for r in caplog.records)
