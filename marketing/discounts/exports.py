"""Codes as CSV, for the admin and the staff API: streamed (a batch may hold 100,000 codes), formula-safe."""

import csv

from django.http import StreamingHttpResponse
from django.utils import timezone

from marketing.discounts import selectors

CSV_COLUMNS = ["code", "promotion", "max_uses", "times_used", "batch", "created"]


def _cell(text) -> str:
    """Text a spreadsheet would run as a formula (=, +, -, @ first) is quoted: names and prefixes are typed."""
    text = str(text)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class _Echo:
    def write(self, value):
        return value


def _rows(codes):
    yield CSV_COLUMNS
    for code in selectors.codes_for_export(codes).iterator(chunk_size=2000):
        yield [
            _cell(code.code),
            _cell(code.promotion.name),
            "" if code.max_uses is None else code.max_uses,
            code.times_used,
            code.batch_id or "",
            timezone.localtime(code.created_at).isoformat(timespec="seconds"),
        ]


def codes_csv(codes, filename: str) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())
    lines = (writer.writerow(row) for row in _rows(codes))
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
