"""The town office console's administration pages: what `town-server` does on the command
line — stations and their tokens, admin tokens, trust keys, revocations, rules, the bundle's
signing state — as forms.

Every change is a POST carrying the session's CSRF token (a wrong or missing one is a 403
page, nothing changes) and goes through the same store function the CLI calls, which records
it in the `audit` table with who did it (`web:admin N (note)`), when and what. New tokens are
shown once, on the answer page, and never stored in clear. Bad input (an unknown station, a
rule value the stations would refuse, a key that is not a key) is shown on the page as one
line, status 400; nothing is half-done.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from jinja2 import Environment

from station.errors import StationError
from sync.town.auth import store_of
from sync.town.office import queries
from sync.town.office.pages import OfficeSession, db_of
from sync.town.office.web import Page, Problem, render
from sync.town.store import Session, constant_time_equal

MAX_FIELD = 20000


def who(session: Session) -> str:
    """The audit's `who` for a change made in the console."""
    note = f" ({session.admin.note})" if session.admin.note else ""
    return f"web:admin {session.admin.id}{note}"


def form_of(request: Request) -> dict[str, str]:
    """The POST form's fields (the first of each); the server read the body already."""
    body: bytes = getattr(request.state, "body", b"")
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {key: values[0][:MAX_FIELD] for key, values in fields.items()}


def checked_form(request: Request, session: Session) -> dict[str, str]:
    form = form_of(request)
    if not constant_time_equal(form.get("csrf", ""), session.csrf):
        raise Problem(403, Page(request, session).t("error.csrf"))
    return form


def install(app: Any, env: Environment) -> APIRouter:
    router = APIRouter(prefix="/office/admin", include_in_schema=False)
    settings = app.state.settings

    def admin_page(request: Request, session: Session, *, status: int = 200,
                   error: str = "", token: str = "", token_for: str = "") -> Response:
        store: Any = store_of(request)
        db = db_of(request)
        page = Page(request, session)
        served = store.served_bundle()
        state = queries.bundle_state(db)
        keys = json.loads(state["bundle_keys"]) if state and state["bundle_keys"] else []
        return render(env, page, "admin.html", status=status, error=error, token=token,
                      token_for=token_for, stations=store.stations(),
                      admin_tokens=store.admin_tokens(), trust=store.trust_keys(),
                      revocations=queries.revocations(db), rules=store.rules(),
                      served=served, state=state, bundle_keys=keys,
                      bundles=queries.bundles(db, limit=10),
                      online_key=settings.bundle_key is not None,
                      done=request.query_params.get("done", "")[:40],
                      kid_hex=_kid_hex)

    @router.get("")
    def overview(request: Request, session: OfficeSession) -> Response:
        return admin_page(request, session)

    @router.post("/{action}")
    def change(action: str, request: Request, session: OfficeSession) -> Response:
        form = checked_form(request, session)
        handler = ACTIONS.get(action)
        if handler is None:
            raise Problem(404, Page(request, session).t("error.not-found"))
        store: Any = store_of(request)
        try:
            shown = handler(store, form, who(session), settings)
        except (StationError, ValueError, KeyError, RecursionError) as error:
            message = str(error).strip().splitlines()[0] if str(error).strip() else action
            return admin_page(request, session, status=400, error=message)
        if shown is not None:
            label, token = shown
            return admin_page(request, session, token=token, token_for=label)
        return RedirectResponse(f"/office/admin?done={action}", status_code=303)

    return router


def _kid_hex(kid: str) -> str:
    from sync.town.signing import KeyId

    try:
        return KeyId.parse(kid).hex
    except (StationError, ValueError):
        return kid


def _required(form: dict[str, str], name: str) -> str:
    value = form.get(name, "").strip()
    if not value:
        raise ValueError(f"{name}: required")
    return value


# -- the actions: each calls the store function the CLI calls ---------------------------------

Shown = tuple[str, str] | None
Action = Callable[[Any, dict[str, str], str, Any], Shown]


def _station_add(store: Any, form: dict[str, str], who: str, _settings: Any) -> Shown:
    from station.ids import STATION_ID_RULE, is_station_id

    station_id, enterprise = _required(form, "station"), _required(form, "enterprise")
    if not is_station_id(station_id):
        raise ValueError(f"station: {STATION_ID_RULE}")
    if len(enterprise) > 200:
        raise ValueError("enterprise: at most 200 characters")
    return station_id, store.add_station(station_id, enterprise, who)


def _station_rotate(store: Any, form: dict[str, str], who: str, _settings: Any) -> Shown:
    station_id = _required(form, "station")
    return station_id, store.rotate_token(station_id, who)


def _station_disable(store: Any, form: dict[str, str], who: str, _settings: Any) -> Shown:
    store.set_disabled(_required(form, "station"), True, who)
    return None


def _station_enable(store: Any, form: dict[str, str], who: str, _settings: Any) -> Shown:
    store.set_disabled(_required(form, "station"), False, who)
    return None


def _write_off(store: Any, form: dict[str, str], who: str, _settings: Any) -> Shown:
    through = _required(form, "through")
    if not through.isascii() or not through.isdigit() or not 1 <= int(through) < 2**63:
        raise ValueError("through: a seq from 1 to 2^63-1")
    store.write_off(_required(form, "station"), _required(form, "epoch"), int(through), who,
                    _required(form, "reason"))
    return None


def _admin_token_new(store: Any, form: dict[str, str], who: str, _settings: Any) -> Shown:
    note = form.get("note", "").strip()[:200]
    admin_id, token = store.new_admin_token(note, who)
    return f"admin {admin_id} ({note})", token


def _admin_token_revoke(store: Any, form: dict[str, str], who: str, _settings: Any) -> Shown:
    token_id = _required(form, "id")
    if not token_id.isascii() or not token_id.isdigit() or len(token_id) > 18:
        raise ValueError("id: a token number")
    store.revoke_admin_token(int(token_id), who)
    return None


def _trust_add(store: Any, form: dict[str, str], who: str, _settings: Any) -> Shown:
    from cryptography.hazmat.primitives import serialization

    from station.trust import TrustList, trust_entry

    text = _required(form, "key")
    entry: Any
    if text.startswith("{"):
        entry = json.loads(text)  # ValueError names the problem
        if isinstance(entry, dict):
            entry.pop("kid_hex", None)
    else:
        try:
            key = serialization.load_pem_public_key(text.encode())
        except (ValueError, TypeError):
            raise ValueError("key: not a PEM public key or a trust-list entry") from None
        entry = trust_entry(key, form.get("issuer", "").strip() or "500118")
    checked = TrustList.from_document({"keys": [entry]}, "key")
    if not checked.keys:
        raise ValueError("key: kid does not match the key's spki")
    store.add_trust_key(entry, who)
    return None


def _trust_remove(store: Any, form: dict[str, str], who: str, _settings: Any) -> Shown:
    from sync.town.signing import KeyId

    store.remove_trust_key(KeyId.parse(_required(form, "kid")), who)
    return None


def _revoke(store: Any, form: dict[str, str], who: str, _settings: Any) -> Shown:
    import datetime as dt

    from station.clock import CST
    from station.timeparse import parse_instant

    subject = _required(form, "subject")
    if len(subject) > 32:
        raise ValueError("subject: 1–32 characters")
    before = form.get("before", "").strip()
    instant = parse_instant(before) if before else dt.datetime.now(CST)
    seconds = int(instant.timestamp())
    if seconds < 0:
        raise ValueError("before: must be after 1970-01-01")
    store.revoke(subject, seconds, who)
    return None


def _rule_set(store: Any, form: dict[str, str], who: str, _settings: Any) -> Shown:
    from station.bundle import check_rules
    from station.yamlfile import YamlError, load_yaml_text
    from sync.town.signing import nest_rules

    key = _required(form, "key")
    try:
        value = load_yaml_text(_required(form, "value"), f"rules set {key}")
    except YamlError:
        raise ValueError("value: not a YAML value") from None
    check_rules(nest_rules({**store.rules(), key: value}))
    store.set_rule(key, value, who)
    return None


def _rule_unset(store: Any, form: dict[str, str], who: str, _settings: Any) -> Shown:
    store.unset_rule(_required(form, "key"), who)
    return None


def _bundle_sign(store: Any, _form: dict[str, str], who: str, settings: Any) -> Shown:
    if settings.bundle_key is None:
        raise ValueError("this server has no online signing key (serve --bundle-key); use "
                         "bundle export / sign / import")
    if store.sign_if_needed(settings.bundle_key, settings.bundle_lifetime, who=who) is None:
        raise ValueError("the served bundle is current: nothing to sign")
    return None


ACTIONS: dict[str, Action] = {
    "station-add": _station_add, "station-rotate": _station_rotate,
    "station-disable": _station_disable, "station-enable": _station_enable,
    "write-off": _write_off, "admin-token-new": _admin_token_new,
    "admin-token-revoke": _admin_token_revoke, "trust-add": _trust_add,
    "trust-remove": _trust_remove, "revoke": _revoke, "rule-set": _rule_set,
    "rule-unset": _rule_unset, "bundle-sign": _bundle_sign,
}
