"""Durable file writes: a crash or power cut leaves the old file or the new one, whole.

Creating or replacing a file durably needs an fsync of the file and of its directory
(DESIGN.md, known pitfalls). Files are created 0600: what the station writes holds
personal data or trust decisions.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def fsync_directory(path: Path) -> None:
    """Make `path`'s entries (files created, renamed or removed in it) survive a power cut."""
    directory = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def make_dirs(path: Path) -> None:
    """`mkdir -p path`, durably: each directory created is fsynced into its parent, so a
    power cut cannot take away a directory (and the ledger in it) after files in it were
    flushed. Existing directories are left as they are."""
    missing: list[Path] = []
    while not path.is_dir():
        missing.append(path)
        path = path.parent
    for directory in reversed(missing):
        try:
            directory.mkdir()
        except FileExistsError:  # made meanwhile by another process; it still needs the fsync
            if not directory.is_dir():
                raise
        fsync_directory(directory.parent)


def atomic_write(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so that a crash leaves the old or the new file, whole."""
    make_dirs(path.parent)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)


def create_private(path: Path) -> bool:
    """Create `path` empty, readable by its owner only (whatever the umask), durably: the
    file and its directory are fsynced, missing folders made with `make_dirs`. An existing
    file is left as it is. Returns whether the file was created."""
    make_dirs(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, 0o600)  # the umask may have taken bits away; never added any
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync_directory(path.parent)
    return True
