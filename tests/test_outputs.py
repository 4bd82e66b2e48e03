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
from zslkit.utils.outputs import DirLock, ForeignFileError, atomic_write_json, atomic_write_text, output_dir

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
    with output_dir(tmp_path / "out", "run") as od:
        od.mkdir("sub")
    left = [killed_writer_leftover(tmp_path / "out" / "metrics.json", tmp_path / "out"),
            killed_writer_leftover(tmp_path / "out" / "sub" / "x.npz", tmp_path / "out")]
    assert all(p.exists() for p in left)
    keep = [tmp_path / "out" / ".hidden", tmp_path / "out" / "a.tmp-12345678", tmp_path / "out" / ".x.tmp-short",
            tmp_path / "out" / "data.mat"]
    for p in keep:
        p.write_text("mine")
    with output_dir(tmp_path / "out", "run") as od:
        assert not any(p.exists() for p in left)
    assert all(p.exists() for p in keep)
    assert temp_leftovers(tmp_path) == sorted([tmp_path / "out" / "a.tmp-12345678", tmp_path / "out" / ".x.tmp-short"])


# --------------------------------------------------------------------------- directory locks

HOLD = """
import sys, time
sys.path.insert(0, {src!r})
from zslkit.utils.outputs import DirLock
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
        assert json.loads((out / ".zslkit.lock").read_text())["pid"] == os.getpid()  # held: names its holder
    assert (out / ".zslkit.lock").is_file() and (out / ".zslkit.lock").read_text() == ""  # let go: names nobody


def test_output_dir_removes_leftovers_only_once_held(tmp_path):
    left = killed_writer_leftover(tmp_path / "d" / "config.yaml")
    with held_by_other_process(tmp_path / "d"):
        with pytest.raises(LockedError):
            with output_dir(tmp_path / "d", "run"):
                pass
        assert left.exists()  # not taken from a directory another process owns
    with output_dir(tmp_path / "d", "run"):
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
    (out / "notes.json").write_text("{}")  # the user's own file in the run directory
    d3, resumed = train_to_dir(tcfg(seed=1), out, overwrite=True)
    assert not resumed and d3["seed"] == 1 and (out / "notes.json").read_text() == "{}"  # replaced only zslkit's
    (out / "metrics.json").write_text("{damaged")  # changed by another tool: no longer zslkit's to replace
    with pytest.raises(ForeignFileError, match="metrics.json: was changed after zslkit wrote it"):
        train_to_dir(tcfg(seed=2), out)
    with pytest.raises(ForeignFileError, match="metrics.json was changed after zslkit wrote it.*nothing was removed"):
        train_to_dir(tcfg(seed=2), out, overwrite=True)
    assert (out / "metrics.json").read_text() == "{damaged" and (out / "config.yaml").exists()


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


# --------------------------------------------------------------------------- files zslkit did not write (issue #20)

def _user_files(d: Path, names: dict[str, str]) -> dict[str, str]:
    d.mkdir(parents=True, exist_ok=True)
    for name, text in names.items():
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        (d / name).write_text(text)
    return {n: (d / n).read_text() for n in names}


def _unchanged(d: Path, before: dict[str, str]) -> bool:
    return all((d / n).read_text() == t for n, t in before.items())


@pytest.mark.parametrize("names", [{"config.yaml": "mine"}, {"curve.json": "[]"}, {"predictions.npz": "npz"},
                                   {"metrics.json": '{"zsl": {"T1": 1}, "gzsl": {}}'}])
def test_train_into_a_folder_of_the_users_is_refused_and_leaves_it_alone(toy_dir, tmp_path, names):
    from zslkit.cli import main

    out = tmp_path / "project"
    before = _user_files(out, {**names, "notes.txt": "n"})
    r = CliRunner().invoke(main, ["-q", "train", "--data", str(toy_dir), "--out", str(out), "--no-tune"])
    assert r.exit_code == 2 and r.output.count("error:") == 1, r.output
    assert "not empty and not written by zslkit" in r.output and next(iter(names)) in r.output
    r = CliRunner().invoke(main, ["-q", "train", "--data", str(toy_dir), "--out", str(out), "--no-tune",
                                  "--overwrite"])
    assert r.exit_code == 2 and "not written by zslkit" in r.output  # --overwrite never takes a folder of the user's
    assert _unchanged(out, before) and not (out / "run.log").exists()


def test_train_out_dot_in_a_project_is_refused(toy_dir, tmp_path):
    before = _user_files(tmp_path / "proj", {"README.md": "x", "config.yaml": "y"})
    p = run_cli("train", "--data", toy_dir, "--out", ".", "--no-tune", cwd=tmp_path / "proj")
    line = one_error_line(p)
    assert "not written by zslkit" in line and "config.yaml" in line and _unchanged(tmp_path / "proj", before)


def test_overwrite_keeps_what_the_user_put_into_a_runs_folders(toy_dir, tmp_path):
    from zslkit.cli import main

    out = tmp_path / "run"
    base = ["-q", "train", "--data", str(toy_dir), "--out", str(out), "--no-tune"]
    assert CliRunner().invoke(main, base).exit_code == 0
    from zslkit.report.analysis import analyze_run

    analyze_run(out)  # figures written into the run itself (the library's default; the CLI writes beside it)
    before = _user_files(out, {"figures/mine.png": "p", "checkpoints/keep.pt": "c", "notes.md": "n"})
    r = CliRunner().invoke(main, [*base, "--model", "sae"])
    assert r.exit_code == 2 and "--overwrite" in r.output
    r = CliRunner().invoke(main, [*base, "--model", "sae", "--overwrite"])
    assert r.exit_code == 0, r.output
    assert _unchanged(out, before) and json.loads((out / "metrics.json").read_text())["model"] == "sae"
    assert not (out / "figures" / "ausuc_curve.png").exists() and not (out / "analysis.json").exists()


def test_report_never_writes_over_a_run_or_dataset_file(toy_dir, tmp_path):
    from zslkit.cli import main

    run = tmp_path / "run"
    assert CliRunner().invoke(main, ["-q", "train", "--data", str(toy_dir), "--out", str(run), "--no-tune"]
                              ).exit_code == 0
    metrics = (run / "metrics.json").read_bytes()
    for target in (run / "metrics.json", toy_dir / "res101.mat", tmp_path / "report.txt"):
        r = CliRunner().invoke(main, ["-q", "report", str(run), "--out", str(target)])
        assert r.exit_code == 2 and "expected a .html file name" in r.output, r.output
    assert (run / "metrics.json").read_bytes() == metrics
    (tmp_path / "theirs.html").write_text("<p>theirs</p>")
    r = CliRunner().invoke(main, ["-q", "report", str(run), "--out", str(tmp_path / "theirs.html")])
    assert r.exit_code == 2 and "not written by zslkit" in r.output
    assert (tmp_path / "theirs.html").read_text() == "<p>theirs</p>"
    r = CliRunner().invoke(main, ["-q", "report", str(run), "--out", str(run)])  # a directory zslkit wrote
    assert r.exit_code == 0 and (run / "report.html").is_file()
    r = CliRunner().invoke(main, ["-q", "report", str(run), "--out", str(tmp_path / "r.html")])
    assert r.exit_code == 0 and CliRunner().invoke(main, ["-q", "report", str(run), "--out",
                                                          str(tmp_path / "r.html")]).exit_code == 0  # its own


def test_analyze_writes_where_asked(toy_dir, tmp_path):
    from zslkit.cli import main

    runs = []
    for seed in (0, 1):
        runs.append(tmp_path / f"run{seed}")
        assert CliRunner().invoke(main, ["-q", "train", "--data", str(toy_dir), "--out", str(runs[-1]), "--no-tune",
                                         "--seed", str(seed)]).exit_code == 0
    r = CliRunner().invoke(main, ["-q", "analyze", str(runs[0]), "--compare", str(runs[1]), "--out",
                                  str(tmp_path / "cmp")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "cmp" / "figures" / "ausuc_curve.png").is_file() and (tmp_path / "cmp" / "analysis.json").is_file()
    assert not (runs[0] / "figures").exists() and not (runs[0] / "analysis.json").exists()
    _user_files(tmp_path / "theirs", {"a.txt": "a"})
    r = CliRunner().invoke(main, ["-q", "analyze", str(runs[0]), "--out", str(tmp_path / "theirs")])
    assert r.exit_code == 2 and "not written by zslkit" in r.output


def test_benchmark_and_demo_refuse_a_folder_with_the_users_results(toy_dir, tmp_path):
    from zslkit.cli import main

    grid = tmp_path / "grid"
    before = _user_files(grid, {"results.csv": "mine", "results.md": "mine"})
    r = CliRunner().invoke(main, ["-q", "benchmark", "--data", str(toy_dir), "--seeds", "1", "--out", str(grid)])
    assert r.exit_code == 2 and "not written by zslkit" in r.output and _unchanged(grid, before)
    demo = tmp_path / "demo"
    before = _user_files(demo, {"report.html": "mine", "metrics.json": "{}"})
    r = CliRunner().invoke(main, ["-q", "demo", "--small", "--out", str(demo)])
    assert r.exit_code == 2 and "not written by zslkit" in r.output and _unchanged(demo, before)
    assert sorted(os.listdir(demo)) == [".zslkit.lock", "metrics.json", "report.html"]


def test_data_build_refuses_a_copy_of_a_published_dataset(toy_dir, tmp_path):
    """A folder holding res101.mat, att_splits.mat and class lists (no BUILD.json) is the user's, not an
    interrupted build: nothing in it is replaced or deleted."""
    import shutil

    from zslkit.cli import main

    copy = tmp_path / "AWA2"
    shutil.copytree(toy_dir, copy)
    for f in [*copy.glob(".zslkit*"), copy / "SURROGATE.json"]:
        f.unlink()  # a dataset downloaded by the user carries no zslkit manifest
    (copy / "trainclasses3.txt").write_text("a\n")
    (copy / "valclasses3.txt").write_text("b\n")
    before = {p.name: p.read_bytes() for p in copy.iterdir()}
    from PIL import Image

    images = tmp_path / "images"
    for c in ("a", "b", "c"):
        (images / c).mkdir(parents=True)
        for i in range(2):
            Image.new("RGB", (8, 8), (40 * i, 90, 20)).save(images / c / f"{i}.png")
    (tmp_path / "classes.txt").write_text("a\nb\nc\n")
    (tmp_path / "unseen.txt").write_text("c\n")
    (tmp_path / "att.csv").write_text("a,x,1\nb,x,0\nc,x,1\n")
    r = CliRunner().invoke(main, ["-q", "data", "build", "--images", str(images), "--classes",
                                  str(tmp_path / "classes.txt"), "--unseen", str(tmp_path / "unseen.txt"),
                                  "--attributes", str(tmp_path / "att.csv"), "--backbone", "tiny", "--out", str(copy),
                                  "--val-folds", "0"])
    assert r.exit_code == 2 and "not written by zslkit" in r.output, r.output
    assert {p.name: p.read_bytes() for p in copy.iterdir() if p.name != ".zslkit.lock"} == before


def test_benchmark_one_failing_cell_does_not_stop_the_others_and_a_rerun_retries_only_it(toy_dir, tmp_path):
    import csv
    import shutil

    from zslkit.cli import main

    bad = tmp_path / "bad"
    shutil.copytree(toy_dir, bad)
    for f in bad.glob(".zslkit*"):
        f.unlink()
    good_res101 = (bad / "res101.mat").read_bytes()
    (bad / "res101.mat").write_bytes(b"not a mat file")
    args = ["-q", "benchmark", "--data", str(toy_dir), "--data", str(bad), "--seeds", "1",
            "--model", "eszsl(alpha=1, lam=1)", "--out", str(tmp_path / "grid")]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2 and r.output.count("error:") == 1, r.output
    assert "1 of 2 grid cells failed: bad-" in r.output and "rerun the same command to retry only the failed" in r.output
    rows = list(csv.DictReader(open(tmp_path / "grid" / "results.csv")))
    assert [row["status"] for row in rows] == ["ok", "failed"] and "res101.mat" in rows[1]["error"]
    assert "failed cell" in (tmp_path / "grid" / "results.md").read_text()
    (bad / "res101.mat").write_bytes(good_res101)
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0 and "1 cells run, 1 already done" in r.output, r.output


def test_benchmark_wrong_type_parameters_fail_before_any_cell(toy_dir, tmp_path):
    from zslkit.cli import main

    r = CliRunner().invoke(main, ["-q", "benchmark", "--data", str(toy_dir), "--model", "eszsl",
                                  "--model", "sae(lam=abc)", "--out", str(tmp_path / "grid")])
    assert r.exit_code == 2 and "'lam' = 'abc'" in r.output, r.output
    assert not (tmp_path / "grid").exists()
