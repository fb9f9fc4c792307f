"""`town-server`: the town's command line — its database, the sync server, stations and
tokens, the signed bundle (trust keys, revocations, rules), issuer and bundle keys, health
codes, retention.

A thin layer over sync.town.store, sync.town.app, sync.town.signing and the station's code
and key modules. Every command that touches the database takes `--db` (a SQLite file,
default ./town.db, or a postgresql:// URL; or $TOWN_DB); only `db init` creates one. Errors
are one line, never a traceback.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from station.errors import StationError, localize, value_reason
from station.messages import Locale
from station.usage import OneLineUsageError, is_help_request, one_line
from sync.town import texts

if TYPE_CHECKING:
    from sync.town.store import SqlTownStore


LOCALE_ENV = "TOWN_LOCALE"


def args_locale(args: list[str]) -> Locale:
    """The administrator's locale: `--locale` on the command line, else $TOWN_LOCALE, else
    zh_CN (like the station's default). Read from the raw arguments too, so that an error
    found while click parses them is already in the locale."""
    chosen: str | None = None
    for index, arg in enumerate(args):
        if arg == "--":
            break
        if arg == "--locale" and index + 1 < len(args):
            chosen = args[index + 1]
            break
        if arg.startswith("--locale="):
            chosen = arg.partition("=")[2]
            break
    if chosen is None:
        chosen = os.environ.get(LOCALE_ENV)
    return "en" if chosen == "en" else "zh_CN"


def town_locale() -> Locale:
    """The locale of the command being run (see `args_locale`)."""
    context = click.get_current_context(silent=True)
    if context is None:
        return args_locale([])
    root = context.find_root()
    locale = root.params.get("locale")
    if locale in ("zh_CN", "en"):
        return locale  # type: ignore[no-any-return]
    return args_locale(root.meta.get(ARGS_META, []))


def say(key: str, /, **fields: Any) -> str:
    """A sentence of the town's catalogue in the command's locale."""
    return texts.cli(key, **fields).in_locale(town_locale())


ARGS_META = "town_server.args"


class TownGroup(click.Group):
    """Turns the library's errors and click's usage errors into one line on stderr, in the
    administrator's locale (`--locale`, $TOWN_LOCALE, zh_CN): exit status 1, 2 for usage."""

    def make_context(self, info_name: str | None, args: list[str],
                     parent: click.Context | None = None, **extra: Any) -> click.Context:
        given = list(args)
        if parent is None:  # the program's name, also when run as `python -c` or `-m`
            info_name = "town-server"
        try:
            ctx = super().make_context(info_name, args, parent, **extra)
        except click.UsageError as error:
            if is_help_request(error):
                raise
            raise one_line(error, args_locale(given), "town-server") from None
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
            raise one_line(error, town_locale(), ctx.command_path) from None
        except StationError as error:
            click.echo(f"town-server: {localize(error, town_locale())}", err=True)
            ctx.exit(1)
        except OSError as error:  # a path the operator gave: missing, no permission, …
            locale = town_locale()
            reason = localize(error, locale)
            if error.filename:
                reason = say("cannot-use-path", path=error.filename, error=reason)
            click.echo(f"town-server: {reason}", err=True)
            ctx.exit(1)


@click.group(cls=TownGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gate-station")
@click.option("--locale", type=click.Choice(["zh_CN", "en"]), envvar=LOCALE_ENV,
              default="zh_CN", show_default=True,
              help="language of what the command prints (also $TOWN_LOCALE)")
def main(locale: str) -> None:
    """The town's side: the sync server and its administration, keys and health codes."""


def db_option(function: Any) -> Any:
    return click.option("--db", "db_path", envvar="TOWN_DB", default="town.db",
                        show_default=True,
                        help="the town database made by `db init`: a SQLite file, or "
                             "postgresql://USER@HOST/DB")(function)


def open_store(db_path: str) -> SqlTownStore:
    from sync.town.store import SqlTownStore

    return SqlTownStore(db_path)


def who() -> str:
    """Who did it, for the audit table."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _instant(text: str, option: str) -> dt.datetime:
    from station.timeparse import parse_instant

    try:
        instant = parse_instant(text)
        instant.timestamp()
        return instant
    except (ValueError, OverflowError) as error:
        raise click.BadParameter(value_reason(error), param_hint=option) from None


def _duration(text: str, option: str) -> dt.timedelta:
    from station.timeparse import parse_duration

    try:
        return dt.timedelta(seconds=parse_duration(text))
    except (ValueError, OverflowError) as error:
        raise click.BadParameter(value_reason(error), param_hint=option) from None


def _date(text: str, option: str) -> dt.date:
    from station.timeparse import parse_date

    try:
        return parse_date(text)
    except ValueError as error:
        raise click.BadParameter(value_reason(error), param_hint=option) from None


# -- the database ----------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Create or migrate the town database."""


@db.command("init")
@db_option
def db_init(db_path: str) -> None:
    """Create a new town database: a SQLite file (mode 0600), or the tables in an empty
    PostgreSQL database (`createdb` made it)."""
    from sync.town.db import SCHEMA_VERSION, create_database, target

    where = target(db_path)
    create_database(where)
    key = "db-created" if where.path is not None else "db-created-pg"
    click.echo(say(key, path=where.shown, version=SCHEMA_VERSION))


@db.command("upgrade")
@db_option
def db_upgrade(db_path: str) -> None:
    """Migrate the town database to this version's schema (in one transaction)."""
    from sync.town.db import SCHEMA_VERSION, target, upgrade_database

    where = target(db_path)
    found = upgrade_database(where, lambda line: click.echo(localize(line, town_locale())))
    if found == SCHEMA_VERSION:
        click.echo(say("db-current", path=where.shown, version=found))


# -- the server ------------------------------------------------------------------------------


@main.command()
@db_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option("--silent-after", default="10m", show_default=True,
              help="flag a station silent after this long without a heartbeat")
@click.option("--bundle-key", type=click.Path(dir_okay=False),
              help="sign bundles online with this key (`keys new --purpose bundle`)")
@click.option("--bundle-lifetime", default="7d", show_default=True,
              help="how long a signed bundle is valid (at most 30d)")
@click.option("--min-serial", type=click.IntRange(1, 2**53 - 1),
              help="the next bundle serial is at least this (a restored database)")
@click.option("--retention-days", default=0, show_default=True, type=click.IntRange(0, 36500),
              help="purge records older than this many days, daily (0: keep everything)")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="server processes (each with its own database connections)")
@click.option("--log-level", default="info", type=click.Choice(["debug", "info", "warning"]))
def serve(db_path: str, host: str, port: int, silent_after: str, bundle_key: str | None,
          bundle_lifetime: str, min_serial: int | None, retention_days: int, workers: int,
          log_level: str) -> None:
    """Run the town server (HTTP; put TLS in front of it in production)."""
    from sync.town.serve import ServeOptions, run
    from sync.town.signing import MAX_LIFETIME, load_bundle_key

    lifetime = _duration(bundle_lifetime, "--bundle-lifetime")
    if not dt.timedelta(hours=1) <= lifetime <= MAX_LIFETIME:
        raise click.BadParameter(texts.cli("lifetime-range"), param_hint="--bundle-lifetime")
    silent = _duration(silent_after, "--silent-after")
    key = load_bundle_key(Path(bundle_key)) if bundle_key else None
    store = open_store(db_path)  # refuses a missing database or another schema, once
    try:
        if min_serial is not None:
            store.raise_serial_floor(min_serial)
        if key is not None:
            store.sign_if_needed(key, lifetime)
    finally:
        store.close()
    options = ServeOptions(db=db_path, silent_after_s=silent.total_seconds(),
                           bundle_key=str(Path(bundle_key).resolve()) if bundle_key else None,
                           bundle_lifetime_s=lifetime.total_seconds(),
                           retention_days=retention_days, locale=town_locale())
    run(options, host=host, port=port, workers=workers, log_level=log_level)


# -- stations and tokens ---------------------------------------------------------------------


@main.group()
def stations() -> None:
    """Stations, their tokens, and gaps written off."""


@stations.command("add")
@db_option
@click.argument("station_id")
@click.option("--enterprise", required=True, help="the enterprise the gate belongs to")
def stations_add(db_path: str, station_id: str, enterprise: str) -> None:
    """Register a station and print its bearer token (once: only its hash is kept)."""
    from station.ids import STATION_ID_RULE, is_station_id

    if not is_station_id(station_id):
        raise click.BadParameter(texts.cli("station-id-rule", rule=STATION_ID_RULE),
                                 param_hint="ID")
    token = open_store(db_path).add_station(station_id, enterprise, who())
    click.echo(say("station-added", station=station_id, enterprise=enterprise),
               err=True)
    click.echo(token)


@stations.command("list")
@db_option
def stations_list(db_path: str) -> None:
    """Stations with their last heartbeat, backlog, faults and acked_through per epoch."""
    for status in open_store(db_path).stations():
        acked = ", ".join(f"{epoch}:{n}" for epoch, n in status.epochs.items()) or "-"
        faults = ",".join(status.faults) or "-"
        backlog = "-" if status.backlog is None else str(status.backlog)
        click.echo("\t".join([status.id, status.enterprise,
                              say("list-disabled" if status.disabled else "list-enabled"),
                              status.last_heartbeat or say("list-never"),
                              say("list-backlog", backlog=backlog),
                              say("list-faults", faults=faults), say("list-acked", acked=acked)]))


@stations.command("rotate-token")
@db_option
@click.argument("station_id")
def stations_rotate(db_path: str, station_id: str) -> None:
    """Print a new token for a station; the old one is refused from now on."""

    token = open_store(db_path).rotate_token(station_id, who())
    click.echo(say("station-rotated", station=station_id), err=True)
    click.echo(token)


@stations.command("disable")
@db_option
@click.argument("station_id")
def stations_disable(db_path: str, station_id: str) -> None:
    """Refuse a station's token (401); its records are kept."""

    open_store(db_path).set_disabled(station_id, True, who())
    click.echo(say("station-disabled", station=station_id))


@stations.command("enable")
@db_option
@click.argument("station_id")
def stations_enable(db_path: str, station_id: str) -> None:
    """Accept a disabled station's token again."""

    open_store(db_path).set_disabled(station_id, False, who())
    click.echo(say("station-enabled", station=station_id))


@stations.command("write-off")
@db_option
@click.argument("station_id")
@click.option("--epoch", required=True, help="the ledger epoch (UUID) with the gap")
@click.option("--through", required=True, type=click.IntRange(1, 2**63 - 1),
              help="the last seq to record as lost")
@click.option("--reason", required=True, help="why (kept in the audit table)")
def stations_write_off(db_path: str, station_id: str, epoch: str, through: int,
                       reason: str) -> None:
    """Record a gap the station can no longer fill as lost, so acked_through moves on."""

    first, acked = open_store(db_path).write_off(station_id, epoch, through,
                                                 who(), reason)
    click.echo(say("write-off-done", station=station_id, epoch=epoch, first=first,
                         through=through, acked=acked))


@main.group("admin-token")
def admin_token() -> None:
    """Admin tokens for town staff (read API, dashboard)."""


@admin_token.command("new")
@db_option
@click.option("--note", default="", help="who the token is for")
def admin_token_new(db_path: str, note: str) -> None:
    """Print a new admin token (once: only its hash is kept)."""

    admin_id, token = open_store(db_path).new_admin_token(note, who())
    click.echo(say("admin-token-new", id=admin_id, note=note or "-"), err=True)
    click.echo(token)


@admin_token.command("list")
@db_option
def admin_token_list(db_path: str) -> None:
    """Admin tokens: id, created, revoked, note (never the token)."""
    for token in open_store(db_path).admin_tokens():
        click.echo("\t".join([str(token.id), token.created,
                              say("list-revoked", when=token.revoked) if token.revoked
                              else say("list-active"),
                              token.note or "-"]))


@admin_token.command("revoke")
@db_option
@click.argument("token_id", type=click.IntRange(1, 2**63 - 1))
def admin_token_revoke(db_path: str, token_id: int) -> None:
    """Withdraw an admin token; its dashboard sessions end at once."""

    open_store(db_path).revoke_admin_token(token_id, who())
    click.echo(say("admin-token-revoked", id=token_id))


@main.command()
@db_option
@click.option("--before", "before_text", required=True,
              help="delete records of days before this date (YYYY-MM-DD, CST)")
def purge(db_path: str, before_text: str) -> None:
    """Delete records older than a date (alarms and acks included); say how many went."""

    before = _date(before_text, "--before")
    count = open_store(db_path).purge(before, who())
    click.echo(say("purged", count=count, day=before))


# -- trust list, revocations, rules ----------------------------------------------------------


@main.group()
def trust() -> None:
    """The trust list (issuer keys) stations receive in their bundle."""


@trust.command("add")
@db_option
@click.argument("source", type=click.Path(dir_okay=False))
@click.option("--issuer", default="500118", show_default=True)
@click.option("--not-before", help="ISO 8601 start of the key's validity")
@click.option("--not-after", help="ISO 8601 end of the key's validity")
def trust_add(db_path: str, source: str, issuer: str, not_before: str | None,
              not_after: str | None) -> None:
    """Add an issuer key: a public key PEM (`keys new` wrote it) or a trust-list entry JSON."""
    from station.keys import load_public_key
    from station.trust import TrustList, trust_entry
    from sync.town.signing import KeyId

    store = open_store(db_path)
    text = Path(source).read_text(encoding="utf-8", errors="replace")
    if text.lstrip().startswith("{"):
        try:
            entry = json.loads(text)
        except json.JSONDecodeError as error:
            raise StationError(texts.cli("not-json", path=source, error=error)) from None
        if isinstance(entry, dict):
            entry.pop("kid_hex", None)  # `keys new` prints it for people; not a bundle field
    else:
        start = _instant(not_before, "--not-before").isoformat() if not_before else None
        end = _instant(not_after, "--not-after").isoformat() if not_after else None
        entry = trust_entry(load_public_key(Path(source)), issuer, start, end)
    checked = TrustList.from_document({"keys": [entry]}, source)
    if not checked.keys:
        raise StationError(texts.cli("trust-kid-mismatch", source=source))
    store.add_trust_key(entry, who())
    kid = KeyId(checked.keys[0].kid)
    click.echo(say("trusted", kid_hex=kid.hex, kid=kid.b64,
                         issuer=entry.get("issuer", "")))


@trust.command("remove")
@db_option
@click.argument("kid")
def trust_remove(db_path: str, kid: str) -> None:
    """Withdraw an issuer key (KID in hex, as `trust list` shows it, or base64)."""
    from sync.town.signing import KeyId

    key = KeyId.parse(kid)
    open_store(db_path).remove_trust_key(key, who())
    click.echo(say("trust-removed", kid_hex=key.hex))


@trust.command("list")
@db_option
def trust_list(db_path: str) -> None:
    """Trusted issuer keys: kid in hex (for people) and base64 (as in the JSON), issuer."""
    from sync.town.signing import KeyId

    for entry in open_store(db_path).trust_keys():
        kid = KeyId.parse(entry["kid"])
        click.echo("\t".join([kid.hex, kid.b64, entry.get("alg", ""), entry.get("issuer", ""),
                              entry.get("not_before") or "-", entry.get("not_after") or "-"]))


@main.command()
@db_option
@click.argument("subject")
@click.option("--before", help="void codes issued before this ISO 8601 time (default: now)")
def revoke(db_path: str, subject: str, before: str | None) -> None:
    """Revoke every code of SUBJECT issued before a time (the issuer then re-issues one)."""
    from station.clock import CST

    if not 1 <= len(subject) <= 32:
        raise click.BadParameter(texts.cli("subject-length"), param_hint="SUBJECT")
    instant = _instant(before, "--before") if before else dt.datetime.now(CST)
    seconds = int(instant.timestamp())
    if seconds < 0:
        raise click.BadParameter(texts.cli("after-1970"), param_hint="--before")
    open_store(db_path).revoke(subject, seconds, who())
    try:
        shown = dt.datetime.fromtimestamp(seconds, CST).isoformat(timespec="seconds")
    except (ValueError, OverflowError):  # past year 9999 in CST: show it as given
        shown = instant.isoformat(timespec="seconds")
    click.echo(say("revoked", subject=subject, when=shown))


@main.group()
def rules() -> None:
    """Policy values the town sets for every station (the keys of config.yaml's policy:)."""


@rules.command("set")
@db_option
@click.argument("key")
@click.argument("value")
def rules_set(db_path: str, key: str, value: str) -> None:
    """Set KEY (e.g. fever_threshold_c, returning.followup_grace_days) to VALUE (YAML)."""
    from station.bundle import check_rules
    from station.yamlfile import YamlError, load_yaml_text
    from sync.town.signing import nest_rules

    try:
        parsed = load_yaml_text(value, f"rules set {key}")
    except YamlError:
        raise click.BadParameter(texts.cli("rule-not-yaml", value=repr(value)),
                                 param_hint="VALUE") from None
    store = open_store(db_path)
    check_rules(nest_rules({**store.rules(), key: parsed}))
    store.set_rule(key, parsed, who())
    click.echo(say("rule-set", key=key, value=json.dumps(parsed, ensure_ascii=False)))


@rules.command("unset")
@db_option
@click.argument("key")
def rules_unset(db_path: str, key: str) -> None:
    """Remove a rule: stations go back to their own config for KEY."""

    open_store(db_path).unset_rule(key, who())
    click.echo(say("rule-removed", key=key))


# -- the signed bundle -------------------------------------------------------------------------


@main.group()
def bundle() -> None:
    """The signed bundle stations receive (sync.md "Pull")."""


@bundle.command("show")
@db_option
def bundle_show(db_path: str) -> None:
    """Print the bundle stations receive now: serial, signing key, and its document."""
    from sync.town.signing import read_payload

    served = open_store(db_path).served_bundle()
    if served is None:
        raise StationError(texts.cli("bundle-none"))
    if served.stale:
        click.echo(say("bundle-stale", serial=served.serial), err=True)
    click.echo(json.dumps({"serial": served.serial, "kid": served.kid.b64,
                           "kid_hex": served.kid.hex, "stale": served.stale,
                           "document": read_payload(served.envelope)},
                          ensure_ascii=False, indent=2))


@bundle.command("export")
@db_option
@click.option("--min-serial", default=1, type=click.IntRange(1, 2**53 - 1),
              help="the serial is at least this (a restored database)")
@click.option("--lifetime", default="7d", show_default=True, help="validity, at most 30d")
def bundle_export(db_path: str, min_serial: int, lifetime: str) -> None:
    """Print an unsigned bundle with a new serial, to sign offline with `bundle sign`."""
    from sync.town.signing import MAX_LIFETIME

    valid = _duration(lifetime, "--lifetime")
    if not dt.timedelta(hours=1) <= valid <= MAX_LIFETIME:
        raise click.BadParameter(texts.cli("lifetime-range"), param_hint="--lifetime")
    document = open_store(db_path).export_bundle(valid, min_serial, who=who())
    click.echo(json.dumps(document, ensure_ascii=False, indent=2))
    click.echo(say("bundle-exported", serial=document["serial"]), err=True)


@bundle.command("sign")
@click.argument("unsigned", type=click.Path(dir_okay=False))
@click.option("--key", "key_path", required=True, type=click.Path(dir_okay=False),
              help="the bundle key (`keys new --purpose bundle`)")
def bundle_sign(unsigned: str, key_path: str) -> None:
    """Sign an exported bundle (on a machine that never touches the network); print it."""
    from sync.town.signing import KeyId, check_document, load_bundle_key, sign

    key = load_bundle_key(Path(key_path))
    try:
        document = json.loads(Path(unsigned).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise StationError(texts.cli("not-json", path=unsigned, error=error)) from None
    check_document(document, unsigned)
    click.echo(json.dumps(sign(document, key)))
    click.echo(say("bundle-signed", serial=document["serial"],
                         kid_hex=KeyId.of(key.public_key()).hex, expires=document["expires"]),
               err=True)


@bundle.command("import")
@db_option
@click.argument("signed", type=click.Path(dir_okay=False))
@click.option("--pub", "public_path", required=True, type=click.Path(dir_okay=False),
              help="the bundle key's public half (bundle-<kid>.pub), to verify the signature")
def bundle_import(db_path: str, signed: str, public_path: str) -> None:
    """Serve a bundle signed offline, after checking its signature and its serial."""
    from sync.town.signing import load_bundle_public_key, open_envelope

    public_key = load_bundle_public_key(Path(public_path))
    try:
        envelope = json.loads(Path(signed).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise StationError(texts.cli("not-json", path=signed, error=error)) from None
    opened = open_envelope(envelope, public_key, signed)
    if open_store(db_path).import_bundle(opened, who()):
        click.echo(say("bundle-imported", serial=opened.serial, kid_hex=opened.kid.hex))
    else:
        click.echo(say("bundle-same", serial=opened.serial))


@bundle.command("keys")
@db_option
@click.argument("public_keys", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--clear", is_flag=True, help="bundles carry no bundle_keys")
def bundle_keys(db_path: str, public_keys: tuple[str, ...], clear: bool) -> None:
    """Rotate the stations' pinned bundle keys: bundles from now on carry `bundle_keys`,
    the SPKI of these public keys (a station accepts only them once it applied one)."""
    from sync.town.signing import KeyId, b64, load_bundle_public_key, spki_der

    if clear == bool(public_keys):
        raise click.UsageError(texts.cli("keys-or-clear"))
    store = open_store(db_path)
    if clear:
        store.set_bundle_keys(None, who())
        click.echo(say("bundle-keys-cleared"))
        return
    loaded = [load_bundle_public_key(Path(path)) for path in public_keys]
    store.set_bundle_keys([b64(spki_der(key)) for key in loaded], who())
    click.echo(say("bundle-keys-set", kids=", ".join(KeyId.of(k).hex for k in loaded)))


# -- keys and codes ----------------------------------------------------------------------------


@main.group()
def keys() -> None:
    """Issuer key pairs (sign health codes) and bundle key pairs (sign bundles)."""


@keys.command("new")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="directory for the key files")
@click.option("--purpose", type=click.Choice(["issuer", "bundle"]), default="issuer",
              show_default=True, help="sign health codes, or sign the bundle")
@click.option("--issuer", default="500118", show_default=True,
              help="issuer id (GB/T 2260 division code)")
@click.option("--alg", type=click.Choice(["EdDSA", "ES256"]), default="EdDSA",
              show_default=True, help="issuer keys only; bundle keys are Ed25519")
@click.option("--not-before", help="ISO 8601 start of the key's validity")
@click.option("--not-after", help="ISO 8601 end of the key's validity")
def keys_new(out_dir: str, purpose: str, issuer: str, alg: str, not_before: str | None,
             not_after: str | None) -> None:
    """Make a key pair (private key mode 0600). An issuer key prints its trust-list entry;
    a bundle key prints the SPKI stations pin in `town.bundle_keys`."""
    from station.keys import new_signing_key, save_key_pair
    from station.trust import trust_entry
    from sync.town.signing import KeyId, b64, new_bundle_key, spki_der

    if purpose == "bundle":
        key, private_path, public_path = new_bundle_key(Path(out_dir))
        kid = KeyId.of(key.public_key())
        click.echo(say("bundle-key-made", kid_hex=kid.hex, kid=kid.b64,
                             private=private_path, public=public_path), err=True)
        click.echo(json.dumps({"kid": kid.b64, "kid_hex": kid.hex,
                               "spki": b64(spki_der(key.public_key()))}, indent=2))
        return
    start = _instant(not_before, "--not-before").isoformat() if not_before else None
    end = _instant(not_after, "--not-after").isoformat() if not_after else None
    signing_key = new_signing_key(alg)  # type: ignore[arg-type]
    private_path, public_path = save_key_pair(signing_key, Path(out_dir))
    click.echo(say("key-private", path=private_path), err=True)
    click.echo(say("key-public", path=public_path), err=True)
    entry = trust_entry(signing_key.public_key(), issuer, start, end)
    click.echo(json.dumps({**entry, "kid_hex": KeyId.parse(entry["kid"]).hex}, indent=2))


def _returned(value: str) -> tuple[dt.date, str]:
    day, _, origin = value.partition(":")
    if not origin:
        raise ValueError(texts.cli("returned-form", value=repr(value)))
    from station.timeparse import parse_date

    return parse_date(day), origin


@main.command("issue-code")
@click.option("--key", "key_path", required=True, type=click.Path(dir_okay=False),
              help="issuer private key (PEM)")
@click.option("--sub", required=True, help="worker id (pseudonymous, ≤ 32 chars)")
@click.option("--name", help="masked display name, e.g. 张*")
@click.option("--color", type=click.Choice(["green", "yellow", "red"]), required=True)
@click.option("--nat", help="date of the latest negative NAT sample, YYYY-MM-DD")
@click.option("--returned", help="DATE:ORIGIN, origin outside-municipality | risk-district | "
              "key-population")
@click.option("--org", help="employer id")
@click.option("--iss", default="500118", show_default=True, help="issuer id")
@click.option("--ttl", default="24h", show_default=True, help="validity, e.g. 12h, 1d")
@click.option("--at", help="issue as of this ISO 8601 time (default: now)")
@click.option("--png", type=click.Path(dir_okay=False), help="also write the QR code as PNG")
def issue_code(key_path: str, sub: str, name: str | None, color: str, nat: str | None,
               returned: str | None, org: str | None, iss: str, ttl: str, at: str | None,
               png: str | None) -> None:
    """Print a signed THP1 code (and write it as a QR PNG with --png)."""
    from station.codes import Color, HealthClaims, Origin, Returning, issue
    from station.keys import load_signing_key, write_qr_png
    from station.timeparse import parse_date, parse_duration

    try:
        issued = int(_instant(at, "--at").timestamp()) if at else int(time.time())
        lifetime = parse_duration(ttl)
        nat_date = parse_date(nat) if nat else None
        ret = None
        if returned:
            day, origin = _returned(returned)
            ret = Returning(day, Origin.from_word(origin))
    except ValueError as error:
        raise click.BadParameter(value_reason(error)) from None
    if lifetime <= 0:
        raise click.BadParameter(texts.cli("ttl-positive"))
    claims = HealthClaims(iss=iss, iat=issued, exp=issued + int(lifetime), sub=sub,
                          name=name, color=Color[color.upper()], nat=nat_date, ret=ret,
                          org=org)
    from station.codes import CodeError, parse_claims

    try:
        parse_claims(claims.to_cbor_map())  # the same checks a station applies
    except CodeError as error:
        raise StationError(texts.cli("claims-refused", detail=error.detail)) from None
    text = issue(load_signing_key(Path(key_path)), claims)
    click.echo(text)
    if png:
        write_qr_png(text, Path(png))
        click.echo(say("wrote", path=png), err=True)


if __name__ == "__main__":
    sys.exit(main())
