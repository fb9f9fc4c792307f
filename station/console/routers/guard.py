"""The guard's pages (guards and officers): vehicle in, visitor in, inside now (with the
`out` action) and alarm handling (`ack`). Forms are CSRF-checked; each one is first checked
and decided without writing ("check"), and saved on the second press ("save"). A refused
form comes back (422) with each field's message beside the field and nothing written.
The rules are station/registration.py's, run by station/console/registering.py, the same
as the JSON API's."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from station.console.deps import CheckedForm, ConsoleDep, CurrentUser, PageDep, ReadLedger
from station.console.registering import with_registrar
from station.console.state import Console
from station.console.web import Page, render
from station.ledger import Record
from station.registration import (
    CODE_CHECKS,
    COLORS,
    PROVINCES,
    VEHICLE_TYPES,
    Outcome,
    RegistrationRefused,
)

router = APIRouter(tags=["registration"])
Kind = Literal["vehicle", "visitor"]
TEMPLATES: dict[str, str] = {"vehicle": "vehicle_form.html", "visitor": "visitor_form.html"}


def _values(form: Any) -> dict[str, str]:
    return {key: str(value) for key, value in form.items() if key not in ("csrf", "step")}


def _form_page(kind: Kind, page: Page, console: Console, *, values: dict[str, str],
               errors: dict[str, str] | None = None, preview: Outcome | None = None,
               saved: Record | None = None, status: int = 200) -> HTMLResponse:
    with console.open_ledger() as ledger:
        vehicles = ledger.inside_now("vehicle") if kind == "visitor" else []
        saved_record = ledger.find_event(values.get("saved", "")) if values.get("saved") \
            else saved
    return render(console.templates, page, TEMPLATES[kind], status, values=values,
                  errors=errors or {}, preview=preview, saved=saved_record, vehicles=vehicles,
                  provinces=PROVINCES, vehicle_types=VEHICLE_TYPES, code_checks=CODE_CHECKS,
                  colors=COLORS)


def _submit(kind: Kind, page: Page, console: Console, user: CurrentUser,
            form: CheckedForm) -> Response:
    values = _values(form)
    save = form.get("step") == "save"

    def act(registrar: Any) -> Outcome:
        method = registrar.vehicle_in if kind == "vehicle" else registrar.visitor_in
        outcome: Outcome = method(values, user.name, preview=not save)
        return outcome

    try:
        outcome = with_registrar(console, act)
    except RegistrationRefused as error:
        return _form_page(kind, page, console, values=values,
                          errors=error.messages(page.locale), status=422)
    if save:
        return RedirectResponse(f"/{kind}s/new?saved={outcome.record.event_id}", 303)
    return _form_page(kind, page, console, values=values, preview=outcome)


@router.get("/vehicles/new", response_class=HTMLResponse)
def vehicle_form(page: PageDep, user: CurrentUser, console: ConsoleDep,
                 saved: str | None = None) -> HTMLResponse:
    """An empty vehicle form (after a save: what was saved, above it)."""
    return _form_page("vehicle", page, console, values={"saved": saved or "",
                                                        "occupants": "0"})


@router.post("/vehicles/new", response_class=HTMLResponse)
def vehicle_submit(page: PageDep, user: CurrentUser, console: ConsoleDep,
                   form: CheckedForm) -> Response:
    return _submit("vehicle", page, console, user, form)


@router.get("/visitors/new", response_class=HTMLResponse)
def visitor_form(page: PageDep, user: CurrentUser, console: ConsoleDep,
                 saved: str | None = None, vehicle_id: str | None = None) -> HTMLResponse:
    """An empty visitor form; `vehicle_id` pre-selects the vehicle the visitor came in."""
    return _form_page("visitor", page, console,
                      values={"saved": saved or "", "vehicle_id": (vehicle_id or "")[:64]})


@router.post("/visitors/new", response_class=HTMLResponse)
def visitor_submit(page: PageDep, user: CurrentUser, console: ConsoleDep,
                   form: CheckedForm) -> Response:
    return _submit("visitor", page, console, user, form)


@router.get("/inside", response_class=HTMLResponse)
def inside_page(page: PageDep, user: CurrentUser, ledger: ReadLedger, console: ConsoleDep,
                left: str | None = None) -> HTMLResponse:
    """Vehicles and visitors in without an out record, oldest first; one button each writes
    the out record."""
    return render(console.templates, page, "inside.html",
                  vehicles=ledger.inside_now("vehicle"), visitors=ledger.inside_now("visitor"),
                  left=ledger.find_event(left) if left else None, errors=[])


@router.post("/inside/{kind}/{visit_id}/out", response_class=HTMLResponse)
def record_out(kind: Kind, visit_id: str, page: PageDep, user: CurrentUser,
               console: ConsoleDep, form: CheckedForm) -> Response:
    try:
        outcome = with_registrar(console, lambda r: r.out(kind, visit_id[:64], user.name))
    except RegistrationRefused as error:
        with console.open_ledger() as ledger:
            return render(console.templates, page, "inside.html", 422,
                          vehicles=ledger.inside_now("vehicle"),
                          visitors=ledger.inside_now("visitor"), left=None,
                          errors=list(error.messages(page.locale).values()))
    return RedirectResponse(f"/inside?left={outcome.record.event_id}", 303)


@router.post("/alarms/{event_id}/ack", response_class=HTMLResponse)
def ack_alarm(event_id: str, page: PageDep, user: CurrentUser, console: ConsoleDep,
              form: CheckedForm) -> Response:
    """Record how an alarm was handled (action, re-measurement, note)."""
    values = {**_values(form), "ref_event_id": event_id[:64]}
    try:
        with_registrar(console, lambda r: r.ack(values, user.name))
    except RegistrationRefused as error:
        from station.console.routers.alarms import alarms_view

        return alarms_view(page, console, 1, ack_errors={event_id: error.messages(page.locale)},
                           ack_values={event_id: values}, status=422)
    return RedirectResponse("/alarms?acked=1", 303)


