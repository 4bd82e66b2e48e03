"""Thread counts that suit the machine as it is: the CPUs this process may use, and how busy they are.

torch and the BLAS libraries start one thread per core of the machine, whatever else runs on it,
and their threads spin while they wait for work. On a shared workstation or cluster node that
oversubscribes the cores and the spinning threads fight: measured in issue #14, a regressor fell
from 13,000 to 739 samples/s beside three busy processes on two cores (a fair share would be about
a quarter). zslkit therefore

* counts the CPUs the process may really use (:func:`available_cpus`: its CPU affinity and the
  cgroup CPU quota of a container or SLURM job, not ``os.cpu_count()``);
* by default (``threads="auto"``) leaves out the CPUs other processes keep busy (:func:`choose_threads`),
  keeping at least one: the busy count is the number of other tasks runnable right now
  (:func:`busy_elsewhere`, a few readings of ``/proc/stat``), falling back to the 1-minute load
  average where that is unavailable. The load average lags by about a minute both ways: just after
  another job ends it still reads 1-2 on an idle machine, which left zslkit on 1 of 2 idle cores
  (``benchmarks/results/default_paths.txt``), and just after busy jobs start it reads low;
* applies the count to torch and to every BLAS/OpenMP pool (:func:`configure_threads`, through
  threadpoolctl), and exports ``OMP_NUM_THREADS`` & co. for child processes;
* asks OpenMP to sleep rather than spin when idle (``OMP_WAIT_POLICY=PASSIVE``,
  :func:`prefer_passive_waiting`, effective when set before torch is first imported; the CLI does).

``zslkit --threads N`` (or ``auto``) sets it for any command.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)

__all__ = ["available_cpus", "busy_elsewhere", "choose_threads", "configure_threads", "prefer_passive_waiting",
           "torch_threads"]

_THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "BLIS_NUM_THREADS",
               "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")


def _cgroup_quota(root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """CPUs allowed by the cgroup quota (v2 ``cpu.max`` or v1 ``cpu.cfs_quota_us``), None if unlimited."""
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
        if quota != "max" and float(period) > 0:
            return float(quota) / float(period)
        return None
    except (OSError, ValueError):
        pass
    try:
        quota = float((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period = float((root / "cpu" / "cpu.cfs_period_us").read_text())
        return quota / period if quota > 0 and period > 0 else None
    except (OSError, ValueError):
        return None


def available_cpus(cgroup_root: str | os.PathLike = "/sys/fs/cgroup") -> int:
    """CPUs this process may run on: its affinity mask, capped by the cgroup CPU quota (at least 1)."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        n = os.cpu_count() or 1
    quota = _cgroup_quota(Path(cgroup_root))
    if quota is not None:
        n = min(n, max(1, math.floor(quota)))
    return max(1, n)


def _runnable_now(stat: Path) -> int | None:
    try:
        for line in stat.read_text().splitlines():
            if line.startswith("procs_running "):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def _own_runnable(task_dir: Path = Path("/proc/self/task")) -> int:
    """This process's runnable threads (state R), the reading one included (at least 1)."""
    n = 0
    try:
        for t in task_dir.iterdir():
            try:
                stat = (t / "stat").read_text()
            except OSError:  # the thread ended meanwhile
                continue
            if stat[stat.rindex(")") + 2:].startswith("R"):
                n += 1
    except (OSError, ValueError):
        return 1
    return max(1, n)


def busy_elsewhere(samples: int = 9, interval_s: float = 0.01,
                   stat_path: str | os.PathLike = "/proc/stat") -> float | None:
    """How many tasks of other processes are runnable now: the median over ``samples`` readings of
    ``procs_running`` in ``/proc/stat`` minus this process's own runnable threads (Linux; the count
    includes the reading thread, and BLAS pools started by importing numpy may still be spinning).
    None where the file is unreadable. A process spinning on CPU is runnable at every reading; one
    that has just finished is not, unlike in the load average. The median, not the mean: brief
    kernel work (e.g. writing back the previous run's files) is runnable at a few readings only, and
    a mean of 0.6 from it was enough to halve the threads on an idle 2-core machine."""
    import time

    stat = Path(stat_path)
    got = []
    for i in range(max(1, samples)):
        n = _runnable_now(stat)
        if n is None:
            return None
        got.append(max(0, n - _own_runnable()))
        if i + 1 < samples:
            time.sleep(interval_s)
    got.sort()
    mid = len(got) // 2
    return float(got[mid]) if len(got) % 2 else (got[mid - 1] + got[mid]) / 2.0


def choose_threads(threads: int | str | None = "auto", *, cpus: int | None = None,
                   load: float | None = None) -> int:
    """The thread count to use.

    Args:
        threads: a positive integer (used as given), or ``"auto"`` / None: the available CPUs minus
            those other processes keep busy, at least 1.
        cpus: available CPUs (default :func:`available_cpus`).
        load: how many cores other processes keep busy, shared out over ``os.cpu_count()`` cores to
            estimate how many of this process's CPUs are busy. Default: the tasks runnable elsewhere
            right now (:func:`busy_elsewhere`), or where that cannot be read the 1-minute load
            average (``os.getloadavg()[0]``).
    """
    from zslkit.errors import ConfigError

    if threads not in (None, "auto"):
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ConfigError(f"threads must be a positive integer or 'auto', got {threads!r}")
        return int(threads)
    cpus = available_cpus() if cpus is None else int(cpus)
    if cpus == 1:  # nothing to choose: skip the ~80 ms of runnable-task readings
        return 1
    if load is None:
        load = busy_elsewhere()
    if load is None:
        try:
            load = os.getloadavg()[0]
        except OSError:  # pragma: no cover - not available on every platform
            load = 0.0
    busy_share = min(1.0, max(0.0, load) / max(1, os.cpu_count() or cpus))
    return max(1, min(cpus, int(round(cpus * (1.0 - busy_share)))))


def prefer_passive_waiting() -> None:
    """Ask OpenMP (torch's CPU threads) to sleep when idle instead of spinning (unless the user chose)."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def configure_threads(threads: int | str | None = "auto") -> int:
    """Use :func:`choose_threads` threads for torch (if loaded or loadable) and every BLAS pool.

    Also exported as ``OMP_NUM_THREADS`` etc. so that worker processes inherit it. Returns the count.
    """
    n = choose_threads(threads)
    for var in _THREAD_ENV:
        os.environ[var] = str(n)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=n)  # applies now, process-wide (the returned handle may be dropped)
    except ImportError:  # pragma: no cover - a dependency
        pass
    import sys

    if "torch" in sys.modules:  # do not import torch just for this: numpy-only commands stay light
        torch = sys.modules["torch"]
        torch.set_num_threads(n)
    log.debug("using %d thread(s) (%d CPUs available)", n, available_cpus())
    return n


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """``with torch_threads(1): ...`` runs the block with ``torch.set_num_threads(n)``; None leaves it."""
    import torch

    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)
