"""Each table of the town office console as an Excel file (XlsxWriter), in memory.

A title row, a frozen header row with an autofilter, numbers as numbers and every text cell
written as text (a name starting with `=` stays a name, never a formula), column widths that
fit Chinese text. Tables are bounded by the pages (a day range, a row limit), so the file is
built in memory and answered at once.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import quote

from fastapi.responses import Response

from station.present import display_width

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_WIDTH = 60


def workbook(title: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """One sheet: `title` merged across the top, `header`, then `rows` (str, int, float or
    None cells; anything else is written as its text)."""
    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False,
                                        "strings_to_urls": False,
                                        "strings_to_numbers": False})
    bold = book.add_format({"bold": True, "font_size": 14})
    head = book.add_format({"bold": True, "bottom": 1, "bg_color": "#E8EEF4",
                            "text_wrap": True, "valign": "top"})
    decimal = book.add_format({"num_format": "0.0"})
    sheet = book.add_worksheet("data")
    widths = [display_width(h) for h in header]
    columns = max(len(header), 1)
    if columns > 1:
        sheet.merge_range(0, 0, 0, columns - 1, title, bold)
    else:
        sheet.write_string(0, 0, title, bold)
    for column, label in enumerate(header):
        sheet.write_string(1, column, label, head)
    row_number = 2
    for values in rows:
        for column, value in enumerate(values):
            if value is None or value == "":
                continue
            if isinstance(value, bool):
                value = int(value)
            if isinstance(value, int):
                sheet.write_number(row_number, column, value)
                width = len(str(value))
            elif isinstance(value, float):
                sheet.write_number(row_number, column, value, decimal)
                width = 6
            else:
                text = str(value)
                sheet.write_string(row_number, column, text)
                width = display_width(text)
            if column < len(widths) and width > widths[column]:
                widths[column] = width
        row_number += 1
    sheet.freeze_panes(2, 0)
    sheet.autofilter(1, 0, max(row_number - 1, 1), columns - 1)
    for column, width in enumerate(widths):
        sheet.set_column(column, column, min(MAX_WIDTH, width + 2))
    book.close()
    return buffer.getvalue()


def download(filename: str, title: str, header: Sequence[str],
             rows: Iterable[Sequence[Any]]) -> Response:
    """The table as an attachment named `filename` (UTF-8 safe)."""
    return Response(workbook(title, header, rows), media_type=XLSX, headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}",
        "Cache-Control": "no-store"})
