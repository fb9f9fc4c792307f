#!/bin/sh
# One-time set-up on Debian 12 / Raspberry Pi OS (bookworm) with python3, make and git:
# system libraries (libzbar0 for the zbar decoder, python3-venv; fuse3 for the power-loss
# tests, when /dev/fuse exists; chromium and CJK fonts for the console's browser tests), a
# virtual environment in .venv, and the package with its dev tools. Safe to run again.
set -eu
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}

missing=""
if ! ldconfig -p 2>/dev/null | grep -q 'libzbar\.so\.0'; then missing="$missing libzbar0"; fi
if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then missing="$missing python3-venv"; fi
# The console's browser tests drive Debian's Chromium (no browser download: it cannot work
# offline); CJK fonts so that Chinese renders in it and in the screenshots.
browser=""
if [ ! -x /usr/bin/chromium ]; then browser="$browser chromium"; fi
if ! fc-list 2>/dev/null | grep -qi 'Noto Sans CJK'; then browser="$browser fonts-noto-cjk"; fi
if [ -n "$browser" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    missing="$missing$browser"
  else
    echo "setup: note: the console's browser tests are skipped without$browser" \
         "(sudo apt-get install -y$browser)" >&2
  fi
fi
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing$missing with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
  else
    echo "setup: missing system packages:$missing — run: sudo apt-get install -y$missing" >&2
    exit 1
  fi
fi

# optional: the power-loss tests (tests/powerloss) mount a FUSE filesystem
if [ -e /dev/fuse ] && ! command -v fusermount3 >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing fuse3 with apt-get (power-loss tests)"
    DEBIAN_FRONTEND=noninteractive apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends fuse3
  else
    echo "setup: the power-loss tests need fuse3: sudo apt-get install -y fuse3" >&2
  fi
fi

# the town tests run on SQLite and on a PostgreSQL 15 they start themselves (tests/pgkit.py:
# initdb/pg_ctl from /usr/lib/postgresql/15/bin, as the unprivileged `nobody` via setpriv
# when run as root); without it those tests skip, except under CI where they fail
if [ ! -x /usr/lib/postgresql/15/bin/initdb ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing postgresql with apt-get (the town's PostgreSQL tests)"
    DEBIAN_FRONTEND=noninteractive apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql
  else
    echo "setup: the town's PostgreSQL tests need postgresql:" \
         "sudo apt-get install -y postgresql" >&2
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV"
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -e '.[dev]'
touch "$VENV/.installed"
echo "setup: done ($VENV)"
