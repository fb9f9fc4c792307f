"""The daily vehicle register (车辆登记表) and visitor register (外来人员登记表): every vehicle
or visitor that came in on one CST day, with when it left (registration.md; seed 四(一),
四(四)). One source for the console's pages and XLSX and `gate-station report vehicles|visitors`
(text, CSV, JSON), so they cannot disagree.

Rows hold typed values (datetime, int, float, str) so the XLSX gets real dates and numbers;
`cell_text` turns a value into what a page or a terminal shows. Names and phone numbers are
shown whole: these are the enterprise's own registers (masking is for what is synced).
"""

from __future__ import annotations

import datetime as dt
import io
import json
from dataclasses import dataclass
from typing import Any, Literal

from station.ledger import Ledger, Record
from station.messages import Locale, reason_message, text, word

Kind = Literal["vehicle", "visitor"]

COLUMNS: dict[str, tuple[str, ...]] = {
    "vehicle": ("no", "in_time", "out_time", "plate", "vehicle_type", "carrier", "driver_name",
                "driver_phone", "occupants", "origin", "via_risk_area", "cargo", "cold_chain",
                "disinfected", "disinfection_method", "disinfection_operator", "host", "code",
                "temperature_c", "decision", "reasons", "operator"),
    "visitor": ("no", "in_time", "out_time", "name", "phone", "id_last4", "organisation",
                "host", "purpose", "vehicle", "code", "temperature_c", "decision", "reasons",
                "operator"),
}
FLAGS = ("via_risk_area", "cold_chain", "disinfected")


@dataclass(frozen=True)
class Visit:
    """One vehicle or visitor: the `in` record and its `out` record (None: still inside)."""

    entered: Record
    left: Record | None


@dataclass(frozen=True)
class VisitRegister:
    kind: Kind
    day: dt.date
    visits: list[Visit]
    plates: dict[str, str]  # vehicle event id → plate, for the visitors' "came in" column

    @property
    def admitted(self) -> int:
        return sum(1 for v in self.visits if v.entered.decision == "admit")

    @property
    def denied(self) -> int:
        return sum(1 for v in self.visits if v.entered.decision == "deny")

    @property
    def left(self) -> int:
        return sum(1 for v in self.visits if v.left is not None)

    @property
    def fevers(self) -> int:
        return sum(1 for v in self.visits if "fever" in v.entered.reasons)


def visit_register(ledger: Ledger, kind: Kind, day: dt.date) -> VisitRegister:
    """Every `kind` that came in on `day` (CST), in order of arrival, with its departure."""
    arrivals = ledger.arrivals_on(kind, day.isoformat())
    departures = {r.visit_id: r for r in ledger.departures_of(kind, day.isoformat())}
    plates: dict[str, str] = {}
    if kind == "visitor":
        for record in arrivals:
            if record.vehicle_id and record.vehicle_id not in plates:
                vehicle = ledger.find_event(record.vehicle_id)
                plates[record.vehicle_id] = vehicle.plate or "" if vehicle else ""
    return VisitRegister(kind, day, [Visit(r, departures.get(r.event_id)) for r in arrivals],
                         plates)


def header(kind: Kind, locale: Locale) -> list[str]:
    return [text(f"visits.col.{column}", locale) for column in COLUMNS[kind]]


def _local(value: str | None) -> dt.datetime | None:
    """A ledger time (CST ISO) as naive wall-clock time, as the register shows it."""
    return dt.datetime.fromisoformat(value).replace(tzinfo=None, microsecond=0) if value \
        else None


def row_values(register: VisitRegister, number: int, visit: Visit, locale: Locale
               ) -> list[Any]:
    """One register row: typed values in COLUMNS[kind] order."""
    record = visit.entered
    code = text(f"code_checked.{record.code_checked}", locale) if record.code_checked else ""
    if record.color:
        code = f"{code} {word(record.color, locale)}"
    values: dict[str, Any] = {
        "no": number, "in_time": _local(record.time),
        "out_time": _local(visit.left.time) if visit.left else None,
        "code": code, "temperature_c": record.temperature_c,
        "decision": word(record.decision, locale) if record.decision else "",
        "reasons": text("list.separator", locale).join(
            reason_message(r, locale) for r in record.reasons),
        "vehicle_type": text(f"vehicle_type.{record.vehicle_type}", locale)
        if record.vehicle_type else "",
        "vehicle": register.plates.get(record.vehicle_id or "", ""),
    }
    for flag in FLAGS:
        values[flag] = text("word.yes" if getattr(record, flag) else "word.no", locale)
    return [values[c] if c in values else getattr(record, c) for c in COLUMNS[register.kind]]


def rows(register: VisitRegister, locale: Locale) -> list[list[Any]]:
    return [row_values(register, n, visit, locale) for n, visit in enumerate(register.visits, 1)]


def cell_text(value: Any) -> str:
    """A typed value as a page or a terminal shows it."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.1f}"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    return str(value)


def title(register: VisitRegister, enterprise: str, locale: Locale) -> str:
    return text(f"visits.{register.kind}.title", locale, enterprise=enterprise,
                day=register.day.isoformat())


def totals(register: VisitRegister, locale: Locale) -> str:
    return text("visits.totals", locale, n=len(register.visits), admitted=register.admitted,
                denied=register.denied, left=register.left,
                inside=len(register.visits) - register.left, fevers=register.fevers)


def register_text(register: VisitRegister, enterprise: str, locale: Locale) -> str:
    """The register for a terminal: title, totals, one tab-separated line per visit."""
    lines = [title(register, enterprise, locale), totals(register, locale), "",
             "\t".join(header(register.kind, locale))]
    lines += ["\t".join(cell_text(v) for v in row) for row in rows(register, locale)]
    return "\n".join(lines)


def register_csv(register: VisitRegister, locale: Locale) -> str:
    """The register as CSV (UTF-8 with BOM; formula-looking text defused), headers in the
    locale's language."""
    from station.present import write_csv

    names = header(register.kind, locale)
    buffer = io.StringIO()
    write_csv(({n: cell_text(v) if not isinstance(v, int | float) else v
                for n, v in zip(names, row, strict=True)} for row in rows(register, locale)),
              names, buffer)
    return buffer.getvalue()


def register_json(register: VisitRegister) -> dict[str, Any]:
    """The register as one JSON document: the records as the ledger holds them (stable field
    names and codes), each with its out record's time and event id."""
    return {
        "kind": register.kind, "day": register.day.isoformat(), "count": len(register.visits),
        "admitted": register.admitted, "denied": register.denied, "left": register.left,
        "fevers": register.fevers,
        "visits": [{**visit.entered.to_json(),
                    "out_time": visit.left.time if visit.left else None,
                    "out_event_id": visit.left.event_id if visit.left else None}
                   for visit in register.visits],
    }


def dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False)
