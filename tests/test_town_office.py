"""The town office console (/office) through FastAPI's TestClient: every page and export,
compliance figures, drill-down, subject trace, returning workers, alarms, health,
administration behind CSRF (audited), and hostile query strings (a clear 4xx, never a 500)."""

from __future__ import annotations

import datetime as dt
import io
import re
import uuid
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync.town.app import create_app
from sync.town.office import queries
from sync.town.store import SqlTownStore
from tests.pgkit import new_town_db

DAY = "2021-02-22"
HONGLU, YONGCHUAN, YUXI = "红炉机械厂", "永川电子", "渝西食品"


def record(seq: int, at: str = "07:30:00", **fields: Any) -> dict[str, Any]:
    base = {"seq": seq, "event_id": f"e-{uuid.uuid4()}", "kind": "entry",
            "time": f"{DAY}T{at}.000+08:00", "clock_synced": True, "boot_id": "b1",
            "boottime_ns": 1_000_000_000 + seq, "direction": "in", "subject": f"W{seq}",
            "issuer": "500118", "color": "green", "temperature_c": 36.5, "ambient_c": 21.8,
            "decision": "admit", "reasons": []}
    base.update(fields)
    return base


pytestmark = pytest.mark.usefixtures("town_engine")  # every test on SQLite and PostgreSQL

RETURNED = {"returned": "2021-02-09", "origin": "outside-municipality", "nat": "2021-02-05"}


class Office:
    def __init__(self, tmp_path: Path) -> None:
        self.store = SqlTownStore(new_town_db(tmp_path / "town.db"))
        self.client = TestClient(create_app(self.store))
        self.tokens = {"gate-a": self.store.add_station("gate-a", HONGLU),
                       "gate-b": self.store.add_station("gate-b", YONGCHUAN),
                       "gate-c": self.store.add_station("gate-c", YUXI)}
        self.admin_id, self.admin = self.store.new_admin_token("test")

    def push(self, station: str, *entries: dict[str, Any], simulated: bool = False) -> None:
        body: dict[str, Any] = {
            "epoch": str(uuid.uuid4()), "entries": list(entries),
            "clock": {"wall": f"{DAY}T07:31:00.120+08:00", "synced": True, "boot_id": "b1",
                      "boottime_ns": 2_000_000_000}}
        if simulated:
            body["simulated"] = True
        answer = self.client.post(f"/api/v1/stations/{station}/entries", json=body,
                                  headers={"Authorization": f"Bearer {self.tokens[station]}"})
        assert answer.status_code == 200 and not answer.json()["quarantined"], answer.text

    def login(self) -> str:
        self.client.get("/")
        response = self.client.post("/login", data={"token": self.admin,
                                                    "csrf": self.client.cookies["town_login"]},
                                    follow_redirects=False)
        assert response.status_code == 303
        return csrf_of(self.client.get("/office/admin").text)

    def audit_count(self) -> int:
        return len(self.store.audit_log(limit=10000))


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "no CSRF field on the page"
    return found.group(1)


@pytest.fixture
def office(tmp_path: Path) -> Office:
    town = Office(tmp_path)
    alarm_handled = record(5, "07:34:00", kind="alarm", subject="W3", temperature_c=38.2,
                           decision=None, reasons=None)
    town.push("gate-a",
              record(1, subject="W1", name="王*"),
              record(2, "07:31:00", subject="W2", color="yellow", decision="deny",
                     reasons=["color"]),
              record(3, "07:32:00", subject="W3", temperature_c=38.1, decision="deny",
                     reasons=["fever"]),
              record(4, "07:33:00", kind="alarm", subject="W3", temperature_c=38.1,
                     decision=None, reasons=None),
              alarm_handled,
              record(6, "07:35:00", kind="ack", ref_event_id=alarm_handled["event_id"],
                     action="sent-home", subject=None, decision=None, reasons=None),
              record(7, "07:36:00", kind="vehicle", plate="渝A12345", subject=None,
                     decision=None, reasons=None),
              record(8, "07:37:00", kind="visitor", name="访*", subject=None),
              record(9, "07:38:00", kind="fault", device="thermometer", subject=None,
                     decision=None, reasons=None, temperature_c=None),
              record(10, "07:39:00", subject="W4", name="赵*", **RETURNED))
    town.push("gate-b",
              record(1, "12:00:00", subject="W1", name="王*"),
              record(2, "17:00:00", subject="W4", name="赵*", **RETURNED))
    town.push("gate-b", record(1, "08:00:00", subject="W9", kind="alarm", decision=None,
                               temperature_c=39.0, reasons=None), simulated=True)
    return town


def page_of(office: Office, url: str) -> str:
    answer = office.client.get(url)
    assert answer.status_code == 200, (url, answer.status_code, answer.text[:300])
    assert "text/html" in answer.headers["content-type"]
    return str(answer.text)


def rows_of_xlsx(content: bytes) -> list[list[Any]]:
    book = openpyxl.load_workbook(io.BytesIO(content))
    return [list(row) for row in book.active.iter_rows(values_only=True)]


PAGES = ["/office", f"/office?date={DAY}", f"/office/enterprise?name={HONGLU}&date={DAY}",
         f"/office/station/gate-a?date={DAY}", "/office/trace",
         f"/office/trace?subject=W1&from=2021-02-15&to={DAY}", f"/office/returning?date={DAY}",
         f"/office/alarms?from=2021-02-15&to={DAY}", f"/office/health?date={DAY}",
         "/office/audit", "/office/admin"]


def test_the_dashboard_links_to_the_console(office: Office) -> None:
    office.login()
    assert 'href=/office' in page_of(office, "/")


def test_every_page_needs_the_login(office: Office) -> None:
    for url in PAGES:
        answer = office.client.get(url, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == "/", url


@pytest.mark.parametrize("url", PAGES)
def test_every_page_and_its_export(office: Office, url: str) -> None:
    office.login()
    page = page_of(office, url)
    assert "<script" not in page and "style=" not in page  # the CSP forbids inline ones
    if url == "/office/admin" or url == "/office/trace":
        return
    joiner = "&" if "?" in url else "?"
    answer = office.client.get(f"{url}{joiner}format=xlsx")
    assert answer.status_code == 200, answer.text[:300]
    assert answer.headers["content-type"].startswith("application/vnd.openxmlformats")
    rows = rows_of_xlsx(answer.content)
    assert len(rows) >= 2 and all(isinstance(h, str) for h in rows[1] if h is not None)


def test_compliance_per_enterprise_and_the_one_that_registered_nobody(office: Office) -> None:
    office.login()
    page = page_of(office, f"/office?date={DAY}")
    rows = re.findall(r'<tr class="(nobody|)" data-enterprise="([^"]+)">(.*?)</tr>', page,
                      re.S)
    assert rows[0][:2] == ("nobody", YUXI)  # first, marked
    assert "无人登记" in rows[0][2]
    table = office.store  # the figures themselves, from the report
    from sync.town.office import report

    day = dt.date.fromisoformat(DAY)
    figures = report.compliance(table.db, day, day, now=dt.datetime(2021, 2, 22, 18,
                                                                     tzinfo=dt.UTC),
                                silent_after=dt.timedelta(minutes=10))[DAY]
    honglu = figures[HONGLU]
    assert (honglu.people, honglu.entries, honglu.denied) == (4, 4, 2)
    assert (honglu.fevers, honglu.unhandled, honglu.faults) == (2, 1, 1)
    assert (honglu.vehicles, honglu.visitors) == (1, 1)
    assert dict(honglu.reasons) == {"color": 1, "fever": 1}
    assert figures[YONGCHUAN].fevers == 0  # the simulated alarm never counts
    assert figures[YUXI].nobody and not honglu.nobody


def test_past_days_are_reused_for_a_while_and_today_is_live(office: Office) -> None:
    from sync.town.office import report

    now = dt.datetime.now(dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=8)))
    today = now.date()
    day = dt.date.fromisoformat(DAY)

    def people(on: dt.date) -> int:
        table = report.compliance(office.store.db, on, on, now=now,
                                  silent_after=dt.timedelta(minutes=10))
        return table[on.isoformat()][YUXI].people

    assert people(day) == 0 and people(today) == 0
    office.push("gate-c", record(1, subject="W77"),
                record(2, subject="W78", time=now.isoformat(timespec="milliseconds")))
    assert people(day) == 0  # a closed day: the figures read a moment ago
    assert people(today) == 1  # today: live
    report._cache.clear()
    assert people(day) == 1


def test_the_14_day_view_has_charts_and_every_day(office: Office) -> None:
    office.login()
    page = page_of(office, f"/office?date={DAY}")
    assert page.count("<svg") == 2 and "2021-02-09" in page and DAY in page
    answer = office.client.get(f"/office?date={DAY}&format=xlsx")
    rows = rows_of_xlsx(answer.content)
    assert len(rows) == 2 + 14 * 3  # title, header, 14 days × 3 enterprises


def test_drill_down_enterprise_station_records(office: Office) -> None:
    office.login()
    enterprise = page_of(office, f"/office/enterprise?name={HONGLU}&date={DAY}")
    assert "/office/station/gate-a?date=2021-02-22" in enterprise and "gate-b" not in enterprise
    station = page_of(office, f"/office/station/gate-a?date={DAY}")
    assert "渝A12345" not in station  # plates are not a column; the record is listed by kind
    assert station.count('<tr class="kind-') == 10 and "thermometer" in station
    assert "/office/trace?subject=W4" in station


def test_station_records_are_paged(office: Office, monkeypatch: pytest.MonkeyPatch) -> None:
    from sync.town.office import pages

    monkeypatch.setattr(pages, "PAGE_ROWS", 4)
    office.login()
    first = page_of(office, f"/office/station/gate-a?date={DAY}")
    assert first.count('<tr class="kind-') == 4
    cursor = re.search(r'after=(\d+)', first)
    assert cursor
    second = page_of(office, f"/office/station/gate-a?date={DAY}&after={cursor.group(1)}")
    assert second.count('<tr class="kind-') == 4 and "07:34:00" in second


def test_subject_trace_across_enterprises_and_its_export(office: Office) -> None:
    office.login()
    page = page_of(office, f"/office/trace?subject=W1&from=2021-02-20&to={DAY}")
    assert "2 个站点" in page and HONGLU in page and YONGCHUAN in page
    rows = rows_of_xlsx(office.client.get(
        f"/office/trace?subject=W1&from=2021-02-20&to={DAY}&format=xlsx").content)
    assert [r[2] for r in rows[2:]] == ["gate-a", "gate-b"]  # in the order they happened
    nothing = page_of(office, "/office/trace?subject=W1&from=2021-01-01&to=2021-01-31")
    assert "0 条记录" in nothing


def test_returning_workers_follow_ups_and_where_last_seen(office: Office) -> None:
    office.login()
    page = page_of(office, f"/office/returning?date={DAY}")
    row = re.search(r'<tr class="state-overdue">(.*?)</tr>', page, re.S)
    assert row, page
    cells = row.group(1)
    assert "W4" in cells and "2021-02-09" in cells and "已逾期" in cells  # day 7: NAT too old
    assert "2021-02-23" in cells and "明日到期" in cells
    assert "gate-b" in cells and YONGCHUAN in cells and HONGLU in cells  # seen last at gate-b
    rows = rows_of_xlsx(office.client.get(f"/office/returning?date={DAY}&format=xlsx").content)
    assert rows[2][0] == "W4" and rows[2][-2] == "gate-b"
    later = page_of(office, "/office/returning?date=2021-03-20")
    assert "W4" not in later  # past rules_apply_days: no longer followed


def test_alarms_with_their_handled_state(office: Office) -> None:
    office.login()
    everything = page_of(office, f"/office/alarms?from={DAY}&to={DAY}")
    assert everything.count('<tr class="unhandled">') == 1
    assert everything.count('<tr class="handled">') == 1 and "sent-home" in everything
    unhandled = page_of(office, f"/office/alarms?from={DAY}&to={DAY}&handled=no")
    assert '<tr class="handled">' not in unhandled and "38.1" in unhandled
    other = page_of(office, f"/office/alarms?from={DAY}&to={DAY}&enterprise={YONGCHUAN}")
    assert "38." not in other and "39.0" not in other  # the simulated alarm: never


def test_station_health(office: Office) -> None:
    office.client.post("/api/v1/stations/gate-a/heartbeat", headers={
        "Authorization": f"Bearer {office.tokens['gate-a']}"}, json={
        "time": dt.datetime.now(dt.UTC).isoformat(), "clock_synced": True,
        "version": "0.3.0", "backlog": 7, "faults": ["camera"], "bundle_version": None})
    office.login()
    page = page_of(office, f"/office/health?date={DAY}")
    gate_a = re.search(r'gate-a</a></td>(.*?)</tr>', page, re.S)
    assert gate_a and "在线" in gate_a.group(1) and "camera" in gate_a.group(1)
    assert ">7<" in gate_a.group(1)
    assert "从未上线" in page  # gate-b and gate-c never sent a heartbeat


def test_the_english_switch(office: Office) -> None:
    office.login()
    answer = office.client.get("/office/lang/en?next=/office/alarms", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/office/alarms"
    assert "Fever alarms across the town" in page_of(office, "/office/alarms")
    away = office.client.get("/office/lang/en?next=//evil.example/x", follow_redirects=False)
    assert away.headers["location"] == "/office"


HOSTILE = [
    "/office?date=2021-13-01", "/office?date=2021-02-30", "/office?date=yesterday",
    "/office?date=99999-01-01", "/office?date=" + "9" * 5000, "/office?date=2021-2-3",
    "/office?date=%00", "/office?format=pdf", "/office/enterprise?name=nobody",
    "/office/enterprise", "/office/enterprise?name=" + "企" * 3000,
    "/office/station/no-such-station", "/office/station/gate-a?after=-1",
    "/office/station/gate-a?after=99999999999999999999999",
    "/office/station/gate-a?date=2021-02-22T00:00", "/office/trace?subject=" + "W" * 40,
    "/office/trace?subject=W1&from=2021-01-01&to=2021-03-01",
    "/office/trace?subject=W1&from=2021-02-22&to=2021-02-01", "/office/trace?format=xlsx",
    "/office/alarms?handled=maybe", "/office/alarms?after=abc", "/office/alarms?from=x",
    "/office/returning?date=0000-01-01", "/office/health?date=", "/office/audit?after=1e9",
    "/office/station/%2e%2e", "/office/nope",
]


def test_hostile_query_strings_are_a_clear_4xx(office: Office) -> None:
    office.login()
    for url in HOSTILE:  # one town for them all: a town database per URL is slow on PG
        answer = office.client.get(url)
        if url == "/office/health?date=":
            assert answer.status_code == 200  # empty: today
            continue
        assert 400 <= answer.status_code < 500, (url, answer.status_code)
        if url.startswith("/office/") and url != "/office/nope":
            assert "请求有误" in answer.text and 'role="alert"' in answer.text, url


@pytest.fixture(scope="module")
def fuzz_office(tmp_path_factory: pytest.TempPathFactory, town_engine: str) -> Office:
    if town_engine != "sqlite":  # the same pages and parsing: once is enough
        pytest.skip("the query-string fuzz runs on SQLite only")
    town = Office(tmp_path_factory.mktemp("office-fuzz"))
    town.push("gate-a", record(1), record(2, kind="alarm", decision=None, reasons=None))
    town.login()
    return town


FUZZ_PAGES = ["/office", "/office/enterprise", "/office/station/gate-a", "/office/station/x",
              "/office/trace", "/office/returning", "/office/alarms", "/office/health",
              "/office/audit", "/office/admin", "/office/lang/en"]
ANY_TEXT = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=14)
PARAMS = st.dictionaries(
    st.sampled_from(["date", "from", "to", "after", "subject", "name", "handled", "format",
                     "enterprise", "next"]),
    ANY_TEXT | st.sampled_from(["2021-02-22", "2021-02-29", "9999-12-31", "xlsx", "yes",
                                HONGLU, "-1", str(2**64)]), max_size=4)


@settings(max_examples=200, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(path=st.sampled_from(FUZZ_PAGES), params=PARAMS)
def test_no_query_string_gets_a_5xx(fuzz_office: Office, path: str,
                                    params: dict[str, str]) -> None:
    answer = fuzz_office.client.get(path, params=params, follow_redirects=False)
    assert answer.status_code < 500, (path, params, answer.status_code)
    assert answer.status_code in (200, 303, 400, 404), (path, params, answer.status_code)


# -- administration ------------------------------------------------------------------------


def test_changes_need_the_sessions_csrf_token(office: Office) -> None:
    office.login()
    before = office.audit_count()
    for csrf in ("", "forged"):
        answer = office.client.post("/office/admin/station-add", data={
            "csrf": csrf, "station": "gate-x", "enterprise": "X"})
        assert answer.status_code == 403 and "表单已过期" in answer.text
    assert office.audit_count() == before
    assert "gate-x" not in {s.id for s in office.store.stations()}


def test_station_add_rotate_disable_enable_are_audited(office: Office) -> None:
    csrf = office.login()
    added = office.client.post("/office/admin/station-add", data={
        "csrf": csrf, "station": "gate-x", "enterprise": "新企业"})
    assert added.status_code == 200
    token = re.search(r'<code id="new-token">([^<]+)</code>', added.text)
    assert token and office.store.station_for_token(token.group(1)) is not None
    rotated = office.client.post("/office/admin/station-rotate",
                                 data={"csrf": csrf, "station": "gate-x"})
    assert office.store.station_for_token(token.group(1)) is None and rotated.status_code == 200
    done = office.client.post("/office/admin/station-disable",
                              data={"csrf": csrf, "station": "gate-x"}, follow_redirects=False)
    assert done.status_code == 303
    assert [s.disabled for s in office.store.stations() if s.id == "gate-x"] == [True]
    office.client.post("/office/admin/station-enable", data={"csrf": csrf, "station": "gate-x"})
    log = office.store.audit_log()
    assert [a["action"] for a in log[:4]] == ["station-enable", "station-disable",
                                             "station-rotate-token", "station-add"]
    assert {a["who"] for a in log[:4]} == {f"web:admin {office.admin_id} (test)"}
    audit = page_of(office, "/office/audit")
    assert "station-add" in audit and "gate-x (新企业)" in audit


def test_bad_admin_input_is_one_line_and_changes_nothing(office: Office) -> None:
    csrf = office.login()
    before = office.audit_count()
    cases = [("station-add", {"station": "bad id!", "enterprise": "X"}),
             ("station-add", {"station": "gate-a", "enterprise": "X"}),
             ("station-rotate", {"station": "no-such"}),
             ("write-off", {"station": "gate-a", "epoch": "nope", "through": "5",
                            "reason": "lost card"}),
             ("write-off", {"station": "gate-a", "epoch": "e", "through": "-5", "reason": "r"}),
             ("admin-token-revoke", {"id": "999"}),
             ("trust-add", {"key": "not a key"}), ("trust-add", {"key": "[" * 5000}),
             ("trust-add", {"key": '{"kid": "x"}'}),
             ("trust-remove", {"kid": "00"}), ("rule-set", {"key": "fever_threshold_c",
                                                            "value": "99"}),
             ("rule-set", {"key": "fever_threshold_c", "value": "[unclosed"}),
             ("rule-unset", {"key": "nothing"}), ("revoke", {"subject": "W" * 40}),
             ("revoke", {"subject": "W1", "before": "not a time"}),
             ("bundle-sign", {})]
    for action, fields in cases:
        answer = office.client.post(f"/office/admin/{action}", data={"csrf": csrf, **fields})
        assert answer.status_code == 400, (action, fields, answer.status_code)
        assert answer.text.count('class="problem"') == 1, (action, fields)
    assert office.audit_count() == before
    assert office.client.post("/office/admin/nope", data={"csrf": csrf}).status_code == 404


def test_tokens_trust_revocations_and_rules_from_the_console(office: Office,
                                                            tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    csrf = office.login()
    made = office.client.post("/office/admin/admin-token-new", data={"csrf": csrf,
                                                                    "note": "值班"})
    token = re.search(r'<code id="new-token">([^<]+)</code>', made.text)
    assert token and office.store.admin_for_token(token.group(1)) is not None
    new_id = office.store.admin_for_token(token.group(1)).id  # type: ignore[union-attr]
    office.client.post("/office/admin/admin-token-revoke", data={"csrf": csrf,
                                                                  "id": str(new_id)})
    assert office.store.admin_for_token(token.group(1)) is None
    pem = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    office.client.post("/office/admin/trust-add", data={"csrf": csrf, "key": pem,
                                                        "issuer": "500118"})
    (entry,) = office.store.trust_keys()
    office.client.post("/office/admin/revoke", data={"csrf": csrf, "subject": "W2",
                                                     "before": "2021-02-22T08:00:00+08:00"})
    office.client.post("/office/admin/rule-set", data={"csrf": csrf,
                                                       "key": "fever_threshold_c",
                                                       "value": "37.5"})
    assert office.store.rules() == {"fever_threshold_c": 37.5}
    page = page_of(office, "/office/admin")
    assert "W2" in page and "2021-02-22 08:00:00" in page and "fever_threshold_c" in page
    assert "尚未签发" in page
    office.client.post("/office/admin/trust-remove", data={"csrf": csrf, "kid": entry["kid"]})
    office.client.post("/office/admin/rule-unset", data={"csrf": csrf,
                                                         "key": "fever_threshold_c"})
    assert office.store.trust_keys() == [] and office.store.rules() == {}
    actions = [a["action"] for a in office.store.audit_log()[:7]]
    assert actions == ["rule-unset", "trust-remove", "rule-set", "revoke", "trust-add",
                       "admin-token-revoke", "admin-token-new"]


def test_the_reads_are_portable_sql() -> None:
    """queries.py runs unchanged on SQLite and PostgreSQL: named parameters only, none of
    SQLite's own functions or operators."""
    source = Path(queries.__file__).read_text(encoding="utf-8").lower()
    for sqlite_only in ("datetime(", "strftime", "julianday", "json_extract", "json_each",
                        "group_concat", "ifnull", "||", "rowid", " glob ", "insert or",
                        "?,", "(?", "= ?"):
        assert sqlite_only not in source, sqlite_only
    assert "row[0]" not in source and "row[1]" not in source


def test_sign_now_with_the_online_key_is_audited_as_the_admin(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from sync.town.app import Settings

    town = Office(tmp_path)
    town.client = TestClient(create_app(town.store, Settings(
        bundle_key=ed25519.Ed25519PrivateKey.generate())))
    csrf = town.login()
    assert "立即签发" in page_of(town, "/office/admin")
    signed = town.client.post("/office/admin/bundle-sign", data={"csrf": csrf},
                              follow_redirects=False)
    assert signed.status_code == 303 and town.store.served_bundle() is not None
    (entry,) = [a for a in town.store.audit_log() if a["action"] == "bundle-sign"]
    assert entry["who"] == f"web:admin {town.admin_id} (test)"
    again = town.client.post("/office/admin/bundle-sign", data={"csrf": csrf})
    assert again.status_code == 400 and "current" in again.text


def test_the_trace_lists_who_was_at_the_same_gate_at_the_same_time(office: Office) -> None:
    office.login()
    url = f"/office/trace?subject=W1&from={DAY}&to={DAY}"
    page = page_of(office, url)
    table = page.split('<table class="contacts">')[1].split("</table>")[0]
    assert re.findall(r"subject=(W\d)", table) == ["W2", "W3", "W4"]  # closest first
    assert "W1<" not in table and "gate-b" not in table  # W4 came to gate-b hours later
    narrow = page_of(office, url + "&window=5")
    table = narrow.split('<table class="contacts">')[1].split("</table>")[0]
    assert re.findall(r"subject=(W\d)", table) == ["W2", "W3"]
    rows = rows_of_xlsx(office.client.get(url + "&format=xlsx&part=contacts").content)
    assert [(r[0], r[3], r[6]) for r in rows[2:]] == [("W2", "gate-a", 1.0),
                                                      ("W3", "gate-a", 2.0),
                                                      ("W4", "gate-a", 9.0)]
    assert office.client.get(url + "&window=7").status_code == 400


def test_the_demo_town_on_this_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    """`python -m sync.town.office.demo DB` fills a SQLite file or a PostgreSQL URL, and
    every page of the console reads it."""
    from sync.town.office import demo

    where = new_town_db(tmp_path / "demo.db")
    monkeypatch.setattr("sys.argv", ["demo", where, DAY])
    demo.main()
    token = capsys.readouterr().out.split(": ")[-1].strip()
    store = SqlTownStore(where)
    assert store.admin_for_token(token) is not None
    assert len(store.stations()) == 8
    client = TestClient(create_app(store))
    client.get("/")
    assert client.post("/login", data={"token": token, "csrf": client.cookies["town_login"]},
                       follow_redirects=False).status_code == 303
    for url in (f"/office?date={DAY}", f"/office/enterprise?name={HONGLU}&date={DAY}",
                f"/office/station/honglu-gate1?date={DAY}", f"/office/returning?date={DAY}",
                f"/office/alarms?from=2021-02-09&to={DAY}", f"/office/health?date={DAY}"):
        answer = client.get(url)
        assert answer.status_code == 200, (url, answer.text[:300])
    assert "linjiang-yard" in client.get(f"/office/health?date={DAY}").text
    store.close()
