"""Codes as CSV, for the admin and the staff API: streamed (a batch may hold 100,000 codes), formula-safe."""

import csv

from django.http import StreamingHttpResponse
from django.utils import timezone

from marketing.discounts import selectors
from shop.core.csvsafe import escape as _cell

CSV_COLUMNS = ["code", "promotion", "max_uses", "times_used", "batch", "created"]


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
