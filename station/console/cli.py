"""`gate-station console …`: serve the console, and manage its accounts.

    gate-station console [--listen HOST:PORT] [--ledger PATH]   serve (gate-console.service)
    gate-station console user add NAME --role officer|guard      password asked twice,
                                                                 or read from stdin
    gate-station console user list
    gate-station console user disable NAME

A thin layer over station.console.accounts and station.console.app; the heavy imports
(FastAPI, uvicorn) happen only when serving.
"""

from __future__ import annotations

import datetime as dt
import sys
from typing import TYPE_CHECKING

import click

from station.clock import CST
from station.errors import Localized
from station.messages import text

if TYPE_CHECKING:
    from station.config import Config
    from station.console.accounts import AccountStore


def _load(config_path: str | None) -> Config:
    from station.cli import load_config

    return load_config(config_path)


def _accounts(config_path: str | None) -> AccountStore:
    from station.console.accounts import AccountStore

    return AccountStore(_load(config_path).console.accounts_path)


config_option = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False), default=None,
    help="config file (default ./config.yaml, then /etc/gate-station/config.yaml)")


@click.group("console", invoke_without_command=True)
@config_option
@click.option("--listen", help="HOST:PORT (default: console.listen, 127.0.0.1:8090)")
@click.option("--ledger", "ledger_path", type=click.Path(dir_okay=False),
              help="ledger to read (default: ledger.path in config)")
@click.pass_context
def console(ctx: click.Context, config_path: str | None, listen: str | None,
            ledger_path: str | None) -> None:
    """The station console (web): serve it, or manage its accounts (`user`)."""
    if ctx.invoked_subcommand is not None:
        return
    import logging

    from station.config import ConsoleSettings
    from station.console.app import serve

    config = _load(config_path)
    if listen is not None:
        try:
            ConsoleSettings(listen=listen)
        except ValueError:
            raise click.BadParameter(Localized("config.host_port"),
                                     param_hint="--listen") from None
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    serve(config, ledger_path=ledger_path, listen=listen)


@console.group()
def user() -> None:
    """Console accounts (officers see everything; guards the gate, registration, alarms)."""


def _read_password(from_stdin: bool) -> str:
    if from_stdin or not sys.stdin.isatty():
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    locale = _load(None).station.locale
    return str(click.prompt(text("account.prompt", locale), hide_input=True,
                            confirmation_prompt=text("account.prompt_again", locale)))


@user.command("add")
@config_option
@click.argument("name")
@click.option("--role", type=click.Choice(["officer", "guard"]), required=True)
@click.option("--password-stdin", is_flag=True,
              help="read the password from the first line of stdin (also when stdin is "
                   "not a terminal)")
def user_add(config_path: str | None, name: str, role: str, password_stdin: bool) -> None:
    """Add an account; the password is asked twice (or read from stdin), never echoed."""
    store = _accounts(config_path)
    locale = _load(config_path).station.locale
    password = _read_password(password_stdin)
    added = store.add_user(name, role, password)
    click.echo(text("account.added", locale, name=added.name,
                    role=text(f"account.role.{added.role}", locale)))


@user.command("list")
@config_option
def user_list(config_path: str | None) -> None:
    """Accounts: name, role, enabled or disabled, last login (CST)."""
    from station.present import pad_display

    store = _accounts(config_path)
    locale = _load(config_path).station.locale
    for account in store.users():
        last = dt.datetime.fromtimestamp(account.last_login, CST).strftime("%Y-%m-%d %H:%M") \
            if account.last_login else text("account.never", locale)
        state = text("account.disabled" if account.disabled else "account.enabled", locale)
        role = text(f"account.role.{account.role}", locale)
        click.echo(f"{pad_display(account.name, 20)} {pad_display(role, 8)} "
                   f"{pad_display(state, 9)} {text('account.last_login', locale, when=last)}")


@user.command("disable")
@config_option
@click.argument("name")
def user_disable(config_path: str | None, name: str) -> None:
    """Disable an account and end its sessions at once."""
    _accounts(config_path).disable(name)
    click.echo(text("account.disabled_done", _load(config_path).station.locale, name=name))
