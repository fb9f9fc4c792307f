"""Records for people: one-line table rows (zh_CN / en), CSV that Excel opens, JSON lines."""

from __future__ import annotations

import csv
import functools
import io
import json
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

from station.ledger import Record
from station.messages import Locale, reason_message, word

JSON_FIELDS = ("seq", "time", "kind", "direction", "subject", "name", "issuer", "org",
               "color", "nat", "returned", "origin", "temperature_c", "ambient_c", "readings",
               "decision", "reasons", "device", "detail", "clock_synced", "event_id")
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


def display_width(text: str) -> int:
    """Terminal columns: CJK (wide and fullwidth) characters take two."""
    if text.isascii():  # most cells (ids, times, numbers): no per-character lookup
        return len(text)
    return _wide_text_width(text)


@functools.lru_cache(maxsize=4096)
def _wide_text_width(text: str) -> int:
    # Cached: a register repeats the same few words (绿码, 准入) and masked names thousands
    # of times.
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def pad_display(text: str, width: int) -> str:
    """`text` padded with spaces to `width` terminal columns."""
    if text.isascii():
        return text.ljust(width)
    return text + " " * max(0, width - _wide_text_width(text))


RECORD_WIDTHS = (6, 19, 6, 10, 8, 6, 6, 6)
REGISTER_WIDTHS = (10, 19, 8, 6, 6, 6, 4)


def _row(cells: Sequence[str], widths: Sequence[int] = RECORD_WIDTHS) -> str:
    """Fixed-width columns for all cells but the last, which runs on."""
    padded = [pad_display(cell, width) for cell, width in zip(cells[:-1], widths, strict=False)]
    return "  ".join([*padded, cells[-1]]).rstrip()


def table_row(record: Record, locale: Locale) -> str:
    reasons = "；".join(reason_message(r, locale) for r in record.reasons) if record.reasons \
        else (record.detail or "")
    if record.kind == "alarm":
        reasons = record.detail or reasons
    elif record.kind == "fault":
        reasons = f"{record.device}: {record.detail}" if record.device else reasons
    return _row((
        str(record.seq), record.time[:19].replace("T", " "), _kind(record.kind, locale),
        record.subject or "—", record.name or "", word(record.color, locale) if record.color
        else "", f"{record.temperature_c:.1f}" if record.temperature_c is not None else "",
        word(record.decision, locale) if record.decision else "", reasons))


CSV_COLUMNS = ("seq", "time", "kind", "direction", "subject", "name", "org", "color",
               "temperature_c", "ambient_c", "decision", "reasons", "device", "detail", "nat",
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


# -- the daily register and statistics -------------------------------------------------------

REGISTER_COLUMNS = ("subject", "name", "org", "first_time", "temperature_c", "color",
                    "decision", "reasons", "entries")


def _zh(locale: Locale, zh: str, en: str) -> str:
    return zh if locale == "zh_CN" else en


def daily_text(report: Any, enterprise: str, locale: Locale) -> str:
    """The daily entry register (体温登记表) for a terminal."""
    lines = [
        _zh(locale, f"{enterprise} 入厂体温登记表  {report.day}",
            f"{enterprise} daily entry register  {report.day}"),
        _zh(locale, f"人数 {len(report.people)}；准入 {report.admitted} 次，拒绝 {report.denied} "
                    f"次，出厂 {report.exits} 次，发热告警 {len(report.alarms)} 次",
            f"people {len(report.people)}; admitted {report.admitted}, denied {report.denied}, "
            f"exits {report.exits}, fever alarms {len(report.alarms)}"),
        "",
        _row((_zh(locale, "人员", "subject"), _zh(locale, "首次入厂", "first entry"),
              _zh(locale, "姓名", "name"), _zh(locale, "健康码", "code"), "°C",
              _zh(locale, "结果", "decision"), _zh(locale, "次数", "n"),
              _zh(locale, "原因", "reasons")), REGISTER_WIDTHS),
    ]
    for person in report.people:
        lines.append(_row((
            person.subject or "—", person.first_time[:19].replace("T", " "), person.name or "",
            word(person.color, locale) if person.color else "",
            f"{person.temperature_c:.1f}" if person.temperature_c is not None else "",
            word(person.decision, locale) if person.decision else "", str(person.entries),
            "；".join(reason_message(r, locale) for r in person.reasons)), REGISTER_WIDTHS))
    if report.unidentified:
        lines += ["", _zh(locale, f"未识别身份的拒绝 {len(report.unidentified)} 次",
                          f"denied without an identity: {len(report.unidentified)}")]
        lines += ["  " + table_row(r, locale) for r in report.unidentified]
    lines += ["", _zh(locale, "发热告警（最新在前）", "fever alarms (newest first)")]
    lines += ["  " + table_row(r, locale) for r in report.alarms] or ["  —"]
    lines += ["", _zh(locale, "今明两天应做第7/14天核酸检测的返岗人员",
                      "returning workers whose day-7/day-14 test is due today or tomorrow")]
    for due in report.due_tests:
        state = (_zh(locale, "已检测", "done") if due.done else _zh(locale, "未检测", "not yet"))
        lines.append(f"  {due.subject}  {due.name or ''}  {_zh(locale, '返回', 'returned')} "
                     f"{due.returned} ({word(due.origin or '', locale)})  "
                     f"{_zh(locale, '第', 'day ')}{due.followup_day}{_zh(locale, '天', '')} "
                     f"{due.due}  {_zh(locale, '最近核酸', 'latest NAT')} {due.latest_nat or '—'}"
                     f"  {state}")
    if not report.due_tests:
        lines.append("  —")
    return "\n".join(lines)


def daily_csv(report: Any, out: TextIO) -> None:
    write_csv(({**person.__dict__, "reasons": list(person.reasons)} for person in report.people),
              REGISTER_COLUMNS, out)


def stats_text(result: Any, locale: Locale) -> str:
    lines = [_zh(locale, f"统计 {result.first_day} — {result.last_day}",
                 f"statistics {result.first_day} — {result.last_day}"), "",
             _zh(locale, "日期          入厂  准入  拒绝  发热",
                 "day          entries admit  deny fever")]
    for row in result.per_day:
        lines.append(f"{row['day']}  {row['entries']:>6} {row['admitted']:>5} {row['denied']:>5}"
                     f" {row['fevers']:>5}")
    lines += ["", _zh(locale, "时段  入厂  拒绝", "hour entries denied")]
    for row in result.per_hour:
        lines.append(f"{row['hour']}:00 {row['entries']:>6} {row['denied']:>5}")
    lines += ["", _zh(locale, "拒绝原因", "denials by reason")]
    for row in result.denials:
        lines.append(f"  {row['n']:>6}  {row['reason']}  {reason_message(row['reason'], locale)}")
    return "\n".join(lines)
