#!/bin/sh
# Install gate-station on a Raspberry Pi (Raspberry Pi OS bookworm), as root:
#   sudo sh scripts/install.sh [--dry-run] [--no-enable]
# - system user `gate-station` in the groups gpio i2c video dialout
# - the program in /opt/gate-station/venv (a virtual environment with the package)
# - /etc/gate-station/config.yaml from config.yaml, with real drivers and /var/lib paths
#   (an existing config is kept)
# - the systemd units gate-station, gate-sync and gate-console (the web console on
#   127.0.0.1:8090; add accounts with `gate-station console user add`), enabled (and started unless --no-enable);
#   put the station's token in /etc/gate-station/token (mode 0600, owner gate-station) and
#   town.url / town.token_file in the config for gate-sync to push
set -eu
cd "$(dirname "$0")/.."
DRY=""
ENABLE=yes
for arg in "$@"; do
  case "$arg" in
    --dry-run) DRY=echo ;;
    --no-enable) ENABLE=no ;;
    *) echo "usage: $0 [--dry-run] [--no-enable]" >&2; exit 2 ;;
  esac
done
PREFIX=/opt/gate-station
if [ -z "$DRY" ] && [ "$(id -u)" != 0 ]; then
  echo "install: run as root (sudo sh scripts/install.sh)" >&2; exit 1
fi

$DRY apt-get install -y -q --no-install-recommends libzbar0 python3-venv python3-lgpio
for group in gpio i2c video dialout; do
  getent group "$group" >/dev/null || $DRY groupadd --system "$group"
done
if ! id gate-station >/dev/null 2>&1; then
  $DRY useradd --system --home-dir /var/lib/gate-station --no-create-home \
    --shell /usr/sbin/nologin gate-station
fi
$DRY usermod -a -G gpio,i2c,video,dialout gate-station

$DRY mkdir -p "$PREFIX" /etc/gate-station /var/lib/gate-station
$DRY python3 -m venv --system-site-packages "$PREFIX/venv"
$DRY "$PREFIX/venv/bin/pip" install -q .
# gate-station.service runs with PYTHONOPTIMIZE=2: compile that bytecode now, for the venv and
# every directory of Python's search path (its library, the system's dist-packages with
# python3-lgpio), or the daemon would compile those modules from source at each start
# (~0.9 s of CPU here, 3-4 s on a Pi; it cannot write to /opt or /usr). After an upgrade of
# the system's Python the daemon still runs, compiling what changed at each start, until
# this script is run again. A file that does not compile is listed and does not stop the
# install (Python's library ships some that are not meant to: tests of bad syntax).
SEARCH_PATH=$(python3 -c 'import os, sys; print(" ".join(p for p in sys.path[1:] if os.path.isdir(p)))')
# shellcheck disable=SC2086  # one word per directory
$DRY "$PREFIX/venv/bin/python" -OO -m compileall -q -j 0 "$PREFIX/venv" $SEARCH_PATH \
  || echo "install: the files listed above did not compile for PYTHONOPTIMIZE=2; the gate daemon compiles them at each start if it uses them" >&2
if [ ! -f /etc/gate-station/config.yaml ]; then
  if [ -n "$DRY" ]; then
    echo "write /etc/gate-station/config.yaml (drivers: real, /var/lib/gate-station paths)"
  else
    sed -e 's#^drivers: fake#drivers: real#' \
        -e 's#path: ./var/ledger.db.*#path: /var/lib/gate-station/ledger.db#' \
        -e 's#path: ./var/bundle.json.*#path: /var/lib/gate-station/bundle.json#' \
        -e 's#accounts_path: ./var/console.db.*#accounts_path: /var/lib/gate-station/console.db#' \
        config.yaml > /etc/gate-station/config.yaml
    chmod 0644 /etc/gate-station/config.yaml
  fi
fi
$DRY chown -R gate-station:gate-station /var/lib/gate-station
$DRY install -m 0644 systemd/gate-station.service systemd/gate-sync.service \
  systemd/gate-console.service /etc/systemd/system/
$DRY systemctl daemon-reload
if [ "$ENABLE" = yes ]; then
  $DRY systemctl enable --now gate-station.service gate-sync.service gate-console.service
else
  $DRY systemctl enable gate-station.service gate-sync.service gate-console.service
fi
echo "install: done. Check with: $PREFIX/venv/bin/gate-station selftest --config /etc/gate-station/config.yaml"
