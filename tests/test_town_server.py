"""The town server against sync.md: authentication, ingest semantics, bad input, bundle,
heartbeats, read API and dashboard."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import uuid
import zlib
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sync.town.app import create_app
from sync.town.store import SqliteTownStore
from tests.pgkit import new_town_db

EPOCH = str(uuid.uuid4())
pytestmark = pytest.mark.usefixtures("town_engine")  # every test on SQLite and PostgreSQL


def entry(seq: int, **fields: Any) -> dict[str, Any]:
    base = {"seq": seq, "event_id": f"e-{seq}", "kind": "entry",
            "time": "2021-02-01T07:30:05.412+08:00", "clock_synced": True, "boot_id": "b1",
            "boottime_ns": 1_000_000_000 + seq, "direction": "in", "subject": "W1",
            "issuer": "500118", "color": "green", "temperature_c": 36.5, "ambient_c": 21.8,
            "decision": "admit", "reasons": []}
    base.update(fields)
    return base


def push_body(*entries: dict[str, Any], epoch: str = EPOCH, **extra: Any) -> dict[str, Any]:
    return {"epoch": epoch, "clock": {"wall": "2021-02-01T07:31:00.120+08:00", "synced": True,
                                      "boot_id": "b1", "boottime_ns": 2_000_000_000},
            "entries": list(entries), **extra}


def new_store(path: Path) -> SqliteTownStore:
    """A store on a new town database: SQLite at `path`, or PostgreSQL (`town_engine`)."""
    return SqliteTownStore(new_town_db(path))


class Town:
    def __init__(self, tmp_path: Path, settings: Any = None) -> None:
        self.store = new_store(tmp_path / "town.db")
        self.client = TestClient(create_app(self.store, settings))
        self.token_a = self.store.add_station("gate-a", "红炉机械厂")
        self.token_b = self.store.add_station("gate-b", "永川电子")
        self.admin_id, self.admin = self.store.new_admin_token("test")

    @property
    def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin}"}

    def login(self) -> str:
        """Log in through the form; returns the session's CSRF token."""
        self.client.get("/")  # the login page sets the form's CSRF cookie
        csrf = self.client.cookies["town_login"]
        response = self.client.post("/login", data={"token": self.admin, "csrf": csrf},
                                    follow_redirects=False)
        assert response.status_code == 303, response.text
        page = self.client.get("/").text
        return str(page.split("name=csrf value=")[1].split(">")[0])

    def push(self, body: Any, station: str = "gate-a", token: str | None = None,
             **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {token or self.token_a}",
                   **kwargs.pop("headers", {})}
        if isinstance(body, bytes):
            return self.client.post(f"/api/v1/stations/{station}/entries", content=body,
                                    headers=headers)
        return self.client.post(f"/api/v1/stations/{station}/entries", json=body,
                                headers=headers)

    def stored(self) -> list[tuple[int, str]]:
        return self.store.epoch_records("gate-a", EPOCH)


@pytest.fixture
def town(tmp_path: Path) -> Town:
    return Town(tmp_path)


# -- authentication ---------------------------------------------------------------------------


def test_no_token_is_401(town: Town) -> None:
    assert town.client.post("/api/v1/stations/gate-a/entries", json=push_body()).status_code \
        == 401
    bad = town.push(push_body(entry(1)), token="not-a-token")
    assert bad.status_code == 401 and bad.headers["WWW-Authenticate"] == "Bearer"


def test_a_token_used_for_another_station_is_403(town: Town) -> None:
    assert town.push(push_body(entry(1)), station="gate-b").status_code == 403
    headers = {"Authorization": f"Bearer {town.token_a}"}
    assert town.client.get("/api/v1/stations/gate-b/bundle", headers=headers).status_code == 403
    assert town.client.post("/api/v1/stations/gate-b/heartbeat", json={},
                            headers=headers).status_code == 403
    assert town.stored() == []


def test_admin_endpoints_refuse_station_tokens(town: Town) -> None:
    for path in ("/api/v1/stations", "/api/v1/entries"):
        assert town.client.get(path).status_code == 401
        assert town.client.get(path, headers={"Authorization": f"Bearer {town.token_a}"}
                               ).status_code == 403
        assert town.client.get(path, headers=town.admin_headers).status_code == 200


def test_tokens_are_stored_hashed(town: Town) -> None:
    if town.store.db.dialect_name == "sqlite":
        raw = Path(town.store.path).read_bytes()
    else:  # every text the database holds, table by table
        raw = "\n".join(
            str(dict(row)) for table in ("stations", "admin_tokens", "sessions", "audit")
            for row in town.store.db.query(f"SELECT * FROM {table}")).encode()
        assert b"gate-a" in raw
    for token in (town.token_a, town.token_b, town.admin):
        assert token.encode() not in raw


# -- ingest ---------------------------------------------------------------------------------------


def test_push_acks_and_counts(town: Town) -> None:
    answer = town.push(push_body(entry(1), entry(2), entry(3))).json()
    assert answer == {"epoch": EPOCH, "acked_through": 3, "accepted": 3, "duplicates": 0,
                      "quarantined": []}


def test_acked_through_is_the_contiguous_prefix(town: Town) -> None:
    assert town.push(push_body(entry(1), entry(2), entry(5))).json()["acked_through"] == 2
    assert town.push(push_body(entry(3))).json()["acked_through"] == 3
    assert town.push(push_body(entry(4))).json()["acked_through"] == 5


def test_duplicates_are_counted_not_stored_again(town: Town) -> None:
    town.push(push_body(entry(1), entry(2)))
    answer = town.push(push_body(entry(1), entry(2), entry(3))).json()
    assert answer == {"epoch": EPOCH, "acked_through": 3, "accepted": 1, "duplicates": 2,
                      "quarantined": []}
    assert [seq for seq, _ in town.stored()] == [1, 2, 3]


def test_a_seq_reused_with_other_content_is_409_and_nothing_is_stored(town: Town) -> None:
    town.push(push_body(entry(1), entry(2)))
    before = town.stored()
    conflict = town.push(push_body(entry(2, temperature_c=38.0), entry(3)))
    assert conflict.status_code == 409 and "seq 2" in conflict.json()["detail"]
    assert town.stored() == before  # entry 3 was not stored either


def test_a_bad_record_is_quarantined_and_counts_as_stored(town: Town) -> None:
    answer = town.push(push_body(entry(1), entry(2, temperature_c="hot"),
                                 entry(3, kind="teleport"), entry(4))).json()
    assert answer == {"epoch": EPOCH, "acked_through": 4, "accepted": 2, "duplicates": 0,
                      "quarantined": [2, 3]}
    rows = town.client.get("/api/v1/entries", headers={"Authorization": f"Bearer {town.admin}"}
                           ).json()["entries"]
    bad = [r for r in rows if r["quarantined"]]
    assert [(r["seq"], r["raw"]["temperature_c"] if r["seq"] == 2 else r["raw"]["kind"])
            for r in bad] == [(2, "hot"), (3, "teleport")]
    assert "temperature_c" in bad[0]["error"]
    again = town.push(push_body(entry(2, temperature_c="hot"))).json()
    assert again["duplicates"] == 1 and again["quarantined"] == []


def test_epochs_are_separate(town: Town) -> None:
    other = str(uuid.uuid4())
    town.push(push_body(entry(1)))
    answer = town.push(push_body(entry(1, temperature_c=37.0), epoch=other)).json()
    assert answer["acked_through"] == 1 and answer["accepted"] == 1


def test_corrected_time_uses_boot_time(town: Town) -> None:
    town.push(push_body(entry(1, clock_synced=False, time="1970-01-01T08:00:09.000+08:00")))
    (row,) = town.store.entries()
    assert row["time"].startswith("1970")  # kept as sent
    assert not row["corrected_time"].startswith("1970")  # re-timed from the server's clock


@pytest.mark.parametrize("body", [
    b"not json", b'["a list"]', b'{"epoch": 5, "clock": {}, "entries": []}',
    b'{"epoch": "e", "clock": {}, "entries": {}}',
    b'{"epoch": "e", "clock": {}, "entries": [{"seq": "1"}]}',
    b'{"epoch": "e", "clock": {}, "entries": [{"seq": 2}, {"seq": 1}]}',
    b'{"epoch": "e", "clock": {}, "entries": [{"seq": 0}]}',
    b'{"epoch": "e", "entries": []}',
])
def test_malformed_requests_are_400_and_change_nothing(town: Town, body: bytes) -> None:
    town.push(push_body(entry(1)))
    before = town.stored()
    assert town.push(body, headers={"Content-Type": "application/json"}).status_code == 400
    assert town.stored() == before
    assert town.push(push_body(entry(2))).status_code == 200  # still up


def test_a_2_mib_body_is_413(town: Town) -> None:
    big = push_body(*(entry(i, detail="x" * 2000) for i in range(1, 1100)))
    response = town.push(json.dumps(big).encode())
    assert response.status_code == 413
    assert town.stored() == []


def test_gzip_bodies_are_accepted(town: Town) -> None:
    body = gzip.compress(json.dumps(push_body(entry(1), entry(2))).encode())
    response = town.push(body, headers={"Content-Encoding": "gzip",
                                        "Content-Type": "application/json"})
    assert response.json()["acked_through"] == 2


def test_a_gzip_bomb_is_413_and_the_server_stays_up(town: Town) -> None:
    bomb = gzip.compress(b'{"epoch": "' + b"a" * 50_000_000 + b'"}', 9)
    assert len(bomb) < 100_000
    response = town.push(bomb, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 413
    assert town.push(push_body(entry(1))).status_code == 200


def test_broken_gzip_is_400(town: Town) -> None:
    broken = gzip.compress(json.dumps(push_body(entry(1))).encode())[:-10]
    assert town.push(broken, headers={"Content-Encoding": "gzip"}).status_code == 400
    assert town.push(b"\x1f\x8bnot gzip", headers={"Content-Encoding": "gzip"}
                     ).status_code == 400


def test_an_overloaded_server_answers_429_with_retry_after(tmp_path: Path) -> None:
    from sync.town.app import Settings

    store = new_store(tmp_path / "t.db")
    token = store.add_station("gate-a", "x")
    client = TestClient(create_app(store, Settings(max_in_flight=0)))  # no room at all
    response = client.post("/api/v1/stations/gate-a/entries", json=push_body(entry(1)),
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 429 and response.headers["Retry-After"] == "2"
    assert store.epoch_records("gate-a", EPOCH) == []


# -- bundle and heartbeat ---------------------------------------------------------------------


def test_bundle_is_signed_with_etag_and_304(tmp_path: Path, spec_key: Any) -> None:
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from station.trust import trust_entry
    from sync.town.app import Settings
    from sync.town.signing import KeyId, b64, open_envelope, spki_der

    key = ed25519.Ed25519PrivateKey.generate()
    town = Town(tmp_path, Settings(bundle_key=key))
    headers = {"Authorization": f"Bearer {town.token_a}"}
    first = town.client.get("/api/v1/stations/gate-a/bundle", headers=headers)
    assert first.status_code == 200 and set(first.json()) == {"payload", "alg", "kid",
                                                              "signature"}
    envelope = first.json()
    assert envelope["alg"] == "EdDSA" and envelope["kid"] == b64(KeyId.of(key.public_key()).raw)
    opened = open_envelope(envelope, key.public_key(), "answer")
    assert opened.document["trust"] == {"keys": [], "revocations": []}
    assert opened.serial == 1 and opened.document["rules"] == {}
    etag = first.headers["ETag"]
    same = town.client.get("/api/v1/stations/gate-a/bundle",
                           headers={**headers, "If-None-Match": etag})
    assert same.status_code == 304
    town.store.add_trust_key(trust_entry(spec_key.public_key(), "500118"))
    town.store.revoke("W9", 1612137600)
    town.store.set_rule("fever_threshold_c", 37.5)
    town.store.set_rule("returning.followup_grace_days", 2)
    town.store.set_bundle_keys([b64(spki_der(key.public_key()))])
    changed = town.client.get("/api/v1/stations/gate-a/bundle",
                              headers={**headers, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    document = open_envelope(changed.json(), key.public_key(), "answer").document
    assert document["serial"] == 2  # re-signed once for all four changes
    assert document["rules"] == {"fever_threshold_c": 37.5,
                                 "returning": {"followup_grace_days": 2}}
    assert document["trust"]["revocations"] == [{"sub": "W9", "before": 1612137600}]
    assert document["trust"]["keys"][0]["kid"] == "ZG1r5J2fAEg="
    assert document["bundle_keys"] == [b64(spki_der(key.public_key()))]
    assert document["version"].endswith("#2")
    import datetime as dt

    lifetime = (dt.datetime.fromisoformat(document["expires"])
                - dt.datetime.fromisoformat(document["issued_at"]))
    assert lifetime == dt.timedelta(days=7)


def test_the_payload_is_standard_base64_with_padding_and_the_signature_covers_its_bytes(
        tmp_path: Path) -> None:
    import base64

    from cryptography.hazmat.primitives.asymmetric import ed25519

    from sync.town.app import Settings

    key = ed25519.Ed25519PrivateKey.generate()
    town = Town(tmp_path, Settings(bundle_key=key))
    town.store.set_rule("fever_threshold_c", 37.5)
    envelope = town.client.get("/api/v1/stations/gate-a/bundle",
                               headers={"Authorization": f"Bearer {town.token_a}"}).json()
    for name in ("payload", "kid", "signature"):
        assert len(envelope[name]) % 4 == 0 and "-" not in envelope[name] \
            and "_" not in envelope[name]
    payload = base64.b64decode(envelope["payload"], validate=True)
    key.public_key().verify(base64.b64decode(envelope["signature"]), payload)  # raises if not
    assert json.loads(payload)["rules"]["fever_threshold_c"] == 37.5


def test_without_a_signed_bundle_the_answer_is_404(town: Town) -> None:
    response = town.client.get("/api/v1/stations/gate-a/bundle",
                               headers={"Authorization": f"Bearer {town.token_a}"})
    assert response.status_code == 404 and "no signed bundle" in response.json()["detail"]


def test_serials_come_from_the_database_and_are_never_reused(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from sync.town.signing import DEFAULT_LIFETIME

    store = new_store(tmp_path / "t.db")
    key = ed25519.Ed25519PrivateKey.generate()
    exported = store.export_bundle(DEFAULT_LIFETIME)
    assert exported["serial"] == 1
    signed = store.sign_if_needed(key, DEFAULT_LIFETIME)
    assert signed is not None and signed.serial == 2  # 1 went to the export
    assert store.sign_if_needed(key, DEFAULT_LIFETIME) is None  # nothing changed
    store.raise_serial_floor(100)  # a database restored from a backup
    store.set_rule("recheck", 2)
    again = store.sign_if_needed(key, DEFAULT_LIFETIME)
    assert again is not None and again.serial == 100
    assert store.export_bundle(DEFAULT_LIFETIME, min_serial=50)["serial"] == 101


def test_a_half_expired_bundle_is_signed_again(tmp_path: Path) -> None:
    import datetime as dt

    from cryptography.hazmat.primitives.asymmetric import ed25519

    from station.clock import CST
    from sync.town.signing import DEFAULT_LIFETIME

    store = new_store(tmp_path / "t.db")
    key = ed25519.Ed25519PrivateKey.generate()
    now = dt.datetime.now(CST)
    assert store.sign_if_needed(key, DEFAULT_LIFETIME, now) is not None
    assert store.sign_if_needed(key, DEFAULT_LIFETIME, now + dt.timedelta(days=3)) is None
    later = store.sign_if_needed(key, DEFAULT_LIFETIME, now + dt.timedelta(days=4))
    assert later is not None and later.serial == 2


def test_heartbeat_is_204_and_shows_in_the_station_list(town: Town) -> None:
    beat = {"time": "2021-02-01T07:31:00+08:00", "clock_synced": True, "version": "0.1.0",
            "backlog": 12, "faults": ["thermometer"], "bundle_version": "v#1"}
    response = town.client.post("/api/v1/stations/gate-a/heartbeat", json=beat,
                                headers={"Authorization": f"Bearer {town.token_a}"})
    assert response.status_code == 204
    town.push(push_body(entry(1), entry(2)))
    listing = town.client.get("/api/v1/stations",
                              headers={"Authorization": f"Bearer {town.admin}"}).json()
    a, b = sorted(listing, key=lambda s: s["id"])
    assert (a["backlog"], a["faults"], a["silent"], a["acked_through"]) == (
        12, ["thermometer"], False, {EPOCH: 2})
    assert b["silent"] is True and b["last_heartbeat"] is None


# -- read API and dashboard -----------------------------------------------------------------


def test_entries_json_csv_filters_and_paging(town: Town) -> None:
    town.push(push_body(*(entry(i) for i in range(1, 8)), entry(8, kind="alarm")))
    headers = {"Authorization": f"Bearer {town.admin}"}
    page = town.client.get("/api/v1/entries?limit=5", headers=headers).json()
    assert [r["seq"] for r in page["entries"]] == [1, 2, 3, 4, 5]
    rest = town.client.get(f"/api/v1/entries?limit=5&after={page['next_after']}",
                           headers=headers).json()
    assert [r["seq"] for r in rest["entries"]] == [6, 7, 8] and rest["next_after"] is None
    alarms = town.client.get("/api/v1/entries?kind=alarm", headers=headers).json()["entries"]
    assert [r["seq"] for r in alarms] == [8]
    by_enterprise = town.client.get("/api/v1/entries", params={"enterprise": "永川电子"},
                                    headers=headers).json()["entries"]
    assert by_enterprise == []
    csv_text = town.client.get("/api/v1/entries?format=csv", headers=headers).text
    assert csv_text.startswith("\ufeffid,station,") and csv_text.count("\r\n") == 9
    assert town.client.get("/api/v1/entries?format=xml", headers=headers).status_code == 422


def test_dashboard_needs_a_login_and_shows_stations_and_alarms(town: Town) -> None:
    town.push(push_body(entry(1, time=_today(), decision="deny", reasons=["fever"]),
                        entry(2, kind="alarm", time=_today(), name="张*", temperature_c=38.2)))
    page = town.client.get("/")
    assert "管理令牌" in page.text and "gate-a" not in page.text  # Chinese first
    assert "town.js" not in page.text and "refresh" not in page.text  # the login never reloads
    csrf = town.client.cookies["town_login"]
    assert town.client.post("/login", data={"token": town.token_a, "csrf": csrf}
                            ).status_code == 401
    assert town.client.post("/login", data={"token": town.admin, "csrf": "forged"}
                            ).status_code == 403
    town.login()
    page = town.client.get("/").text
    for text in ("gate-a", "gate-b", "红炉机械厂", "从未上线", "38.2", "张*", "未处理"):
        assert text in page
    assert "never heard from" not in page and "unhandled" not in page
    town.client.get("/lang/en")  # the switch at the top: this browser reads English
    page = town.client.get("/").text
    for text in ("gate-a", "红炉机械厂", "never heard from", "38.2", "unhandled", "中文"):
        assert text in page
    assert "从未上线" not in page and "未处理" not in page
    assert "never heard from" in town.client.get("/live").text  # the refresh keeps it
    town.client.get("/lang/zh_CN")
    assert "http://" not in page and "https://" not in page  # no asset from the internet
    assert "<script>" not in page and "<style>" not in page  # nothing inline (CSP)
    live = town.client.get("/live")
    assert live.status_code == 200 and "gate-a" in live.text and "<html" not in live.text


def test_sessions_are_server_side_and_end_with_logout_or_revocation(town: Town) -> None:
    csrf = town.login()
    session = town.client.cookies["town_session"]
    assert session not in (town.admin,) and town.admin not in session
    assert town.client.get("/api/v1/stations").status_code == 200  # the session reads too
    assert town.client.post("/logout", data={"csrf": "wrong"}).status_code == 403
    assert town.client.post("/logout", data={"csrf": csrf}, follow_redirects=False
                            ).status_code == 303
    town.client.cookies.set("town_session", session)  # a stolen cookie, replayed
    assert town.client.get("/live").status_code == 401
    town.client.cookies.clear()
    town.login()
    assert town.client.get("/live").status_code == 200
    town.store.revoke_admin_token(town.admin_id)
    assert town.client.get("/live").status_code == 401
    assert town.client.get("/api/v1/stations", headers=town.admin_headers).status_code == 401


def test_an_expired_session_is_refused(tmp_path: Path) -> None:
    import datetime as dt

    from sync.town.app import Settings

    town = Town(tmp_path, Settings(session_ttl=dt.timedelta(seconds=-1)))
    town.login()
    assert town.client.get("/live").status_code == 401
    assert "管理令牌" in town.client.get("/").text


def test_security_headers_on_every_answer(town: Town) -> None:
    for response in (town.client.get("/"), town.client.get("/api/v1/stations"),
                     town.push(b"{", headers={"Content-Type": "application/json"})):
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp


def test_the_body_middlewares_own_answers_are_json_with_the_security_headers(
        town: Town) -> None:
    """sync/town/middleware.py answers these itself, before any route runs."""
    whole = gzip.compress(json.dumps(push_body(entry(1))).encode())
    cases = [(town.push(b"x" * (1024 * 1024 + 1)), 413, "larger"),
             (town.push(whole[:-8], headers={"Content-Encoding": "gzip"}), 400, "gzip"),
             (town.push(b"not gzip", headers={"Content-Encoding": "gzip"}), 400, "gzip")]
    for response, status, word in cases:
        assert response.status_code == status, response.text
        assert word in response.json()["detail"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    town.login()
    docs = town.client.get("/docs")
    assert "style-src 'self' 'unsafe-inline'" in docs.headers["Content-Security-Policy"]
    assert town.push(whole, headers={"Content-Encoding": "gzip"}).json()["acked_through"] == 1


def test_docs_and_openapi_only_behind_the_login_and_offline(town: Town) -> None:
    assert town.client.get("/openapi.json").status_code == 401
    assert town.client.get("/docs", follow_redirects=False).status_code == 303
    assert town.client.get("/docs/assets/swagger-ui-bundle.js").status_code == 401
    schema = town.client.get("/openapi.json", headers=town.admin_headers).json()
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            assert operation.get("description"), f"{method.upper()} {path} has no docstring"
    assert "/api/v1/stations/{station_id}/entries" in schema["paths"]
    town.login()
    page = town.client.get("/docs").text
    assert "http://" not in page and "https://" not in page and "<script>" not in page
    for asset in ("/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css",
                  "/static/docs.js"):
        response = town.client.get(asset)
        assert response.status_code == 200 and len(response.content) > 100, asset
    assert "SwaggerUIBundle" in town.client.get("/docs/assets/swagger-ui-bundle.js").text


def _today() -> str:
    import datetime as dt

    from station.clock import CST

    return dt.datetime.now(CST).isoformat(timespec="milliseconds")


def test_zlib_is_not_gzip(town: Town) -> None:
    body = zlib.compress(json.dumps(push_body(entry(1))).encode())
    assert town.push(body, headers={"Content-Encoding": "gzip"}).status_code == 400


def test_alarms_unhandled_first_then_newest_first_with_their_latest_ack(town: Town) -> None:
    town.push(push_body(entry(1, kind="alarm", event_id="a1", time="2021-02-01T08:00:00.000+08:00"),
                        entry(2, kind="alarm", event_id="a2", time="2021-02-01T09:00:00.000+08:00"),
                        entry(3, kind="ack", ref_event_id="a2", action="remeasured-normal"),
                        entry(4, kind="ack", ref_event_id="a2", action="sent-home")))
    town.push(push_body(entry(1, kind="alarm", time="2021-02-01T07:00:00.000+08:00"),
                        epoch=str(uuid.uuid4())))  # arrives last, happened first
    town.push(push_body(entry(1, kind="alarm", time="2021-02-01T10:00:00.000+08:00"),
                        epoch=str(uuid.uuid4()), simulated=True))
    answer = town.client.get("/api/v1/alarms", headers=town.admin_headers).json()
    alarms = answer["alarms"]
    assert [a["time"][11:13] for a in alarms] == ["08", "07", "09"]  # the simulated one: never
    assert [a["ack"] and a["ack"]["action"] for a in alarms] == [None, None, "sent-home"]
    handled = town.client.get("/api/v1/alarms?handled=true", headers=town.admin_headers).json()
    assert [a["event_id"] for a in handled["alarms"]] == ["a2"]
    page = town.client.get("/api/v1/alarms?limit=2", headers=town.admin_headers).json()
    assert page["next_after"] == 2
    rest = town.client.get("/api/v1/alarms?limit=2&after=2", headers=town.admin_headers).json()
    assert [a["event_id"] for a in rest["alarms"]] == ["a2"] and rest["next_after"] is None
    enterprise = alarms[0]["enterprise"]
    mine = town.client.get("/api/v1/alarms", params={"enterprise": enterprise},
                           headers=town.admin_headers)
    assert mine.status_code == 200 and len(mine.json()["alarms"]) == 3
    other = town.client.get("/api/v1/alarms", params={"enterprise": "no such enterprise"},
                            headers=town.admin_headers)
    assert other.status_code == 200 and other.json()["alarms"] == []


def test_the_login_cookie_is_secure_behind_https(town: Town) -> None:
    town.client.get("/")
    login = town.client.post("/login", data={"token": town.admin,
                                             "csrf": town.client.cookies["town_login"]},
                             headers={"X-Forwarded-Proto": "https"}, follow_redirects=False)
    cookie = login.headers["set-cookie"].lower()
    assert "town_session=" in cookie
    assert "secure" in cookie and "httponly" in cookie and "samesite=strict" in cookie


def test_the_dashboard_counts_vehicles_and_visitors_per_enterprise_today(town: Town) -> None:
    """registration.md's records on the town office's page: per enterprise and day."""
    from station.clock import CST

    town.push(push_body(
        entry(1, time=_today()),
        entry(2, kind="vehicle", time=_today(), plate="渝A12345", driver_name="张*",
              driver_phone="138****8000", code_checked="shown"),
        entry(3, kind="vehicle", time=_today(), direction="out", plate="渝A12345",
              decision=None, temperature_c=None),
        entry(4, kind="visitor", time=_today(), name="王*", phone="139****5678",
              code_checked="none", decision="deny", reasons=["no-code"])))
    (row,) = [r for r in town.store.day_summary(dt.datetime.now(CST).date())
              if r["enterprise"] == "红炉机械厂"]
    assert (row["entries"], row["vehicles"], row["visitors"]) == (1, 1, 1)  # `out` not counted
    town.login()
    live = town.client.get("/live").text
    assert "<th>车辆</th>" in live and "<th>访客</th>" in live
