"""`gate-station`: the station's command line, a thin layer over the library.

Every command takes `--config PATH` (default ./config.yaml, then
/etc/gate-station/config.yaml). Errors the station expects (bad config, unreadable file,
unavailable device) are printed as one line and exit non-zero, never as a traceback.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from station import config as config_module
from station.config import Config
from station.errors import ConfigError, DeviceError, StationError
from station.messages import Locale, reason_message, word

F = TypeVar("F", bound=Callable[..., Any])


class StationGroup(click.Group):
    """A click group that turns StationError into a one-line message and exit status."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as error:
            for problem in error.problems:
                click.echo(problem, err=True)
            ctx.exit(2)
        except (StationError, DeviceError) as error:
            click.echo(f"gate-station: {error}", err=True)
            ctx.exit(1)


def config_option(function: F) -> F:
    return click.option(
        "--config", "config_path", type=click.Path(dir_okay=False), default=None,
        help="config file (default ./config.yaml, then /etc/gate-station/config.yaml)",
    )(function)


def load_config(path: str | None) -> Config:
    if path is not None and not Path(path).is_file():
        raise ConfigError([f"{path}: no such config file"])
    return config_module.load(path)


@click.group(cls=StationGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gate-station")
def main() -> None:
    """Factory-gate health check station: health code + temperature → gate."""


@main.command("check-config")
@config_option
def check_config(config_path: str | None) -> None:
    """Validate config.yaml; print every problem as FILE:KEY: what is wrong (exit 2)."""
    found = config_module.find_config(config_path)
    load_config(config_path)
    click.echo(f"{found or '(defaults)'}: ok")


@main.command()
@config_option
@click.option("--relay", is_flag=True, help="also click the gate relay")
def selftest(config_path: str | None, relay: bool) -> None:
    """Exercise every configured device once and print a table of results."""
    from station.selftest import run_selftest

    checks = run_selftest(load_config(config_path), relay=relay)
    width = max(len(c.device) for c in checks)
    for check in checks:
        mark = "ok  " if check.ok else "FAIL"
        click.echo(f"{mark}  {check.device:<{width}}  {check.check:<10}  {check.detail}")
    failed = sum(not c.ok for c in checks)
    click.echo(f"{len(checks) - failed} passed, {failed} failed")
    if failed:
        sys.exit(1)


@main.command()
@config_option
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="one JSON object per file")
def decode(config_path: str | None, files: tuple[str, ...], as_json: bool) -> None:
    """Decode QR codes in image files with the station's decoder chain."""
    from drivers.decoders import DecoderChain, read_image

    chain = DecoderChain(load_config(config_path).scanner.decoders)
    unreadable = 0
    for name in files:
        start = time.perf_counter()
        try:
            texts = chain.decode(read_image(name))
        except DeviceError as error:
            unreadable += 1
            if as_json:
                click.echo(json.dumps({"file": name, "error": str(error)}, ensure_ascii=False))
            else:
                click.echo(f"{name}: error: {error}", err=True)
            continue
        elapsed_ms = round((time.perf_counter() - start) * 1000, 2)
        if as_json:
            click.echo(json.dumps({"file": name, "texts": texts, "ms": elapsed_ms},
                                  ensure_ascii=False))
        elif texts:
            for text in texts:
                click.echo(f"{name}: {text}")
        else:
            click.echo(f"{name}: (no code found)")
    if unreadable:
        sys.exit(2)


def format_claims(claims: Any, locale: Locale) -> list[tuple[str, str]]:
    from station.clock import CST

    def when(seconds: int) -> str:
        return dt.datetime.fromtimestamp(seconds, CST).isoformat(sep=" ")

    zh = locale == "zh_CN"
    rows = [
        ("签发机构" if zh else "issuer", claims.iss),
        ("人员编号" if zh else "subject", claims.sub),
        ("姓名" if zh else "name", claims.name or "—"),
        ("健康码" if zh else "color", word(claims.color.word, locale)),
        ("签发时间" if zh else "issued", when(claims.iat)),
        ("有效期至" if zh else "expires", when(claims.exp)),
        ("最近核酸阴性" if zh else "latest negative NAT",
         claims.nat.isoformat() if claims.nat else "—"),
        ("返回" if zh else "returned",
         f"{claims.ret.date.isoformat()} ({word(claims.ret.origin.word, locale)})"
         if claims.ret else "—"),
        ("单位" if zh else "employer", claims.org or "—"),
    ]
    return rows


@main.command("verify-code")
@config_option
@click.argument("text", required=False)
@click.option("--file", "image", type=click.Path(), help="read the code from an image")
@click.option("--trust", "trust_path", type=click.Path(dir_okay=False),
              help="trust list JSON (default: the trust list in the station's bundle)")
@click.option("--at", "at", help="verify as of this ISO 8601 time (default: now)")
def verify_code(config_path: str | None, text: str | None, image: str | None,
                trust_path: str | None, at: str | None) -> None:
    """Verify a health code (text, or --file IMAGE) and print its claims or why it fails."""
    from drivers.decoders import DecoderChain, read_image
    from station.codes import CodeError, verify
    from station.timeparse import parse_instant
    from station.trust import TrustList, load_trust_file

    config = load_config(config_path)
    locale = config.station.locale
    if (text is None) == (image is None):
        raise click.UsageError("give the code TEXT or --file IMAGE (one of them)")
    if image is not None:
        texts = DecoderChain(config.scanner.decoders).decode(read_image(image))
        if not texts:
            raise StationError(f"{image}: no QR code found")
        text = texts[0]
    if trust_path is not None:
        trust = load_trust_file(Path(trust_path))
    else:
        from station.bundle import load_bundle

        bundle = load_bundle(Path(config.bundle.path))
        if bundle is None:
            click.echo(f"gate-station: note: no bundle at {config.bundle.path} yet; trusting "
                       "no key", err=True)
        trust = bundle.trust if bundle else TrustList()
    try:
        now = parse_instant(at) if at else dt.datetime.now(dt.UTC)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--at") from None
    try:
        claims = verify(text, trust, now, skew=config.policy.skew_s)
    except CodeError as error:
        label = "无效" if locale == "zh_CN" else "invalid"
        click.echo(f"{label}: {error.reason} — {reason_message(error.reason, locale)}")
        if error.detail:
            click.echo(f"  ({error.detail})")
        sys.exit(1)
    from station.present import display_width, pad_display

    click.echo(word("valid", locale))
    rows = format_claims(claims, locale)
    width = max(display_width(label) for label, _ in rows)
    for label, value in rows:
        click.echo(f"  {pad_display(label, width)}  {value}")


@main.command()
@config_option
@click.option("-v", "--verbose", is_flag=True, help="log every decision")
def run(config_path: str | None, verbose: bool) -> None:
    """Run the gate (the daemon; systemd starts it as gate-station.service)."""
    import logging

    from station.daemon import run as run_daemon

    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    sys.exit(run_daemon(load_config(config_path)))


@main.command()
@config_option
@click.argument("scenario_path", metavar="SCENARIO.yaml", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="one JSON object per record")
@click.option("--ledger", "ledger_path", type=click.Path(dir_okay=False),
              help="ledger to write (default: a temporary one, removed afterwards; "
                   "never the configured ledger)")
def simulate(config_path: str | None, scenario_path: str, as_json: bool,
             ledger_path: str | None) -> None:
    """Run a scenario through the real gate loop on fake hardware and a virtual clock."""
    import logging
    import tempfile

    from station.present import record_json, table_header, table_row
    from station.scenario import ScenarioError, load_scenario
    from station.simulate import simulate as run_simulation

    config = load_config(config_path)
    locale = config.station.locale
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    try:
        scenario, times = load_scenario(scenario_path)
    except ScenarioError as error:
        click.echo(str(error), err=True)
        sys.exit(2)
    counts = {"admit": 0, "deny": 0}

    def show(record: Any) -> None:
        if record.kind == "entry" and record.decision in counts:
            counts[record.decision] += 1
        click.echo(record_json(record) if as_json else table_row(record, locale))
        sys.stdout.flush()

    if not as_json:
        click.echo(table_header(locale))
    with tempfile.TemporaryDirectory(prefix="gate-sim-") as scratch:
        path = Path(ledger_path) if ledger_path else Path(scratch) / "ledger.db"
        try:
            ledger = run_simulation(scenario, times, config, path, source=scenario_path,
                                    on_record=show)
        except ScenarioError as error:
            click.echo(str(error), err=True)
            sys.exit(2)
        ledger.close()
    click.echo(f"{len(scenario.events)} events: {counts['admit']} admitted, "
               f"{counts['deny']} denied" + (f"; ledger {ledger_path}" if ledger_path else ""),
               err=True)


def ledger_option(function: F) -> F:
    return click.option("--ledger", "ledger_path", type=click.Path(dir_okay=False),
                        help="ledger to read (default: ledger.path in config)")(function)


def open_ledger(config: Config, path: str | None) -> Any:
    from station.ledger import Ledger

    return Ledger.open_readonly(path or config.ledger.path)


def today_cst() -> dt.date:
    from station.clock import CST

    return dt.datetime.now(CST).date()


def parse_day(value: str | None, param: str) -> dt.date:
    from station.timeparse import parse_date

    if value is None:
        return today_cst()
    try:
        return parse_date(value)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint=param) from None


@main.command("log")
@config_option
@ledger_option
@click.option("--date", "day", help="one CST calendar day, YYYY-MM-DD")
@click.option("--from", "since", help="from this ISO 8601 time")
@click.option("--to", "until", help="up to (not including) this ISO 8601 time")
@click.option("--denied", is_flag=True, help="only denied entries")
@click.option("--fever", is_flag=True, help="only fever entries and alarms")
@click.option("--subject", help="only this worker id")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table")
def log_command(config_path: str | None, ledger_path: str | None, day: str | None,
                since: str | None, until: str | None, denied: bool, fever: bool,
                subject: str | None, fmt: str) -> None:
    """The ledger's records, filtered (CSV opens in Excel; JSON one object per line)."""
    from station.clock import CST
    from station.present import record_json, records_csv, table_header, table_row
    from station.reports import log_records
    from station.timeparse import parse_instant

    config = load_config(config_path)
    if day is not None and (since or until):
        raise click.UsageError("give --date, or --from/--to, not both")
    try:
        since_text = parse_instant(since).astimezone(CST).isoformat() if since else None
        until_text = parse_instant(until).astimezone(CST).isoformat() if until else None
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    with open_ledger(config, ledger_path) as ledger:
        records = log_records(ledger, day=parse_day(day, "--date") if day else None,
                              since=since_text, until=until_text, denied=denied, fever=fever,
                              subject=subject)
        if fmt == "csv":
            click.echo(records_csv(records), nl=False)
        elif fmt == "json":
            for record in records:
                click.echo(record_json(record))
        else:
            click.echo(table_header(config.station.locale))
            for record in records:
                click.echo(table_row(record, config.station.locale))


@main.group()
def report() -> None:
    """Reports for the enterprise safety officer."""


@report.command("daily")
@config_option
@ledger_option
@click.option("--date", "day", help="the CST calendar day (default: today)")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False),
              help="also write the register as CSV (UTF-8 with BOM, opens in Excel)")
@click.option("--xlsx", "xlsx_path", type=click.Path(dir_okay=False),
              help="also write the register as XLSX (the console's download)")
def report_daily(config_path: str | None, ledger_path: str | None, day: str | None,
                 csv_path: str | None, xlsx_path: str | None) -> None:
    """The daily entry register (体温登记表): people, totals, fever alarms, tests due."""
    from station.present import daily_csv, daily_text
    from station.reports import daily_report

    config = load_config(config_path)
    with open_ledger(config, ledger_path) as ledger:
        result = daily_report(ledger, parse_day(day, "--date"), config.policy)
    click.echo(daily_text(result, config.station.enterprise or config.station.id,
                          config.station.locale))
    if csv_path:
        with open(csv_path, "w", encoding="utf-8", newline="") as out:
            daily_csv(result, out)
        click.echo(f"wrote {csv_path}", err=True)
    if xlsx_path:
        from station.console.excel import write_registers

        write_registers(Path(xlsx_path), [result], config.station.enterprise
                        or config.station.id, config.station.locale)
        click.echo(f"wrote {xlsx_path}", err=True)


@main.command("stats")
@config_option
@ledger_option
@click.option("--days", type=click.IntRange(1, 3660), default=7, show_default=True)
@click.option("--until", "until_day", help="last day (default: today)")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def stats_command(config_path: str | None, ledger_path: str | None, days: int,
                  until_day: str | None, fmt: str) -> None:
    """Entries per day and per hour, denials by reason."""
    from station.present import stats_text
    from station.reports import stats

    config = load_config(config_path)
    with open_ledger(config, ledger_path) as ledger:
        result = stats(ledger, parse_day(until_day, "--until"), days)
    if fmt == "json":
        click.echo(json.dumps({"first_day": str(result.first_day),
                               "last_day": str(result.last_day), "per_day": result.per_day,
                               "per_hour": result.per_hour, "denials": result.denials},
                              ensure_ascii=False))
    else:
        click.echo(stats_text(result, config.station.locale))


@main.command()
@config_option
@click.option("--once", is_flag=True,
              help="push until caught up, pull the bundle, heartbeat once, then exit "
                   "(0 when nothing is left unsynced)")
@click.option("-v", "--verbose", is_flag=True)
def sync(config_path: str | None, once: bool, verbose: bool) -> None:
    """Push the ledger to the town and pull its bundle (gate-sync.service runs this)."""
    import logging

    from sync.client import run_sync

    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise
    sys.exit(run_sync(load_config(config_path), once=once))


@main.command("relay-off")
@config_option
def relay_off(config_path: str | None) -> None:
    """Force the gate relay off (systemd's ExecStopPost runs this after any exit)."""
    from station import hardware

    outputs = hardware.build_outputs(load_config(config_path), hardware.Fakes())
    outputs.close()
    click.echo("relay off")


def _add_console() -> None:
    from station.console.cli import console

    main.add_command(console)


_add_console()

if __name__ == "__main__":
    main()
