"""Records for people: one-line table rows (zh_CN / en), CSV that Excel opens, JSON lines."""

from __future__ import annotations

import csv
import functools
import io
import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

from station.ledger import REGISTRATION_COLUMNS, Record
from station.messages import TEXTS, Locale, reason_message, text, word

JSON_FIELDS = ("seq", "time", "kind", "direction", "subject", "name", "issuer", "org",
               "color", "nat", "returned", "origin", "temperature_c", "ambient_c", "readings",
               "decision", "reasons", "device", "detail", "clock_synced", "event_id")


def record_json(record: Record) -> str:
    """One record for `log --json`: the worker fields, and a registration record's own
    fields (plate, visit_id, ack action …) where it has them."""
    data = record.to_json()
    shown = {key: data[key] for key in JSON_FIELDS}
    shown.update({key: data[key] for key in REGISTRATION_COLUMNS if key in data})
    return json.dumps(shown, ensure_ascii=False)


def _kind(kind: str, locale: Locale) -> str:
    return text(f"kind.{kind}", locale) if f"kind.{kind}" in TEXTS else kind


def table_header(locale: Locale) -> str:
    return _row([text(f"table.{key}", locale) for key in (
        "seq", "time", "kind", "subject", "name", "code", "temperature", "decision",
        "reasons")])


DEVICE_TEXT_KEYS = {"thermometer", "camera", "scanner", "serial", "ledger", "outputs", "bundle",
                    "sync"}
_LEDGER_RECOVERED = re.compile(
    r"^recovered; it could not be written from (?P<since>\S+); people turned away "
    r"unrecorded: (?P<count>\d+)$")


def describe_detail(record: Record, locale: Locale) -> str:
    """A record's `detail` for people. The ledger keeps the station's stable English text
    (it is synced as is); what people read comes from the catalogue. A device's own error
    message is quoted in [square brackets] as the device gave it."""
    detail = record.detail or ""
    if record.kind == "alarm":
        if record.temperature_c is not None:
            return text("record.fever_alarm", locale, temperature=f"{record.temperature_c:.1f}")
        return text("record.fever_alarm_plain", locale)
    if record.kind != "fault" or record.device is None:
        return detail
    device, rest = record.device, detail.strip()
    if device not in DEVICE_TEXT_KEYS:
        return f"{device}: {detail}"
    name = text(f"device.{device}", locale)
    if rest == "recovered":
        return text("record.device_recovered", locale, device=name)
    outage = _LEDGER_RECOVERED.match(rest)
    if device == "ledger" and outage:
        return text("record.ledger_recovered", locale, since=_short_time(outage["since"]),
                    count=outage["count"])
    return text("record.device_fault", locale, device=name, detail=rest)


def describe_ack(record: Record, locale: Locale) -> str:
    """How an alarm was handled, in words: action (alarm event id), re-measurement, note."""
    action = text(f"action.{record.action}", locale) if f"action.{record.action}" in TEXTS \
        else (record.action or "")
    parts = [text("record.ack", locale, action=action, ref=record.ref_event_id or "")]
    if record.remeasure_c is not None:
        parts.append(text("record.remeasured", locale, temperature=f"{record.remeasure_c:.1f}"))
    if record.note:
        parts.append(record.note)
    return text("list.separator", locale).join(parts)


def _short_time(iso: str) -> str:
    return iso[:19].replace("T", " ")


def reasons_text(reasons: Iterable[str], locale: Locale) -> str:
    """Reason codes as the people's messages, joined the way the locale writes a list."""
    return text("list.separator", locale).join(reason_message(r, locale) for r in reasons)


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


RECORD_WIDTHS = (6, 19, 6, 10, 8, 6, 6, 8)  # each fits its header in both locales
REGISTER_WIDTHS = (10, 19, 8, 6, 6, 8, 4)


def _row(cells: Sequence[str], widths: Sequence[int] = RECORD_WIDTHS) -> str:
    """Fixed-width columns for all cells but the last, which runs on."""
    padded = [pad_display(cell, width) for cell, width in zip(cells[:-1], widths, strict=False)]
    return "  ".join([*padded, cells[-1]]).rstrip()


def table_row(record: Record, locale: Locale) -> str:
    reasons = reasons_text(record.reasons, locale) if record.reasons \
        else describe_detail(record, locale)
    if record.kind == "alarm":
        reasons = describe_detail(record, locale)
    who, name = record.subject or "—", record.name or ""
    if record.kind == "vehicle":  # the plate where a worker's id goes, then the driver
        who, name = record.plate or "—", record.driver_name or ""
    if record.kind in ("vehicle", "visitor") and record.direction == "out":
        reasons = text("record.out", locale)
    if record.kind == "ack":
        reasons = describe_ack(record, locale)
    return _row((
        str(record.seq), record.time[:19].replace("T", " "), _kind(record.kind, locale),
        who, name, word(record.color, locale) if record.color
        else "", f"{record.temperature_c:.1f}" if record.temperature_c is not None else "",
        word(record.decision, locale) if record.decision else "", reasons))


CSV_COLUMNS = ("seq", "time", "kind", "direction", "subject", "name", "org", "color",
               "temperature_c", "ambient_c", "decision", "reasons", "device", "detail", "nat",
               "returned", "origin", "clock_synced")


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def write_csv(rows: Iterable[dict[str, Any]], columns: Sequence[str], out: TextIO) -> None:
    """CSV with a UTF-8 BOM so that Excel shows Chinese correctly. Text that a spreadsheet
    would run as a formula (a subject or name `=HYPERLINK(…)` from a forged code, say) gets a
    leading `'` (OWASP "CSV injection"); numbers are written as numbers."""
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else _cell(row.get(c)) for c in columns])


def _cell(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return csv_text(" ".join(str(v) for v in value))
    if isinstance(value, bool):
        return int(value)
    return csv_text(value)


def csv_text(value: Any) -> Any:
    """A CSV cell that a spreadsheet will not run as a formula (registration.md): text
    starting with =, +, -, @, tab or CR gets a leading `'`. Numbers are left alone."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def records_csv(records: Iterable[Record]) -> str:
    buffer = io.StringIO()
    write_csv((r.to_json() for r in records), CSV_COLUMNS, buffer)
    return buffer.getvalue()


# -- the daily register and statistics -------------------------------------------------------

REGISTER_COLUMNS = ("row", "subject", "name", "org", "first_time", "temperature_c", "color",
                    "decision", "reasons", "entries")
REGISTER_HEADERS = {"row": "kind", "subject": "subject", "name": "name", "org": "org",
                    "first_time": "first_entry", "temperature_c": "temperature",
                    "color": "code", "decision": "decision", "reasons": "reasons",
                    "entries": "entries"}


def daily_text(report: Any, enterprise: str, locale: Locale) -> str:
    """The daily entry register (体温登记表) for a terminal."""
    lines = [
        text("report.title", locale, enterprise=enterprise, day=report.day),
        text("report.totals", locale, people=len(report.people), admitted=report.admitted,
             denied=report.denied, exits=report.exits, alarms=len(report.alarms)),
        "",
        _row([text(f"table.{key}", locale) for key in (
            "subject", "first_entry", "name", "code", "temperature", "decision", "entries",
            "reasons")], REGISTER_WIDTHS),
    ]
    for person in report.people:
        lines.append(_row((
            person.subject or "—", _short_time(person.first_time), person.name or "",
            word(person.color, locale) if person.color else "",
            f"{person.temperature_c:.1f}" if person.temperature_c is not None else "",
            word(person.decision, locale) if person.decision else "", str(person.entries),
            reasons_text(person.reasons, locale)), REGISTER_WIDTHS))
    if report.unidentified:
        lines += ["", text("report.unidentified", locale, count=len(report.unidentified))]
        lines += ["  " + table_row(r, locale) for r in report.unidentified]
    lines += ["", text("report.alarms", locale)]
    lines += ["  " + table_row(r, locale) for r in report.alarms] or ["  —"]
    lines += ["", text("report.due", locale)]
    for due in report.due_tests:
        lines.append("  " + text(
            "report.due_row", locale, subject=due.subject, name=due.name or "",
            returned=due.returned, origin=word(due.origin or "", locale), day=due.followup_day,
            due=due.due, nat=due.latest_nat or "—",
            state=text("report.done" if due.done else "report.not_yet", locale)))
    if not report.due_tests:
        lines.append("  —")
    return "\n".join(lines)


def register_rows(report: Any, locale: Locale) -> list[dict[str, Any]]:
    """The register as rows: each person's first entry, then denials without an identity,
    then fever alarms (`row` says which), as the CSV and JSON exports carry them."""
    rows: list[dict[str, Any]] = []
    for person in report.people:
        rows.append({**person.__dict__, "row": text("table.subject", locale),
                     "reasons": list(person.reasons)})
    for kind, records in (("report.row_unidentified", report.unidentified),
                          ("report.row_alarm", report.alarms)):
        for record in records:
            rows.append({"row": text(kind, locale), "subject": record.subject,
                         "name": record.name, "org": record.org, "first_time": record.time,
                         "temperature_c": record.temperature_c, "color": record.color,
                         "decision": record.decision, "reasons": list(record.reasons),
                         "entries": 1})
    return rows


def daily_csv(report: Any, out: TextIO, locale: Locale = "zh_CN") -> None:
    """The register as CSV (UTF-8 with BOM for Excel), headers in the locale's language;
    reasons stay the stable reason codes."""
    headers = [text(f"table.{REGISTER_HEADERS[c]}", locale) for c in REGISTER_COLUMNS]
    write_csv(({h: row.get(c) for h, c in zip(headers, REGISTER_COLUMNS, strict=True)}
               for row in register_rows(report, locale)), headers, out)


def daily_json(report: Any) -> dict[str, Any]:
    """The daily report as one JSON document (stable keys and reason codes)."""
    return {
        "day": report.day.isoformat(), "people": len(report.people),
        "admitted": report.admitted, "denied": report.denied, "exits": report.exits,
        "register": [{**p.__dict__, "reasons": list(p.reasons)} for p in report.people],
        "unidentified": [_json_record(r) for r in report.unidentified],
        "alarms": [_json_record(r) for r in report.alarms],
        "due_tests": [{**d.__dict__, "done": d.done} for d in report.due_tests],
    }


def _json_record(record: Record) -> dict[str, Any]:
    data = record.to_json()
    return {key: data[key] for key in JSON_FIELDS}


STATS_DAY_COLUMNS = ("day", "entries", "admitted", "denied", "fevers")
STATS_HOUR_COLUMNS = ("hour", "entries", "denied")


def stats_json(result: Any) -> dict[str, Any]:
    return {"first_day": str(result.first_day), "last_day": str(result.last_day),
            "per_day": result.per_day, "per_hour": result.per_hour, "denials": result.denials}


def stats_csv(result: Any, out: TextIO, locale: Locale = "zh_CN") -> None:
    """Entries per day as CSV (UTF-8 with BOM), headers in the locale's language."""
    headers = [text(f"table.{c}", locale) for c in STATS_DAY_COLUMNS]
    write_csv(({h: row.get(c) for h, c in zip(headers, STATS_DAY_COLUMNS, strict=True)}
               for row in result.per_day), headers, out)


def stats_text(result: Any, locale: Locale) -> str:
    def header(columns: Sequence[str], widths: Sequence[int]) -> str:
        return "  ".join(pad_display(text(f"table.{c}", locale), w)
                         for c, w in zip(columns, widths, strict=True)).rstrip()

    day_widths, hour_widths = (10, 6, 6, 6, 6), (6, 6, 6)
    lines = [text("stats.title", locale, first=result.first_day, last=result.last_day), "",
             header(STATS_DAY_COLUMNS, day_widths)]
    for row in result.per_day:
        lines.append(f"{row['day']:<10}  {row['entries']:>6}  {row['admitted']:>6}  "
                     f"{row['denied']:>6}  {row['fevers']:>6}")
    if not result.per_day:
        lines.append(text("stats.empty", locale))
    lines += ["", header(STATS_HOUR_COLUMNS, hour_widths)]
    for row in result.per_hour:
        lines.append(f"{row['hour'] + ':00':<6}  {row['entries']:>6}  {row['denied']:>6}")
    lines += ["", text("stats.by_reason", locale)]
    for row in result.denials:
        lines.append(f"  {row['n']:>6}  {row['reason']}  {reason_message(row['reason'], locale)}")
    return "\n".join(lines)
