"""What zslkit writes, replaces and deletes: locks, manifests and atomic writes, in one place.

Every command that writes (``train``, ``evaluate``, ``benchmark``, ``demo``, ``data build``,
``data synth``, ``vgse discover``, ``analyze``, ``report``, ``data convert-w2v``) goes through
:func:`output_dir` (a directory it fills) or :func:`output_file` (one file in a directory that may
be the user's). The rules:

1. **Lock.** A directory is written only while its lock is held: an advisory ``flock`` on
   ``DIR/.zslkit.lock`` (:class:`DirLock`). A second process gets a :class:`LockedError` naming the
   holder. The kernel releases the lock however the holder ends, so it is never stale; a holder that
   lets go normally (a command that finished or failed) also empties the file, which then names nobody.
2. **Manifest.** A directory is zslkit's only if it carries zslkit's manifest,
   ``DIR/.zslkit-manifest.jsonl``: every file and folder zslkit created there, each file with its
   size, modification time and SHA-256. A new or empty directory becomes zslkit's when a command
   claims it; a non-empty directory without a manifest is refused, the error naming its first
   foreign entries. The manifest is an append-only journal (one JSON record a line: a file about to
   be written, a file written with its hash, a folder created, a nested output, an entry removed),
   so a process killed at any moment leaves a manifest that covers everything it wrote; it is
   compacted when the directory is opened and closed.
3. **Only what the manifest lists.** zslkit replaces or deletes a path only if the manifest lists
   it and it is unchanged since zslkit wrote it (same size and mtime, or else the same SHA-256).
   Anything else is left alone; a write that would replace a foreign or modified file is refused
   (:class:`ForeignFileError`) before anything is written.
4. **--overwrite** removes the manifest's entries (files first, then the folders zslkit created,
   each only once empty), so a folder holding anything of the user's survives with that content.
5. **Atomic writes.** Every file is written to a temporary file beside it (``.NAME.tmp-XXXXXXXX``),
   fsynced and renamed (:func:`atomic_path`): a reader sees the old or the new file, never half of
   one. Temporary files of killed writers are removed only where this process holds the lock: the
   directory itself and the folders its manifest lists, never a nested output (a sub-directory with
   a manifest or lock of its own, such as a grid cell that another process is writing).
6. **Single files** (a report ``.html``, a converted ``.npy``) go into directories zslkit need
   not own: there the manifest (scope ``files``) lists only the files zslkit wrote, and the
   directory is otherwise the user's.

Writers everywhere use :func:`atomic_path` (and the ``atomic_write_*`` helpers on top of it); when
the destination lies inside a directory opened with :func:`output_dir` in this process, the write
is checked against and recorded in that directory's manifest. Files written in place by other
libraries (a TensorBoard event file, a memory-mapped cache, a log file) are declared with
:func:`claim_output` before they are opened; deletions go through :func:`remove_output`.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import math
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from zslkit.errors import ConfigError, LockedError, OutputError, ZSLKitError

log = logging.getLogger(__name__)

try:  # pragma: no cover - always present on Linux/macOS
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".zslkit.lock"
MANIFEST_NAME = ".zslkit-manifest.jsonl"
MANIFEST_FORMAT = 1
#: zslkit's own bookkeeping files: never foreign, never listed
_OWN_FILES = (LOCK_NAME, MANIFEST_NAME)
#: what ``mkstemp(prefix=".NAME.tmp-")`` names a temporary file: 8 random characters after the prefix
_TEMP_NAME = re.compile(r"^\.(.+)\.tmp-[a-z0-9_]{8}(\.[A-Za-z0-9]+)?$")
#: errors of the filesystem rather than of the program: reported as OutputError
_OUTPUT_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT, errno.EFBIG, errno.EIO}
#: files above this size are identified by a SHA-256 of their size, first and last 64 MiB ("sampled")
FULL_HASH_LIMIT = 2 << 30
_SAMPLE = 64 << 20

#: what each kind of output directory is called in messages
KINDS = {"run": "run directory", "grid": "grid directory", "dataset": "dataset directory", "demo": "demo folder",
         "vgse": "VGSE output folder", "analysis": "analysis folder", "feature cache": "feature cache",
         "feature maps": "feature-map directory", "checkpoints": "checkpoint folder", "files": "folder"}


class ForeignFileError(ZSLKitError):
    """A write or removal would touch a file or directory zslkit did not write (or that was changed
    after zslkit wrote it); nothing was written."""


# --------------------------------------------------------------------------- errors of the environment

def output_error(path: str | os.PathLike, exc: OSError, what: str = "") -> OutputError:
    """An :class:`OutputError` for ``exc`` raised while writing ``path``; the message says the
    destination is unchanged and that no partial file was left (true of every atomic writer)."""
    reason = exc.strerror or str(exc)
    if exc.errno == errno.ENOSPC:
        reason = "no space left on device"
    elif exc.errno == errno.EROFS:
        reason = "read-only file system"
    err = OutputError(exc.errno, f"cannot write {path}{what}: {reason}. Outputs stay complete: {Path(path).name} "
                      "is unchanged (its previous complete version, or absent) and no partial file was left; "
                      "free space / fix permissions and rerun the same command to resume")
    err.filename = os.fspath(path)
    return err


def is_output_error(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and not isinstance(exc, OutputError) and exc.errno in _OUTPUT_ERRNOS


def _reraise_output(dest: Path, exc: BaseException) -> None:
    if is_output_error(exc):
        raise output_error(dest, exc) from exc  # type: ignore[arg-type]
    if isinstance(exc, OSError) and exc.errno is None and "No space left" in str(exc):
        # h5py / HDF5 report a full disk as a plain OSError without errno
        raise output_error(dest, OSError(errno.ENOSPC, "No space left on device")) from exc


# --------------------------------------------------------------------------- locks

_held: dict[str, list[Any]] = {}  # resolved directory -> [open file, depth]
_guard = threading.RLock()


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return "another process (holder unknown)"
    if not isinstance(info, dict) or "pid" not in info:  # emptied by a holder letting go: a new one is starting
        return "another process (holder unknown)"
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.get("since", 0)))
    return f"pid {info.get('pid', '?')} ({info.get('command', '?')}, since {since})"


class DirLock:
    """``with DirLock(out): ...`` holds the exclusive lock of directory ``out`` (created if needed).

    ``flock`` locks belong to the open file: the kernel releases them when the holder exits,
    however it exits (``SIGKILL`` included). Within one process the lock is re-entrant. Where
    ``fcntl`` does not exist (Windows) the lock is a no-op; network filesystems may not implement
    ``flock`` across machines.

    Raises:
        LockedError: another process holds it; the message names its pid and command line.
        OutputError: the directory cannot be created or the lock file written.
    """

    def __init__(self, directory: str | os.PathLike, what: str = "output directory"):
        self.directory = Path(directory)
        self.what = what
        self._key: str | None = None

    def __enter__(self) -> "DirLock":
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            _reraise_output(self.directory, exc)
            raise
        key = str(self.directory.resolve())
        with _guard:
            if key in _held:
                _held[key][1] += 1
                self._key = key
                return self
            if fcntl is None:  # pragma: no cover
                _held[key] = [None, 1]
                self._key = key
                return self
            path = Path(key) / LOCK_NAME
            try:
                fh = open(path, "a+")
            except OSError as exc:
                if is_output_error(exc):
                    raise output_error(path, exc, " (the lock of the output directory)") from exc
                raise
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.close()
                raise LockedError(f"{self.directory}: {self.what} is in use by {_holder(path)}; wait for it to "
                                  "finish or choose another directory (two processes writing one directory "
                                  "would overwrite each other's results)") from None
            except OSError:  # pragma: no cover - a filesystem without flock: run unlocked
                pass
            with contextlib.suppress(OSError):
                fh.seek(0)
                fh.truncate()
                fh.write(json.dumps({"pid": os.getpid(), "command": " ".join(sys.argv)[:500],
                                     "since": time.time()}))
                fh.flush()
            _held[key] = [fh, 1]
            self._key = key
        return self

    def __exit__(self, *exc: Any) -> None:
        with _guard:
            entry = _held.get(self._key or "")
            if entry is None:
                return
            entry[1] -= 1
            if entry[1] == 0:
                del _held[self._key]  # type: ignore[arg-type]
                if entry[0] is not None:
                    with contextlib.suppress(OSError):  # the file names no holder once it is let go
                        entry[0].seek(0)
                        entry[0].truncate()
                        entry[0].flush()
                    entry[0].close()  # releases the flock


def lock_is_held_elsewhere(directory: Path) -> bool:
    """Whether another process holds the lock of ``directory`` right now (False when this process
    holds it, or nobody does, or locks are not available)."""
    key = str(directory.resolve())
    if key in _held or fcntl is None or not (directory / LOCK_NAME).is_file():
        return False
    try:
        with open(directory / LOCK_NAME, "a+") as fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    except OSError:
        return False
    return False


# --------------------------------------------------------------------------- hashes

def file_identity(path: Path) -> dict[str, Any]:
    """``{"size", "mtime_ns", "sha256"[, "hash": "sampled"]}`` of a file: the SHA-256 of the
    contents (files above :data:`FULL_HASH_LIMIT`: of the size and the first and last 64 MiB)."""
    st = path.stat()
    h = hashlib.sha256()
    rec: dict[str, Any] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
    with open(path, "rb") as fh:
        if st.st_size <= FULL_HASH_LIMIT:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        else:
            h.update(str(st.st_size).encode())
            h.update(fh.read(_SAMPLE))
            fh.seek(st.st_size - _SAMPLE)
            h.update(fh.read(_SAMPLE))
            rec["hash"] = "sampled"
    rec["sha256"] = h.hexdigest()
    return rec


def _unchanged(path: Path, entry: dict[str, Any]) -> bool:
    """Whether the file at ``path`` is still what the manifest ``entry`` recorded."""
    if entry.get("type") != "file":
        return True  # pending/growing: owned by name (a log, a cache, a write cut short)
    try:
        st = path.stat()
    except OSError:
        return False
    if st.st_size != entry.get("size"):
        return False
    if st.st_mtime_ns == entry.get("mtime_ns"):
        return True
    return file_identity(path)["sha256"] == entry.get("sha256")


# --------------------------------------------------------------------------- the manifest

def _rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def read_manifest(directory: str | os.PathLike) -> dict[str, Any] | None:
    """The replayed manifest of ``directory``: ``{"kind", "scope", "entries": {relpath: record}}``,
    or None when it has none (or an unreadable one). A torn last line (a writer killed mid-line) is
    ignored."""
    path = Path(directory) / MANIFEST_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    header: dict[str, Any] | None = None
    entries: dict[str, dict[str, Any]] = {}
    for line in text.splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if not isinstance(rec, dict):
            continue
        if header is None:
            if rec.get("zslkit_manifest") != MANIFEST_FORMAT:
                return None
            header = rec
            continue
        op, rel = rec.get("op"), rec.get("path")
        if not isinstance(rel, str) or not rel or rel.startswith("/") or ".." in rel.split("/"):
            continue  # never trust a path that leaves the directory
        elif op == "gone":
            entries.pop(rel, None)
        elif op in ("file", "pending", "dir", "nested"):
            entries[rel] = {"type": op, **{k: v for k, v in rec.items() if k not in ("op", "path")}}
    if header is None:
        return None
    return {"kind": header.get("kind", "files"), "scope": header.get("scope", "files"), "entries": entries}


def owns(directory: str | os.PathLike, rel: str) -> bool:
    """Whether ``directory``'s manifest lists ``rel`` (a path relative to it) and the file is unchanged
    since zslkit wrote it. Read-only: no lock is taken (a finished run's files no longer change)."""
    m = read_manifest(directory)
    if m is None or rel not in m["entries"]:
        return False
    p = Path(directory) / rel
    return p.exists() and _unchanged(p, m["entries"][rel])


def _foreign_entries(root: Path, listed: set[str]) -> list[str]:
    try:
        names = sorted(os.listdir(root))
    except OSError:
        return []
    return [n for n in names if n not in _OWN_FILES and n not in listed]


def _describe(names: list[str]) -> str:
    shown = ", ".join(names[:3])
    return shown + (f" and {len(names) - 3} more" if len(names) > 3 else "")


_active: dict[str, "OutputDir"] = {}  # resolved root -> the open OutputDir of this process


class OutputDir:
    """A directory zslkit writes, opened with :func:`output_dir`; see the module docstring.

    Attributes:
        root: the directory; kind: what it holds (``run``, ``grid``, ``dataset``, ...).
    """

    def __init__(self, root: Path, kind: str, scope: str, entries: dict[str, dict[str, Any]]):
        self.root = root
        self.key = str(root.resolve())
        self.kind = kind
        self.scope = scope
        self.entries = entries
        self.depth = 0
        self._journal: Any = None
        self._io = threading.RLock()

    @property
    def what(self) -> str:
        return KINDS.get(self.kind, self.kind)

    # ---- journal
    def _write_compact(self) -> None:
        """Rewrite the manifest as its current state (atomically) and reopen it for appending."""
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        lines = [json.dumps({"zslkit_manifest": MANIFEST_FORMAT, "kind": self.kind, "scope": self.scope,
                             "updated": time.time(), "zslkit_version": _version()})]
        for rel, rec in sorted(self.entries.items()):
            lines.append(json.dumps({"op": rec["type"], "path": rel, **{k: v for k, v in rec.items() if k != "type"}}))
        dest = self.root / MANIFEST_NAME
        _atomic_replace_bytes(dest, ("\n".join(lines) + "\n").encode("utf-8"))
        try:
            self._journal = open(dest, "a", encoding="utf-8")
        except OSError as exc:
            _reraise_output(dest, exc)
            raise

    def _append(self, record: dict[str, Any]) -> None:
        with self._io:
            if self._journal is None:
                self._write_compact()
            try:
                self._journal.write(json.dumps(record) + "\n")
                self._journal.flush()
            except OSError as exc:
                _reraise_output(self.root / MANIFEST_NAME, exc)
                raise

    def _record(self, op: str, rel: str, **info: Any) -> None:
        with self._io:
            if op == "gone":
                self.entries.pop(rel, None)
            else:
                self.entries[rel] = {"type": op, **info}
            self._append({"op": op, "path": rel, **info})

    # ---- queries
    def owns(self, rel: str) -> bool:
        """Listed in the manifest, present and unchanged since zslkit wrote it."""
        e = self.entries.get(rel)
        p = self.root / rel
        return e is not None and (p.is_dir() if e["type"] in ("dir", "nested") else p.exists() and _unchanged(p, e))

    @property
    def empty(self) -> bool:
        """No entry listed (nothing of a previous run)."""
        return not self.entries

    # ---- writes
    def rel(self, path: str | os.PathLike) -> str:
        """``path`` relative to the directory (POSIX separators)."""
        p = Path(os.path.abspath(path))
        for base in (self.root, Path(self.key)):
            with contextlib.suppress(ValueError):
                return p.relative_to(base).as_posix()
        with contextlib.suppress(ValueError, OSError):
            return (p.parent.resolve() / p.name).relative_to(Path(self.key)).as_posix()
        raise ConfigError(f"{path} is not inside the output directory {self.root}")

    def check_writable(self, rel: str) -> None:
        """Raise :class:`ForeignFileError` if writing ``rel`` would replace a file zslkit did not write
        (or changed since), or a directory."""
        p = self.root / rel
        if not os.path.lexists(p):
            return
        e = self.entries.get(rel)
        if e is None or p.is_symlink():
            raise ForeignFileError(f"{p}: exists and was not written by zslkit; zslkit never replaces a file it "
                                   f"did not write (move it away, or choose another output)")
        if e["type"] in ("dir", "nested") or p.is_dir():
            raise ForeignFileError(f"{p}: is a directory where zslkit writes a file")
        if not _unchanged(p, e):
            raise ForeignFileError(f"{p}: was changed after zslkit wrote it; zslkit never replaces a file whose "
                                   "contents it did not write (move it away, or choose another output)")

    def expect(self, *rels: str) -> None:
        """Check, before any work, that the files a command will write are not foreign (see
        :meth:`check_writable`): a refusal then costs nothing."""
        for rel in rels:
            self.check_writable(rel)

    def mkdir(self, rel: str) -> Path:
        """Create the folder ``rel`` (and its parents) inside the directory, recording each one created."""
        p = self.root
        for part in Path(rel).parts:
            p = p / part
            r = _rel(self.root, p)
            if p.is_dir():
                continue
            if os.path.lexists(p):
                raise ForeignFileError(f"{p}: exists and is not a directory; zslkit needs a folder there")
            self._record("dir", r)
            try:
                p.mkdir()
            except FileExistsError:
                pass
            except OSError as exc:
                _reraise_output(p, exc)
                raise
        return self.root / rel

    def begin_write(self, rel: str) -> None:
        self.check_writable(rel)
        parent = Path(rel).parent
        if str(parent) != ".":
            self.mkdir(parent.as_posix())
        if rel not in self.entries:
            self._record("pending", rel)

    def end_write(self, rel: str) -> None:
        self._record("file", rel, **file_identity(self.root / rel))

    def claim(self, rel: str, growing: bool = False) -> Path:
        """Declare ``rel`` a file zslkit writes in place (a memory-mapped cache; with ``growing``, a file
        appended to across runs, such as a log or an event file): refused if a foreign file is there;
        listed as owned by name until :meth:`seal` (a growing file stays so; others are hashed when the
        directory is closed)."""
        self.begin_write(rel)
        if self.entries[rel]["type"] == "file" or (growing and not self.entries[rel].get("growing")):
            self._record("pending", rel, **({"growing": True} if growing else {}))
        return self.root / rel

    def seal(self, rel: str) -> None:
        """Record the hash of a claimed file once its writer is done with it."""
        if rel in self.entries and self.entries[rel]["type"] == "pending" and (self.root / rel).is_file():
            self.end_write(rel)

    def add_nested(self, rel: str) -> None:
        """Record the sub-directory ``rel`` as another output (its own manifest and lock)."""
        parent = Path(rel).parent
        if str(parent) != ".":
            self.mkdir(parent.as_posix())
        if self.entries.get(rel, {}).get("type") != "nested":
            self._record("nested", rel)

    # ---- removal
    def _check_removable(self, rel: str, problems: list[str]) -> None:
        e = self.entries[rel]
        p = self.root / rel
        if not os.path.lexists(p):
            return
        if e["type"] == "nested":
            if lock_is_held_elsewhere(p):
                problems.append(f"{p} is in use by another zslkit process")
            elif read_manifest(p) is None and _foreign_entries(p, set()):
                problems.append(f"{p} holds files zslkit did not write")
            return
        if e["type"] == "dir":
            return  # removed only once empty
        if p.is_symlink() or p.is_dir() or not _unchanged(p, e):
            problems.append(f"{p} was changed after zslkit wrote it")

    def remove(self, rel: str) -> bool:
        """Remove one entry: a file (if unchanged), a folder zslkit created (its listed contents, then
        the folder if empty), a nested output (through its own manifest). Foreign content is left.
        Returns whether the path is gone."""
        prefix = rel.rstrip("/") + "/"
        inner = sorted((r for r in self.entries if r.startswith(prefix)), key=lambda r: -r.count("/"))
        problems: list[str] = []
        for r in [rel] + inner:
            if r in self.entries:
                self._check_removable(r, problems)
        if problems:
            raise ForeignFileError(f"{self.root}: cannot remove {rel}: {'; '.join(problems[:3])}; nothing was removed "
                                   "(move those files away, or choose another output)")
        for r in inner + [rel]:
            if r not in self.entries:
                continue
            e = self.entries[r]
            p = self.root / r
            try:
                if e["type"] == "nested":
                    if p.is_dir():
                        with output_dir(p, kind=None) as sub:
                            sub.clear()
                        if not _foreign_entries(p, set()):  # nothing of the user's in it: the folder goes too
                            with contextlib.suppress(OSError):
                                (p / MANIFEST_NAME).unlink()
                                (p / LOCK_NAME).unlink()
                                p.rmdir()
                elif e["type"] == "dir":
                    with contextlib.suppress(OSError):
                        p.rmdir()  # only once empty: a folder with foreign content stays
                else:
                    with contextlib.suppress(FileNotFoundError):
                        p.unlink()
            except OSError as exc:
                _reraise_output(p, exc)
                raise
            if not os.path.lexists(p):
                self._record("gone", r)
            elif e["type"] in ("dir", "nested"):
                log.warning("%s: kept, it holds files zslkit did not write", p)
        return not os.path.lexists(self.root / rel)

    def clear(self) -> None:
        """Remove every entry of the manifest (what ``--overwrite`` does); checked first, so that
        either everything listed is removable or nothing is removed."""
        problems: list[str] = []
        for rel in list(self.entries):
            self._check_removable(rel, problems)
        if problems:
            raise ForeignFileError(f"{self.root}: cannot replace the previous {self.what}: "
                                   f"{'; '.join(problems[:3])}; nothing was removed (move those files away, or "
                                   "choose another output)")
        tops = sorted({r for r in self.entries if not any(r.startswith(o + "/") for o in self.entries if o != r)},
                      key=lambda r: -r.count("/"))
        for rel in tops:
            self.remove(rel)

    def remove_stale_temps(self) -> list[Path]:
        """Delete temporary files of killed writers in this directory and in the folders its manifest
        lists (never in a nested output or a folder holding another lock)."""
        dirs = [self.root] + [self.root / r for r, e in sorted(self.entries.items()) if e["type"] == "dir"]
        removed: list[Path] = []
        for d in dirs:
            if d != self.root and ((d / LOCK_NAME).exists() or (d / MANIFEST_NAME).exists()):
                continue
            try:
                names = os.listdir(d)
            except OSError:
                continue
            for name in names:
                if _TEMP_NAME.match(name) and (d / name).is_file():
                    with contextlib.suppress(FileNotFoundError):
                        (d / name).unlink()
                        removed.append(d / name)
        if removed:
            log.info("removed %d temporary file(s) of an interrupted run in %s", len(removed), self.root)
        return removed


def _version() -> str:
    try:
        from zslkit import __version__

        return __version__
    except ImportError:  # pragma: no cover
        return "?"


def _active_for(path: str | os.PathLike) -> OutputDir | None:
    """The deepest directory opened by this process (:func:`output_dir`) that contains ``path``."""
    if not _active:
        return None
    p = Path(os.path.abspath(path))
    by_root = {str(od.root): od for od in _active.values()}
    for cand in (p, *p.parents):
        od = by_root.get(str(cand))
        if od is not None:
            return od
    try:
        r = p.resolve()
    except OSError:
        return None
    for cand in (r, *r.parents):
        od = _active.get(str(cand))
        if od is not None:
            return od
    return None


@contextlib.contextmanager
def output_dir(path: str | os.PathLike, kind: str | None, *, overwrite: bool = False, scope: str = "directory",
               clean_temps: bool = True) -> Iterator[OutputDir]:
    """Open the output directory ``path`` for writing (see the module docstring); re-entrant.

    Args:
        kind: what the directory holds (a key of :data:`KINDS`). A directory holding zslkit outputs of
            another kind is refused (replaced with ``overwrite``); ``None`` accepts any existing kind
            (a new directory is then a ``files`` one).
        overwrite: remove every manifest entry first (``--overwrite``).
        scope: ``"directory"``: zslkit fills the directory, which must be new, empty or zslkit's;
            ``"files"``: zslkit writes single named files into a directory that may be the user's.
        clean_temps: remove temporary files of killed writers (only where this process holds the lock).

    Raises:
        ForeignFileError: the directory is not empty and not zslkit's, or holds another kind of output.
        LockedError: another process holds it.
    """
    root = Path(os.path.abspath(path))
    if os.path.lexists(root) and not root.is_dir():
        raise ForeignFileError(f"{root}: exists and is not a directory (zslkit writes a directory there)")
    key = str(root.resolve())
    od = _active.get(key)
    parent = _active_for(root.parent) if od is None and root.parent != root else None
    if parent is not None and parent.entries.get(parent.rel(root), {}).get("type") == "dir":
        od = parent  # a folder of a directory this process writes: part of it, not an output of its own
    if od is not None:  # re-entrant: this process already holds it
        if kind is not None and od.kind not in (kind, "files") and od.scope == "directory" and scope == "directory" \
                and od is not parent:
            raise ForeignFileError(f"{root}: holds a zslkit {od.what}, not a {KINDS.get(kind, kind)}")
        if overwrite:
            if od is parent:
                od.remove(od.rel(root))
                od.mkdir(od.rel(root))
            else:
                od.clear()
        od.depth += 1
        try:
            yield od
        finally:
            od.depth -= 1
        return
    created = not root.exists()
    what = KINDS.get(kind or "files", kind or "files")
    if created and parent is not None:  # a sub-output of a directory this process writes
        parent.add_nested(parent.rel(root))
    with DirLock(root, what):
        m = read_manifest(root)
        if m is None:
            foreign = _foreign_entries(root, set())
            if foreign and scope == "directory":
                raise ForeignFileError(
                    f"{root}: not empty and not written by zslkit (it holds {_describe(foreign)}; no zslkit manifest "
                    f"{MANIFEST_NAME}); zslkit writes only into a new or empty directory or one it wrote itself, "
                    "so that it never replaces your files: choose another output directory, or move those files away")
            od = OutputDir(root, kind or "files", scope, {})
        else:
            od = OutputDir(root, m["kind"], m["scope"], m["entries"])
            if scope == "directory" and m["scope"] == "files":
                foreign = _foreign_entries(root, {r.split("/")[0] for r in m["entries"]})
                if foreign:
                    raise ForeignFileError(
                        f"{root}: holds files zslkit did not write ({_describe(foreign)}) beside a few it did; "
                        "zslkit fills only a new or empty directory or one it wrote itself: choose another output "
                        "directory, or move those files away")
                od.scope = "directory"
                od.kind = kind or od.kind
            elif kind is not None and scope == "directory" and m["kind"] not in (kind, "files"):
                if m["entries"] and not overwrite:
                    raise ForeignFileError(
                        f"{root}: holds a zslkit {KINDS.get(m['kind'], m['kind'])}, not a {what}; choose another output "
                        f"directory, or pass --overwrite to replace it (only the files zslkit wrote are removed)")
                od.kind = kind
            elif kind is not None:
                od.kind = kind  # a generic "files" directory becomes what is written into it
        if parent is not None and not created:
            parent.add_nested(parent.rel(root))
        od._write_compact()
        od.depth = 1
        _active[key] = od
        try:
            if overwrite:
                od.clear()
            if clean_temps:
                od.remove_stale_temps()
            yield od
        finally:
            del _active[key]
            with contextlib.suppress(OSError):
                for rel, e in list(od.entries.items()):
                    if e["type"] == "pending" and not os.path.lexists(root / rel):
                        od.entries.pop(rel)  # announced, never written: not listed
                    elif e["type"] == "pending" and (root / rel).is_file() and not e.get("growing"):
                        od.entries[rel] = {"type": "file", **file_identity(root / rel)}
                od._write_compact()
            if od._journal is not None:
                od._journal.close()
                od._journal = None
            if not od.entries and (created or od.scope == "files"):
                # nothing written: leave no trace (a new directory goes again; a user's folder loses the manifest)
                with contextlib.suppress(OSError):
                    (root / MANIFEST_NAME).unlink()
                    if created:
                        (root / LOCK_NAME).unlink()
                        root.rmdir()
                        if parent is not None:
                            parent._record("gone", parent.rel(root))


@contextlib.contextmanager
def output_file(path: str | os.PathLike, *, replace: bool = True, inputs: tuple = ()) -> Iterator[Path]:
    """Write the single file ``path`` atomically in a directory that may be the user's (its manifest,
    scope ``files``, then lists this file); yields the temporary path to write.

    Args:
        replace: whether a file zslkit wrote there before may be replaced (a report re-rendered:
            yes; ``data convert-w2v`` without ``--overwrite``: no). A file zslkit did not write is
            never replaced.
        inputs: files the command reads; the output may be none of them.
    """
    dest = Path(path)
    for src in inputs:
        with contextlib.suppress(OSError):
            if os.path.lexists(dest) and os.path.samefile(dest, src) or \
                    Path(os.path.abspath(dest)) == Path(os.path.abspath(src)):
                raise ForeignFileError(f"{dest}: is one of the input files; choose another output file")
    if dest.is_dir():
        raise ForeignFileError(f"{dest}: is a directory; expected a file name")
    with output_dir(dest.parent if str(dest.parent) else Path("."), kind=None, scope="files",
                    clean_temps=False) as od:
        rel = od.rel(dest)
        if not replace and os.path.lexists(dest):
            od.check_writable(rel)  # foreign: the clearer message
            raise ForeignFileError(f"{dest}: already exists (written by zslkit); pass --overwrite to replace it")
        for name in os.listdir(od.root):  # this file's own leftovers only
            m = _TEMP_NAME.match(name)
            if m and m.group(1) == dest.name:
                with contextlib.suppress(FileNotFoundError):
                    (od.root / name).unlink()
        with atomic_path(dest) as tmp:
            yield tmp


def claim_output(path: str | os.PathLike, growing: bool = False) -> Path:
    """Declare a file that is about to be written in place (not through :func:`atomic_path`) inside an
    open output directory (``growing``: appended to across runs, e.g. a log); refused if a foreign file
    is there. Outside any open output directory this is a no-op."""
    p = Path(path)
    od = _active_for(p.parent)
    if od is not None:
        od.claim(od.rel(p), growing=growing)
    return p


@contextlib.contextmanager
def adopt_new_files(directory: str | os.PathLike) -> Iterator[Path]:
    """Create the folder ``directory`` inside an open output directory and list the files that appear in
    it during the ``with`` block (a library writing files of its own naming there, e.g. TensorBoard's
    event files) as zslkit's. Outside any open output directory only the folder is created."""
    d = Path(directory)
    od = _active_for(d)
    if od is None:
        d.mkdir(parents=True, exist_ok=True)
        yield d
        return
    od.mkdir(od.rel(d))
    before = set(os.listdir(d))
    try:
        yield d
    finally:
        for name in sorted(set(os.listdir(d)) - before):
            if (d / name).is_file():
                od._record("pending", od.rel(d / name), growing=True)


def seal_output(path: str | os.PathLike) -> None:
    """Record the final hash of a file declared with :func:`claim_output`."""
    p = Path(path)
    od = _active_for(p.parent)
    if od is not None:
        od.seal(od.rel(p))


def remove_output(path: str | os.PathLike) -> bool:
    """Delete ``path`` (a file or folder) if the open output directory containing it lists it and it is
    unchanged; folders lose only their listed contents. Refused (:class:`ForeignFileError`) for
    anything zslkit did not write. Outside any open output directory: refused too, unless the path
    does not exist. Returns whether it is gone."""
    p = Path(path)
    if not os.path.lexists(p):
        return True
    od = _active_for(p.parent)
    if od is None:
        raise ForeignFileError(f"{p}: zslkit removes only files of an output directory it holds")
    rel = od.rel(p)
    if rel not in od.entries:
        raise ForeignFileError(f"{p}: was not written by zslkit; it is left in place (remove it yourself if it is "
                               "not needed)")
    return od.remove(rel)


# --------------------------------------------------------------------------- atomic writes

def _fsync_file(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    # Directory fsync makes the rename itself durable; not supported everywhere.
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _atomic_replace_bytes(dest: Path, data: bytes) -> None:
    """Write ``data`` to ``dest`` through a temporary file and a rename, outside manifest tracking
    (the manifest itself)."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.tmp-", dir=dest.parent)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # as a plain open() would create it (mkstemp: 0600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
    except BaseException as exc:
        with contextlib.suppress(Exception):
            os.unlink(tmp)  # type: ignore[possibly-undefined]
        if isinstance(exc, OSError):
            _reraise_output(dest, exc)
        raise


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it onto ``path``.

    Use for writers that insist on opening the file themselves (scipy.io.savemat, h5py,
    matplotlib, torch.save). ``suffix`` defaults to the destination's suffix, since some writers
    (savemat, savefig) look at it. Inside a directory opened with :func:`output_dir`, the write is
    refused before it starts if it would replace a file zslkit did not write, and recorded in the
    manifest once done. A write that fails for lack of space or permission removes its temporary
    file and raises :class:`OutputError` naming the file and saying that it is unchanged.
    """
    dest = Path(path)
    od = _active_for(dest.parent)
    rel = od.rel(dest) if od is not None else None
    try:
        if od is not None:
            od.begin_write(rel)  # type: ignore[arg-type]
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.tmp-", suffix=suffix if suffix is not None else dest.suffix,
                                   dir=dest.parent)
    except OSError as exc:
        _reraise_output(dest, exc)
        raise
    os.close(fd)
    tmp_path = Path(tmp)
    # mkstemp creates 0600 files; give the result the permissions a plain open() would.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)
    try:
        yield tmp_path
        _fsync_file(tmp_path)
        os.replace(tmp_path, dest)
        _fsync_dir(dest.parent)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        _reraise_output(dest, exc)
        raise
    if od is not None:
        od.end_write(rel)  # type: ignore[arg-type]


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically and return the path."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def to_jsonable(obj: Any) -> Any:
    """Convert numpy scalars/arrays, paths and non-finite floats into plain JSON values.

    Non-finite floats become ``None`` (JSON has no NaN); callers that care check for it.
    """
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    return obj


def atomic_write_json(path: str | os.PathLike, obj: Any, indent: int = 2) -> Path:
    """Serialise ``obj`` (numpy values allowed) as JSON and write it atomically."""
    return atomic_write_text(path, json.dumps(to_jsonable(obj), indent=indent, sort_keys=False) + "\n")


def copy_output(src: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """Copy the file ``src`` to ``dest`` atomically (through :func:`atomic_path`)."""
    with atomic_path(dest) as tmp:
        shutil.copyfile(src, tmp)
    return Path(dest)
