"""`gate-station-daemon`: the gate loop as the systemd unit runs it, with only what the loop
needs loaded.

It runs the very loop `gate-station run` runs (station.daemon.run) with the same config
and the same logging; what differs is what the process maps in, which on a Pi Zero 2 W
(512 MB for the daemon, the sync client and the console) is what counts (README, "Start-up
and memory"; `bench/lean.py daemon`):
- No command-line library: one option, read with argparse (click and the command
  catalogue are 1.2 MB).
- CPython's own SHA-256 instead of OpenSSL's. pydantic imports `secrets`, whose `hmac`
  loads OpenSSL's libcrypto through `_hashlib`, for nothing the daemon uses: the daemon
  hashes short texts (code digests for the revocation list) and never uses TLS. With
  `_hashlib` marked unavailable before anything is imported, `hashlib` and `hmac` use
  CPython's built-in implementations, as they are written to when OpenSSL is missing, and
  libcrypto is never mapped (3.1 MB). The digests are the same; anything that needs
  OpenSSL itself (`hashlib.scrypt`, `ssl`) would fail loudly, and nothing in the gate loop
  does (tests/test_lean.py runs the daemon this way and checks libcrypto is not mapped).
- The unit also sets PYTHONOPTIMIZE=2 (docstrings and asserts not loaded, 3.1 MB); the
  installer compiles the matching bytecode (scripts/install.sh).

Errors: a config that cannot be loaded prints one line per problem (as `gate-station
check-config` does, in the config's language) and exits 2; any other expected error one
line and exit 1; never a traceback.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    if "hashlib" not in sys.modules and "_hashlib" not in sys.modules:
        sys.modules["_hashlib"] = None  # type: ignore[assignment]  # see the module docstring
    import argparse
    import logging

    parser = argparse.ArgumentParser(
        prog="gate-station-daemon",
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
    from station.messages import Locale

    path = args.config_path
    found = config_module.find_config(path)
    locale: Locale = "zh_CN" if found is None else config_module.file_locale(found)
    try:
        if path is not None and not Path(path).is_file():
            raise ConfigError([Localized("config.no_such_file", path=Path(path).absolute())])
        config = config_module.load(path)
        locale = config.station.locale
        logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                            format="%(levelname)s %(name)s: %(message)s")
        return run(config)
    except ConfigError as error:
        for problem in error.problems:
            print(localize(problem, locale), file=sys.stderr)
        return 2
    except (StationError, DeviceError) as error:
        print(f"gate-station-daemon: {localize(error, locale)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
