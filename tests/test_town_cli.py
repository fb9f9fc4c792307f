"""`town-server` as a careless operator uses it (issue 15): only `db init` makes a database,
every other command refuses a missing one or one of another schema; every command given
hostile arguments — missing directories, no permission (tests run as root: paths under a
regular file, /sys), empty files, extreme dates — answers one line, never a traceback."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from sync.town.cli import main
from sync.town.db import SCHEMA_VERSION

OLD_SCHEMA = """
CREATE TABLE stations (id TEXT PRIMARY KEY, enterprise TEXT NOT NULL, token_hash TEXT NOT NULL
    UNIQUE, created TEXT NOT NULL, last_heartbeat TEXT, heartbeat TEXT);
CREATE TABLE admin_tokens (token_hash TEXT PRIMARY KEY, created TEXT NOT NULL, note TEXT);
CREATE TABLE epochs (station TEXT NOT NULL, epoch TEXT NOT NULL, acked_through INTEGER NOT
    NULL DEFAULT 0, first_seen TEXT NOT NULL, PRIMARY KEY (station, epoch));
CREATE TABLE records (id INTEGER PRIMARY KEY, station TEXT NOT NULL, epoch TEXT NOT NULL,
    seq INTEGER NOT NULL, digest TEXT NOT NULL, quarantined INTEGER NOT NULL DEFAULT 0,
    error TEXT, received TEXT NOT NULL, event_id TEXT, kind TEXT, time TEXT, corrected_time
    TEXT, clock_synced INTEGER, day TEXT, subject TEXT, name TEXT, color TEXT, decision TEXT,
    reasons TEXT, temperature_c REAL, raw TEXT NOT NULL, UNIQUE (station, epoch, seq));
CREATE TABLE trust_keys (kid TEXT NOT NULL, entry TEXT NOT NULL UNIQUE, added TEXT NOT NULL);
CREATE TABLE revocations (sub TEXT PRIMARY KEY, before INTEGER NOT NULL);
CREATE TABLE rules (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE bundle_meta (id INTEGER PRIMARY KEY CHECK (id = 1), counter INTEGER NOT NULL,
    changed TEXT NOT NULL);
INSERT INTO bundle_meta VALUES (1, 3, '2021-02-01T06:00:00+08:00');
INSERT INTO stations VALUES ('gate-a', '红炉机械厂', 'h', '2021-02-01', NULL, NULL);
INSERT INTO admin_tokens VALUES ('ah', '2021-02-01', 'office');
INSERT INTO epochs VALUES ('gate-a', 'e1', 2, '2021-02-01');
INSERT INTO records (station, epoch, seq, digest, received, kind, raw) VALUES
    ('gate-a', 'e1', 1, 'd1', '2021-02-01', 'entry', '{}'),
    ('gate-a', 'e1', 2, 'd2', '2021-02-01', 'fault', '{"device": "camera"}');
INSERT INTO rules VALUES ('fever_threshold_c', '37.5');
"""


def town(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    output = result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"town-server {' '.join(args)} raised {result.exception!r}")
    assert "Traceback" not in output, output
    return result.exit_code, output


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "town.db"
    assert town("db", "init", "--db", str(path))[0] == 0
    return path


DB_COMMANDS = [
    ["serve"], ["stations", "add", "gate-a", "--enterprise", "x"], ["stations", "list"],
    ["stations", "rotate-token", "gate-a"], ["stations", "disable", "gate-a"],
    ["stations", "enable", "gate-a"],
    ["stations", "write-off", "gate-a", "--epoch", "e", "--through", "3", "--reason", "r"],
    ["admin-token", "new"], ["admin-token", "list"], ["admin-token", "revoke", "1"],
    ["purge", "--before", "2021-01-01"], ["trust", "remove", "ZG1r5J2fAEg="],
    ["trust", "list"], ["revoke", "W1"], ["rules", "set", "recheck", "2"],
    ["rules", "unset", "recheck"], ["bundle", "show"], ["bundle", "export"],
    ["db", "upgrade"]]


@pytest.mark.parametrize("command", DB_COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_every_command_refuses_a_missing_database_and_creates_nothing(
        tmp_path: Path, command: list[str]) -> None:
    for missing in (tmp_path / "typo" / "town.db", tmp_path / "town.db"):
        code, output = town(*command, "--db", str(missing))
        assert code == 1 and output.count("\n") == 1, output
        assert "no town database here" in output and "db init" in output
    assert list(tmp_path.iterdir()) == []  # no folder, no file


@pytest.mark.parametrize("command", DB_COMMANDS[:-1], ids=lambda c: " ".join(c[:2]))
def test_every_command_refuses_another_schema_version(tmp_path: Path,
                                                       command: list[str]) -> None:
    old = tmp_path / "old.db"
    with sqlite3.connect(old) as conn:
        conn.executescript(OLD_SCHEMA)
    code, output = town(*command, "--db", str(old))
    assert code == 1 and "db upgrade" in output and "schema version 1" in output
    newer = tmp_path / "newer.db"
    town("db", "init", "--db", str(newer))
    with sqlite3.connect(newer) as conn:
        conn.execute("PRAGMA user_version = 99")
    code, output = town(*command, "--db", str(newer))
    assert code == 1 and "newer" in output


def test_db_upgrade_migrates_the_first_release(tmp_path: Path) -> None:
    old = tmp_path / "old.db"
    with sqlite3.connect(old) as conn:
        conn.executescript(OLD_SCHEMA)
    code, output = town("db", "upgrade", "--db", str(old))
    assert code == 0 and "migrated schema 1 → 2" in output
    assert "migrated schema 2 → 3" in output and "migrated schema 3 → 4" in output
    assert "migrated schema 4 → 5" in output and "migrated schema 5 → 6" in output
    assert "migrated schema 6 → 7" in output
    assert town("db", "upgrade", "--db", str(old)) == (
        0, f"{old}: already at schema {SCHEMA_VERSION}\n")
    from sync.town.store import SqliteTownStore

    store = SqliteTownStore(old)
    (status,) = store.stations()
    assert status.epochs == {"e1": 2}
    assert [t.note for t in store.admin_tokens()] == ["office"]
    assert store.rules() == {"fever_threshold_c": 37.5}
    code, output = town("stations", "list", "--db", str(old))
    assert code == 0 and "gate-a" in output


def test_db_init_makes_a_database_once(tmp_path: Path, db: Path) -> None:
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    code, output = town("db", "init", "--db", str(db))
    assert code == 1 and "already exists" in output


def test_rules_unset_of_a_missing_rule_is_an_error(db: Path) -> None:
    code, output = town("rules", "unset", "fever_threshold_c", "--db", str(db))
    assert code == 1 and "no rule 'fever_threshold_c'" in output
    assert town("rules", "set", "fever_threshold_c", "37.5", "--db", str(db))[0] == 0
    assert town("rules", "unset", "fever_threshold_c", "--db", str(db)) == (
        0, "rule fever_threshold_c removed\n")


def test_key_ids_are_shown_in_hex_and_base64_where_json_is_meant(tmp_path: Path,
                                                                 db: Path) -> None:
    import json

    code, output = town("keys", "new", "--out", str(tmp_path / "k"))
    entry = json.loads(output[output.index("{"):])
    assert len(entry["kid_hex"]) == 16 and entry["kid"].endswith("=")
    code, output = town("trust", "add", str(next((tmp_path / "k").glob("*.pub"))),
                        "--db", str(db))
    assert code == 0 and entry["kid_hex"] in output and entry["kid"] in output
    assert entry["kid_hex"] in town("trust", "list", "--db", str(db))[1]
    code, output = town("trust", "remove", entry["kid_hex"], "--db", str(db))
    assert code == 0 and f"removed key {entry['kid_hex']}" in output


def test_offline_signing_round_trip_and_refusals(tmp_path: Path, db: Path) -> None:
    keys = tmp_path / "keys"
    assert town("keys", "new", "--purpose", "bundle", "--out", str(keys))[0] == 0
    (key,) = keys.glob("*.key")
    (pub,) = keys.glob("*.pub")
    code, unsigned = town("bundle", "export", "--db", str(db), "--min-serial", "40")
    unsigned = unsigned[:unsigned.rindex("}") + 1]
    (tmp_path / "u.json").write_text(unsigned)
    code, signed = town("bundle", "sign", str(tmp_path / "u.json"), "--key", str(key))
    assert code == 0
    (tmp_path / "s.json").write_text(signed.splitlines()[0])
    assert town("bundle", "import", str(tmp_path / "s.json"), "--pub", str(pub),
                "--db", str(db))[0] == 0
    code, shown = town("bundle", "show", "--db", str(db))
    assert code == 0 and '"serial": 40' in shown
    # another key's public half does not verify it; a serial this database never
    # allocated is refused
    town("keys", "new", "--purpose", "bundle", "--out", str(tmp_path / "other"))
    (other,) = (tmp_path / "other").glob("*.pub")
    code, output = town("bundle", "import", str(tmp_path / "s.json"), "--pub", str(other),
                        "--db", str(db))
    assert code == 1 and "kid" in output
    fresh = tmp_path / "fresh.db"
    town("db", "init", "--db", str(fresh))
    code, output = town("bundle", "import", str(tmp_path / "s.json"), "--pub", str(pub),
                        "--db", str(fresh))
    assert code == 1 and "was not exported from this database" in output


HOSTILE: list[Callable[[Path, Path], list[str]]] = [
    lambda t, d: ["db", "init", "--db", "/sys/town.db"],
    lambda t, d: ["db", "init", "--db", str(t / "file" / "town.db")],
    lambda t, d: ["db", "init", "--db", str(t / "missing" / "town.db")],
    lambda t, d: ["db", "upgrade", "--db", str(t / "empty")],
    lambda t, d: ["stations", "list", "--db", str(t / "empty")],
    lambda t, d: ["stations", "list", "--db", str(t / "garbage")],
    lambda t, d: ["stations", "list", "--db", str(t / "file" / "town.db")],
    lambda t, d: ["admin-token", "new", "--db", "/sys/town.db"],
    lambda t, d: ["admin-token", "revoke", "7", "--db", str(d)],
    lambda t, d: ["keys", "new", "--out", "/sys/town-keys"],
    lambda t, d: ["keys", "new", "--out", str(t / "file" / "keys")],
    lambda t, d: ["keys", "new", "--purpose", "bundle", "--out", "/sys/town-keys"],
    lambda t, d: ["keys", "new", "--out", str(t / "k"), "--not-after", "0001-01-01T00:00:00+14:00"],
    lambda t, d: ["revoke", "W1", "--before", "0001-01-01T00:00:00+14:00", "--db", str(d)],
    lambda t, d: ["revoke", "W1", "--before", "9999-12-31T23:59:59-12:00", "--db", str(d)],
    lambda t, d: ["revoke", "W1", "--before", "yesterday", "--db", str(d)],
    lambda t, d: ["purge", "--before", "0001-01-01", "--db", str(d)],
    lambda t, d: ["purge", "--before", "9999-12-31", "--db", str(d)],
    lambda t, d: ["purge", "--before", "31/12/2021", "--db", str(d)],
    lambda t, d: ["stations", "write-off", "gate-x", "--epoch", "e", "--through",
                  "99999999999999999999", "--reason", "r", "--db", str(d)],
    lambda t, d: ["stations", "write-off", "gate-x", "--epoch", "e", "--through", "3",
                  "--reason", "r", "--db", str(d)],
    lambda t, d: ["stations", "add", "红炉 1", "--enterprise", "x", "--db", str(d)],
    lambda t, d: ["stations", "rotate-token", "nobody", "--db", str(d)],
    lambda t, d: ["trust", "add", str(t / "empty"), "--db", str(d)],
    lambda t, d: ["trust", "add", str(t / "garbage"), "--db", str(d)],
    lambda t, d: ["trust", "add", "/sys/nothing.pub", "--db", str(d)],
    lambda t, d: ["trust", "add", str(t / "brace"), "--db", str(d)],
    lambda t, d: ["trust", "remove", "not-a-kid", "--db", str(d)],
    lambda t, d: ["trust", "remove", "0011223344556677", "--db", str(d)],
    lambda t, d: ["rules", "set", "fever_threshold_c", "[", "--db", str(d)],
    lambda t, d: ["rules", "set", "fever_threshold_c", "hot", "--db", str(d)],
    lambda t, d: ["rules", "set", "no_such_rule", "1", "--db", str(d)],
    lambda t, d: ["bundle", "show", "--db", str(d)],
    lambda t, d: ["bundle", "export", "--lifetime", "99d", "--db", str(d)],
    lambda t, d: ["bundle", "sign", str(t / "empty"), "--key", str(t / "empty")],
    lambda t, d: ["bundle", "sign", str(t / "garbage"), "--key", "/sys/nothing.key"],
    lambda t, d: ["bundle", "import", str(t / "empty"), "--pub", str(t / "empty"),
                  "--db", str(d)],
    lambda t, d: ["bundle", "keys", "--db", str(d)],
    lambda t, d: ["bundle", "keys", str(t / "garbage"), "--db", str(d)],
    lambda t, d: ["serve", "--db", str(d), "--bundle-key", str(t / "empty")],
    lambda t, d: ["serve", "--db", str(d), "--bundle-lifetime", "99d"],
    lambda t, d: ["serve", "--db", str(d), "--silent-after", "soon"],
    lambda t, d: ["issue-code", "--key", str(t / "empty"), "--sub", "W1", "--color", "green"],
    lambda t, d: ["issue-code", "--key", "/sys/nothing", "--sub", "W1", "--color", "green"],
    lambda t, d: ["issue-code", "--key", str(t / "issuer.key"), "--sub", "W1", "--color",
                  "green", "--at", "9999-12-31T20:00:00+08:00"],
    lambda t, d: ["issue-code", "--key", str(t / "issuer.key"), "--sub", "W1", "--color",
                  "green", "--at", "0001-01-01T00:00:00+14:00"],
    lambda t, d: ["issue-code", "--key", str(t / "issuer.key"), "--sub", "W1", "--color",
                  "green", "--png", "/sys/code.png"],
    lambda t, d: ["issue-code", "--key", str(t / "issuer.key"), "--sub", "W1", "--color",
                  "green", "--png", str(t / "file" / "code.png")],
]


@pytest.mark.parametrize("make_args", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_arguments_get_one_line_never_a_traceback(
        tmp_path: Path, make_args: Callable[[Path, Path], list[str]]) -> None:
    from station.keys import new_signing_key, save_key_pair

    db = tmp_path / "town.db"
    town("db", "init", "--db", str(db))
    (tmp_path / "file").write_text("a regular file, not a directory")
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "garbage").write_bytes(b"\x00\xffnot anything\n" * 10)
    (tmp_path / "brace").write_text("{ not json")
    private, _ = save_key_pair(new_signing_key(), tmp_path / "issuer")
    private.rename(tmp_path / "issuer.key")
    args = make_args(tmp_path, db)
    code, output = town(*args)
    lines = [line for line in output.splitlines() if line.strip()]
    if code == 0:  # some extremes are simply fine (a purge of nothing, say)
        return
    assert code in (1, 2), output
    # `town-server: …`, or a usage error `town-server COMMAND: …` (station/usage.py)
    errors = [line for line in lines if re.match(r"town-server( [\w -]+)?[:：]", line)]
    assert len(errors) == 1, output
