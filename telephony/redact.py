"""Customers' phone numbers out of the logs: only their last four digits.

`mask_number` is for a value known to be a number (a caller id, a transfer
destination); `mask_numbers` masks every number-looking run in free text
(a repr, an exception's message); `MaskNumbersFilter` applies it to every
record a handler emits, as a backstop for log lines that forgot.

What counts as a number in text: an optional `+`, then 7 or more digits,
possibly split by single spaces, dashes or phone-style parentheses
("+14155550123", "+1 415 555 0123", "(415) 555-0123"). Runs glued to a
letter, digit, `_` or `-` stay as they are, so ids that mix letters and
digits (session ids "s-0a1b2c3d...", party ids, UUIDs) remain readable, and
ISO dates and times ("2026-01-15T10:05:02") are not numbers. Long all-digit
ids (RingCentral's extension ids, notification uuids) are masked too: one
cannot tell them from a number, and masking too much in a log is the safe
mistake.
"""

from __future__ import annotations

import logging
import re

MASK = "\N{HORIZONTAL ELLIPSIS}"  # "…0123"
KEPT_DIGITS = 4
_NUMBER = re.compile(
    # ISO dates and times first: matched, and left alone.
    r"(?P<date>\d{4}-[01]\d-[0-3]\d"
    r"(?:[T ][0-2]\d:[0-5]\d(?::[0-5]\d(?:\.\d+)?)?)?)(?!\d)"
    # 7+ digits, optionally after "+" and split by single separators.
    r"|(?<![\w-])(?P<number>\+?\(?\d(?:(?:\) ?|[ -])?\d){6,})(?![\w-])"
)


def mask_number(number: object) -> str:
    """`+14155550123` -> `…0123`: only the last four digits. A value with
    four digits or fewer (an extension number, None) is shown as it is."""
    text = str(number)
    digits = [c for c in text if "0" <= c <= "9"]
    if len(digits) <= KEPT_DIGITS:
        return text
    return MASK + "".join(digits[-KEPT_DIGITS:])


def mask_numbers(text: str) -> str:
    """`text` with every phone-number-looking run masked by `mask_number`."""
    return _NUMBER.sub(_mask_match, text)


def _mask_match(match: re.Match[str]) -> str:
    number = match.group("number")
    return match.group(0) if number is None else mask_number(number)


class MaskNumbersFilter(logging.Filter):
    """Mask numbers in the final text of every record (message, traceback,
    stack) before a handler formats it. Attach it to a handler (the
    "console" handler in LOGGING); it never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # bad arguments: the handler reports it, masked
            message = f"{record.msg} (unformattable arguments)"
        record.msg, record.args = mask_numbers(message), ()
        if record.exc_info and not record.exc_text:
            # The text a formatter would cache: cache it masked instead.
            record.exc_text = _EXCEPTIONS.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_numbers(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_numbers(record.stack_info)
        return True


_EXCEPTIONS = logging.Formatter()
