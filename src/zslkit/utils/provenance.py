"""What produced a run: versions, commit, command, time, host, threads, CPU and data checksums.

:func:`provenance` returns a JSON-ready dict that every run directory records (``metrics.json``,
key ``provenance``), so that a number can be traced to the code, the libraries, the machine and
the exact data files it came from. Checksums (SHA-256) of large data files are cached per process
by (path, size, modification time), so a grid over one dataset hashes it once.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import platform
import socket
import subprocess
import sys
from pathlib import Path
from typing import Iterable

__all__ = ["cpu_description", "file_sha256", "git_commit", "provenance"]

_SHA_CACHE: dict[tuple[str, int, int], str] = {}


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 22) -> str:
    """SHA-256 of a file (hex), cached by (resolved path, size, mtime)."""
    p = Path(path).resolve()
    st = p.stat()
    key = (str(p), st.st_size, st.st_mtime_ns)
    if key not in _SHA_CACHE:
        h = hashlib.sha256()
        with open(p, "rb") as f:
            while block := f.read(chunk):
                h.update(block)
        _SHA_CACHE[key] = h.hexdigest()
    return _SHA_CACHE[key]


def git_commit() -> str | None:
    """The commit of the zslkit source tree (with ``-dirty`` for uncommitted changes), None outside git."""
    src = Path(__file__).resolve().parents[3]
    if not (src / ".git").exists():
        return None
    try:
        head = subprocess.run(["git", "-C", str(src), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(src), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("-dirty" if dirty else "")


def cpu_description() -> dict[str, object]:
    """CPU model and the vector instruction sets that change floating-point kernels (and so results)."""
    model, flags = platform.processor() or "unknown", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and model in ("unknown", "", platform.processor()):
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    return {"model": model, "logical_cpus": os.cpu_count(),
            "vector_isa": sorted(f for f in flags if f in ("avx", "avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16"))}


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("numpy", "scipy", "sklearn", "torch", "torchvision", "h5py"):
        mod = sys.modules.get(name)
        if mod is None:  # not used by this run: importing it only to report would slow light commands
            continue
        out[name] = str(getattr(mod, "__version__", "?"))
    return out


def _threads() -> dict[str, object]:
    info: dict[str, object] = {}
    if "torch" in sys.modules:
        info["torch"] = sys.modules["torch"].get_num_threads()
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = sorted({(p.get("internal_api"), p.get("num_threads")) for p in threadpool_info()})
    except Exception:  # noqa: BLE001 - optional information
        pass
    return info


#: files larger than this are recorded by size and modification time, not hashed (a 9 GB feature-map
#: file would take minutes)
HASH_LIMIT = 2 << 30


def provenance(data_files: Iterable[str | os.PathLike] = (), command: list[str] | None = None) -> dict[str, object]:
    """The provenance record of a run (see module docstring). ``data_files`` that exist are checksummed
    (those over :data:`HASH_LIMIT` bytes are recorded by size and modification time instead)."""
    from zslkit import __version__

    files: dict[str, str] = {}
    for f in data_files:
        p = Path(f)
        if p.is_file():
            st = p.stat()
            files[str(p.resolve())] = (file_sha256(p) if st.st_size <= HASH_LIMIT else
                                       f"not hashed ({st.st_size / 2**30:.1f} GiB; mtime {int(st.st_mtime)})")
    return {
        "zslkit_version": __version__,
        "git_commit": git_commit(),
        "versions": _versions(),
        "command": " ".join(command if command is not None else sys.argv) or None,
        "timestamp": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "cpu": cpu_description(),
        "threads": _threads(),
        "data_sha256": files,
    }
