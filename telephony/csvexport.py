"""CSV downloads that stream: rows are read in chunks and written as they
go, so a long export holds one chunk in memory, not the table.

Under ASGI (daphne, how Switchboard is served) the body must be an async
iterator: Django buffers a sync one whole before sending it. Under WSGI
(and Django's test Client) a sync iterator streams."""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

from django.core.handlers.asgi import ASGIRequest
from django.db.models import QuerySet
from django.http import HttpRequest, StreamingHttpResponse

# Rows fetched per round trip.
CHUNK = 2000
# A spreadsheet runs a cell starting with these as a formula (OWASP "CSV
# Injection"): such a cell gets a leading apostrophe, shown as text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> str:
    """The value as CSV text, defused if a spreadsheet would run it."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


class _Echo:
    """csv.writer's file: hands each written line back instead."""

    def write(self, value: str) -> str:
        return value


def csv_stream_response(
    request: HttpRequest,
    rows: QuerySet[Any],
    *,
    header: Sequence[str],
    cells: Callable[[Any], Sequence[Any]],
    filename: str,
) -> StreamingHttpResponse:
    """A streamed CSV attachment: `header`, then `cells(row)` per row."""
    writer = csv.writer(_Echo())

    def line(values: Sequence[Any]) -> str:
        return str(writer.writerow([csv_cell(v) for v in values]))

    def sync_lines() -> Iterator[str]:
        yield line(header)
        for row in rows.iterator(chunk_size=CHUNK):
            yield line(cells(row))

    async def async_lines() -> AsyncIterator[str]:
        yield line(header)
        async for row in rows.aiterator(chunk_size=CHUNK):
            yield line(cells(row))

    content = async_lines() if isinstance(request, ASGIRequest) else sync_lines()
    response = StreamingHttpResponse(content, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
