"""No result lost (issue #15): full and read-only disks, killed writers, directory locks, run directories.

Full-disk and read-only cases run twice: on a real small tmpfs where this machine allows mounting
(root in a container that permits it), and always with the OSError injected at the write call.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import killed_writer_leftover, temp_leftovers
from zslkit.errors import ConfigError, LockedError, OutputError, ZSLKitError
from zslkit.utils.atomic import atomic_write_json, atomic_write_text, remove_stale_temps
from zslkit.utils.lock import DirLock, locked_dir

REPO = Path(__file__).resolve().parents[1]


def run_cli(*args, cwd=None):
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.run([sys.executable, "-m", "zslkit", "-q", *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=cwd)


def one_error_line(p) -> str:
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    assert "Traceback" not in p.stderr
    lines = [ln for ln in p.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, p.stderr
    return lines[0]


# --------------------------------------------------------------------------- atomic writes

@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EACCES])
def test_failed_write_keeps_the_previous_file_and_says_so(tmp_path, monkeypatch, code):
    dest = tmp_path / "metrics.json"
    atomic_write_json(dest, {"v": 1})
    real_open = open

    def failing_open(file, mode="r", *a, **kw):  # the write call fails half-way, as on a full disk
        fh = real_open(file, mode, *a, **kw)
        if "w" in mode and ".tmp-" in str(file):
            fh.write(b"{half")
            fh.close()
            raise OSError(code, os.strerror(code), str(file))
        return fh

    monkeypatch.setattr("builtins.open", failing_open)
    with pytest.raises(OutputError) as info:
        atomic_write_json(dest, {"v": 2})
    monkeypatch.undo()
    err = info.value
    assert isinstance(err, ZSLKitError) and isinstance(err, OSError) and err.errno == code
    assert str(dest) in str(err) and "unchanged" in str(err) and "no partial file" in str(err)
    assert json.loads(dest.read_text()) == {"v": 1} and temp_leftovers(tmp_path) == []
    assert pickle.loads(pickle.dumps(err)).errno == code  # crosses process boundaries (grid workers)
    assert "[Errno" not in str(err)


def test_failed_mat_write_is_an_output_error(tmp_path, monkeypatch):
    import numpy as np
    import scipy.io

    from zslkit.data.matfile import save_mat

    def full(path, *a, **kw):
        Path(path).write_bytes(b"MATLAB 5.0 half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(scipy.io, "savemat", full)
    with pytest.raises(OutputError, match="no space left on device.*Outputs stay complete"):
        save_mat(tmp_path / "att_splits.mat", {"att": np.ones((2, 2))})
    assert list(tmp_path.iterdir()) == []


def test_other_errors_inside_a_write_are_not_disguised(tmp_path):
    with pytest.raises(TypeError):
        atomic_write_json(tmp_path / "x.json", {"a": object()})
    assert temp_leftovers(tmp_path) == []


def test_stale_temps_of_killed_writers_are_recognised_and_only_they(tmp_path):
    (tmp_path / "sub").mkdir()
    left = [killed_writer_leftover(tmp_path / "metrics.json"), killed_writer_leftover(tmp_path / "sub" / "x.npz")]
    assert all(p.exists() for p in left)
    keep = [tmp_path / ".hidden", tmp_path / "a.tmp-12345678", tmp_path / ".x.tmp-short", tmp_path / "data.mat"]
    for p in keep:
        p.write_text("mine")
    assert sorted(remove_stale_temps(tmp_path)) == sorted(left)
    assert all(p.exists() for p in keep) and temp_leftovers(tmp_path) == sorted([tmp_path / "a.tmp-12345678",
                                                                                tmp_path / ".x.tmp-short"])


# --------------------------------------------------------------------------- directory locks

HOLD = """
import sys, time
sys.path.insert(0, {src!r})
from zslkit.utils.lock import DirLock
with DirLock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(120)
""".format(src=str(REPO / "src"))


@contextlib.contextmanager
def held_by_other_process(directory: Path):
    p = subprocess.Popen([sys.executable, "-c", HOLD, str(directory)], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "held"
        yield p
    finally:
        p.kill()
        p.wait()


def test_lock_names_the_holder_and_is_freed_when_it_is_killed(tmp_path):
    out = tmp_path / "run"
    with held_by_other_process(out) as holder:
        with pytest.raises(LockedError, match=rf"{out}: run directory is in use by pid {holder.pid} \(.*-c"):
            DirLock(out, "run directory").__enter__()
    with DirLock(out):  # SIGKILL of the holder released the flock: never a stale lock
        with DirLock(out / "."):  # re-entrant within a process (same directory, any spelling)
            pass
    assert (out / ".zslkit.lock").is_file()


def test_locked_dir_removes_leftovers_only_once_held(tmp_path):
    left = killed_writer_leftover(tmp_path / "d" / "config.yaml")
    with held_by_other_process(tmp_path / "d"):
        with pytest.raises(LockedError):
            with locked_dir(tmp_path / "d"):
                pass
        assert left.exists()  # not taken from a directory another process owns
    with locked_dir(tmp_path / "d"):
        assert not left.exists()


# --------------------------------------------------------------------------- run directories

@pytest.fixture
def tcfg(toy_dir):
    from zslkit.pipeline import TrainConfig

    def make(**kw):
        return TrainConfig(**{"data": str(toy_dir), "model": "eszsl", "grid": {"alpha": [1.0], "lam": [1.0]}, **kw})
    return make


def test_train_to_dir_resumes_refuses_or_overwrites(tcfg, tmp_path):
    from zslkit.pipeline import train_to_dir

    out = tmp_path / "run"
    d1, resumed = train_to_dir(tcfg(), out)
    assert not resumed
    stamp = (out / "metrics.json").stat().st_mtime_ns
    d2, resumed = train_to_dir(tcfg(progress=True), out)  # same run (progress bars do not change it)
    assert resumed and d2["zsl"] == d1["zsl"] and (out / "metrics.json").stat().st_mtime_ns == stamp
    with pytest.raises(ConfigError, match=r"another configuration \(seed: 0 there, 1 now\).*--overwrite"):
        train_to_dir(tcfg(seed=1), out)
    assert (out / "metrics.json").stat().st_mtime_ns == stamp  # the finished run is untouched
    (out / "analysis.json").write_text("{}")
    d3, resumed = train_to_dir(tcfg(seed=1), out, overwrite=True)
    assert not resumed and d3["seed"] == 1 and not (out / "analysis.json").exists()
    (out / "metrics.json").write_text("{damaged")
    with pytest.raises(ConfigError, match="cannot read"):
        train_to_dir(tcfg(seed=1), out)


def test_train_to_dir_sweeps_a_killed_runs_temp_files(tcfg, tmp_path):
    from zslkit.pipeline import train_to_dir

    left = [killed_writer_leftover(tmp_path / "run" / "predictions.npz"),
            killed_writer_leftover(tmp_path / "run" / "config.yaml")]
    train_to_dir(tcfg(), tmp_path / "run")
    assert not any(p.exists() for p in left) and temp_leftovers(tmp_path) == []


def test_train_on_a_directory_in_use_fails_naming_the_holder(tcfg, tmp_path):
    from zslkit.pipeline import train_to_dir

    with held_by_other_process(tmp_path / "run") as holder:
        with pytest.raises(LockedError, match=f"pid {holder.pid}"):
            train_to_dir(tcfg(), tmp_path / "run")
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_cli_train_overwrite_rules(toy_dir, tmp_path):
    from zslkit.cli import main

    base = ["-q", "train", "--data", str(toy_dir), "--out", str(tmp_path / "r"), "--param", "lam=1", "--no-tune"]
    r = CliRunner().invoke(main, base)
    assert r.exit_code == 0 and "wrote" in r.output
    r = CliRunner().invoke(main, base)
    assert r.exit_code == 0 and "already holds a finished run of this configuration" in r.output
    r = CliRunner().invoke(main, [*base, "--model", "sae"])
    assert r.exit_code == 2 and "another configuration (model: 'eszsl' there, 'sae' now" in r.output
    assert "--overwrite" in r.output
    r = CliRunner().invoke(main, [*base, "--model", "sae", "--overwrite"])
    assert r.exit_code == 0 and json.loads((tmp_path / "r" / "metrics.json").read_text())["model"] == "sae"


def test_cli_write_errors_are_one_line(toy_dir, tmp_path, monkeypatch):
    """The injected form of the read-only / full disk cases (always runs, root or not)."""
    import tempfile

    from zslkit.cli import main

    def read_only(*a, **kw):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    r = CliRunner().invoke(main, ["train", "--data", str(toy_dir), "--out", str(tmp_path / "r"), "--param", "alpha=1",
                                  "--param", "lam=1"])
    assert r.exit_code == 2 and "read-only file system" in r.output and "Outputs stay complete" in r.output
    assert r.output.count("error:") == 1
    monkeypatch.undo()

    def no_space(self, *a, **kw):
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    monkeypatch.setattr(Path, "mkdir", no_space)
    r = CliRunner().invoke(main, ["train", "--data", str(toy_dir), "--out", str(tmp_path / "r2")])
    assert r.exit_code == 2 and "no space left on device" in r.output and "r2" in r.output


# --------------------------------------------------------------------------- real filesystems

@contextlib.contextmanager
def tmpfs(where: Path, size: str, readonly: bool = False):
    where.mkdir(parents=True, exist_ok=True)
    try:
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True,
                           text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"cannot run mount here ({exc}); the injected-error tests above cover the error path")
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root / CAP_SYS_ADMIN: {r.stderr.strip()}); the "
                    "injected-error tests above cover the error path")
    try:
        if readonly:
            subprocess.run(["mount", "-o", "remount,ro", str(where)], check=True, capture_output=True, timeout=30)
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, timeout=30)


def test_read_only_filesystem_real(toy_dir, tmp_path):
    with tmpfs(tmp_path / "ro", "1m", readonly=True) as m:
        line = one_error_line(run_cli("train", "--data", toy_dir, "--out", m / "run"))
        assert "read-only file system" in line and str(m / "run") in line


def test_full_disk_real_keeps_outputs_complete(toy_dir, tmp_path):
    with tmpfs(tmp_path / "full", "64k") as m:
        line = one_error_line(run_cli("benchmark", "--data", toy_dir, "--semantic", "att", "--semantic", "word2vec",
                                      "--seeds", "2", "--out", m / "grid"))
        assert "no space left on device" in line and "Outputs stay complete" in line
        assert temp_leftovers(m) == []  # no partial file anywhere
        done = list((m / "grid" / "cells").glob("*/metrics.json"))
        for p in done:
            assert "zsl" in json.loads(p.read_text())  # every result that exists is complete
        assert len(done) < 4
