"""The station console's routes: authentication, roles, CSRF, login rate limiting, security
headers, escaping of hostile text, bad input, every page and download, the live feed, and
that a console reader never blocks the gate's commits."""

from __future__ import annotations

import datetime as dt
import io
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient

from station.console.accounts import AccountStore, LoginLimiter
from station.console.deps import SESSION_COOKIE
from station.console.state import Console
from station.ledger import Ledger
from station.messages import TEXTS
from station.reports import daily_report
from tests.consolekit import (
    DAY,
    GUARD,
    GUARD_PASSWORD,
    HOSTILE_NAME,
    OFFICER,
    OFFICER_PASSWORD,
    csrf_of,
    entry,
    fill_ledger,
    log_in,
    make_app,
)

OFFICER_PAGES = [f"/register?date={DAY}", f"/records?from={DAY}&to={DAY}", "/records/2",
                 f"/returning?date={DAY}", f"/stats?date={DAY}", "/health",
                 f"/whatif?date={DAY}&run=1&fever_threshold_c=37.0&color=green",
                 f"/register.xlsx?date={DAY}", f"/register.csv?date={DAY}",
                 f"/returning.xlsx?date={DAY}", f"/returning.csv?date={DAY}",
                 f"/api/v1/records?from={DAY}&to={DAY}"]
GUARD_PAGES = ["/", "/alarms", "/display"]


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Console, Any, Ledger]]:
    ledger = fill_ledger(tmp_path / "ledger.db")
    console, app = make_app(tmp_path)
    yield console, app, ledger
    ledger.close()
    console.accounts.close()


@pytest.fixture
def officer(setup: tuple[Console, Any, Ledger]) -> TestClient:
    client = TestClient(setup[1])
    assert log_in(client, OFFICER, OFFICER_PASSWORD).status_code == 303
    return client


@pytest.fixture
def guard(setup: tuple[Console, Any, Ledger]) -> TestClient:
    client = TestClient(setup[1])
    assert log_in(client, GUARD, GUARD_PASSWORD).status_code == 303
    return client


# -- authentication ---------------------------------------------------------------------------

@pytest.mark.parametrize("path", GUARD_PAGES[:2] + OFFICER_PAGES)
def test_every_page_needs_a_login(setup: Any, path: str) -> None:
    client = TestClient(setup[1])
    response = client.get(path, follow_redirects=False)
    if path.startswith("/api/"):
        assert response.status_code == 401
    else:
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=")


def test_login_sets_a_server_side_session_cookie(setup: Any) -> None:
    client = TestClient(setup[1])
    response = log_in(client, OFFICER, OFFICER_PASSWORD)
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert f"{SESSION_COOKIE}=" in cookie and "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "samesite=strict" in cookie.lower()
    assert client.get("/").status_code == 200


def test_secure_cookies_behind_tls(tmp_path: Path) -> None:
    fill_ledger(tmp_path / "ledger.db").close()
    _, app = make_app(tmp_path, secure_cookies=True)
    response = log_in(TestClient(app), OFFICER, OFFICER_PASSWORD)
    assert "Secure" in response.headers["set-cookie"]


def test_wrong_password_and_unknown_user_are_refused_alike(setup: Any) -> None:
    client = TestClient(setup[1])
    wrong = log_in(client, OFFICER, "not-the-password")
    unknown = log_in(client, "nobody", "not-the-password")
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert "用户名或密码不正确" in response.text
    assert SESSION_COOKIE not in client.cookies


def test_login_without_its_csrf_token_is_refused(setup: Any) -> None:
    client = TestClient(setup[1])
    client.get("/login")
    response = client.post("/login", data={"name": OFFICER, "password": OFFICER_PASSWORD,
                                           "csrf": "forged"}, follow_redirects=False)
    assert response.status_code == 403
    assert SESSION_COOKIE not in client.cookies


def test_login_attempts_are_rate_limited(setup: Any) -> None:
    client = TestClient(setup[1])
    for _ in range(5):
        assert log_in(client, OFFICER, "wrong-password").status_code == 401
    limited = log_in(client, OFFICER, OFFICER_PASSWORD)  # even the right password now
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) > 0
    assert "登录失败次数过多" in limited.text
    assert SESSION_COOKIE not in client.cookies


def test_limiter_counts_per_address_and_per_name_and_forgets() -> None:
    now = [0.0]
    limiter = LoginLimiter(attempts=3, window_s=60, clock=lambda: now[0])
    for name in ("a", "b", "c"):  # a spray of names from one address
        limiter.failed("10.0.0.9", name)
    assert limiter.retry_after("10.0.0.9", "d") > 0
    assert limiter.retry_after("10.0.0.10", "d") == 0
    for address in ("1", "2", "3"):  # one name from many addresses
        limiter.failed(address, "victim")
    assert limiter.retry_after("4", "victim") > 0
    now[0] = 61
    assert limiter.retry_after("10.0.0.9", "d") == 0
    assert limiter.retry_after("4", "victim") == 0


def test_next_after_login_stays_on_this_site(setup: Any) -> None:
    client = TestClient(setup[1])
    token = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"name": OFFICER, "password": OFFICER_PASSWORD,
                                           "csrf": token, "next": "//evil.example/x"},
                           follow_redirects=False)
    assert response.headers["location"] == "/"


def test_logout_needs_the_csrf_token_and_ends_the_session(officer: TestClient) -> None:
    refused = officer.post("/logout", data={"csrf": "forged"}, follow_redirects=False)
    assert refused.status_code == 403
    assert "表单已过期或来源不明" in refused.text
    assert officer.get("/", follow_redirects=False).status_code == 200  # still logged in
    token = csrf_of(officer.get("/").text)
    cookie = officer.cookies[SESSION_COOKIE]
    assert officer.post("/logout", data={"csrf": token},
                        follow_redirects=False).status_code == 303
    officer.cookies.set(SESSION_COOKIE, cookie)  # the old token is worthless now
    assert officer.get("/", follow_redirects=False).status_code == 303


def test_sessions_expire_when_idle_and_at_most_after_max(tmp_path: Path) -> None:
    now = [1000.0]
    store = AccountStore(tmp_path / "a.db", idle_s=60, max_s=300, clock=lambda: now[0])
    user = store.add_user("u1", "guard", "password-123")
    token, _ = store.start_session(user)
    now[0] += 59
    assert store.session(token) is not None
    now[0] += 61  # idle too long
    assert store.session(token) is None
    token, _ = store.start_session(user)
    for _ in range(10):  # kept busy, but the absolute limit still ends it
        now[0] += 40
        if store.session(token) is None:
            break
    assert now[0] - 1120 <= 320 and store.session(token) is None


def test_disabling_a_user_ends_their_sessions(setup: Any, guard: TestClient) -> None:
    console = setup[0]
    assert guard.get("/").status_code == 200
    console.accounts.disable(GUARD)
    assert guard.get("/", follow_redirects=False).status_code == 303
    assert log_in(TestClient(setup[1]), GUARD, GUARD_PASSWORD).status_code == 401


def test_passwords_are_stored_only_as_argon2_hashes(setup: Any) -> None:
    console = setup[0]
    raw = Path(console.accounts.path).read_bytes()
    for name in ("console.db-wal",):
        wal = Path(console.accounts.path).with_name(name)
        if wal.exists():
            raw += wal.read_bytes()
    assert OFFICER_PASSWORD.encode() not in raw and GUARD_PASSWORD.encode() not in raw
    conn = sqlite3.connect(console.accounts.path)
    hashes = [row[0] for row in conn.execute("SELECT hash FROM users")]
    conn.close()
    assert hashes and all(h.startswith("$argon2id$") for h in hashes)
    assert Path(console.accounts.path).stat().st_mode & 0o077 == 0


# -- roles --------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", OFFICER_PAGES)
def test_a_guard_is_refused_officer_pages(guard: TestClient, path: str) -> None:
    response = guard.get(path)
    assert response.status_code == 403
    if not path.startswith("/api/"):
        assert "仅限安全员" in response.text


@pytest.mark.parametrize("path", GUARD_PAGES)
def test_a_guard_sees_the_gate_alarms_and_display(guard: TestClient, path: str) -> None:
    response = guard.get(path)
    assert response.status_code == 200
    assert "/register" not in response.text  # no link to pages they may not open


@pytest.mark.parametrize("path", GUARD_PAGES + OFFICER_PAGES)
@pytest.mark.parametrize("language", ["zh_CN", "en"])
def test_an_officer_sees_every_page_in_both_languages(officer: TestClient, path: str,
                                                      language: str) -> None:
    officer.cookies.set("gs_lang", language)
    response = officer.get(path)
    assert response.status_code == 200, response.text[:500]
    if response.headers["content-type"].startswith("text/html"):
        assert ('lang="en"' if language == "en" else 'lang="zh-CN"') in response.text


def test_language_switch_sets_a_cookie_and_returns_locally(officer: TestClient) -> None:
    response = officer.get("/lang/en?next=/alarms", follow_redirects=False)
    assert response.headers["location"] == "/alarms"
    assert "gs_lang=en" in response.headers["set-cookie"]
    assert "Fever alarms" in officer.get("/alarms").text
    away = officer.get("/lang/en?next=https://evil.example/", follow_redirects=False)
    assert away.headers["location"] == "/"


# -- headers and escaping -----------------------------------------------------------------------

def test_every_response_carries_the_security_headers(officer: TestClient) -> None:
    for path in ("/", "/login", "/static/console.css", f"/register.xlsx?date={DAY}"):
        headers = officer.get(path).headers
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "style-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
    assert officer.get("/").headers["cache-control"] == "no-store"


def test_pages_have_no_inline_script_or_style(officer: TestClient) -> None:
    for path in ["/", "/display", "/login", *OFFICER_PAGES[:8]]:
        text = officer.get(path).text
        assert "<script>" not in text and " style=" not in text and "<style" not in text
        assert " on" + "click=" not in text


def test_hostile_text_is_escaped_in_pages_and_exports(officer: TestClient) -> None:
    for path in ("/", f"/records?from={DAY}&to={DAY}", f"/register?date={DAY}"):
        text = officer.get(path).text
        assert HOSTILE_NAME not in text
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;=1+2" in text
    csv_text = officer.get(f"/register.csv?date={DAY}").text
    assert "'<script>" not in csv_text  # starts with <: not a formula, kept as typed
    book = openpyxl.load_workbook(io.BytesIO(officer.get(f"/register.xlsx?date={DAY}").content))
    names = [row[2] for row in book.active.iter_rows(min_row=3, values_only=True)]
    assert HOSTILE_NAME in names  # a string cell, not a formula


def test_csv_cells_that_look_like_formulas_are_defused(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.db")
    ledger.append(entry("08:00:00", "W0000009", "=HYPERLINK(1)", 36.5))
    ledger.close()
    _, app = make_app(tmp_path)
    client = TestClient(app)
    log_in(client, OFFICER, OFFICER_PASSWORD)
    assert "'=HYPERLINK(1)" in client.get(f"/register.csv?date={DAY}").text


# -- bad input ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "message"), [
    ("/records?from=2021-02-30", "不是日期"),
    ("/records?from=2021-03-01&to=2021-02-01", "晚于结束日期"),
    ("/records?from=2019-01-01&to=2021-02-01", "不能超过 366 天"),
    ("/records?colour=red", "不认识的参数：colour"),
    ("/records?page=99999999999999999999", "之间的整数"),
    (f"/records?from={DAY}&to={DAY}&page=150", "第 150 页不存在"),
    ("/records?kind=<b>", "不认识"),
    ("/records?subject=" + "x" * 65, "最多 64 个字符"),
    ("/register?date=yesterday", "不是日期"),
    ("/register.xlsx?from=2021-01-01&to=2021-03-01", "一次最多导出 31 天"),
    ("/alarms?page=0", "之间的整数"),
    ("/whatif?run=1&fever_threshold_c=nan", "之间的数"),
    ("/whatif?run=1&color=blue", "不认识"),
    ("/stats?date=2021-02-22&date=2021-02-23", "只能给一次"),
    ("/records/999999999999999999999999", "没有序号为"),
])
def test_bad_input_is_a_clear_message_not_a_traceback(officer: TestClient, path: str,
                                                      message: str) -> None:
    response = officer.get(path)
    assert 400 <= response.status_code < 500
    assert message in response.text, response.text[:800]
    assert "Traceback" not in response.text


def test_the_api_answers_bad_input_with_json(officer: TestClient) -> None:
    response = officer.get("/api/v1/records?from=2021-03-01&to=2021-02-01&x=1")
    assert response.status_code == 400
    body = response.json()
    assert len(body["problems"]) == 2


def test_unknown_record_and_unknown_page(officer: TestClient) -> None:
    assert officer.get("/records/99999").status_code == 404
    response = officer.get("/no/such/page")
    assert response.status_code == 404 and "没有这个页面" in response.text


def test_a_missing_ledger_is_a_503_page(tmp_path: Path) -> None:
    _, app = make_app(tmp_path)
    client = TestClient(app)
    log_in(client, OFFICER, OFFICER_PASSWORD)
    response = client.get("/")
    assert response.status_code == 503 and "暂时无法读取台账" in response.text


# -- pages --------------------------------------------------------------------------------------

def test_gate_page_shows_counts_faults_and_latest(officer: TestClient, setup: Any,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("station.console.routers.gate.today_text", lambda: DAY.isoformat())
    text = officer.get("/").text
    assert 'data-count="admitted">4<' in text and 'data-count="denied">4<' in text
    assert 'data-count="alarms">1<' in text and 'data-count="backlog">13<' in text
    assert 'id="faults" class="faults hidden"' in text  # the thermometer recovered
    assert text.index("W0000666") < text.index("W0000002")  # newest first


def test_register_page_and_xlsx_equal_the_daily_report(officer: TestClient,
                                                       setup: Any) -> None:
    console, _, ledger = setup
    report = daily_report(ledger, DAY, console.policy())
    page = officer.get(f"/register?date={DAY}").text
    assert "人数 6；准入 4 次，拒绝 4 次，出厂 1 次，发热告警 1 次" in page
    assert "检查人签名" in page
    book = openpyxl.load_workbook(io.BytesIO(officer.get(f"/register.xlsx?date={DAY}").content))
    sheet = book.active
    assert sheet.title == DAY.isoformat()
    assert sheet["A1"].value == f"红炉机械厂 入厂体温登记表  {DAY}"
    assert sheet.freeze_panes == "A3" and sheet.auto_filter.ref == "A2:J8"
    rows = list(sheet.iter_rows(min_row=3, max_row=2 + len(report.people), values_only=True))
    assert [(r[1], r[2], r[4], r[5], r[9]) for r in rows] == [
        (p.subject, p.name, dt.datetime.fromisoformat(p.first_time).replace(tzinfo=None),
         p.temperature_c, p.entries) for p in report.people]
    assert isinstance(rows[0][4], dt.datetime)  # a real Excel date-time
    assert sheet["D3"].number_format == "General" and sheet["E3"].number_format.startswith(
        "yyyy-mm-dd")
    assert sheet.column_dimensions["I"].width >= 12  # 原因 fits Chinese text
    fever = next(r for r in rows if r[1] == "W0000003")
    assert fever[7] == "拒绝" and fever[8] == "体温异常，请到临时观察点复测"


def test_a_month_of_registers_is_one_sheet_per_day(officer: TestClient) -> None:
    response = officer.get("/register.xlsx?from=2021-02-01&to=2021-02-28")
    assert response.status_code == 200
    assert "register-2021-02-01-2021-02-28.xlsx" in response.headers["content-disposition"]
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    assert len(book.sheetnames) == 28 and book.sheetnames[21] == "2021-02-22"
    assert book["2021-02-21"]["B3"].value == "W0000001"


def test_records_search_filters_and_detail(officer: TestClient) -> None:
    denied = officer.get(f"/records?from={DAY}&to={DAY}&decision=deny").text
    assert "共 5 条" in denied  # four denied entries and the fever's alarm
    fever = officer.get(f"/records?from={DAY}&to={DAY}&reason=fever").text
    assert "共 2 条" in fever  # the entry and its alarm
    one = officer.get(f"/records?from=2021-02-21&to={DAY}&subject=W0000001").text
    assert "共 3 条" in one
    detail = officer.get("/records/4").text  # the fever entry
    assert "37.8" in detail and "体温异常" in detail and "尚未上报" in detail
    api = officer.get(f"/api/v1/records?from={DAY}&to={DAY}&kind=alarm").json()
    assert api["total"] == 1 and api["records"][0]["readings"] == [37.9, 37.8]


def test_alarms_newest_first(officer: TestClient) -> None:
    text = officer.get("/alarms").text
    assert "共 1 次" in text and "W0000003" in text and "37.9 → 37.8" in text


def test_returning_workers_due_and_overdue(officer: TestClient) -> None:
    # W0000005 returned 2021-02-10 with a NAT of 2021-02-08: day 7 (02-17) overdue on 02-22;
    # day 14 (02-24) not yet due; on 02-23 day 14 is due tomorrow.
    text = officer.get(f"/returning?date={DAY}").text
    assert "W0000005" in text and "已逾期" in text and "2021-02-17" in text
    tomorrow = officer.get("/returning?date=2021-02-23").text
    assert "明天到期" in tomorrow and "2021-02-24" in tomorrow
    book = openpyxl.load_workbook(io.BytesIO(
        officer.get("/returning.xlsx?date=2021-02-23").content))
    values = [r for r in book.active.iter_rows(min_row=3, values_only=True) if r[0]]
    assert {(r[0], r[4], r[7]) for r in values} == {("W0000005", 7, "已逾期"),
                                                     ("W0000005", 14, "明天到期")}


def test_statistics_are_svg_with_text_as_text(officer: TestClient) -> None:
    text = officer.get(f"/stats?date={DAY}").text
    assert text.count("<svg") == 4
    assert "<text" in text and "发热线 37.3" in text and "体温异常，请到临时观察点复测" in text
    assert "每10分钟入厂人次" in text and "<img" not in text


def test_health_page(officer: TestClient) -> None:
    text = officer.get("/health").text
    assert "测温仪已恢复" in text
    assert "待上报记录" in text and "未配置（town.url）" in text and "尚未收到" in text


def test_whatif_lists_who_would_be_decided_differently(officer: TestClient) -> None:
    text = officer.get(f"/whatif?date={DAY}&run=1&fever_threshold_c=36.8&color=green"
                       "&color=yellow").text
    # 36.9 (李) becomes a fever; 37.8 stays one; the yellow code is now admitted
    assert "结果不同 2 次" in text, text[-3000:]
    assert "W0000002" in text and "W0000004" in text
    unchanged = officer.get(f"/whatif?date={DAY}&run=1&fever_threshold_c=37.3&color=green")
    assert "这一天没有人的判定会改变" in unchanged.text


def test_whatif_redecides_with_the_pure_policy_function() -> None:
    from station.config import PolicySettings
    from station.console.whatif import what_if

    monitoring = entry("08:00:00", "W1", "甲", 36.5, nat="2021-02-18", returned="2021-02-20",
                       origin="risk-district")
    unverifiable = entry("08:01:00", None, None, None, "deny", ("expired",))
    policy = PolicySettings().with_overrides({"returning.during_monitoring": "deny"})
    result = what_if([monitoring, unverifiable], policy, DAY)
    assert result.admitted_before == 1 and result.admitted_after == 0
    assert [c.after.reasons for c in result.changed] == [("monitoring",)]


def test_display_is_masked_and_can_be_opened_from_the_kiosk_address(tmp_path: Path) -> None:
    fill_ledger(tmp_path / "ledger.db").close()
    _, app = make_app(tmp_path, display_from=["testclient"])
    client = TestClient(app)  # not logged in; TestClient's address is "testclient"
    response = client.get("/display")
    assert response.status_code == 200 and "请出示健康码" in response.text
    assert client.get("/", follow_redirects=False).status_code == 303  # nothing else


def test_display_needs_a_login_elsewhere(setup: Any) -> None:
    client = TestClient(setup[1])
    assert client.get("/display", follow_redirects=False).status_code == 303


# -- the live feed ------------------------------------------------------------------------------

def read_events(response: Any, wanted: int, timeout_s: float, *, counts: bool = False
                ) -> list[tuple[str, dict[str, Any]]]:
    events: list[tuple[str, dict[str, Any]]] = []
    name = None
    started = time.monotonic()
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: ") and name:
            events.append((name, json.loads(line[6:])))
            if len([e for e in events if e[0] == "record"]) >= wanted and (
                    not counts or any(e[0] == "counts" for e in events)):
                break
        if time.monotonic() - started > timeout_s:
            break
    return events


def test_a_new_record_reaches_the_gate_page_within_a_second(setup: Any,
                                                            officer: TestClient) -> None:
    console, _, ledger = setup
    console.stream_seconds = 5
    after = ledger.max_seq()
    appended_at: list[float] = []

    def gate_commits() -> None:
        time.sleep(0.5)
        appended_at.append(time.monotonic())
        ledger.append(entry("09:00:00", "W0000777", "新*", 36.6))

    threading.Thread(target=gate_commits).start()
    with officer.stream("GET", f"/events?after={after}") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = read_events(response, 1, 5, counts=True)
        received_at = time.monotonic()
    records = [data for name, data in events if name == "record"]
    assert records and records[0]["subject"] == "W0000777" and records[0]["name"] == "新*"
    assert received_at - appended_at[0] < 1.0
    counts = [data for name, data in events if name == "counts"]
    assert counts and counts[0]["backlog"] == after + 1


def test_the_display_feed_masks_names(tmp_path: Path) -> None:
    ledger = fill_ledger(tmp_path / "ledger.db")
    console, app = make_app(tmp_path, display_from=["testclient"])
    console.stream_seconds = 3
    client = TestClient(app)
    with client.stream("GET", "/display/events?after=0") as response:
        events = read_events(response, 9, 3)
    records = [data for name, data in events if name == "record"]
    assert {r["kind"] for r in records} == {"entry"}
    assert all(r["subject"] == "" for r in records)
    hostile = next(r for r in records if r["name"].startswith("<"))
    assert hostile["name"] == "<**"  # masked: first character only
    ledger.close()


# -- the console never blocks the gate ----------------------------------------------------------

def test_a_console_query_held_open_does_not_block_the_gates_commits(setup: Any) -> None:
    console, _, ledger = setup
    reader = console.open_ledger()
    conn = reader._conn
    conn.execute("BEGIN")  # a long report: one read transaction, a cursor half read
    cursor = conn.execute("SELECT * FROM records ORDER BY seq")
    cursor.fetchone()
    started = time.perf_counter()
    for n in range(20):
        ledger.append(entry(f"09:{n:02d}:00", f"W10{n:05d}", "甲", 36.5))
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0, elapsed  # the busy timeout is 5 s: blocked commits would show
    assert conn.execute("SELECT count(*) FROM records").fetchone()[0] == 13  # its snapshot
    cursor.close()
    conn.execute("COMMIT")
    assert reader.max_seq() == 33
    with pytest.raises(sqlite3.OperationalError):
        conn.execute("DELETE FROM records")  # and it cannot write
    reader.close()


# -- the catalogue ------------------------------------------------------------------------------

def test_every_console_text_has_both_languages() -> None:
    keys = [k for k in TEXTS if k.startswith("console.")]
    assert len(keys) > 150
    for key in keys:
        zh, en = TEXTS[key]
        assert zh.strip() and en.strip(), key
        fields_zh = sorted(f for f in zh.split("{")[1:])
        fields_en = sorted(f for f in en.split("{")[1:])
        assert [f.split("}")[0] for f in fields_zh] == [f.split("}")[0] for f in fields_en], key
