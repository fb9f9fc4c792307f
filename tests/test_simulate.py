"""`gate-station simulate` per scenario.md, and the officer commands on what it wrote."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "GATE_STATION_DRIVERS": "fake"}


def gate(*args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-c", "from station.cli import main; main()", *args],
        cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def simulate_json(scenario: str | Path, *extra: str) -> list[dict[str, object]]:
    result = gate("simulate", str(scenario), "--json", "--config", "config.yaml", *extra,
                  check=True)
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_output_lines_have_the_spec_fields() -> None:
    (first, *_rest) = simulate_json(ROOT / "scenarios/seed-returning.yaml")
    for key in ("seq", "time", "kind", "direction", "subject", "color", "temperature_c",
                "decision", "reasons"):
        assert key in first
    assert first["seq"] == 1
    assert str(first["time"]).startswith("2021-02-10T07:30:05.")  # the event's time, + the
    assert str(first["time"]).endswith("+08:00")  # few virtual ms the measurement took


def test_the_seed_returning_worker_cases() -> None:
    rows = simulate_json(ROOT / "scenarios/seed-returning.yaml")
    assert [(r["subject"], r["decision"], r["reasons"]) for r in rows] == [
        ("W0000101", "admit", []),
        ("W0000102", "deny", ["nat-missing"]),
        ("W0000103", "deny", ["nat-too-old"]),
        ("W0000104", "deny", ["followup-nat-due"]),
        ("W0000105", "admit", []),
        ("W0000106", "admit", []),
        ("W0000107", "deny", ["color"]),
    ]


def test_the_faults_scenario() -> None:
    rows = simulate_json(ROOT / "scenarios/faults.yaml")
    got = [(r["kind"], r["subject"], r["decision"], r["reasons"], r["temperature_c"])
           for r in rows]
    assert got[:3] == [("entry", "W0000201", "admit", [], 36.8),
                       ("entry", "W0000202", "deny", ["fever"], 37.8),
                       ("alarm", "W0000202", "deny", ["fever"], 37.8)]
    entries = [(g[1], g[3]) for g in got if g[0] == "entry"]
    assert ("W0000203", ["sensor-fault"]) in entries
    assert ("W0000204", ["timeout"]) in entries
    assert (None, ["no-code", "fever"]) in entries
    assert (None, ["format"]) in entries
    assert (None, ["expired"]) in entries
    assert ("W0000206", ["sensor-fault"]) in entries
    details = [f"{r['device']}: {r['detail']}" for r in rows if r["kind"] == "fault"]
    assert any(d.startswith("camera: ") for d in details)
    assert "camera: recovered" in details
    assert any("people turned away unrecorded: 1" in d for d in details)
    assert entries[-1] == ("W0000207", [])  # admitted once the ledger is back
    assert rows[-1]["kind"] == "exit"
    assert [r["seq"] for r in rows] == list(range(1, len(rows) + 1))


def test_policy_overrides_in_the_scenario(tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        'start: "2021-02-01T07:30:00+08:00"\npolicy:\n  fever_threshold_c: 38.0\n'
        "  returning:\n    during_monitoring: deny\nevents:\n"
        "  - at: '07:30:05'\n    code: {sub: W1, color: green}\n    temperature: [37.6, 37.6]\n"
        "  - at: '+10s'\n    code: {sub: W2, color: green, nat: '2021-01-29', returned: "
        "{date: '2021-01-30', origin: outside-municipality}}\n    temperature: 36.5\n")
    rows = simulate_json(scenario)
    assert [(r["decision"], r["reasons"]) for r in rows] == [("admit", []),
                                                               ("deny", ["monitoring"])]


def test_trust_and_revocations_in_the_scenario(tmp_path: Path) -> None:
    from tests.conftest import ED25519_VECTOR

    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        'start: "2021-02-01T07:30:00+08:00"\n'
        "trust:\n  keys:\n  - {kid: ZG1r5J2fAEg=, alg: EdDSA, "
        "spki: MCowBQYDK2VwAyEAebVWLo/mVPlAeLES6KmLp5AfhTrmlb7X4OORC60ElmQ=}\n"
        "revocations:\n- {sub: W9, before: 1612000000}\nevents:\n"
        f"  - at: '07:30:05'\n    qr: '{ED25519_VECTOR}'\n    temperature: 36.5\n"
        "  - at: '+10s'\n    code: {sub: W9, color: green, iat: '-48h', exp: '+1h'}\n"
        "    temperature: 36.5\n")
    rows = simulate_json(scenario)
    assert rows[0]["subject"] == "W0012345" and rows[0]["decision"] == "admit"
    assert rows[1]["reasons"] == ["revoked"]


@pytest.mark.parametrize(("text", "message"), [
    ("start: '2021-02-01T07:30:00+08:00'\nevents:\n  - at: '07:30:05'\n    code: {sub: W1, "
     "colour: green}\n", "event 1: code.colour: unknown key"),
    ("start: '2021-02-01T07:30:00+08:00'\nevents:\n  - at: 'soon'\n    temperature: 36\n",
     "event 1: at: 'soon' is not HH:MM:SS"),
    ("start: '2021-02-01T07:30:00+08:00'\nevents:\n  - at: '07:30:05'\n    temperature: hot\n",
     "event 1: temperature"),
    ("start: '2021-02-01T07:30:00+08:00'\nevents:\n  - at: '07:30:05'\n    fault: toaster\n",
     "event 1: fault"),
    ("start: '2021-02-01T07:30:00+08:00'\nevents:\n  - at: '07:30:05'\n    exit: true\n"
     "    temperature: 36.5\n", "event 1: an event is one of"),
    ("start: '2021-02-01T07:30:00+08:00'\nevents:\n  - at: '07:30:05'\n    exit: true\n"
     "  - at: '07:00:00'\n    exit: true\n", "event 2: at: '07:00:00' is before"),
    ("start: yesterday\nevents: []\n", "start: 'yesterday' is not an ISO 8601 time"),
    ("events: [\n", "not valid YAML"),
    ("start: '2021-02-01T07:30:00+08:00'\npolicy:\n  fever_threshold_c: hot\nevents: []\n",
     "policy.fever_threshold_c"),
    # issue 15: a code without a colour is an error, not silently green; events count from 1
    ("start: '2021-02-01T07:30:00+08:00'\nevents:\n  - at: '07:30:05'\n    exit: true\n"
     "  - at: '07:30:09'\n    code: {sub: W1}\n    temperature: 36.5\n",
     "event 2: code.color:"),
    # issue 15: a key given twice is refused with its line, not silently the last one
    ("start: '2021-02-01T07:30:00+08:00'\nevents:\n  - at: '07:30:05'\n"
     "    code: {sub: W1, color: green}\n    temperature: 36.5\n    temperature: 38.5\n",
     ":6: duplicate key 'temperature' (first at line 5)"),
    ("start: '2021-02-01T07:30:00+08:00'\nevents: []\nstart: '2021-02-02T07:30:00+08:00'\n",
     ":3: duplicate key 'start' (first at line 1)"),
])
def test_an_invalid_scenario_is_one_line_and_exit_2(tmp_path: Path, text: str,
                                                     message: str, en_config: str) -> None:
    scenario = tmp_path / "bad.yaml"
    scenario.write_text(text)
    result = gate("simulate", str(scenario), "--config", en_config)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(str(scenario)) and message in lines[0], \
        result.stderr


def test_the_configured_ledger_is_never_touched_by_default(tmp_path: Path) -> None:
    ledger = tmp_path / "configured.db"
    config = tmp_path / "config.yaml"
    config.write_text(f"drivers: fake\nledger:\n  path: {ledger}\n")
    gate("simulate", str(ROOT / "scenarios/seed-returning.yaml"), "--config", str(config),
         check=True)
    assert not ledger.exists()


def test_simulate_refuses_the_configured_ledger_even_before_it_exists(tmp_path: Path) -> None:
    ledger = tmp_path / "var" / "ledger.db"
    config = tmp_path / "config.yaml"
    config.write_text("station:\n  locale: en\ndrivers: fake\nledger:\n  path: var/ledger.db\n")
    for given in (str(ledger), str(tmp_path / "var" / ".." / "var" / "ledger.db")):
        result = gate("simulate", str(ROOT / "scenarios/faults.yaml"), "--config", str(config),
                      "--ledger", given)
        assert result.returncode == 1, result.stderr
        assert result.stderr.count("\n") == 1 and "station's own ledger" in result.stderr
        assert "Traceback" not in result.stderr
        assert not ledger.exists()


def test_simulate_refuses_a_real_ledger_and_marks_its_own(tmp_path: Path,
                                                          en_config: str) -> None:
    from station.ledger import Ledger, LedgerError

    real = tmp_path / "real.db"
    with Ledger(real) as ledger:  # a ledger the gate made (not the configured one here)
        before = ledger.count()
        assert not ledger.is_simulated
    result = gate("simulate", str(ROOT / "scenarios/faults.yaml"), "--config", en_config,
                  "--ledger", str(real))
    assert result.returncode == 1 and "not made by `gate-station simulate`" in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    with Ledger.open_readonly(real) as ledger:
        assert ledger.count() == before and not ledger.is_simulated

    not_a_ledger = tmp_path / "notes.db"
    not_a_ledger.write_text("hello")
    result = gate("simulate", str(ROOT / "scenarios/faults.yaml"), "--config", "config.yaml",
                  "--ledger", str(not_a_ledger))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert not_a_ledger.read_text() == "hello"

    made = tmp_path / "sim.db"
    gate("simulate", str(ROOT / "scenarios/faults.yaml"), "--config", "config.yaml",
         "--ledger", str(made), check=True)
    with Ledger.open_readonly(made) as ledger:
        assert ledger.is_simulated and ledger.count() > 0
    # a simulation may add to a ledger a simulation made
    gate("simulate", str(ROOT / "scenarios/faults.yaml"), "--config", "config.yaml",
         "--ledger", str(made), check=True)
    # and the library refuses too, whoever calls it
    with pytest.raises(LedgerError, match="not made by"):
        Ledger(real, simulated=True)


def test_mark_simulated_is_kept_in_the_ledger_metadata(tmp_path: Path) -> None:
    from station.ledger import Ledger

    with Ledger(tmp_path / "l.db") as ledger:
        ledger.mark_simulated()
        ledger.mark_simulated()  # idempotent
    with Ledger.open_readonly(tmp_path / "l.db") as ledger:
        assert ledger.is_simulated


def test_officer_commands_on_a_simulated_morning(tmp_path: Path) -> None:
    ledger = str(tmp_path / "ledger.db")
    common = ("--config", "config.yaml", "--ledger", ledger)
    gate("simulate", str(ROOT / "scenarios/morning-shift.yaml"), *common, check=True)

    report = gate("report", "daily", "--date", "2021-02-22", *common, "--csv",
                  str(tmp_path / "register.csv"), check=True).stdout
    assert "入厂体温登记表  2021-02-22" in report
    assert "发热告警" in report and "第7/14天核酸检测" in report
    raw = (tmp_path / "register.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM for Excel
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert len(rows) > 250 and rows[0]["人员"].startswith("W")  # zh_CN headers
    kinds = {row["类型"] for row in rows}  # the register, unidentified denials and alarms
    assert kinds == {"人员", "未识别身份", "发热告警"}, kinds
    alarms = [row for row in rows if row["类型"] == "发热告警"]
    assert alarms and all("fever" in row["原因"].split() for row in alarms)
    unidentified = [row for row in rows if row["类型"] == "未识别身份"]
    assert unidentified and all(row["人员"] == "" for row in unidentified)

    denied = gate("log", "--date", "2021-02-22", "--denied", "--format", "json", *common,
                  check=True).stdout.splitlines()
    assert denied and all(json.loads(line)["decision"] == "deny" for line in denied)
    fever = gate("log", "--fever", "--format", "json", *common, check=True).stdout.splitlines()
    assert fever and all("fever" in json.loads(line)["reasons"] for line in fever)
    one = gate("log", "--subject", "W0000001", "--format", "csv", *common, check=True).stdout
    assert one.startswith("\ufeffseq,") and "W0000001" in one
    window = gate("log", "--from", "2021-02-22T07:10:00+08:00", "--to",
                  "2021-02-22T07:20:00+08:00", "--format", "json", *common,
                  check=True).stdout.splitlines()
    assert window and all("07:10:00" <= json.loads(line)["time"][11:19] < "07:20:00"
                          for line in window)

    stats = json.loads(gate("stats", "--until", "2021-02-22", "--days", "3", "--format",
                            "json", *common, check=True).stdout)
    (day,) = stats["per_day"]
    assert day["day"] == "2021-02-22" and day["entries"] == day["admitted"] + day["denied"]
    assert {d["reason"] for d in stats["denials"]} >= {"fever", "color"}


def test_officer_commands_refuse_bad_input_clearly(tmp_path: Path, en_config: str) -> None:
    result = gate("report", "daily", "--ledger", str(tmp_path / "none.db"), "--config",
                  en_config)
    assert result.returncode == 1 and "no ledger here" in result.stderr
    result = gate("log", "--date", "tomorrow", "--ledger", str(tmp_path / "none.db"),
                  "--config", "config.yaml")
    assert result.returncode != 0 and "Traceback" not in result.stderr
