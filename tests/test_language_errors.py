"""No English under zh_CN, no Chinese under en, in the errors the last review found still in
English (issue 15, Language): bundle and trust-list documents, signed-bundle refusals, bundle
keys, issuer key files, scenario events, click's own usage errors (a missing argument, an
unknown option or command, a bad choice, range or number, a bad date or time), and the whole
`town-server` command line, which speaks zh_CN unless `--locale en` or TOWN_LOCALE=en.

Each error path runs as a person runs it (a subprocess) in both locales: zh_CN must say it
in Chinese (CJK in the message) with no English words but the machine-readable parts
(`tests/test_language.py`'s `leaks`), en must hold no CJK; neither may print a traceback.
The refusals a station meets only from the network are checked on the library's errors.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from station.errors import StationError
from tests.test_hostile_args import cases as hostile_cases
from tests.test_hostile_args import (
    generic_cases,
    invoke,
    place,  # noqa: F401  (its fixture: the hostile files)
)
from tests.test_language import CJK, leaks
from tests.test_town_cli import HOSTILE as TOWN_HOSTILE

ROOT = Path(__file__).resolve().parent.parent
STATION = [sys.executable, "-c", "from station.cli import main; main()"]
TOWN = [sys.executable, "-c", "from sync.town.cli import main; main()"]
# technical words that are not language: JSON field names, formats, algorithms
TECHNICAL = {"EdDSA", "Ed25519", "ECDSA", "P", "PEM", "DER", "SubjectPublicKeyInfo", "SPKI",
             "RFC", "base64", "kid", "spki", "alg", "payload", "signature", "serial",
             "bundle_keys", "null", "sub", "before", "keys", "revocations", "code", "qr",
             "fault", "recover", "exit", "power_cut", "ntp", "temperature", "version", "rules",
             "trust", "issued_at", "expires", "A-Z", "a-z", "x", "HH", "MM", "SS", "TEXT",
             "IMAGE", "SOURCE", "ID", "FILES", "green", "yellow", "red", "table", "csv", "json",
             "outside-municipality", "SUBJECT", "bundle", "FILE", "KEY", "export", "sign",
             "import", "serve", "risk-district", "key-population",
             "VALUE", "base"}  # base64
# a command's path before its colon (`gate-station log：…`, `town-server issue-code：…`),
# and a JSON field path before its colon (`keys[0].kid：…`): names, not language
NAMES = [re.compile(r"\b(?:gate-station|town-server)(?: [a-z][a-z-]*)*(?=[:：]| --help)"),
         re.compile(r"`[^`]*`"),
         re.compile(r"[\w.]+(?:\[\d+\])[\w.\[\]]*(?=[:：])"),
         re.compile(r"\b\d+[smhd]\b")]  # durations: 30s, 24h


def zh_leaks(output: str) -> list[str]:
    for pattern in NAMES:
        output = pattern.sub(" ", output)
    return [word for word in leaks(output, "zh_CN") if word not in TECHNICAL]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from station.keys import new_signing_key, save_key_pair

    base = tmp_path_factory.mktemp("language-errors")
    private, public = save_key_pair(new_signing_key(), base / "keys")
    files = {"base": base, "key": private, "pub": public, "regular": base / "a-file"}
    files["regular"].write_text("not a key, not a folder")
    for locale in ("zh_CN", "en"):
        (base / f"{locale}.yaml").write_text(
            f"station:\n  locale: {locale}\ndrivers: fake\nledger:\n  path: {base}/l.db\n"
            f"bundle:\n  path: {base}/bundle.json\n")
        (base / f"{locale}-keys.yaml").write_text(
            f"station:\n  locale: {locale}\ndrivers: fake\ntown:\n  url: https://town.example/"
            "\n  bundle_keys: ['not-base64!']\n")
    (base / "bundle.json").write_text(json.dumps({"version": 7, "trust": {}, "rules": {}}))
    (base / "bad-trust.json").write_text(json.dumps({"keys": [{"kid": 1}]}))
    (base / "trust-not-list.json").write_text(json.dumps({"keys": {}}))
    (base / "two-things.yaml").write_text(
        "start: '2021-02-01T07:30:00+08:00'\nevents:\n  - at: '07:31:00'\n    qr: x\n"
        "    code: {sub: W1, color: green}\n")
    (base / "fault-and-exit.yaml").write_text(
        "start: '2021-02-01T07:30:00+08:00'\nevents:\n  - at: '07:31:00'\n"
        "    fault: thermometer\n    exit: true\n")
    made = subprocess.run([*STATION, "simulate", str(ROOT / "scenarios/faults.yaml"),
                           "--config", str(base / "en.yaml"), "--ledger", str(base / "sim.db")],
                          cwd=ROOT, env={**os.environ, "GATE_STATION_DRIVERS": "fake"},
                          capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr
    return files


Case = Callable[[dict[str, Path], str], list[str]]

STATION_CASES: dict[str, Case] = {
    # bundle and trust-list documents
    "bundle version": lambda p, c: ["verify-code", "THP1:AB", "--config", c],
    "trust entry": lambda p, c: ["verify-code", "THP1:AB", "--trust",
                                 str(p["base"] / "bad-trust.json"), "--config", c],
    "trust keys": lambda p, c: ["verify-code", "THP1:AB", "--trust",
                                str(p["base"] / "trust-not-list.json"), "--config", c],
    "bundle key": lambda p, c: ["check-config", "--config", c.replace(".yaml", "-keys.yaml")],
    # scenario events
    "code and qr": lambda p, c: ["simulate", str(p["base"] / "two-things.yaml"), "--config", c],
    "two things": lambda p, c: ["simulate", str(p["base"] / "fault-and-exit.yaml"),
                                "--config", c],
    # an image file that is not one
    "decode not an image": lambda p, c: ["decode", str(p["regular"]), "--config", c],
    "verify not an image": lambda p, c: ["verify-code", "--file", str(p["regular"]),
                                         "--config", c],
    # click's usage errors
    "missing argument": lambda p, c: ["decode", "--config", c],
    "no such option": lambda p, c: ["log", "--fevr", "--config", c],
    "no such command": lambda p, c: ["--config", c, "lgo"],
    "bad choice": lambda p, c: ["log", "--format", "xml", "--config", c],
    "out of range": lambda p, c: ["stats", "--days", "0", "--config", c],
    "not a number": lambda p, c: ["stats", "--days", "many", "--config", c],
    "needs a value": lambda p, c: ["--config", c, "log", "--date"],
    "extra argument": lambda p, c: ["log", "today", "--config", c],
    "bad date": lambda p, c: ["log", "--date", "2021-13-01", "--ledger",
                              str(p["base"] / "sim.db"), "--config", c],
    "bad until": lambda p, c: ["stats", "--until", "2021-02-30", "--ledger",
                               str(p["base"] / "sim.db"), "--config", c],
    "bad from": lambda p, c: ["log", "--from", "x", "--ledger", str(p["base"] / "sim.db"),
                              "--config", c],
    "bad at": lambda p, c: ["verify-code", "THP1:AB", "--at", "noon", "--config", c],
    "date and range": lambda p, c: ["log", "--date", "2021-02-22", "--from",
                                    "2021-02-22T00:00", "--config", c],
    "code or file": lambda p, c: ["verify-code", "--config", c],
    "bad listen": lambda p, c: ["console", "--listen", "nowhere", "--config", c],
}


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
@pytest.mark.parametrize("case", sorted(STATION_CASES))
def test_station_errors_speak_only_their_locale(files: dict[str, Path], case: str,
                                                locale: str) -> None:
    config = str(files["base"] / f"{locale}.yaml")
    done = subprocess.run([*STATION, *STATION_CASES[case](files, config)], cwd=ROOT,
                          env={**os.environ, "GATE_STATION_DRIVERS": "fake"},
                          capture_output=True, text=True, timeout=120)
    output = done.stdout + done.stderr
    assert done.returncode != 0 and "Traceback" not in output, output
    assert len(done.stderr.strip().splitlines()) >= 1, output
    if locale == "zh_CN":
        assert CJK.search(done.stderr), output
        assert zh_leaks(output) == [], output
    else:
        assert leaks(output, "en") == [], output


TOWN_CASES: dict[str, Callable[[dict[str, Path]], list[str]]] = {
    "no database": lambda p: ["stations", "list", "--db", str(p["base"] / "none.db")],
    "key missing": lambda p: ["issue-code", "--key", str(p["base"] / "none.key"), "--sub",
                              "W1", "--color", "green"],
    "key not PEM": lambda p: ["issue-code", "--key", str(p["regular"]), "--sub", "W1",
                              "--color", "green"],
    "public key as private": lambda p: ["issue-code", "--key", str(p["pub"]), "--sub", "W1",
                                        "--color", "green"],
    "bad origin": lambda p: ["issue-code", "--key", str(p["key"]), "--sub", "W1", "--color",
                             "green", "--returned", "2021-01-30:mars"],
    "bad returned": lambda p: ["issue-code", "--key", str(p["key"]), "--sub", "W1", "--color",
                               "green", "--returned", "2021-01-30"],
    "bad ttl": lambda p: ["issue-code", "--key", str(p["key"]), "--sub", "W1", "--color",
                          "green", "--ttl", "forever"],
    "png nowhere": lambda p: ["issue-code", "--key", str(p["key"]), "--sub", "W1", "--color",
                              "green", "--png", str(p["regular"] / "code.png")],
    "keys under a file": lambda p: ["keys", "new", "--out", str(p["regular"] / "keys")],
    "bad colour": lambda p: ["issue-code", "--key", str(p["key"]), "--sub", "W1", "--color",
                             "blue"],
    "missing option": lambda p: ["issue-code", "--sub", "W1", "--color", "green"],
    "no such command": lambda p: ["stations", "lst"],
    "bad date": lambda p: ["purge", "--before", "2021-13-01"],
    "bad kid": lambda p: ["trust", "remove", "nonsense"],
    "sign not json": lambda p: ["bundle", "sign", str(p["regular"]), "--key", str(p["key"])],
}


def town_env(locale: str | None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "TOWN_LOCALE"}
    return env if locale is None else {**env, "TOWN_LOCALE": locale}


@pytest.mark.parametrize("how", ["default", "--locale en", "TOWN_LOCALE=en"])
@pytest.mark.parametrize("case", sorted(TOWN_CASES))
def test_town_errors_speak_only_their_locale(files: dict[str, Path], case: str,
                                             how: str) -> None:
    option = ["--locale", "en"] if how == "--locale en" else []
    env = town_env("en" if how == "TOWN_LOCALE=en" else None)
    done = subprocess.run([*TOWN, *option, *TOWN_CASES[case](files)], cwd=files["base"],
                          env=env, capture_output=True, text=True, timeout=120)
    output = done.stdout + done.stderr
    assert done.returncode != 0 and "Traceback" not in output, output
    if how == "default":
        assert CJK.search(done.stderr), output
        assert zh_leaks(output) == [], output
    else:
        assert leaks(output, "en") == [], output


def test_town_output_follows_the_locale(tmp_path: Path) -> None:
    """What town-server prints when all goes well (database, stations, lists, keys)."""
    db = str(tmp_path / "town.db")
    for locale, how in (("zh_CN", town_env(None)), ("en", town_env("en"))):
        outputs = []
        for args in (["db", "init", "--db", f"{db}.{locale}"],
                     ["stations", "add", "GATE-1", "--enterprise", "HL-JX-001", "--db",
                      f"{db}.{locale}"],
                     ["stations", "list", "--db", f"{db}.{locale}"],
                     ["admin-token", "new", "--note", "x", "--db", f"{db}.{locale}"],
                     ["admin-token", "list", "--db", f"{db}.{locale}"],
                     ["rules", "set", "fever_threshold_c", "37.5", "--db", f"{db}.{locale}"],
                     ["keys", "new", "--out", str(tmp_path / locale)]):
            done = subprocess.run([*TOWN, *args], cwd=tmp_path, env=how, capture_output=True,
                                  text=True, timeout=120)
            assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
            outputs.append(done.stderr + done.stdout)
        said = "\n".join(outputs)
        if locale == "zh_CN":
            assert "已新建镇数据库" in said and "启用" in said and "有效" in said, said
        else:
            assert leaks(said, "en") == [], said
            assert "created town database" in said and "enabled" in said, said


def refusal_cases() -> list[Callable[[], object]]:
    """Every way a bundle from the town is refused, on the station's library."""
    import base64
    import datetime as dt

    from cryptography.hazmat.primitives.asymmetric import ed25519

    from station.bundle_keys import pinned_keys
    from station.signed_bundle import MAX_BUNDLE_BYTES, BundleInbox, open_envelope, parse_document

    key = ed25519.Ed25519PrivateKey.generate()
    from cryptography.hazmat.primitives import serialization

    spki = base64.b64encode(key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()
    accepted = pinned_keys([spki])
    kid = next(iter(accepted))

    def envelope(**fields: object) -> bytes:
        return json.dumps({"alg": "EdDSA", "payload": "e30=", "kid": base64.b64encode(
            kid).decode(), "signature": base64.b64encode(bytes(64)).decode(), **fields}).encode()

    now = dt.datetime(2021, 2, 1, tzinfo=dt.UTC).isoformat()
    good = {"serial": 1, "version": "v", "issued_at": now, "expires": now, "trust": {},
            "rules": {}}
    return [
        lambda: open_envelope(b"not json", accepted),
        lambda: open_envelope(b"[1]", accepted),
        lambda: open_envelope(b"{}", accepted),
        lambda: open_envelope(envelope(alg="none"), accepted),
        lambda: open_envelope(envelope(kid="!!"), accepted),
        lambda: open_envelope(envelope(kid="AAAA"), accepted),
        lambda: open_envelope(envelope(kid=base64.b64encode(bytes(8)).decode()), accepted),
        lambda: open_envelope(envelope(), accepted),
        lambda: parse_document(b"\xff"),
        lambda: parse_document(b"[]"),
        lambda: parse_document(b"{}"),
        lambda: parse_document(json.dumps({**good, "serial": 0}).encode()),
        lambda: parse_document(json.dumps({**good, "expires": "soon"}).encode()),
        lambda: parse_document(json.dumps({**good, "bundle_keys": []}).encode()),
        lambda: parse_document(json.dumps({**good, "bundle_keys": ["AAAA"]}).encode()),
        lambda: parse_document(json.dumps({**good, "version": 1}).encode()),
        lambda: parse_document(json.dumps({**good, "trust": {"keys": 1}}).encode()),
        lambda: parse_document(json.dumps({**good, "rules": {"fever_threshold_c": 99}}
                                          ).encode()),
        lambda: BundleInbox(Path("/nonexistent/bundle.json"), [spki]).receive(
            b" " * (MAX_BUNDLE_BYTES + 1), dt.datetime.now(dt.UTC)),
        lambda: BundleInbox(Path("/nonexistent/bundle.json"), []).receive(
            envelope(), dt.datetime.now(dt.UTC)),
    ]


REFUSALS = 20


def test_the_refusal_cases_are_all_run() -> None:
    assert len(refusal_cases()) == REFUSALS


@pytest.mark.parametrize("index", range(REFUSALS))
def test_every_bundle_refusal_is_in_the_catalogue(index: int) -> None:
    with pytest.raises(StationError) as refused:
        refusal_cases()[index]()
    zh, en = refused.value.in_locale("zh_CN"), refused.value.in_locale("en")
    assert CJK.search(zh), zh
    assert not CJK.search(en) and en == str(refused.value), en


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_console_accounts_speak_the_locale(tmp_path: Path, locale: str) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"station:\n  locale: {locale}\ndrivers: fake\nconsole:\n"
                      f"  accounts_path: {tmp_path}/accounts.db\n")
    said = []
    for args, stdin, ok in ((["add", "G001", "--role", "guard"], "long-enough-1\n", True),
                            (["add", "G002", "--role", "guard"], "short\n", False),
                            (["add", "G001", "--role", "guard"], "long-enough-1\n", False),
                            (["list"], "", True), (["disable", "G001"], "", True),
                            (["disable", "nobody"], "", False)):
        done = subprocess.run([*STATION, "console", "user", *args, "--config", str(config),
                               *(["--password-stdin"] if args[0] == "add" else [])],
                              input=stdin, cwd=ROOT, capture_output=True, text=True,
                              env={**os.environ, "GATE_STATION_DRIVERS": "fake"}, timeout=120)
        assert (done.returncode == 0) == ok and "Traceback" not in done.stderr, done.stderr
        said.append(done.stdout + done.stderr)
    output = "\n".join(said)
    if locale == "zh_CN":
        assert CJK.search(output) and zh_leaks(output) == [], output
    else:
        assert leaks(output, "en") == [], output


# Every hostile case of tests/test_hostile_args.py (its configs leave the locale at zh_CN):
# whatever a command prints for people is Chinese. Machine formats (JSON, the CSV export on
# stdout) and data (the station id) are not language.
SWEEP_ALLOWED = {"Unix", "start", "events", "chmod", "gate"}


def _for_people(text: str) -> str:
    """The lines for people: without JSON (one line, or indented over many) and CSV."""
    kept, in_json = [], False
    for line in text.splitlines():
        if line == "{":
            in_json = True
        if not in_json and not line.lstrip("\ufeff").startswith(("{", "seq,")):
            kept.append(line)
        if line == "}":
            in_json = False
    return "\n".join(kept)


@pytest.mark.parametrize("args", hostile_cases() + generic_cases(),
                         ids=lambda a: " ".join(a))
def test_every_hostile_case_is_said_in_chinese(args: tuple[str, ...],
                                               place: dict[str, str],  # noqa: F811  (the imported fixture)
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(place["base"])
    _code, text, error = invoke(args, place)
    assert error is None and "Traceback" not in text, text
    bad = [word for word in zh_leaks(_for_people(text)) if word not in SWEEP_ALLOWED]
    assert bad == [], text


@pytest.mark.parametrize("make_args", TOWN_HOSTILE, ids=range(len(TOWN_HOSTILE)))
def test_every_hostile_town_case_is_said_in_chinese(
        tmp_path: Path, make_args: Callable[[Path, Path], list[str]]) -> None:
    """tests/test_town_cli.py's hostile cases, run in the town's default locale."""
    from click.testing import CliRunner

    from station.keys import new_signing_key, save_key_pair
    from sync.town.cli import main as town_main

    runner = CliRunner(env={"TOWN_LOCALE": None})
    db = tmp_path / "town.db"
    assert runner.invoke(town_main, ["db", "init", "--db", str(db)]).exit_code == 0
    (tmp_path / "file").write_text("a regular file, not a directory")
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "garbage").write_bytes(b"\x00\xffnot anything\n" * 10)
    (tmp_path / "brace").write_text("{ not json")
    private, _ = save_key_pair(new_signing_key(), tmp_path / "issuer")
    private.rename(tmp_path / "issuer.key")
    args = make_args(tmp_path, db)
    result = runner.invoke(town_main, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    output = _for_people(result.output)
    if result.exit_code != 0:
        assert CJK.search(output), output
    typed = set(re.findall(r"[A-Za-z][A-Za-z-]*[A-Za-z]|[A-Za-z]+", " ".join(args)))  # data
    assert [word for word in zh_leaks(output) if word not in typed] == [], output
