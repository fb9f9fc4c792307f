"""Excel files (XlsxWriter): the daily register (体温登记表), one sheet per day, and the
returning workers' follow-up list.

Well-formed sheets: the enterprise and date in a merged title row, a frozen header row with
an autofilter, real Excel date-times (CST wall time, as recorded), numbers as numbers, text
always written as text (a name starting with `=` stays a name, never a formula), column
widths that fit Chinese text (wide characters count double). `constant_memory` writes each
row to disk as it goes, so a month of registers (90,000 rows) stays small in memory.
"""

from __future__ import annotations

import datetime as dt
import functools
import types
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # xlsxwriter is imported on the first download, not at console start-up
    from xlsxwriter.workbook import Workbook
    from xlsxwriter.worksheet import Worksheet

from station.console import texts  # noqa: F401  (registers the console.* texts)
from station.messages import Locale, reason_message, text, word
from station.present import display_width
from station.reports import DailyReport

MAX_WIDTH = 60


def _t(key: str, locale: Locale, **fields: Any) -> str:
    return text(f"console.{key}", locale, **fields)


@functools.lru_cache(maxsize=4096)
def _width(text: str) -> int:
    """Display width (CJK counts double), cached: names, colours and reasons repeat."""
    return display_width(text)


# Excel's 1900 date system: serial 1 is 1900-01-01 and Excel counts a 29 February 1900 that never
# was (serial 60), so from 1900-03-01 on a date's serial is its days since 1899-12-30.
_DAY_ZERO = dt.date(1899, 12, 30).toordinal()
_AFTER_PHANTOM_LEAP_DAY = dt.date(1900, 3, 1).toordinal()


def excel_serial(moment: dt.datetime | dt.date) -> float | None:
    """Excel's serial number of a date or of a date-time's wall clock (any tzinfo is ignored:
    the register shows the time as recorded, in CST): whole days since 1899-12-30 plus the
    fraction of the day, the same float XlsxWriter's `write_datetime` stores, for a fraction of
    its cost. None before 1900-03-01 (Excel's phantom 29 February 1900): callers leave those
    few to `write_datetime`."""
    ordinal = moment.toordinal()
    if ordinal < _AFTER_PHANTOM_LEAP_DAY:
        return None
    if not isinstance(moment, dt.datetime):
        return float(ordinal - _DAY_ZERO)
    # the same operations in the same order as XlsxWriter: days since 1899-12-31, plus the
    # day's fraction, plus the leap-day correction: bit for bit the same number
    return (ordinal - _DAY_ZERO - 1) + (moment.hour * 3600 + moment.minute * 60 + moment.second
                                        + moment.microsecond / 1e6) / 86400 + 1


def _local_time(value: str) -> dt.datetime:
    """The ledger's CST ISO time as a naive wall-clock datetime (Excel has no time zones)."""
    return dt.datetime.fromisoformat(value).replace(tzinfo=None)


def _undecorated(method: Any, sheet: Worksheet) -> Any:
    """`sheet`'s `method` without XlsxWriter's `convert_cell_args` wrapper, which only turns
    "A1" notation into (row, column) and costs about a tenth of a cell's write on top of it
    (we always pass numbers). `functools.wraps` keeps the plain method as `__wrapped__`; an
    XlsxWriter without that wrapper gets its method as it is."""
    return types.MethodType(getattr(method, "__wrapped__", method), sheet)


class Sheet:
    """One table: title row, frozen header with autofilter, rows, fitted column widths.
    `write_string(row, column, text[, format])` and `write_number(row, column, number
    [, format])` are the worksheet's own, bound without the A1-notation wrapper."""

    def __init__(self, book: Workbook, formats: dict[str, Any], name: str, title: str,
                 header: Sequence[str]) -> None:
        from xlsxwriter.worksheet import Worksheet

        self.sheet: Worksheet = book.add_worksheet(name)
        self.write_string = _undecorated(Worksheet.write_string, self.sheet)
        self.write_number = _undecorated(Worksheet.write_number, self.sheet)
        self.formats = formats
        self.widths = [display_width(h) for h in header]
        self.columns = len(header)
        self.sheet.merge_range(0, 0, 0, self.columns - 1, title, formats["title"])
        self.sheet.set_row(0, 24)
        for column, label in enumerate(header):
            self.sheet.write_string(1, column, label, formats["header"])
        self.sheet.freeze_panes(2, 0)
        self.row = 2

    def add(self, values: Sequence[Any]) -> None:
        """One row. Types decide the cell: datetime, date, float (°C, one decimal), int,
        text; None and "" leave the cell empty (nothing written: XlsxWriter's cost is per
        cell, and a month is 90,000 rows)."""
        sheet, formats, widths, row = self.sheet, self.formats, self.widths, self.row
        write_string, write_number = self.write_string, self.write_number
        for column, value in enumerate(values):
            if value is None or value == "":
                continue
            kind = type(value)
            if kind is str:
                write_string(row, column, value)
                width = _width(value)
            elif kind is float:
                write_number(row, column, value, formats["temperature"])
                width = 5
            elif kind is int:
                write_number(row, column, value)
                width = len(str(value))
            elif kind is dt.datetime or kind is dt.date:
                style = "datetime" if kind is dt.datetime else "date"
                serial = excel_serial(value)
                if serial is None:
                    sheet.write_datetime(row, column, value, formats[style])
                else:
                    write_number(row, column, serial, formats[style])
                width = 19 if kind is dt.datetime else 10
            else:
                write_string(row, column, str(value))
                width = _width(str(value))
            if width > widths[column]:
                widths[column] = width
        self.row = row + 1

    def finish(self, footer: Iterable[str] = ()) -> None:
        last = max(self.row - 1, 1)
        self.sheet.autofilter(1, 0, last, self.columns - 1)
        for column, width in enumerate(self.widths):
            self.sheet.set_column(column, column, min(MAX_WIDTH, width + 2))
        row = self.row + 1
        for line in footer:
            self.sheet.write_string(row, 0, line, self.formats["plain"])
            row += 1
        self.sheet.set_paper(9)  # A4
        self.sheet.set_landscape()
        self.sheet.fit_to_pages(1, 0)
        self.sheet.repeat_rows(1)


def _close(book: Workbook) -> None:
    """Write the file out. XlsxWriter only creates the file here, and wraps the OSError in
    its FileCreateError; callers catch OSError (one line naming the file), so give them that."""
    from xlsxwriter.exceptions import FileCreateError

    try:
        book.close()
    except FileCreateError as error:
        cause = error.args[0] if error.args and isinstance(error.args[0], OSError) \
            else OSError(str(error))
        raise cause from None


@functools.cache
def _fast_deflate() -> None:
    """Have XlsxWriter deflate its parts at zlib's fastest level (1) instead of the default 6.
    XlsxWriter has no option for it and makes its archive through the name
    `xlsxwriter.workbook.ZipFile`: that name is pointed, once, at a ZipFile whose default level
    is 1. A month's register is 35 MB of XML: about 0.3 s less CPU, the file a quarter larger
    (3.8 → 4.8 MB). An XlsxWriter that stops using that name just compresses at its default."""
    import zipfile

    import xlsxwriter.workbook

    class FastZipFile(zipfile.ZipFile):
        def __init__(self, *args: Any, **options: Any) -> None:
            options.setdefault("compresslevel", 1)
            super().__init__(*args, **options)

    if getattr(xlsxwriter.workbook, "ZipFile", None) is zipfile.ZipFile:
        xlsxwriter.workbook.ZipFile = FastZipFile


def _workbook(path: Path) -> tuple[Workbook, dict[str, Any]]:
    import xlsxwriter

    _fast_deflate()
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True,
                                           "strings_to_formulas": False,
                                           "strings_to_urls": False})
    formats = {
        "title": book.add_format({"bold": True, "font_size": 14, "align": "left",
                                  "valign": "vcenter"}),
        "header": book.add_format({"bold": True, "bottom": 1, "bg_color": "#E8EEF4",
                                   "text_wrap": True, "valign": "top"}),
        "text": book.add_format({}),
        "plain": book.add_format({}),
        "datetime": book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
        "date": book.add_format({"num_format": "yyyy-mm-dd"}),
        "temperature": book.add_format({"num_format": "0.0"}),
        "integer": book.add_format({"num_format": "0"}),
    }
    return book, formats


def register_header(locale: Locale) -> list[str]:
    return [_t(f"register.col.{c}", locale) for c in
            ("no", "subject", "name", "org", "first", "temperature", "color", "decision",
             "reasons", "entries")]


def register_values(number: int, person: Any, locale: Locale) -> list[Any]:
    """One register row as the page and the XLSX show it."""
    return [number, person.subject or "", person.name or "", person.org or "",
            _local_time(person.first_time), person.temperature_c,
            word(person.color, locale) if person.color else "",
            word(person.decision, locale) if person.decision else "",
            "；".join(reason_message(r, locale) for r in person.reasons), person.entries]


def _add_register_rows(sheet: Sheet, people: Sequence[Any], locale: Locale) -> None:
    """A day's register rows: the very cells `Sheet.add(register_values(...))` writes, but with
    each column's type known (no per-value dispatch, no row lists), the words looked up once a
    day and each distinct text measured once: a month is 90,000 rows and 800,000 cells.
    A `first_time` that is not ISO 8601 raises ValueError, as `register_values` does."""
    book = sheet.sheet
    write_string, write_number = sheet.write_string, sheet.write_number
    when_format, temperature_format = sheet.formats["datetime"], sheet.formats["temperature"]
    words: dict[str, str] = {}
    reason_texts: dict[tuple[str, ...], str] = {(): ""}
    seen: list[set[str]] = [set() for _ in range(sheet.columns)]
    subjects, names, orgs, colors, decisions, reasons_seen = (seen[1], seen[2], seen[3],
                                                              seen[6], seen[7], seen[8])
    row, most_entries, temperatures = sheet.row, 0, False
    for number, person in enumerate(people, 1):
        write_number(row, 0, number)
        if value := person.subject:
            write_string(row, 1, value)
            subjects.add(value)
        if value := person.name:
            write_string(row, 2, value)
            names.add(value)
        if value := person.org:
            write_string(row, 3, value)
            orgs.add(value)
        moment = dt.datetime.fromisoformat(person.first_time)
        serial = excel_serial(moment)
        if serial is None:
            book.write_datetime(row, 4, moment.replace(tzinfo=None), when_format)
        else:
            write_number(row, 4, serial, when_format)
        if (temperature := person.temperature_c) is not None:
            write_number(row, 5, temperature, temperature_format)
            temperatures = True
        if key := person.color:
            value = words.get(key) or words.setdefault(key, word(key, locale))
            write_string(row, 6, value)
            colors.add(value)
        if key := person.decision:
            value = words.get(key) or words.setdefault(key, word(key, locale))
            write_string(row, 7, value)
            decisions.add(value)
        reasons = person.reasons
        value = reason_texts.get(reasons)
        if value is None:
            value = reason_texts[reasons] = "；".join(reason_message(r, locale)
                                                      for r in reasons)
        if value:
            write_string(row, 8, value)
            reasons_seen.add(value)
        entries = person.entries
        write_number(row, 9, entries)
        most_entries = max(most_entries, entries)
        row += 1
    sheet.row = row
    widths = sheet.widths
    for column, distinct in enumerate(seen):
        if distinct:
            widths[column] = max(widths[column], *map(_width, distinct))
    if people:
        widths[0] = max(widths[0], len(str(len(people))))
        widths[4] = max(widths[4], 19)
        widths[9] = max(widths[9], len(str(most_entries)))
    if temperatures:
        widths[5] = max(widths[5], 5)


def write_registers(path: Path, reports: Iterable[DailyReport], enterprise: str,
                    locale: Locale) -> int:
    """The registers as an XLSX file, one sheet per day; returns the number of rows."""
    book, formats = _workbook(path)
    rows = 0
    try:
        for report in reports:
            sheet = Sheet(book, formats, report.day.isoformat(),
                          _t("register.title", locale, enterprise=enterprise, day=report.day),
                          register_header(locale))
            _add_register_rows(sheet, report.people, locale)
            rows += len(report.people)
            sheet.finish([
                _t("register.totals", locale, people=len(report.people),
                   admitted=report.admitted, denied=report.denied, exits=report.exits,
                   alarms=len(report.alarms)),
                _t("register.signature", locale)])
    finally:
        _close(book)
    return rows


def followup_header(locale: Locale) -> list[str]:
    return [_t(f"returning.col.{c}", locale) for c in
            ("subject", "name", "returned", "origin", "day", "due", "nat", "state")]


def write_followups(path: Path, followups: Iterable[Any], title: str, locale: Locale) -> int:
    """Returning workers' follow-up tests as an XLSX file; returns the number of rows."""
    book, formats = _workbook(path)
    rows = 0
    try:
        sheet = Sheet(book, formats, _t("returning.sheet", locale), title,
                      followup_header(locale))
        for item in followups:
            sheet.add(followup_values(item, locale))
            rows += 1
        sheet.finish()
    finally:
        _close(book)
    return rows


def followup_values(item: Any, locale: Locale) -> list[Any]:
    return [item.subject, item.name or "", dt.date.fromisoformat(item.returned),
            word(item.origin, locale) if item.origin else "", item.followup_day,
            dt.date.fromisoformat(item.due),
            dt.date.fromisoformat(item.latest_nat) if item.latest_nat else "",
            _t(f"returning.state.{item.state}", locale)]


def write_visit_registers(path: Path, registers: Iterable[Any], enterprise: str,
                          locale: Locale) -> int:
    """Vehicle or visitor registers (station/registers.py) as an XLSX file, one sheet per
    day; returns the number of rows."""
    from station import registers as visits

    book, formats = _workbook(path)
    count = 0
    try:
        for register in registers:
            sheet = Sheet(book, formats, register.day.isoformat(),
                          visits.title(register, enterprise, locale),
                          visits.header(register.kind, locale))
            for row in visits.rows(register, locale):
                sheet.add(row)
                count += 1
            sheet.finish([visits.totals(register, locale), text("visits.signature", locale)])
    finally:
        _close(book)
    return count
