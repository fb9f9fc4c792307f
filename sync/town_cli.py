"""`town-server`: the town side's command line (keys and codes now; the server follows).

A thin layer over station.codes / station.keys / station.trust.
"""

from __future__ import annotations

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
