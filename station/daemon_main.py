"""`gate-station-daemon`: the gate loop as the systemd unit runs it, with only what the loop
needs loaded.

It runs the very loop `gate-station run` runs (station.daemon.run) with the same config
and the same logging; what differs is what the process maps in, which on a Pi Zero 2 W
(512 MB for the daemon, the sync client and the console) is what counts (README, "Start-up
and memory"; `bench/lean.py daemon`):
- No command-line library: one option, read with argparse (click and the command
  catalogue are 1.2 MB).
- CPython's own SHA-256 instead of OpenSSL's (`use_builtin_hashes`): pydantic imports
  `secrets`, whose `hmac` loads the system's OpenSSL (libcrypto.so.3) through `_hashlib`,
  for nothing the daemon needs: it hashes only public keys (their key ids) and never speaks
  TLS. With `_hashlib` marked unavailable before anything is imported, `hashlib` and `hmac`
  use CPython's built-in implementations, as they are written to when OpenSSL is missing,
  and the system's libcrypto is never mapped (3.1 MB; OpenCV's module brings its own copy
  either way). The digests are the same; anything that needs OpenSSL itself
  (`hashlib.scrypt`, `ssl`) would fail loudly, and nothing in the gate loop does
  (tests/test_daemon_entry.py runs the daemon this way and checks what it maps).
- The unit also sets PYTHONOPTIMIZE=2 (docstrings and asserts not loaded, 3.3 MB); the
  installer compiles the matching bytecode (scripts/install.sh).

Errors, as `gate-station run` reports them: a config that cannot be loaded prints one line
per problem (in the config's language, zh_CN when there is no readable file to take it
from) and exits 2; a bad option one line and exit 2; a device or other expected error one
line and exit 1; never a traceback.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from station.messages import Locale

PROGRAM = "gate-station-daemon"


def use_builtin_hashes() -> None:
    """Make `hashlib` and `hmac` use CPython's own hash functions rather than OpenSSL's (see
    the module docstring). Only has an effect before `hashlib` is first imported."""
    if "hashlib" not in sys.modules and "_hashlib" not in sys.modules:
        sys.modules["_hashlib"] = None  # type: ignore[assignment]  # import → ImportError


def main(argv: list[str] | None = None) -> int:
    use_builtin_hashes()
    import argparse
    import logging

    class OneLineParser(argparse.ArgumentParser):
        def error(self, message: str) -> NoReturn:  # argparse's own is usage + error
            print(f"{PROGRAM}: {message} (usage: {PROGRAM} [--config PATH] [-v])",
                  file=sys.stderr)
            raise SystemExit(2)

    parser = OneLineParser(
        prog=PROGRAM,
        description="Run the gate (what gate-station.service starts; the same loop as "
                    "`gate-station run`).")
    parser.add_argument("--config", dest="config_path", metavar="PATH", default=None,
                        help="config file (default ./config.yaml, then "
                             "/etc/gate-station/config.yaml)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every decision")
    args = parser.parse_args(argv)

    from pathlib import Path

    from station import config as config_module
    from station.daemon import run
    from station.errors import ConfigError, DeviceError, Localized, StationError, localize
    from station.messages import text as tr

    path = args.config_path
    locale: Locale | None = None
    try:
        if path is not None and Path(path).is_dir():
            raise ConfigError([Localized("file.is_folder", path=Path(path).absolute())])
        if path is not None and not Path(path).is_file():
            raise ConfigError([Localized("config.no_such_file", path=Path(path).absolute())])
        config = config_module.load(path)
        locale = config.station.locale
        logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                            format="%(levelname)s %(name)s: %(message)s")
        return run(config)
    except ConfigError as error:
        for problem in error.problems:
            print(localize(problem, locale or error_locale(path)), file=sys.stderr)
        return 2
    except (StationError, DeviceError) as error:
        print(f"{PROGRAM}: {localize(error, locale or error_locale(path))}", file=sys.stderr)
        return 1
    except OverflowError:  # a date arithmetic beyond year 1..9999 that slipped through
        print(tr("cli.date_overflow", locale or error_locale(path)), file=sys.stderr)
        return 2


def error_locale(path: str | None) -> Locale:
    """The language of an error found before the config was loaded: its file's
    `station.locale` when that is a regular file (never a FIFO or a device: it is not read),
    else zh_CN, the default locale — as `gate-station run` chooses."""
    from pathlib import Path

    from station import config as config_module

    try:
        found = config_module.find_config(path)
        if found is None or not Path(found).is_file():
            return "zh_CN"
        return config_module.file_locale(found)
    except (OSError, ValueError):
        return "zh_CN"


if __name__ == "__main__":
    sys.exit(main())
