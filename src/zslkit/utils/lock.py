"""One zslkit process per output directory: an advisory ``fcntl.flock`` on ``DIR/.zslkit.lock``.

Two commands writing one directory (two ``zslkit train --out R``, two grids on one ``--out``)
would each overwrite the other's files, and one result would be lost without a word. Every
command that owns an output directory therefore holds :class:`DirLock` on it while it runs; a
second process gets a :class:`zslkit.errors.LockedError` naming the holder's pid and command
line (recorded in the lock file by the holder).

``flock`` locks belong to the open file: the kernel releases them when the holder exits, however
it exits (``SIGKILL`` included), so a lock is never left stale; the lock file itself stays (removing
it would race with a process that has just opened it) and is hidden. Within one process the lock is
re-entrant (a demo holds its directory while the discovery it runs locks a sub-directory, or the
same one). Where ``fcntl`` does not exist (Windows) the lock is a no-op. Network filesystems
may not implement ``flock`` across machines: grids handed to a cluster (``run_grid(executor=...)``)
are locked by the submitting process only.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator

from zslkit.errors import LockedError

try:  # pragma: no cover - always present on Linux/macOS
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".zslkit.lock"

_held: dict[str, list[Any]] = {}  # resolved directory -> [open file, depth]
_guard = threading.Lock()


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return "another process (holder unknown)"
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.get("since", 0)))
    return f"pid {info.get('pid', '?')} ({info.get('command', '?')}, since {since})"


class DirLock:
    """``with DirLock(out): ...`` holds the exclusive lock of directory ``out`` (created if needed).

    Raises:
        LockedError: another process holds it; the message names its pid and command line.
        OutputError / OSError: the directory cannot be created or the lock file written.
    """

    def __init__(self, directory: str | os.PathLike, what: str = "output directory"):
        self.directory = Path(directory)
        self.what = what
        self._key: str | None = None

    def __enter__(self) -> "DirLock":
        from zslkit.utils.atomic import is_output_error, output_error

        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            if is_output_error(exc):
                raise output_error(self.directory, exc) from exc
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
                    entry[0].close()  # releases the flock


@contextlib.contextmanager
def locked_dir(directory: str | os.PathLike, what: str = "output directory", clean_temps: bool = True
               ) -> Iterator[Path]:
    """Hold :class:`DirLock` on ``directory`` and, once held, remove the stale temporary files of
    killed writers below it (:func:`zslkit.utils.atomic.remove_stale_temps`)."""
    from zslkit.utils.atomic import remove_stale_temps

    with DirLock(directory, what):
        if clean_temps:
            removed = remove_stale_temps(directory)
            if removed:
                import logging

                logging.getLogger(__name__).info("removed %d temporary file(s) of an interrupted run in %s",
                                                 len(removed), directory)
        yield Path(directory)
