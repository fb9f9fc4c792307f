"""The console's XLSX writer (station/console/excel.py) on its own: Excel serial numbers
computed without XlsxWriter's datetime conversion are the very numbers `write_datetime`
stores, at month, year, leap-day and CST-midnight boundaries, and read back as the same
wall-clock date-times; the register's typed fast path writes the very cells and column widths
of the generic `Sheet.add(register_values(...))`."""

from __future__ import annotations

import datetime as dt
import re
import zipfile
import zlib
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import xlsxwriter

from station.clock import CST
from station.console import excel
from station.console.excel import excel_serial
from station.messages import Locale
from station.reports import DailyReport, RegisterRow
from tests.consolekit import HOSTILE_NAME

MOMENTS = [
    dt.datetime(1900, 3, 1), dt.datetime(1900, 3, 1, 0, 0, 0, 1000),
    dt.datetime(1999, 12, 31, 23, 59, 59, 999000), dt.datetime(2000, 1, 1),
    dt.datetime(2000, 2, 29, 12), dt.datetime(2020, 2, 29, 23, 59, 59, 999000),
    dt.datetime(2020, 3, 1, 0, 0, 0, 1000), dt.datetime(2020, 12, 31, 23, 59, 59, 999000),
    dt.datetime(2021, 1, 1), dt.datetime(2021, 1, 31, 7, 15, 23, 123000),
    dt.datetime(2021, 2, 28, 23, 59, 59), dt.datetime(2021, 3, 1, 0, 0, 1),
    dt.datetime(2021, 6, 30, 16, 0), dt.datetime(2100, 2, 28, 8), dt.datetime(2100, 3, 1, 8),
    dt.datetime(9999, 12, 31, 23, 59, 59, 999000),
]
DATES = [dt.date(1900, 3, 1), dt.date(2020, 2, 29), dt.date(2020, 12, 31), dt.date(2021, 1, 1),
         dt.date(2100, 3, 1), dt.date(9999, 12, 31)]


def _cell_numbers(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as book:
        xml = book.read("xl/worksheets/sheet1.xml").decode()
    return re.findall(r"<v>([^<]*)</v>", xml)


@pytest.mark.parametrize("constant_memory", [True, False])
def test_serials_are_the_numbers_write_datetime_stores(tmp_path: Path,
                                                       constant_memory: bool) -> None:
    values: list[dt.datetime | dt.date] = [*MOMENTS, *DATES]
    files = []
    for way in ("write_datetime", "excel_serial"):
        path = tmp_path / f"{way}.xlsx"
        book = xlsxwriter.Workbook(str(path), {"constant_memory": constant_memory})
        style = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        sheet = book.add_worksheet()
        for row, value in enumerate(values):
            if way == "write_datetime":
                sheet.write_datetime(row, 0, value, style)
            else:
                serial = excel_serial(value)
                assert serial is not None
                sheet.write_number(row, 0, serial, style)
        book.close()
        files.append(_cell_numbers(path))
    assert files[0] == files[1] and len(files[0]) == len(values)
    read = openpyxl.load_workbook(tmp_path / "excel_serial.xlsx").active
    back = [read.cell(row + 1, 1).value for row in range(len(values))]
    assert back == [v if isinstance(v, dt.datetime) else dt.datetime.combine(v, dt.time())
                    for v in values]


def test_known_serials() -> None:
    assert excel_serial(dt.date(1900, 3, 1)) == 61.0  # 60 is Excel's phantom 1900-02-29
    assert excel_serial(dt.date(2021, 1, 1)) == 44197.0
    assert excel_serial(dt.datetime(2021, 1, 1, 12)) == 44197.5
    assert excel_serial(dt.datetime(2021, 3, 1, 6)) == 44256.25


def test_the_wall_clock_counts_not_the_zone() -> None:
    # 23:30 CST on the last day of January is 15:30 UTC: the register shows the CST day
    late = dt.datetime(2021, 1, 31, 23, 30, tzinfo=CST)
    assert excel_serial(late) == excel_serial(late.replace(tzinfo=None)) == 44227 + 23.5 / 24
    early = dt.datetime.fromisoformat("2021-02-01T00:00:00.000+08:00")
    assert excel_serial(early) == 44228.0


def test_before_march_1900_is_left_to_xlsxwriter() -> None:
    assert excel_serial(dt.date(1900, 2, 28)) is None
    assert excel_serial(dt.datetime(1900, 1, 1, 12)) is None
    assert excel_serial(dt.datetime(1, 1, 1)) is None


PEOPLE = [
    RegisterRow("W0000001", "王*", "HL-JX-001", "2021-02-22T07:01:02.345+08:00", 36.4,
                "green", "admit", (), 1),
    RegisterRow("W0000002", None, None, "2021-02-22T23:59:59.999+08:00", None, None, None,
                (), 12),
    RegisterRow("W0000003", HOSTILE_NAME, "红炉机械厂第一车间", "2021-02-22T08:00:00+08:00", 37.8,
                "yellow", "deny", ("fever", "color", "no-such-reason"), 3),
    RegisterRow("W0000004", " 空格 ", "", "1900-02-28T08:00:00+08:00", 36.0, "red", "deny",
                ("color",), 1),
]


def _rows_and_widths(path: Path) -> tuple[list[tuple[tuple[Any, str], ...]], list[float | None]]:
    sheet = openpyxl.load_workbook(path).active
    rows = [tuple((c.value, c.number_format) for c in row)
            for row in sheet.iter_rows(min_row=1, max_row=2 + len(PEOPLE))]
    return rows, [sheet.column_dimensions[letter].width for letter in "ABCDEFGHIJ"]


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_register_fast_path_writes_the_generic_cells(tmp_path: Path, locale: Locale) -> None:
    report = DailyReport(dt.date(2021, 2, 22), people=PEOPLE)
    fast = tmp_path / "fast.xlsx"
    assert excel.write_registers(fast, [report], "红炉机械厂", locale) == len(PEOPLE)
    generic = tmp_path / "generic.xlsx"
    book, formats = excel._workbook(generic)
    sheet = excel.Sheet(book, formats, "2021-02-22",
                        excel._t("register.title", locale, enterprise="红炉机械厂",
                                 day=report.day), excel.register_header(locale))
    for number, person in enumerate(PEOPLE, 1):
        sheet.add(excel.register_values(number, person, locale))
    sheet.finish()
    book.close()
    assert _rows_and_widths(fast) == _rows_and_widths(generic)
    rows, _ = _rows_and_widths(fast)
    assert rows[2][4] == (dt.datetime(2021, 2, 22, 7, 1, 2, 345000), "yyyy-mm-dd hh:mm:ss")
    assert rows[4][2][0] == HOSTILE_NAME and rows[5][2][0] == " 空格 "
    assert rows[5][4][0] == dt.datetime(1900, 2, 28, 8)  # left to write_datetime


def test_cell_writers_without_the_a1_wrapper(tmp_path: Path) -> None:
    book = xlsxwriter.Workbook(str(tmp_path / "plain.xlsx"), {"constant_memory": True})
    sheet = book.add_worksheet()
    write_string = excel._undecorated(type(sheet).write_string, sheet)
    assert write_string(0, 0, "甲") == 0 and write_string(0, 1, "x" * 40000) == -2
    book.close()

    class Plain:  # a method that was never wrapped is bound as it is
        def write_number(self, row: int, column: int, number: float) -> float:
            return row + column + number

    assert excel._undecorated(Plain.write_number, Plain())(1, 2, 3.5) == 6.5
    read = openpyxl.load_workbook(tmp_path / "plain.xlsx").active
    assert read["A1"].value == "甲" and len(read["B1"].value) == 32767


def test_parts_are_deflated_at_the_fastest_level(tmp_path: Path) -> None:
    path = tmp_path / "register.xlsx"
    report = DailyReport(dt.date(2021, 2, 22), people=PEOPLE * 50)
    excel.write_registers(path, [report], "红炉机械厂", "zh_CN")
    with zipfile.ZipFile(path) as book:
        part = book.getinfo("xl/worksheets/sheet1.xml")
        data = book.read(part)
    for level, expected in ((1, True), (6, False)):
        deflate = zlib.compressobj(level, zlib.DEFLATED, -15)
        assert (len(deflate.compress(data) + deflate.flush()) == part.compress_size) is expected
