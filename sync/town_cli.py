"""`town-server`: the town side's command line — the sync server, stations and tokens, the
bundle (trust keys, revocations, rules), issuer keys and health codes.

A thin layer over sync.store, sync.town_app, station.codes, station.keys and station.trust.
Every command that touches the database takes `--db PATH` (default ./town.db, or $TOWN_DB).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from station.errors import StationError


class TownGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except StationError as error:
            click.echo(f"town-server: {error}", err=True)
            ctx.exit(1)


@click.group(cls=TownGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gate-station")
def main() -> None:
    """The town's side: issuer keys, health codes (and, later, the sync server)."""


def db_option(function: Any) -> Any:
    return click.option("--db", "db_path", envvar="TOWN_DB", default="town.db",
                        show_default=True, type=click.Path(dir_okay=False),
                        help="the town database (SQLite file)")(function)


def open_store(db_path: str) -> Any:
    from sync.store import SqliteTownStore

    if db_path.startswith(("postgres://", "postgresql://")):
        raise StationError("PostgreSQL storage is not implemented yet; use a SQLite file path")
    return SqliteTownStore(db_path)


@main.command()
@db_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option("--silent-after", default="10m", show_default=True,
              help="flag a station silent after this long without a heartbeat")
@click.option("--log-level", default="info", type=click.Choice(["debug", "info", "warning"]))
def serve(db_path: str, host: str, port: int, silent_after: str, log_level: str) -> None:
    """Run the town server (HTTP; put TLS in front of it in production)."""
    import datetime as dt

    import uvicorn

    from station.timeparse import parse_duration
    from sync.town_app import Settings, create_app

    try:
        silent = dt.timedelta(seconds=parse_duration(silent_after))
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--silent-after") from None
    app = create_app(open_store(db_path), Settings(silent_after=silent))
    uvicorn.run(app, host=host, port=port, log_level=log_level, server_header=False)


@main.group()
def stations() -> None:
    """Stations and their tokens."""


@stations.command("add")
@db_option
@click.argument("station_id")
@click.option("--enterprise", required=True, help="the enterprise the gate belongs to")
def stations_add(db_path: str, station_id: str, enterprise: str) -> None:
    """Register a station and print its bearer token (once: only its hash is kept)."""
    from station.ids import STATION_ID_RULE, is_station_id

    if not is_station_id(station_id):
        raise click.BadParameter(STATION_ID_RULE, param_hint="ID")
    token = open_store(db_path).add_station(station_id, enterprise)
    click.echo(f"station {station_id} ({enterprise}) registered; its token (shown once):",
               err=True)
    click.echo(token)


@stations.command("list")
@db_option
def stations_list(db_path: str) -> None:
    """Stations with their last heartbeat, backlog, faults and acked_through per epoch."""
    for status in open_store(db_path).stations():
        beat = status.heartbeat
        acked = ", ".join(f"{epoch}:{n}" for epoch, n in status.epochs.items()) or "-"
        faults = ",".join(beat.get("faults", [])) or "-"
        click.echo("\t".join([status.id, status.enterprise, status.last_heartbeat or "never",
                              f"backlog={beat.get('backlog', '-')}", f"faults={faults}",
                              f"acked={acked}"]))


@main.command("admin-token")
@db_option
@click.argument("action", type=click.Choice(["new"]))
@click.option("--note", default="", help="who the token is for")
def admin_token(db_path: str, action: str, note: str) -> None:
    """`admin-token new`: print a new admin token for town staff (read API, dashboard)."""
    click.echo(open_store(db_path).new_admin_token(note))


@main.group()
def trust() -> None:
    """The trust list stations receive in their bundle."""


@trust.command("add")
@db_option
@click.argument("source", type=click.Path(exists=True, dir_okay=False))
@click.option("--issuer", default="500118", show_default=True)
@click.option("--not-before", help="ISO 8601 start of the key's validity")
@click.option("--not-after", help="ISO 8601 end of the key's validity")
def trust_add(db_path: str, source: str, issuer: str, not_before: str | None,
              not_after: str | None) -> None:
    """Add an issuer key: a public key PEM (`keys new` wrote it) or a trust-list entry JSON."""
    from station.keys import load_public_key
    from station.timeparse import parse_instant
    from station.trust import TrustList, trust_entry

    text = Path(source).read_text(encoding="utf-8", errors="replace")
    if text.lstrip().startswith("{"):
        entry = json.loads(text)
    else:
        try:
            start = parse_instant(not_before).isoformat() if not_before else None
            end = parse_instant(not_after).isoformat() if not_after else None
        except ValueError as error:
            raise click.BadParameter(str(error)) from None
        entry = trust_entry(load_public_key(Path(source)), issuer, start, end)
    checked = TrustList.from_document({"keys": [entry]}, source)
    if not checked.keys:
        raise StationError(f"{source}: kid does not match the key's spki")
    open_store(db_path).add_trust_key(entry)
    from station.keys import kid_text

    kid = base64.b64decode(entry["kid"])
    click.echo(f"trusted key {kid_text(kid)} of issuer {entry.get('issuer', '')}")


@main.command()
@db_option
@click.argument("subject")
@click.option("--before", help="void codes issued before this ISO 8601 time (default: now)")
def revoke(db_path: str, subject: str, before: str | None) -> None:
    """Revoke every code of SUBJECT issued before a time (the issuer then re-issues one)."""
    from station.timeparse import parse_instant

    try:
        instant = int(parse_instant(before).timestamp()) if before else int(time.time())
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--before") from None
    open_store(db_path).revoke(subject, instant)
    from station.timeparse import cst_text

    click.echo(f"revoked codes of {subject} issued before {cst_text(instant) or instant} CST")


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
    from station.yamlfile import load_yaml_text

    parsed = load_yaml_text(value, f"rules set {key}")
    store = open_store(db_path)
    check_rules({**store.bundle()["rules"], key: parsed})
    store.set_rule(key, parsed)
    click.echo(f"rule {key} = {json.dumps(parsed, ensure_ascii=False)}")


@rules.command("unset")
@db_option
@click.argument("key")
def rules_unset(db_path: str, key: str) -> None:
    """Remove a rule: stations go back to their own config for KEY."""
    open_store(db_path).unset_rule(key)
    click.echo(f"rule {key} removed")


@main.command("bundle")
@db_option
def bundle_show(db_path: str) -> None:
    """Print the bundle stations receive now."""
    click.echo(json.dumps(open_store(db_path).bundle(), ensure_ascii=False, indent=2))


@main.group()
def keys() -> None:
    """Issuer key pairs."""


@keys.command("new")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="directory for the key files")
@click.option("--issuer", default="500118", show_default=True,
              help="issuer id (GB/T 2260 division code)")
@click.option("--alg", type=click.Choice(["EdDSA", "ES256"]), default="EdDSA",
              show_default=True)
@click.option("--not-before", help="ISO 8601 start of the key's validity")
@click.option("--not-after", help="ISO 8601 end of the key's validity")
def keys_new(out_dir: str, issuer: str, alg: str, not_before: str | None,
             not_after: str | None) -> None:
    """Make an issuer key pair (private key mode 0600) and print its trust-list entry."""
    from station.keys import new_signing_key, save_key_pair
    from station.timeparse import parse_instant
    from station.trust import trust_entry

    try:
        start = parse_instant(not_before).isoformat() if not_before else None
        end = parse_instant(not_after).isoformat() if not_after else None
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    key = new_signing_key(alg)  # type: ignore[arg-type]
    private_path, public_path = save_key_pair(key, Path(out_dir))
    from station.codes import key_id
    from station.keys import kid_text

    click.echo(f"key id:      {kid_text(key_id(key.public_key()))}", err=True)
    click.echo(f"private key: {private_path} (mode 0600; keep it offline)", err=True)
    click.echo(f"public key:  {public_path}", err=True)
    click.echo(json.dumps(trust_entry(key.public_key(), issuer, start, end), indent=2))


def _returned(value: str) -> tuple[dt.date, str]:
    day, _, origin = value.partition(":")
    if not origin:
        raise ValueError(f"{value!r}: use DATE:ORIGIN, e.g. 2021-01-30:outside-municipality")
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
    from station.timeparse import parse_date, parse_duration, parse_instant

    try:
        issued = int(parse_instant(at).timestamp()) if at else int(time.time())
        lifetime = parse_duration(ttl)
        nat_date = parse_date(nat) if nat else None
        ret = None
        if returned:
            day, origin = _returned(returned)
            ret = Returning(day, Origin.from_word(origin))
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    if lifetime <= 0:
        raise click.BadParameter("--ttl must be positive")
    claims = HealthClaims(iss=iss, iat=issued, exp=issued + int(lifetime), sub=sub,
                          name=name, color=Color[color.upper()], nat=nat_date, ret=ret,
                          org=org)
    from station.codes import CodeError, parse_claims

    try:
        parse_claims(claims.to_cbor_map())  # the same checks a station applies
    except CodeError as error:
        raise StationError(f"these claims would not verify: {error.detail}") from None
    text = issue(load_signing_key(Path(key_path)), claims)
    click.echo(text)
    if png:
        write_qr_png(text, Path(png))
        click.echo(f"wrote {png}", err=True)


if __name__ == "__main__":
    sys.exit(main())
