"""`gate-station`: the station's command line, a thin layer over the library.

Every command takes `--config PATH` (default ./config.yaml, then
/etc/gate-station/config.yaml), before or after the command's name. Errors the station
expects (bad config, unreadable file, unavailable device, a date beyond the calendar) are
printed as one line and exit non-zero, never as a traceback. Every sentence printed comes
from the message catalogue (station/messages.py) in the configured locale.
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
from station.config import Config, file_locale
from station.errors import (
    ConfigError,
    DeviceError,
    Localized,
    StationError,
    localize,
    value_reason,
)
from station.messages import Locale, os_error_text, reason_message, word
from station.messages import text as tr  # `text` is a common argument name here
from station.usage import OneLineUsageError, is_help_request, one_line

F = TypeVar("F", bound=Callable[..., Any])


LOCALE_META = "gate_station.locale"  # ctx.meta: the loaded config's locale
CONFIG_META = "gate_station.config_path"  # ctx.meta: the config file being loaded


ARGS_META = "gate_station.args"  # ctx.meta: the command line as given, to find --config


class StationGroup(click.Group):
    """A click group that turns StationError and click's usage errors into a one-line
    message and exit status, in the locale of the loaded config (see `error_locale`)."""

    def make_context(self, info_name: str | None, args: list[str],
                     parent: click.Context | None = None, **extra: Any) -> click.Context:
        given = list(args)
        if parent is None:  # the program's name, also when run as `python -c` or `-m`
            info_name = "gate-station"
        try:
            ctx = super().make_context(info_name, args, parent, **extra)
        except click.UsageError as error:
            if is_help_request(error):
                raise
            raise one_line(error, args_locale(given), "gate-station") from None
        ctx.meta[ARGS_META] = given
        return ctx

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except OneLineUsageError:
            raise
        except click.UsageError as error:
            if is_help_request(error):
                raise
            locale = (error_locale(ctx) if LOCALE_META in ctx.meta or CONFIG_META in ctx.meta
                      else args_locale(ctx.meta.get(ARGS_META, [])))
            raise one_line(error, locale, ctx.command_path) from None
        except ConfigError as error:
            locale = error_locale(ctx)
            for problem in error.problems:
                click.echo(localize(problem, locale), err=True)
            ctx.exit(2)
        except (StationError, DeviceError) as error:
            locale = error_locale(ctx)
            click.echo(f"gate-station: {localize(error, locale)}", err=True)
            ctx.exit(1)
        except OverflowError:  # a date arithmetic beyond year 1..9999 that slipped through
            click.echo(tr("cli.date_overflow", error_locale(ctx)), err=True)
            ctx.exit(2)


def error_locale(ctx: click.Context) -> Locale:
    """The locale an error is printed in: the loaded config's `station.locale`; when the
    config itself could not be loaded, its `station.locale` if the file is YAML (repeated
    keys allowed) and that one value is valid; else zh_CN (the default locale)."""
    loaded = ctx.meta.get(LOCALE_META)
    if loaded in ("zh_CN", "en"):
        return loaded  # type: ignore[no-any-return]
    path = ctx.meta.get(CONFIG_META)
    return "zh_CN" if path is None else file_locale(path)


def args_locale(args: list[str]) -> Locale:
    """The locale for an error found before any config is loaded (click's usage errors):
    that of the config `--config` names on the command line (wherever it stands), else of
    the default config file (./config.yaml, then /etc/gate-station/config.yaml); zh_CN when
    there is none or it does not say."""
    path: str | None = None
    for index, arg in enumerate(args):
        if arg == "--":
            break
        if arg == "--config" and index + 1 < len(args):
            path = args[index + 1]
        elif arg.startswith("--config="):
            path = arg.partition("=")[2]
        if path is not None:  # the first one given
            break
    try:
        found = config_module.find_config(path) if path is None else Path(path)
    except (OSError, StationError):
        return "zh_CN"
    return "zh_CN" if found is None else file_locale(found)


CONFIG_HELP = "config file (default ./config.yaml, then /etc/gate-station/config.yaml)"


def config_option(function: F) -> F:
    return click.option("--config", "config_path", type=click.Path(dir_okay=False),
                        default=None, help=CONFIG_HELP)(function)


def chosen_config_path(path: str | None) -> str | None:
    """The command's `--config`, else the one given before the command's name."""
    context = click.get_current_context(silent=True)
    before = context.find_root().params.get("config_path") if context else None
    if path is not None and before is not None and Path(path) != Path(before):
        raise click.UsageError(Localized("usage.config_twice", first=before, second=path))
    return path if path is not None else before


def load_config(path: str | None) -> Config:
    """The command's config; its locale is remembered for the error handler."""
    path = chosen_config_path(path)
    if path is not None and not Path(path).is_file():
        raise ConfigError([Localized("config.no_such_file", path=Path(path).absolute())])
    context = click.get_current_context()
    found = config_module.find_config(path)
    if found is not None:
        context.meta[CONFIG_META] = found
    config = config_module.load(path)
    context.meta[LOCALE_META] = config.station.locale
    return config


@click.group(cls=StationGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gate-station")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help=CONFIG_HELP + "; may also follow the command's name")
def main(config_path: str | None) -> None:
    """Factory-gate health check station: health code + temperature → gate."""


@main.command("check-config")
@config_option
def check_config(config_path: str | None) -> None:
    """Validate config.yaml; print every problem as FILE:KEY: what is wrong (exit 2)."""
    config = load_config(config_path)
    found = config_module.find_config(chosen_config_path(config_path))
    locale = config.station.locale
    if found is None:
        click.echo(tr("cli.check_ok", locale, path=tr("cli.check_defaults", locale)))
        return
    config_module.check_files(config, str(found.absolute()))
    if config.town.url and not config.town.bundle_keys:
        click.echo(tr("cli.no_bundle_keys", locale, source=found.absolute()), err=True)
    click.echo(tr("cli.check_ok", locale, path=found.absolute()))


@main.command()
@config_option
@click.option("--relay", is_flag=True, help="also click the gate relay")
def selftest(config_path: str | None, relay: bool) -> None:
    """Exercise every configured device once and print a table of results."""
    from station.present import display_width, pad_display
    from station.selftest import run_selftest

    config = load_config(config_path)
    locale = config.station.locale
    checks = run_selftest(config, relay=relay)
    marks = {True: tr("selftest.ok", locale), False: tr("selftest.fail", locale)}
    mark_width = max(display_width(m) for m in marks.values())
    width = max(display_width(c.label(locale)) for c in checks)
    check_width = max(display_width(c.check_label(locale)) for c in checks)
    for check in checks:
        click.echo(f"{pad_display(marks[check.ok], mark_width)}  "
                   f"{pad_display(check.label(locale), width)}  "
                   f"{pad_display(check.check_label(locale), check_width)}  {check.detail}")
    failed = sum(not c.ok for c in checks)
    click.echo(tr("selftest.summary", locale, passed=len(checks) - failed, failed=failed))
    if failed:
        sys.exit(1)


@main.command()
@config_option
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="one JSON object per file")
def decode(config_path: str | None, files: tuple[str, ...], as_json: bool) -> None:
    """Decode QR codes in image files with the station's decoder chain.

    Exit status: 0 when every file held a code, 1 when some file held none, 2 when some
    file could not be read as an image."""
    from drivers.decoders import DecoderChain, read_image

    config = load_config(config_path)
    locale = config.station.locale
    chain = DecoderChain(config.scanner.decoders)
    unreadable = empty = 0
    for name in files:
        start = time.perf_counter()
        try:
            image = read_image(name)
        except DeviceError as error:
            unreadable += 1
            if as_json:
                click.echo(json.dumps({"file": name, "error": str(error)}, ensure_ascii=False))
            else:
                click.echo(tr("cli.not_image", locale, file=name), err=True)
            continue
        try:
            texts = chain.decode(image)
        except DeviceError as error:  # a decoder's own failure: quoted as it gave it
            unreadable += 1
            if as_json:
                click.echo(json.dumps({"file": name, "error": str(error)}, ensure_ascii=False))
            else:
                click.echo(tr("cli.decode_error", locale, file=name, error=error), err=True)
            continue
        elapsed_ms = round((time.perf_counter() - start) * 1000, 2)
        if as_json:
            click.echo(json.dumps({"file": name, "texts": texts, "ms": elapsed_ms},
                                  ensure_ascii=False))
        elif texts:
            for text in texts:
                click.echo(f"{name}: {text}")
        else:
            click.echo(tr("cli.no_code_found", locale, file=name), err=True)
        if not texts:
            empty += 1
    if unreadable:
        sys.exit(2)
    if empty:
        sys.exit(1)


def format_claims(claims: Any, locale: Locale) -> list[tuple[str, str]]:
    from station.timeparse import cst_text

    def when(seconds: int) -> str:
        shown = cst_text(seconds)
        return shown if shown is not None else tr("cli.beyond_calendar", locale,
                                                    seconds=seconds)

    rows = [
        ("issuer", claims.iss),
        ("subject", claims.sub),
        ("name", claims.name or "—"),
        ("color", word(claims.color.word, locale)),
        ("issued", when(claims.iat)),
        ("expires", when(claims.exp)),
        ("nat", claims.nat.isoformat() if claims.nat else "—"),
        ("returned", tr("claims.returned_value", locale, date=claims.ret.date.isoformat(),
                          origin=word(claims.ret.origin.word, locale)) if claims.ret else "—"),
        ("employer", claims.org or "—"),
    ]
    return [(tr(f"claims.{key}", locale), value) for key, value in rows]


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
        raise click.UsageError(Localized("usage.code_or_file"))
    if image is not None:
        try:
            frame = read_image(image)
        except DeviceError:
            raise StationError(key="cli.not_image", file=image) from None
        texts = DecoderChain(config.scanner.decoders).decode(frame)
        if not texts:
            raise StationError(tr("cli.no_qr_in_image", locale, file=image))
        text = texts[0]
    from station.bundle import apply_rules, load_bundle

    # --trust checks a code against a given list with config.yaml's rules; otherwise the
    # bundle's trust list and rules apply, as at the gate
    bundle = None if trust_path is not None else load_bundle(Path(config.bundle.path))
    policy = apply_rules(config.policy, bundle.rules) if bundle else config.policy
    if trust_path is not None:
        trust = load_trust_file(Path(trust_path))
    else:
        if bundle is None:
            click.echo("gate-station: " + tr("cli.no_bundle", locale,
                                               path=config.bundle.path), err=True)
        trust = bundle.trust if bundle else TrustList()
    try:
        now = parse_instant(at) if at else dt.datetime.now(dt.UTC)
    except ValueError as error:
        raise click.BadParameter(value_reason(error), param_hint="--at") from None
    try:
        claims = verify(text, trust, now, skew=policy.skew_s,
                        max_lifetime_s=policy.max_code_lifetime_h * 3600)
    except CodeError as error:
        click.echo(tr("cli.invalid_code", locale, reason=error.reason,
                        message=reason_message(error.reason, locale)))
        if error.revocation is not None:
            from station.timeparse import cst_text

            subject, before = error.revocation
            click.echo("  " + tr("trust.revoked_before", locale, sub=subject,
                                   before=cst_text(before) or before))
        elif error.detail:  # the verifier's technical detail, quoted as it gave it
            click.echo(f"  [{error.detail}]")
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
                   "never the configured ledger, nor one a simulation did not make)")
@click.option("-v", "--verbose", is_flag=True,
              help="also show the gate's own log (the records already show every fault)")
def simulate(config_path: str | None, scenario_path: str, as_json: bool,
             ledger_path: str | None, verbose: bool) -> None:
    """Run a scenario through the real gate loop on fake hardware and a virtual clock."""
    import logging
    import tempfile

    from station.present import record_json, table_header, table_row
    from station.scenario import ScenarioError, load_scenario
    from station.simulate import check_simulation_ledger
    from station.simulate import simulate as run_simulation

    config = load_config(config_path)
    if ledger_path:
        check_simulation_ledger(Path(ledger_path), config)
    locale = config.station.locale
    # the gate's log is for the daemon's journal; here every fault is already a record
    logging.basicConfig(level=logging.INFO if verbose else logging.CRITICAL,
                        format="%(levelname)s %(message)s")
    try:
        scenario, times = load_scenario(scenario_path)
    except ScenarioError as error:
        click.echo(error.in_locale(locale), err=True)
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
            click.echo(error.in_locale(locale), err=True)
            sys.exit(2)
        ledger.close()
    click.echo(tr("cli.simulate_summary", locale, events=len(scenario.events),
                    admitted=counts["admit"], denied=counts["deny"])
               + (tr("cli.simulate_ledger", locale, path=ledger_path) if ledger_path else ""),
               err=True)


def ledger_option(function: F) -> F:
    return click.option("--ledger", "ledger_path", type=click.Path(dir_okay=False),
                        help="ledger to read (default: ledger.path in config)")(function)


def open_ledger(config: Config, path: str | None) -> Any:
    from station.ledger import Ledger

    return Ledger.open_readonly(path or config.ledger.path)


def today_cst() -> dt.date:
    from station.clock import CST, cst_date

    return cst_date(dt.datetime.now(CST))


def parse_day(value: str | None, param: str) -> dt.date:
    from station.timeparse import parse_date

    if value is None:
        return today_cst()
    try:
        return parse_date(value)
    except ValueError as error:
        raise click.BadParameter(value_reason(error), param_hint=param) from None


def instant_option(value: str, param: str) -> dt.datetime:
    from station.timeparse import parse_instant

    try:
        return parse_instant(value)
    except ValueError as error:
        raise click.BadParameter(value_reason(error), param_hint=param) from None


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
    from station.present import record_json, records_csv, table_header, table_row
    from station.reports import log_records
    from station.timeparse import cst_iso

    config = load_config(config_path)
    if day is not None and (since or until):
        raise click.UsageError(Localized("usage.date_or_range"))
    since_text = cst_iso(instant_option(since, "--from")) if since else None
    until_text = cst_iso(instant_option(until, "--to")) if until else None
    one_day = parse_day(day, "--date") if day else None  # bad arguments before the ledger
    with open_ledger(config, ledger_path) as ledger:
        records = log_records(ledger, day=one_day, since=since_text, until=until_text,
                              denied=denied, fever=fever, subject=subject)
        if fmt == "csv":
            click.echo(records_csv(records), nl=False)
        elif fmt == "json":
            for record in records:
                click.echo(record_json(record))
        else:
            click.echo(table_header(config.station.locale))
            for record in records:
                click.echo(table_row(record, config.station.locale))


def write_export(path: str, content: str, locale: Locale) -> None:
    """Write an export file (CSV for Excel); one line naming the file if it cannot be."""
    try:
        with open(path, "w", encoding="utf-8", newline="") as out:
            out.write(content)
    except OSError as error:
        raise StationError(tr("cli.cannot_write", locale, path=Path(path).absolute(),
                              error=os_error_text(error, locale))) from None
    click.echo(tr("cli.wrote", locale, path=path), err=True)


@main.group()
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help=CONFIG_HELP, hidden=True)
def report(config_path: str | None) -> None:
    """Reports for the enterprise safety officer."""
    if config_path is not None:  # `report --config X daily`: hand it to the root
        click.get_current_context().find_root().params["config_path"] = config_path


@report.command("daily")
@config_option
@ledger_option
@click.option("--date", "day", help="the CST calendar day (default: today)")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False),
              help="also write the register as CSV (UTF-8 with BOM, opens in Excel): "
                   "everyone's first entry, denials without an identity, fever alarms")
@click.option("--xlsx", "xlsx_path", type=click.Path(dir_okay=False),
              help="also write the register as XLSX (the console's download)")
@click.option("--json", "as_json", is_flag=True, help="print the report as one JSON document")
def report_daily(config_path: str | None, ledger_path: str | None, day: str | None,
                 csv_path: str | None, xlsx_path: str | None, as_json: bool) -> None:
    """The daily entry register (体温登记表): people, totals, fever alarms, tests due."""
    import io

    from station.present import daily_csv, daily_json, daily_text
    from station.reports import daily_report

    config = load_config(config_path)
    locale = config.station.locale
    the_day = parse_day(day, "--date")
    with open_ledger(config, ledger_path) as ledger:
        result = daily_report(ledger, the_day, config.policy)
    if csv_path:
        buffer = io.StringIO()
        daily_csv(result, buffer, locale)
        write_export(csv_path, buffer.getvalue(), locale)
    if xlsx_path:
        from station.console.excel import write_registers

        try:
            write_registers(Path(xlsx_path), [result],
                            config.station.enterprise or config.station.id, locale)
        except OSError as error:
            raise StationError(tr("cli.cannot_write", locale, path=Path(xlsx_path).absolute(),
                                  error=os_error_text(error, locale))) from None
        click.echo(tr("cli.wrote", locale, path=xlsx_path), err=True)
    if as_json:
        click.echo(json.dumps(daily_json(result), ensure_ascii=False))
    else:
        click.echo(daily_text(result, config.station.enterprise or config.station.id, locale))


def _visits_report(kind: str, config_path: str | None, ledger_path: str | None,
                   day: str | None, csv_path: str | None, xlsx_path: str | None,
                   as_json: bool) -> None:
    from station import registers

    config = load_config(config_path)
    locale = config.station.locale
    enterprise = config.station.enterprise or config.station.id
    the_day = parse_day(day, "--date")
    with open_ledger(config, ledger_path) as ledger:
        register = registers.visit_register(ledger, "vehicle" if kind == "vehicle"
                                            else "visitor", the_day)
    if csv_path:
        write_export(csv_path, registers.register_csv(register, locale), locale)
    if xlsx_path:
        from station.console.excel import write_visit_registers

        try:
            write_visit_registers(Path(xlsx_path), [register], enterprise, locale)
        except OSError as error:
            raise StationError(tr("cli.cannot_write", locale, path=Path(xlsx_path).absolute(),
                                  error=os_error_text(error, locale))) from None
        click.echo(tr("cli.wrote", locale, path=xlsx_path), err=True)
    if as_json:
        click.echo(registers.dumps(registers.register_json(register)))
    else:
        click.echo(registers.register_text(register, enterprise, locale))


def _visits_options(function: Any) -> Any:
    for option in reversed((
            config_option, ledger_option,
            click.option("--date", "day", help="the CST calendar day (default: today)"),
            click.option("--csv", "csv_path", type=click.Path(dir_okay=False),
                         help="also write the register as CSV (UTF-8 with BOM)"),
            click.option("--xlsx", "xlsx_path", type=click.Path(dir_okay=False),
                         help="also write the register as XLSX (the console's download)"),
            click.option("--json", "as_json", is_flag=True,
                         help="print the register as one JSON document"))):
        function = option(function)
    return function


@report.command("vehicles")
@_visits_options
def report_vehicles(config_path: str | None, ledger_path: str | None, day: str | None,
                    csv_path: str | None, xlsx_path: str | None, as_json: bool) -> None:
    """The daily vehicle register (车辆登记表): every vehicle in, its driver, code,
    temperature, disinfection, decision, and when it left."""
    _visits_report("vehicle", config_path, ledger_path, day, csv_path, xlsx_path, as_json)


@report.command("visitors")
@_visits_options
def report_visitors(config_path: str | None, ledger_path: str | None, day: str | None,
                    csv_path: str | None, xlsx_path: str | None, as_json: bool) -> None:
    """The daily visitor register (外来人员登记表): every visitor in, host, purpose, code,
    temperature, decision, and when they left."""
    _visits_report("visitor", config_path, ledger_path, day, csv_path, xlsx_path, as_json)


@main.command("stats")
@config_option
@ledger_option
@click.option("--days", type=click.IntRange(1, 3660), default=7, show_default=True)
@click.option("--until", "until_day",
              help="last day, YYYY-MM-DD (default: today; when the last days hold no entry, "
                   "the ledger's newest day, and a note says so)")
@click.option("--json", "as_json", is_flag=True, help="print the statistics as JSON")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False),
              help="also write entries per day as CSV (UTF-8 with BOM, opens in Excel)")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              help="same as --json when json")
def stats_command(config_path: str | None, ledger_path: str | None, days: int,
                  until_day: str | None, as_json: bool, csv_path: str | None,
                  fmt: str) -> None:
    """Entries per day and per hour, denials by reason."""
    import io

    from station.present import stats_csv, stats_json, stats_text
    from station.reports import recent_stats, stats

    config = load_config(config_path)
    locale = config.station.locale
    last_day = parse_day(until_day, "--until") if until_day is not None else None
    with open_ledger(config, ledger_path) as ledger:
        if last_day is not None:
            result = stats(ledger, last_day, days)
        else:
            result, moved = recent_stats(ledger, today_cst(), days)
            if moved:
                click.echo(tr("stats.moved", locale, days=days, last=result.last_day),
                           err=True)
    if csv_path:
        buffer = io.StringIO()
        stats_csv(result, buffer, locale)
        write_export(csv_path, buffer.getvalue(), locale)
    if as_json or fmt == "json":
        click.echo(json.dumps(stats_json(result), ensure_ascii=False))
    else:
        click.echo(stats_text(result, locale))


@main.command()
@config_option
@click.option("--once", is_flag=True,
              help="push until caught up, pull the bundle, heartbeat once, print a summary, "
                   "then exit (0 when nothing is left unsynced; 1 with a one-line reason when "
                   "blocked, or the town was unreachable for town.once_give_up_s)")
@click.option("--insecure-token-file", is_flag=True,
              help="use a token file that other users can read (refused otherwise)")
@click.option("-v", "--verbose", is_flag=True)
@click.option("--allow-simulated", is_flag=True,
              help="push a ledger made by `simulate`, marked as simulated (the town keeps "
                   "such records apart from real ones)")
def sync(config_path: str | None, once: bool, insecure_token_file: bool, verbose: bool,
         allow_simulated: bool) -> None:
    """Push the ledger to the town and pull its bundle (gate-sync.service runs this)."""
    import logging

    from sync.client import run_sync

    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpcore"):  # one line per request and per socket event: noise
        logging.getLogger(noisy).setLevel(logging.WARNING)
    config = load_config(config_path)
    sys.exit(run_sync(config, once=once, insecure_token_file=insecure_token_file,
                      allow_simulated=allow_simulated,
                      report=lambda line: click.echo(localize(line, config.station.locale),
                                                     err=True)))


@main.command("relay-off")
@config_option
def relay_off(config_path: str | None) -> None:
    """Force the gate relay off (systemd's ExecStopPost runs this after any exit)."""
    from station import hardware

    config = load_config(config_path)
    outputs = hardware.build_outputs(config, hardware.Fakes())
    outputs.close()
    click.echo(tr("cli.relay_off", config.station.locale))


def _add_console() -> None:
    from station.console.cli import console

    main.add_command(console)


_add_console()

if __name__ == "__main__":
    main()
