"""Atomic file writes: write to a temporary file in the same directory, fsync, rename.

A reader (or a process killed half-way) therefore sees either the previous complete file
or the new complete file, never a truncated one. ``os.replace`` is atomic on POSIX when the
source and destination are on the same filesystem, which is why the temporary file is
created beside the destination rather than in ``/tmp``.

A write that fails for lack of space or permission (``ENOSPC``, ``EROFS``, ``EACCES``, ...)
removes its temporary file and raises :class:`zslkit.errors.OutputError` naming the file and
saying that it is unchanged. A writer killed outright (``SIGKILL``, power loss) cannot remove
its temporary file: such leftovers are named ``.NAME.tmp-XXXXXXXX[SUFFIX]`` and
:func:`remove_stale_temps` deletes them; every command that owns an output directory calls it
(under the directory lock of :mod:`zslkit.utils.lock`, so that no live writer's file is taken).
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from zslkit.errors import OutputError

#: what ``mkstemp(prefix=".NAME.tmp-")`` names a temporary file: 8 random characters after the prefix
_TEMP_NAME = re.compile(r"^\..+\.tmp-[a-z0-9_]{8}(\.[A-Za-z0-9]+)?$")
#: errors of the filesystem rather than of the program: reported as OutputError
_OUTPUT_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT, errno.EFBIG, errno.EIO}


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


def remove_stale_temps(root: str | os.PathLike, recursive: bool = True) -> list[Path]:
    """Delete the temporary files that writers killed inside :func:`atomic_path` left under
    ``root`` (``.NAME.tmp-XXXXXXXX[SUFFIX]``); returns what was removed. Call it only while
    holding the directory's lock (:class:`zslkit.utils.lock.DirLock`): a live writer's
    temporary file has the same name."""
    root = Path(root)
    if not root.is_dir():
        return []
    removed = []
    it = os.walk(root) if recursive else [(str(root), [], os.listdir(root))]
    for dirpath, _dirs, files in it:
        for name in files:
            if name.startswith(".") and ".tmp-" in name and _TEMP_NAME.match(name):
                p = Path(dirpath) / name
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()
                    removed.append(p)
    return removed


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it onto ``path``.

    Use for writers that insist on opening the file themselves (scipy.io.savemat,
    h5py, matplotlib, torch.save). ``suffix`` defaults to the destination's suffix, since
    some writers (savemat, savefig) look at it.
    """
    dest = Path(path)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.tmp-", suffix=suffix if suffix is not None else dest.suffix,
                                   dir=dest.parent)
    except OSError as exc:
        if is_output_error(exc):
            raise output_error(dest, exc) from exc
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
        if is_output_error(exc):
            raise output_error(dest, exc) from exc  # type: ignore[arg-type]
        if isinstance(exc, OSError) and exc.errno is None and "No space left" in str(exc):
            # h5py / HDF5 report a full disk as a plain OSError without errno
            raise output_error(dest, OSError(errno.ENOSPC, "No space left on device")) from exc
        raise


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
