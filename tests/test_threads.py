"""Thread counts from the CPUs a process may use and how busy they are (issue #14)."""

from __future__ import annotations

import os

import pytest
import torch
from threadpoolctl import threadpool_info

from zslkit.errors import ConfigError
from zslkit.utils.threads import _cgroup_quota, available_cpus, choose_threads, configure_threads


def test_cgroup_quota_v2_and_v1(tmp_path):
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert _cgroup_quota(tmp_path) == 1.5
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert _cgroup_quota(tmp_path) is None
    v1 = tmp_path / "v1"
    (v1 / "cpu").mkdir(parents=True)
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("200000")
    (v1 / "cpu" / "cpu.cfs_period_us").write_text("100000")
    assert _cgroup_quota(v1) == 2.0
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("-1")
    assert _cgroup_quota(v1) is None
    assert _cgroup_quota(tmp_path / "absent") is None


def test_available_cpus_respects_affinity_and_quota(tmp_path):
    affinity = len(os.sched_getaffinity(0))
    assert available_cpus(tmp_path) == affinity  # no quota files: the affinity mask
    (tmp_path / "cpu.max").write_text("50000 100000\n")  # half a CPU: still one thread
    assert available_cpus(tmp_path) == 1


def test_choose_threads_leaves_busy_cpus_alone(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert choose_threads("auto", cpus=2, load=0.1) == 2  # a quiet machine: every CPU
    assert choose_threads("auto", cpus=2, load=1.0) == 1  # one core busy elsewhere
    assert choose_threads("auto", cpus=2, load=3.0) == 1  # three busy processes: at least one thread
    assert choose_threads(None, cpus=4, load=0.0) == 4
    assert choose_threads(3, cpus=2, load=5.0) == 3  # an explicit count is used as given
    for bad in (0, -1, 1.5, "many", True):
        with pytest.raises(ConfigError, match="threads"):
            choose_threads(bad)


def test_configure_threads_sets_torch_blas_and_the_environment(monkeypatch):
    before = torch.get_num_threads()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        monkeypatch.delenv(var, raising=False)
    try:
        assert configure_threads(1) == 1
        assert torch.get_num_threads() == 1
        assert os.environ["OMP_NUM_THREADS"] == "1" and os.environ["OPENBLAS_NUM_THREADS"] == "1"
        assert all(pool["num_threads"] == 1 for pool in threadpool_info())
    finally:
        torch.set_num_threads(before)


def test_busy_elsewhere_reads_runnable_tasks_and_auto_ignores_a_lagging_load_average(tmp_path, monkeypatch):
    """The 1-minute load average still reads ~1.4 just after another job ends, and low just after busy jobs
    start; the runnable-task count reads the machine as it is now: an idle 2-core machine gets 2 threads,
    one whose cores are busy (runnable tasks beside us) gets 1."""
    import zslkit.utils.threads as th

    monkeypatch.setattr(th, "_own_runnable", lambda: 1)  # this process: the reading thread only
    stat = tmp_path / "stat"
    stat.write_text("cpu  1 2 3\nprocs_running 1\nprocs_blocked 0\n")  # only the reader itself
    assert th.busy_elsewhere(samples=3, interval_s=0, stat_path=stat) == 0.0
    stat.write_text("procs_running 5\n")
    assert th.busy_elsewhere(samples=2, interval_s=0, stat_path=stat) == 4.0
    assert th.busy_elsewhere(stat_path=tmp_path / "missing") is None
    readings = iter([1, 3, 1, 1, 2])  # brief extra tasks at two of five readings: the median says idle
    monkeypatch.setattr(th, "_runnable_now", lambda _p: next(readings))
    assert th.busy_elsewhere(samples=5, interval_s=0, stat_path=stat) == 0.0
    monkeypatch.undo()
    monkeypatch.setattr(th.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(th.os, "getloadavg", lambda: (1.44, 1.0, 1.0))
    monkeypatch.setattr(th, "busy_elsewhere", lambda: 0.0)  # idle now, load average lagging
    assert th.choose_threads("auto", cpus=2) == 2
    monkeypatch.setattr(th, "busy_elsewhere", lambda: 6.0)  # three busy processes on 2 BLAS threads each
    assert th.choose_threads("auto", cpus=2) == 1
    monkeypatch.setattr(th.os, "getloadavg", lambda: (0.2, 0.2, 0.2))  # they just started: the count sees them
    assert th.choose_threads("auto", cpus=2) == 1
    monkeypatch.setattr(th, "busy_elsewhere", lambda: None)  # no /proc: the load average alone
    monkeypatch.setattr(th.os, "getloadavg", lambda: (1.0, 1.0, 1.0))
    assert th.choose_threads("auto", cpus=2) == 1


def test_own_runnable_threads_are_not_counted_as_other_processes(tmp_path):
    """numpy's BLAS threads may spin right after import; they are this process's, not a busy machine."""
    import threading

    from zslkit.utils.threads import _own_runnable

    assert _own_runnable() >= 1
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            pass

    spinner = threading.Thread(target=spin, daemon=True)
    spinner.start()
    try:
        assert max(_own_runnable() for _ in range(20)) >= 2  # the spinning thread is seen as ours
    finally:
        stop.set()
        spinner.join()
    fake = tmp_path / "task"
    for tid, state in ((1, "R"), (2, "S"), (3, "R")):
        (fake / str(tid)).mkdir(parents=True)
        (fake / str(tid) / "stat").write_text(f"{tid} (py thon) {state} 1 2 3\n")  # a name with a space
    assert _own_runnable(fake) == 2
