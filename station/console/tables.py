"""Long tables rendered in Python rather than in Jinja: a day's register is 3,000 rows of ten
cells, and Jinja's per-expression autoescaping (a markupsafe call per cell) was most of the
register page's time. Every cell here is escaped with markupsafe's `escape`, as autoescaping
would."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from markupsafe import Markup, escape

from station.messages import Locale, reason_message, text, word


def _cell(value: Any) -> str:
    """One cell's text, escaped; numbers need no escaping."""
    if value is None:
        return ""
    if type(value) is int or type(value) is float:
        return str(value)
    return str(escape(value))  # markupsafe's escape, as Jinja's autoescape writes it


# Colours, decisions, reasons, organisations, times and masked names repeat across a day's
# 3,000 rows: escape each distinct text once.
_repeated = functools.lru_cache(maxsize=8192)(_cell)


def register_rows(people: Iterable[Any], locale: Locale) -> Markup:
    """The register's <tbody> rows, one per person of a DailyReport (number, subject, name,
    organisation, first entry HH:MM:SS, °C to 0.1, colour, decision, reasons, entries):
    the same cells as the XLSX (`excel.register_values`)."""
    out: list[str] = []
    append = out.append
    cell = _repeated
    for number, person in enumerate(people, 1):
        color, decision = person.color, person.decision
        code = (f'<span class="code code-{cell(color)}">{cell(word(color, locale))}</span>'
                if color else "")
        reasons = "；".join(reason_message(r, locale) for r in person.reasons)
        temperature = "" if person.temperature_c is None else f"{person.temperature_c:.1f}"
        append(f'<tr class="decision-{cell(decision)}">'
               f'<td class="num">{number}</td><td>{_cell(person.subject)}</td>'
               f'<td>{cell(person.name)}</td><td>{cell(person.org)}</td>'
               # the recorded CST wall time: ISO 8601, so HH:MM:SS is characters 11–18
               f'<td class="time">{cell(person.first_time[11:19])}</td>'
               f'<td class="num">{temperature}</td><td>{code}</td>'
               f'<td>{cell(word(decision, locale) if decision else "")}</td>'
               f'<td class="reasons">{cell(reasons)}</td>'
               f'<td class="num">{_cell(person.entries)}</td></tr>\n')
    return Markup("".join(out))  # every value above went through escape() or is a number


def followup_rows(items: Iterable[Any], locale: Locale) -> Markup:
    """The returning workers' <tbody> rows, one per follow-up test (station/console/
    returning.py): subject, name, returned, origin, which day's test, due, latest NAT, state —
    the same cells as the XLSX (`excel.followup_values`)."""
    out: list[str] = []
    append = out.append
    cell = _repeated
    for item in items:
        state = cell(item.state)
        origin = word(item.origin, locale) if item.origin else ""
        append(f'<tr class="state-{state}"><td>{_cell(item.subject)}</td>'
               f'<td>{cell(item.name)}</td><td>{cell(item.returned)}</td><td>{cell(origin)}</td>'
               f'<td class="num">{_cell(item.followup_day)}</td><td>{cell(item.due)}</td>'
               f'<td>{cell(item.latest_nat or "—")}</td>'
               f'<td><span class="state {state}">'
               f'{cell(text(f"console.returning.state.{item.state}", locale))}</span></td>'
               "</tr>\n")
    return Markup("".join(out))  # every value above went through escape() or is a number
