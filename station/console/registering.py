"""The guard's registrations as the console runs them: one writing ledger connection per
call, the Registrar (station/registration.py) on it with the gate's policy and trust, and
the hand-over of the next code and reading from the running gate daemon.

Used by both the pages (routers/guard.py) and the JSON API (routers/api.py), so a form and
an API call are checked by the same rules and refused with the same messages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

from station.console.state import Console
from station.handover import HandoverUnavailable, request_capture
from station.ledger import Record
from station.messages import Locale
from station.registration import Registrar, RegistrationRefused

T = TypeVar("T")
CAPTURE_TIMEOUT_S = 30.0


def with_registrar(console: Console, action: Callable[[Registrar], T]) -> T:
    """Run `action` on a Registrar over a fresh writing connection, closed afterwards.
    RegistrationRefused passes through (nothing was written); LedgerError when there is no
    ledger."""
    ledger = console.open_writer()
    try:
        registrar = Registrar(ledger, clock=console.registration_clock(), policy=console.policy,
                              trust=console.trust)
        return action(registrar)
    finally:
        ledger.close()


def record_json(record: Record | None) -> dict[str, Any] | None:
    """A ledger record as JSON (tuples as lists); the station's own copy, unmasked."""
    if record is None:
        return None
    data = asdict(record)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}


def refusal_json(error: RegistrationRefused, locale: Locale) -> dict[str, Any]:
    """A refused form as the API answers it (422): each wrong field, its problem code and
    the message in the console's language."""
    messages = error.messages(locale)
    return {"detail": "refused", "problems": [
        {"field": field, "problem": code, "message": messages[field]}
        for field, (code, _) in error.problems.items()]}


def capture_from_gate(console: Console, want: str = "code+reading",
                      timeout_s: float = CAPTURE_TIMEOUT_S) -> dict[str, Any]:
    """Ask the gate daemon for the next code and reading; the form fields to fill
    (`code_checked=thp1`, `code`, `temperature_c`). HandoverUnavailable when hand-over is
    switched off or no daemon answers."""
    path = console.config.handover.socket
    if path is None:
        raise HandoverUnavailable("handover.socket is null: hand-over is switched off")
    capture = request_capture(Path(path), "reading" if want == "reading" else "code+reading",
                              timeout_s)
    fields: dict[str, Any] = {"temperature_c": capture.temperature_c,
                              "measurement": capture.measurement}
    if capture.code is not None:
        fields.update(code_checked="thp1", code=capture.code)
    return fields
