"""A FUSE filesystem that forgets what was not flushed, like a disk with a write cache.

Test tool, not shipped (modelled on LazyFS, written small). Every operation passes straight
through to a backing directory, which therefore always holds the *current* state, and the
filesystem keeps beside it, in memory, the *durable* state — what a power cut would leave:

- a file's bytes and size become durable when the file is fsynced (fsync or fdatasync);
  until then its written 512-byte sectors and its new size are volatile;
- a directory's entries (creates, mkdirs, renames, unlinks) become durable when the
  directory itself is fsynced; until then the durable entries are the old ones. A file
  fsynced but whose directory was not is durable data with no name (lost).
  Metadata (mode, times) is not modelled: it is treated as durable at once.

A "power cut" has two steps, sent by the test on standard input:

  freeze              every operation from now on blocks forever (the machine is off); the
                      test kills the processes using the mount. `--cut-at KIND:N` freezes by
                      itself at the Nth operation of KIND (write, fsync, fsyncdir, rename,
                      unlink, create, mkdir, truncate), before doing it.
  crash MODE SEED     rewrite the backing directory as the power cut leaves it, print
                      "crashed …" and exit; the test then detaches the mount.
                      MODE `drop`: exactly the durable state.
                      MODE `torn`: the durable state plus what the cache might have written
                      back on its own: for each file a random subset of its volatile sectors
                      (each sector wholly old or wholly new), a size that is the old or the
                      new one, and for each directory either its old or its current entries.

Other commands: `stats` (operation counts as JSON). With CACHEFS_TRACE set in its environment,
cachefs logs every operation that changes the model, and each decision of a crash, to
standard error (the harness keeps it in the mount's log), to explain a failed cut. Replies
go to standard output, one line each; the first line is "ready" once the mount is up.
Unmounting normally (fusermount3 -u) is a clean shutdown: everything the backing directory
holds is kept.

Run: python -m tests.powerloss.cachefs BACKING MOUNTPOINT [--cut-at KIND:N]
"""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import random
import shutil
import stat
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import mfusepy

SECTOR = 512
COUNTED = ("write", "fsync", "fsyncdir", "rename", "unlink", "create", "mkdir", "truncate")
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(eq=False)
class FileNode:
    """A regular file: its open backing descriptor (kept while the file may still matter,
    even after an unlink) and its durable bytes."""

    fd: int
    durable: bytearray
    dirty: set[int] = field(default_factory=set)  # sector numbers written since last fsync


@dataclass(eq=False)
class DirNode:
    current: dict[str, Node] = field(default_factory=dict)
    durable: dict[str, Node] = field(default_factory=dict)


Node = FileNode | DirNode


class Frozen(Exception):
    """The power is off: the operation never completes."""


class CacheFS(mfusepy.Operations):  # type: ignore[misc]
    use_ns = True

    def __init__(self, backing: str, cut_at: tuple[str, int] | None = None,
                 out: Callable[[str], None] = print) -> None:
        self.backing = os.path.realpath(backing)
        self.cut_at = cut_at
        self.out = out
        self.mutex = threading.Lock()
        self.frozen = False
        self.counts = dict.fromkeys(COUNTED, 0)
        self.handles: dict[int, Node] = {}
        self.next_handle = 1
        self.root = self._scan(self.backing)
        self.trace = bool(os.environ.get("CACHEFS_TRACE"))

    # -- the model ------------------------------------------------------------------------

    def _scan(self, path: str) -> DirNode:
        """Everything already in the backing directory is durable."""
        node = DirNode()
        for name in sorted(os.listdir(path)):
            full = os.path.join(path, name)
            mode = os.lstat(full).st_mode
            child: Node
            if stat.S_ISDIR(mode):
                child = self._scan(full)
            elif stat.S_ISREG(mode):
                fd = os.open(full, os.O_RDWR)
                child = FileNode(fd, bytearray(_read_all(fd)))
            else:
                raise SystemExit(f"cachefs: {full}: only files and directories are modelled")
            node.current[name] = node.durable[name] = child
        return node

    def _lookup(self, path: str) -> Node:
        node: Node = self.root
        for part in [p for p in path.split("/") if p]:
            if not isinstance(node, DirNode) or part not in node.current:
                raise mfusepy.FuseOSError(errno.ENOENT)
            node = node.current[part]
        return node

    def _parent(self, path: str) -> tuple[DirNode, str]:
        head, name = os.path.split(path.rstrip("/"))
        parent = self._lookup(head)
        if not isinstance(parent, DirNode):
            raise mfusepy.FuseOSError(errno.ENOTDIR)
        return parent, name

    def _real(self, path: str) -> str:
        return os.path.join(self.backing, path.lstrip("/"))

    def _handle(self, node: Node) -> int:
        handle = self.next_handle
        self.next_handle += 1
        self.handles[handle] = node
        return handle

    def _node(self, path: str | None, fh: int | None) -> Node:
        """The node an operation is about: its open handle's, else its path's (EBADF when
        neither is known: never a guess such as the root)."""
        node = self.handles.get(fh) if fh else None
        if node is None:
            if path is None:
                raise mfusepy.FuseOSError(errno.EBADF)
            node = self._lookup(path)
        return node

    def _file(self, path: str | None, fh: int | None) -> FileNode:
        node = self._node(path, fh)
        if not isinstance(node, FileNode):
            raise mfusepy.FuseOSError(errno.EISDIR)
        return node

    def _dir(self, path: str | None, fh: int | None) -> DirNode:
        node = self._node(path, fh)
        if not isinstance(node, DirNode):
            raise mfusepy.FuseOSError(errno.ENOTDIR)
        return node

    @staticmethod
    def _mark(node: FileNode, start: int, end: int) -> None:
        if end > start:
            node.dirty.update(range(start // SECTOR, (end - 1) // SECTOR + 1))

    @staticmethod
    def _persist(node: FileNode) -> None:
        """fsync: the file's current bytes and size become durable."""
        size = os.fstat(node.fd).st_size
        del node.durable[size:]
        node.durable.extend(bytes(size - len(node.durable)))
        for first, last in _runs(sorted(s for s in node.dirty if s * SECTOR < size)):
            start = first * SECTOR
            end = min((last + 1) * SECTOR, size)
            node.durable[start:end] = os.pread(node.fd, end - start, start)
        node.dirty.clear()

    # -- the power cut --------------------------------------------------------------------

    def _trace(self, op: str, *words: object) -> None:
        """With CACHEFS_TRACE set, log one line per operation that changes the model (to
        standard error, which the harness keeps in the mount's log)."""
        if self.trace:
            print(op, *words, file=sys.stderr, flush=True)

    def _freeze(self, why: str) -> None:
        self.frozen = True
        self.out(f"frozen {why}")

    def freeze(self, why: str = "command") -> None:
        with self.mutex:
            if not self.frozen:
                self._freeze(why)

    def crash(self, mode: str, seed: int) -> dict[str, int]:
        """Rewrite the backing directory as the cut leaves it; return what was decided."""
        if mode not in ("drop", "torn"):
            raise ValueError(f"crash mode must be drop or torn, not {mode!r}")
        self.freeze()
        rng = random.Random(seed)
        tally = {"files": 0, "volatile_sectors": 0, "kept_sectors": 0, "dirs_taken_new": 0}
        images: dict[int, bytes] = {}

        def file_image(node: FileNode) -> bytes:
            if id(node) in images:
                return images[id(node)]
            data = bytearray(node.durable)
            tally["files"] += 1
            tally["volatile_sectors"] += len(node.dirty)
            if mode == "torn":
                size = os.fstat(node.fd).st_size
                length = rng.choice((len(data), size))
                del data[length:]
                data.extend(bytes(length - len(data)))
                for sector in sorted(node.dirty):
                    start = sector * SECTOR
                    if start < length and rng.random() < 0.5:
                        end = min(start + SECTOR, length)
                        new = os.pread(node.fd, end - start, start)
                        data[start:end] = new + bytes(end - start - len(new))
                        tally["kept_sectors"] += 1
            images[id(node)] = bytes(data)
            return images[id(node)]

        def dir_image(node: DirNode, depth: int = 0) -> dict[str, Any]:
            if depth > 64:
                raise RuntimeError("cachefs: directory cycle in the durable state")
            entries = node.durable
            if mode == "torn" and node.current != node.durable and rng.random() < 0.5:
                entries = node.current
                tally["dirs_taken_new"] += 1
            self._trace("crash-dir", _nid(node), "new" if entries is node.current else "old",
                        {name: _nid(child) for name, child in sorted(entries.items())},
                        "durable", {name: _nid(child) for name, child in node.durable.items()})
            return {name: dir_image(child, depth + 1) if isinstance(child, DirNode)
                    else file_image(child) for name, child in sorted(entries.items())}

        with self.mutex:
            image = dir_image(self.root)
            scratch = self.backing + ".cut"
            shutil.rmtree(scratch, ignore_errors=True)
            os.mkdir(scratch)
            _write_tree(scratch, image)
            shutil.rmtree(self.backing)
            os.rename(scratch, self.backing)
        return tally

    # -- every operation passes this gate ---------------------------------------------------

    def _enter(self, kind: str | None) -> None:
        """Take the lock, count the operation, and never return once the power is off."""
        self.mutex.acquire()
        if not self.frozen and kind is not None:
            self.counts[kind] += 1
            if self.cut_at == (kind, self.counts[kind]):
                self._freeze(f"{kind}#{self.counts[kind]}")
        if self.frozen:
            self.mutex.release()
            threading.Event().wait()  # forever: the process exits after the crash
            raise mfusepy.FuseOSError(errno.EIO)

    # -- operations ---------------------------------------------------------------------------

    def init(self, path: str) -> None:
        self.out("ready")

    def getattr(self, path: str | None, fh: int | None = None) -> dict[str, Any]:
        with _op(self, None):
            if fh:
                st = os.fstat(self._file(path, fh).fd)
            else:
                assert path is not None
                self._lookup(path)
                st = os.lstat(self._real(path))
            return {key: getattr(st, key) for key in (
                "st_mode", "st_nlink", "st_uid", "st_gid", "st_size", "st_ino")} | {
                "st_atime": st.st_atime_ns, "st_mtime": st.st_mtime_ns,
                "st_ctime": st.st_ctime_ns}

    def access(self, path: str, amode: int) -> int:
        with _op(self, None):
            self._lookup(path)
            return 0

    def statfs(self, path: str) -> dict[str, int]:
        with _op(self, None):
            st = os.statvfs(self.backing)
            return {key: getattr(st, key) for key in (
                "f_bavail", "f_bfree", "f_blocks", "f_bsize", "f_favail", "f_ffree",
                "f_files", "f_flag", "f_frsize", "f_namemax")}

    def opendir(self, path: str) -> int:
        with _op(self, None):
            node = self._dir(path, None)
            handle = self._handle(node)
            self._trace("opendir", path, handle, _nid(node))
            return handle

    def readdir(self, path: str | None, fh: int) -> list[str]:
        with _op(self, None):
            return [".", "..", *self._dir(path, fh).current]

    def releasedir(self, path: str | None, fh: int) -> int:
        with _op(self, None):
            self.handles.pop(fh, None)
            return 0

    def fsyncdir(self, path: str | None, datasync: int, fh: int) -> int:
        with _op(self, "fsyncdir"):
            node = self._dir(path, fh)
            self._trace("fsyncdir", path, fh, _nid(node), sorted(node.current))
            node.durable = dict(node.current)
            return 0

    def mkdir(self, path: str, mode: int) -> int:
        with _op(self, "mkdir"):
            parent, name = self._parent(path)
            os.mkdir(self._real(path), mode)
            parent.current[name] = DirNode()
            return 0

    def rmdir(self, path: str) -> int:
        with _op(self, "unlink"):
            parent, name = self._parent(path)
            os.rmdir(self._real(path))
            del parent.current[name]
            return 0

    def create(self, path: str, mode: int, flags: int = os.O_RDWR) -> int:
        with _op(self, "create"):
            parent, name = self._parent(path)
            fd = os.open(self._real(path), os.O_RDWR | os.O_CREAT | os.O_EXCL, mode)
            node = FileNode(fd, bytearray())
            parent.current[name] = node
            handle = self._handle(node)
            self._trace("create", path, handle, _nid(node), "in", _nid(parent))
            return handle

    def open(self, path: str, flags: int) -> int:
        with _op(self, None):
            node = self._file(path, None)
            if flags & os.O_TRUNC:
                self._truncate(node, 0)
            handle = self._handle(node)
            self._trace("open", path, handle, _nid(node))
            return handle

    # release and flush are answered even when frozen: the kernel waits uninterruptibly for
    # the FLUSH of a dying process's files, and the cut must let the test kill it.
    def release(self, path: str | None, fh: int) -> int:
        self._trace("release", path, fh)
        self.handles.pop(fh, None)
        return 0

    def flush(self, path: str | None, fh: int) -> int:
        return 0  # close(): nothing becomes durable

    def read(self, path: str | None, size: int, offset: int, fh: int) -> bytes:
        with _op(self, None):
            return os.pread(self._file(path, fh).fd, size, offset)

    def write(self, path: str | None, data: bytes, offset: int, fh: int) -> int:
        with _op(self, "write"):
            node = self._file(path, fh)
            written = os.pwrite(node.fd, data, offset)
            self._mark(node, offset, offset + written)
            return written

    def _truncate(self, node: FileNode, length: int) -> None:
        old = os.fstat(node.fd).st_size
        os.ftruncate(node.fd, length)
        self._mark(node, min(old, length), max(old, length))

    def truncate(self, path: str | None, length: int, fh: int | None = None) -> int:
        with _op(self, "truncate"):
            node = self._file(path, fh)
            self._trace("truncate", path, fh, _nid(node), length)
            self._truncate(node, length)
            return 0

    def fsync(self, path: str | None, datasync: int, fh: int) -> int:
        with _op(self, "fsync"):
            node = self._file(path, fh)
            self._trace("fsync", path, fh, _nid(node), len(node.dirty))
            self._persist(node)
            return 0

    def unlink(self, path: str) -> int:
        with _op(self, "unlink"):
            parent, name = self._parent(path)
            os.unlink(self._real(path))
            self._trace("unlink", path, _nid(parent.current[name]), "in", _nid(parent))
            del parent.current[name]  # the node (and its fd) live on for the durable state
            return 0

    def rename(self, old: str, new: str) -> int:
        with _op(self, "rename"):
            source, old_name = self._parent(old)
            target, new_name = self._parent(new)
            node = source.current[old_name]
            os.rename(self._real(old), self._real(new))
            self._trace("rename", old, new, _nid(node), "from", _nid(source), "to", _nid(target))
            del source.current[old_name]
            target.current[new_name] = node
            return 0

    def chmod(self, path: str | None, mode: int) -> int:
        with _op(self, None):
            assert path is not None
            os.chmod(self._real(path), mode)
            return 0

    def chown(self, path: str | None, uid: int, gid: int) -> int:
        with _op(self, None):
            assert path is not None
            os.chown(self._real(path), uid, gid)
            return 0

    def utimens(self, path: str | None, times: tuple[int, int] | None = None) -> int:
        with _op(self, None):
            if path is not None:
                if times is None:
                    os.utime(self._real(path))  # now
                else:
                    os.utime(self._real(path), ns=times)
            return 0

    def link(self, target: str, source: str) -> int:
        raise mfusepy.FuseOSError(errno.EPERM)  # hard links are not modelled

    def symlink(self, target: str, source: str) -> int:
        raise mfusepy.FuseOSError(errno.EPERM)  # nor symbolic links

    def mknod(self, path: str, mode: int, dev: int) -> int:
        raise mfusepy.FuseOSError(errno.EPERM)


class _op:
    """Hold the filesystem's one lock for an operation (after the power-cut gate)."""

    def __init__(self, fs: CacheFS, kind: str | None) -> None:
        self.fs = fs
        self.kind = kind

    def __enter__(self) -> None:
        self.fs._enter(self.kind)

    def __exit__(self, *_exc: object) -> None:
        self.fs.mutex.release()


def _nid(node: Node) -> str:
    """A short name for a node in the trace."""
    return f"{type(node).__name__[0]}{id(node) & 0xffffff:06x}"


def _read_all(fd: int) -> bytes:
    chunks, offset = [], 0
    while chunk := os.pread(fd, 1 << 20, offset):
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def _runs(sectors: list[int]) -> Iterator[tuple[int, int]]:
    """Consecutive runs in a sorted list: [1, 2, 3, 7] -> (1, 3), (7, 7)."""
    start = prev = None
    for sector in sectors:
        if start is None:
            start = prev = sector
        elif sector == prev + 1:  # type: ignore[operator]
            prev = sector
        else:
            yield start, prev  # type: ignore[misc]
            start = prev = sector
    if start is not None:
        yield start, prev  # type: ignore[misc]


def _write_tree(path: str, image: dict[str, Any]) -> None:
    for name, content in image.items():
        full = os.path.join(path, name)
        if isinstance(content, dict):
            os.mkdir(full)
            _write_tree(full, content)
        else:
            with open(full, "wb") as handle:
                handle.write(content)


def _control(fs: CacheFS, out: Callable[[str], None]) -> None:
    """Commands from standard input (see the module docstring)."""
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        try:
            if words[0] == "freeze":
                fs.freeze()
            elif words[0] == "stats":
                with fs.mutex:
                    out("stats " + json.dumps(fs.counts))
            elif words[0] == "crash":
                tally = fs.crash(words[1], int(words[2]))
                out("crashed " + json.dumps(tally))
                sys.stdout.flush()
                os._exit(0)
            else:
                out(f"error unknown command {words[0]!r}")
        except Exception as error:  # a bad command must not take the filesystem down
            out(f"error {type(error).__name__}: {error}")
    # the test went away: the power stays on; a clean unmount ends the process


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("backing")
    parser.add_argument("mountpoint")
    parser.add_argument("--cut-at", help="KIND:N, freeze at the Nth operation of KIND")
    args = parser.parse_args()
    cut_at = None
    if args.cut_at:
        kind, _, number = args.cut_at.partition(":")
        if kind not in COUNTED or not number.isdigit():
            parser.error(f"--cut-at: KIND:N with KIND one of {', '.join(COUNTED)}")
        cut_at = (kind, int(number))
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    write_lock = threading.Lock()

    def out(line: str) -> None:
        with write_lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    fs = CacheFS(args.backing, cut_at, out)
    threading.Thread(target=_control, args=(fs, out), daemon=True).start()
    mfusepy.FUSE(fs, args.mountpoint, foreground=True, hard_remove=True, fsname="cachefs")


if __name__ == "__main__":
    main()
