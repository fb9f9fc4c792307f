"""Records for people: one-line table rows (zh_CN / en), CSV that Excel opens, JSON lines."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

from station.ledger import Record
from station.messages import Locale, reason_message, word

JSON_FIELDS = ("seq", "time", "kind", "direction", "subject", "name", "issuer", "org",
               "color", "nat", "returned", "origin", "temperature_c", "ambient_c", "readings",
               "decision", "reasons", "detail", "clock_synced", "event_id")
KIND_WORDS = {"entry": ("入厂", "entry"), "exit": ("出厂", "exit"), "fault": ("故障", "fault"),
              "alarm": ("告警", "alarm")}


def record_json(record: Record) -> str:
    data = record.to_json()
    return json.dumps({key: data[key] for key in JSON_FIELDS}, ensure_ascii=False)


def _kind(kind: str, locale: Locale) -> str:
    zh, en = KIND_WORDS.get(kind, (kind, kind))
    return zh if locale == "zh_CN" else en


def table_header(locale: Locale) -> str:
    if locale == "zh_CN":
        cells = ("序号", "时间", "类型", "人员", "姓名", "健康码", "体温", "结果", "原因")
    else:
        cells = ("seq", "time", "kind", "subject", "name", "code", "°C", "decision", "reasons")
    return _row(cells)


def _row(cells: Sequence[str]) -> str:
    widths = (6, 19, 6, 10, 6, 6, 6, 6)
    return "  ".join(f"{cell:<{width}}" for cell, width in zip(cells, widths, strict=False)) + \
        "  " + cells[-1]


def table_row(record: Record, locale: Locale) -> str:
    reasons = "；".join(reason_message(r, locale) for r in record.reasons) if record.reasons \
        else (record.detail or "")
    if record.kind == "alarm":
        reasons = record.detail or reasons
    return _row((
        str(record.seq), record.time[:19].replace("T", " "), _kind(record.kind, locale),
        record.subject or "—", record.name or "", word(record.color, locale) if record.color
        else "", f"{record.temperature_c:.1f}" if record.temperature_c is not None else "",
        word(record.decision, locale) if record.decision else "", reasons))


CSV_COLUMNS = ("seq", "time", "kind", "direction", "subject", "name", "org", "color",
               "temperature_c", "ambient_c", "decision", "reasons", "detail", "nat",
               "returned", "origin", "clock_synced")


def write_csv(rows: Iterable[dict[str, Any]], columns: Sequence[str], out: TextIO) -> None:
    """CSV with a UTF-8 BOM so that Excel shows Chinese correctly."""
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else _cell(row.get(c)) for c in columns])


def _cell(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return " ".join(str(v) for v in value)
    if isinstance(value, bool):
        return int(value)
    return value


def records_csv(records: Iterable[Record]) -> str:
    buffer = io.StringIO()
    write_csv((r.to_json() for r in records), CSV_COLUMNS, buffer)
    return buffer.getvalue()
