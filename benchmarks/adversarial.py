"""Adversarial driver for issue #15 (hardening round 2): bad inputs, kills, concurrent runs, full and
read-only disks, run through the real CLI in fresh subprocesses.

Every case builds its inputs in a scratch folder, runs ``python -m zslkit ...`` with
``PYTHONPATH=<src>`` and judges the outcome:

* ``ok``: the expected behaviour (a bad input: exit status 2, one ``error:`` line, no traceback, the
  message naming what the case checks for; a valid input: exit 0 and complete outputs);
* ``traceback``: a Python traceback (or an exit status other than 0/2) instead of one error line;
* ``accepted``: a bad input accepted with exit status 0;
* ``lost``: a result silently overwritten or missing;
* ``message``: an error line that does not name the file/field/value the case checks for;
* ``leftover`` / ``orphan`` / ``resource``: temporary files left after a rerun, worker processes
  surviving their parent, memory beyond the bound;
* ``foreign``: a file zslkit did not write (the user's, in or around an output directory) replaced
  or deleted (issue #20).

The cases are the classes of issue #15 (a compact corpus written from its list, not the
reporter's corpus). Data are tiny SURROGATE / synthetic datasets generated on the spot.

    python benchmarks/adversarial.py                       # this checkout's src/
    python benchmarks/adversarial.py --src OTHER/src --tag before   # e.g. an older checkout
    python benchmarks/adversarial.py --quick               # skip the two slow kill-and-rerun demo cases
    python benchmarks/adversarial.py -k r3: --tag r3       # only round 3's cases (names "r3: ..."), saved as _r3

Writes benchmarks/results/adversarial[_TAG].{txt,json}. Read-only and full-disk cases need
``mount -t tmpfs`` (root); without it they are reported as skipped.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
sys.path.insert(0, str(REPO / "src"))  # input builders use this checkout's writers

CASES: list["Case"] = []


@dataclass
class Case:
    cls: str
    name: str
    fn: Callable
    slow: bool = False


@dataclass
class Outcome:
    status: str  # ok | traceback | accepted | lost | message | leftover | orphan | resource | skipped
    detail: str = ""
    seconds: float = 0.0


def case(cls: str, name: str, slow: bool = False):
    def deco(fn):
        CASES.append(Case(cls, name, fn, slow))
        return fn
    return deco


@dataclass
class Ctx:
    src: Path
    root: Path
    work: Path = field(default=Path("."))
    counter: int = 0

    def fresh(self) -> Path:
        self.counter += 1
        self.work = self.root / f"case{self.counter:03d}"
        self.work.mkdir(parents=True)
        return self.work

    def env(self) -> dict:
        return {**os.environ, "PYTHONPATH": str(self.src), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                "OPENBLAS_NUM_THREADS": "1"}

    def cmd(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "zslkit", "-q", *map(str, args)]

    def cli(self, *args, timeout: float = 300, env: dict | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(self.cmd(*args), capture_output=True, text=True, env={**self.env(), **(env or {})},
                              timeout=timeout, cwd=self.work)

    def popen(self, *args) -> subprocess.Popen:
        return subprocess.Popen(self.cmd(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=self.env(), cwd=self.work)


# --------------------------------------------------------------------------- judges

def tail(p) -> str:
    text = (p.stderr or "").strip().splitlines()
    return text[-1][:300] if text else ""


def expect_error(p, *needles: str) -> Outcome:
    """Exit 2, an ``error:`` line, no traceback, and every needle (case-insensitive) in stderr."""
    err = p.stderr or ""
    if "Traceback" in err or p.returncode not in (0, 2):
        m = re.findall(r"^(\w+(?:Error|Exception|Warning)\b.*)$", err, flags=re.M)
        return Outcome("traceback", (m[-1] if m else tail(p))[:300])
    if p.returncode == 0:
        return Outcome("accepted", "exit 0; " + (p.stdout.strip().splitlines() or [""])[-1][:200])
    missing = [n for n in needles if n.lower() not in err.lower()]
    if "error:" not in err or missing:
        return Outcome("message", f"missing {missing} in: {tail(p)}")
    return Outcome("ok", tail(p))


def expect_success(p, *needles: str) -> Outcome:
    if p.returncode != 0:
        return Outcome("traceback" if "Traceback" in (p.stderr or "") else "message", tail(p))
    out = (p.stdout or "") + (p.stderr or "")
    missing = [n for n in needles if n.lower() not in out.lower()]
    if missing:
        return Outcome("message", f"exit 0 but missing {missing}")
    return Outcome("ok", (p.stdout.strip().splitlines() or [""])[-1][:200])


# --------------------------------------------------------------------------- inputs

def toy_dataset(out: Path, seed: int = 0, classes: int = 12, unseen: int = 3, dim: int = 32) -> Path:
    """A tiny SURROGATE xlsa17 directory (no class lists: validation uses seeded partitions)."""
    from zslkit.data.surrogate import SurrogateConfig, make_surrogate, make_toy_att_splits

    src = make_toy_att_splits(out.parent / f".src-{out.name}-{seed}" / "att_splits.mat", num_classes=classes,
                              num_unseen=unseen, num_attributes=16, images_per_class=20, seed=seed)
    return make_surrogate(src, out, seed=seed, config=SurrogateConfig(feature_dim=dim))


def edit_splits(data: Path, **changes) -> None:
    """Rewrite att_splits.mat of ``data`` with some ``*_loc`` fields changed (0-based arrays)."""
    from zslkit.data.matfile import load_mat, save_mat

    p = data / "att_splits.mat"
    m = load_mat(p)
    for k, v in changes.items():
        m[f"{k}_loc"] = (np.asarray(v, dtype=np.int64).reshape(-1, 1) + 1).astype(np.float64)
    save_mat(p, m)


def locs(data: Path) -> dict:
    from zslkit.data.xlsa17 import read_att_splits

    return read_att_splits(data / "att_splits.mat").locs


def image_world(root: Path, n_classes: int = 5, per_class: int = 4, bom: bool = False) -> dict:
    """One folder of small PNGs per class, class lists and a long-format attribute table."""
    from PIL import Image

    rng = np.random.default_rng(0)
    names = [f"class{i}" for i in range(n_classes)]
    for i, n in enumerate(names):
        (root / "images" / n).mkdir(parents=True)
        for j in range(per_class):
            arr = (rng.random((16, 16, 3)) * 255).astype(np.uint8)
            arr[..., i % 3] = 200
            Image.fromarray(arr).save(root / "images" / n / f"{j}.png")
    (root / "classes.txt").write_bytes(("\ufeff" if bom else "").encode() + "".join(f"{n}\n" for n in names).encode())
    (root / "unseen.txt").write_text("".join(f"{n}\n" for n in names[-2:]))
    rows = ["class,attribute,value"] + [f"{n},a{k},{rng.random():.3f}" for n in names for k in range(4)]
    (root / "attributes.csv").write_text("\n".join(rows) + "\n")
    return {"images": root / "images", "classes": root / "classes.txt", "unseen": root / "unseen.txt",
            "attributes": root / "attributes.csv"}


def build_args(w: dict, out: Path, *extra) -> list:
    return ["data", "build", "--images", w["images"], "--classes", w["classes"], "--unseen", w["unseen"],
            "--attributes", w["attributes"], "--backbone", "tiny", "--image-size", "16", "--val-folds", "0",
            "--out", out, *extra]


def write_yaml(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@contextlib.contextmanager
def tmpfs(where: Path, size: str, readonly: bool = False):
    """A small tmpfs mounted at ``where`` (root only); yields None when mounting is impossible."""
    where.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True)
    if r.returncode != 0:
        yield None
        return
    try:
        if readonly:
            subprocess.run(["mount", "-o", "remount,ro", str(where)], check=True, capture_output=True)
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def stale_temps(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob(".*.tmp-*"))


def plant_temps(root: Path) -> int:
    """Leave what a writer SIGKILLed inside ``atomic_path`` leaves: ``.NAME.tmp-XXXXXXXX`` beside
    files in every folder that has files."""
    n = 0
    for d in sorted({p.parent for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")}):
        fd, _ = tempfile.mkstemp(prefix=".results.json.tmp-", suffix=".json", dir=d)
        os.write(fd, b"{partial")
        os.close(fd)
        n += 1
    return n


def children_of(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (from /proc)."""
    parents = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = (d / "stat").read_text()
                parents[int(d.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    out, frontier = [], [pid]
    while frontier:
        p = frontier.pop()
        kids = [c for c, pp in parents.items() if pp == p]
        out += kids
        frontier += kids
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


# --------------------------------------------------------------------------- 1. results silently lost

@case("lost", "benchmark: two datasets whose folders share a name (a/tiny, b/tiny)")
def _(c: Ctx):
    w = c.fresh()
    a, b = toy_dataset(w / "a" / "tiny", seed=0), toy_dataset(w / "b" / "tiny", seed=1)
    p = c.cli("benchmark", "--data", a, "--data", b, "--model", "eszsl", "--seeds", "1", "--out", w / "grid")
    if p.returncode != 0:
        return expect_success(p)
    import csv

    rows = list(csv.DictReader(open(w / "grid" / "results.csv")))
    cells = {r["cell"] for r in rows}
    dirs = [d for d in (w / "grid" / "cells").iterdir() if d.is_dir()]
    md = (w / "grid" / "results.md").read_text()
    if len(rows) != 2 or len(cells) != 2 or len(dirs) != 2 or "| 2 |" in md:
        return Outcome("lost", f"{len(rows)} rows, {len(cells)} distinct cells, {len(dirs)} cell dirs")
    return Outcome("ok", f"cells {sorted(cells)}")


@case("lost", "benchmark: two semantic files with the same stem (a/emb.npy, b/emb.npy)")
def _(c: Ctx):
    w = c.fresh()
    d = toy_dataset(w / "tiny")
    rng = np.random.default_rng(0)
    for sub in ("a", "b"):
        (w / sub).mkdir()
        np.save(w / sub / "emb.npy", rng.random((12, 8)))
    p = c.cli("benchmark", "--data", d, "--semantic", w / "a" / "emb.npy", "--semantic", w / "b" / "emb.npy",
              "--model", "eszsl", "--seeds", "1", "--out", w / "grid")
    if p.returncode != 0:
        return expect_success(p)
    import csv

    rows = list(csv.DictReader(open(w / "grid" / "results.csv")))
    cells = {r["cell"] for r in rows}
    if len(rows) != 2 or len(cells) != 2 or len({r["T1"] for r in rows}) != 2:
        return Outcome("lost", f"{len(rows)} rows, {len(cells)} distinct cells, T1 {[r['T1'] for r in rows]}")
    return Outcome("ok", f"cells {sorted(cells)}")


@case("lost", "train --out DIR over a finished run with another config (no --overwrite)")
def _(c: Ctx):
    w = c.fresh()
    d = toy_dataset(w / "tiny")
    p1 = c.cli("train", "--data", d, "--model", "eszsl", "--out", w / "run")
    before = (w / "run" / "metrics.json").read_bytes() if p1.returncode == 0 else b""
    p2 = c.cli("train", "--data", d, "--model", "sae", "--out", w / "run")
    o = expect_error(p2, "--overwrite")
    if o.status == "accepted":
        same = (w / "run" / "metrics.json").read_bytes() == before
        return Outcome("lost", "finished eszsl run replaced by sae without --overwrite" if not same else o.detail)
    if (w / "run" / "metrics.json").read_bytes() != before:
        return Outcome("lost", "metrics.json changed although the command failed")
    return o


@case("lost", "train --out DIR rerun with the same config resumes (no recompute, exit 0)")
def _(c: Ctx):
    w = c.fresh()
    d = toy_dataset(w / "tiny")
    c.cli("train", "--data", d, "--model", "eszsl", "--out", w / "run")
    t = (w / "run" / "metrics.json").stat().st_mtime_ns
    p = c.cli("train", "--data", d, "--model", "eszsl", "--out", w / "run")
    o = expect_success(p, "T1")
    if o.status == "ok" and (w / "run" / "metrics.json").stat().st_mtime_ns != t:
        return Outcome("lost", "the finished run was recomputed and rewritten")
    return o


@case("lost", "train --overwrite replaces a finished run")
def _(c: Ctx):
    w = c.fresh()
    d = toy_dataset(w / "tiny")
    c.cli("train", "--data", d, "--model", "eszsl", "--out", w / "run")
    p = c.cli("train", "--data", d, "--model", "sae", "--out", w / "run", "--overwrite")
    o = expect_success(p)
    if o.status == "ok" and json.loads((w / "run" / "metrics.json").read_text())["model"] != "sae":
        return Outcome("lost", "--overwrite did not replace the run")
    return o


def _concurrent(c: Ctx, argsets: list[list]) -> tuple[list[subprocess.Popen], list[tuple[str, str]]]:
    procs = [c.popen(*a) for a in argsets]
    outs = [p.communicate(timeout=300) for p in procs]
    return procs, outs


@case("lost", "two train processes on one --out at once (different models)")
def _(c: Ctx):
    w = c.fresh()
    d = toy_dataset(w / "tiny")
    base = ["train", "--data", d, "--out", w / "run", "--model"]
    procs, outs = _concurrent(c, [base + ["regressor(epochs=40)"], base + ["regressor(epochs=41)"]])
    rcs = [p.returncode for p in procs]
    if any("Traceback" in e for _, e in outs):
        return Outcome("traceback", [e for _, e in outs if "Traceback" in e][0].strip().splitlines()[-1])
    if sorted(rcs) != [0, 2]:
        return Outcome("lost", f"exit codes {rcs}: both ran unguarded on one directory")
    loser = outs[rcs.index(2)][1]
    if "pid" not in loser.lower() and "--overwrite" not in loser:
        return Outcome("message", loser.strip()[-200:])
    return Outcome("ok", loser.strip().splitlines()[-1][:200])


@case("lost", "two benchmark processes on one --out at once (different models)")
def _(c: Ctx):
    w = c.fresh()
    d = toy_dataset(w / "tiny")
    base = ["benchmark", "--data", d, "--seeds", "2", "--out", w / "grid", "--model"]
    procs, outs = _concurrent(c, [base + ["eszsl"], base + ["sae"]])
    rcs = [p.returncode for p in procs]
    if any("Traceback" in e for _, e in outs):
        return Outcome("traceback", [e for _, e in outs if "Traceback" in e][0].strip().splitlines()[-1])
    if sorted(rcs) != [0, 2]:
        import csv

        rows = list(csv.DictReader(open(w / "grid" / "results.csv"))) if (w / "grid" / "results.csv").exists() else []
        return Outcome("lost", f"exit codes {rcs}; results.csv holds {len(rows)} of the 4 cells run")
    loser = outs[rcs.index(2)][1]
    return Outcome("ok", loser.strip().splitlines()[-1][:200]) if "pid" in loser.lower() else Outcome(
        "message", loser.strip()[-200:])


@case("lost", "two data build processes on one --out at once")
def _(c: Ctx):
    w = c.fresh()
    iw = image_world(w, per_class=12)
    procs, outs = _concurrent(c, [build_args(iw, w / "out"), build_args(iw, w / "out", "--seed", "1")])
    rcs = [p.returncode for p in procs]
    if any("Traceback" in e for _, e in outs):
        return Outcome("traceback", [e for _, e in outs if "Traceback" in e][0].strip().splitlines()[-1])
    if sorted(rcs) != [0, 2]:
        return Outcome("lost", f"exit codes {rcs}: both builds wrote one directory")
    loser = outs[rcs.index(2)][1]
    ok = "pid" in loser.lower() or "--overwrite" in loser
    return Outcome("ok" if ok else "message", loser.strip().splitlines()[-1][:200])


@case("lost", "benchmark over a grid holding a cell under an old id (name__semantic__model__seedN): kept")
def _(c: Ctx):
    """Since issue #20 a cell folder the grid's manifest does not list is not zslkit's to reuse or replace: the
    cell is recomputed under its current id and the old folder is left as it was (before #20 it was adopted)."""
    w = c.fresh()
    d = toy_dataset(w / "tiny")
    p = c.cli("benchmark", "--data", d, "--model", "eszsl", "--seeds", "1", "--out", w / "grid")
    if p.returncode != 0:
        return expect_success(p)
    cells = list((w / "grid" / "cells").iterdir())
    old = w / "grid" / "cells" / "tiny__att__eszsl__seed0"
    if cells[0] != old:
        cells[0].rename(old)  # as an older zslkit named it
    t = (old / "metrics.json").stat().st_mtime_ns
    p = c.cli("benchmark", "--data", d, "--model", "eszsl", "--seeds", "1", "--out", w / "grid")
    o = expect_success(p)
    if o.status != "ok":
        return o
    if not (old / "metrics.json").is_file() or (old / "metrics.json").stat().st_mtime_ns != t:
        return Outcome("lost", "the folder under the old id was changed or deleted")
    done = [m for m in (w / "grid" / "cells").rglob("metrics.json") if m.parent != old]
    if len(done) != 1:
        return Outcome("lost", f"{len(done)} cells under the current id after the rerun (expected 1)")
    return Outcome("ok", "old folder kept untouched; the cell recomputed under its current id")


# --------------------------------------------------------------------------- 2. tracebacks

@case("traceback", "--semantic: an .npz archive saved as .npy")
def _(c: Ctx):
    w = c.fresh()
    d = toy_dataset(w / "tiny")
    np.savez(w / "emb.npz", a=np.ones((12, 4)))
    shutil.move(w / "emb.npz", w / "emb.npy")
    return expect_error(c.cli("train", "--data", d, "--semantic", w / "emb.npy", "--out", w / "r"), "emb.npy")


@case("traceback", "--semantic: an .npy header declaring 30 TiB")
def _(c: Ctx):
    w = c.fresh()
    d = toy_dataset(w / "tiny")
    with open(w / "big.npy", "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, {"descr": "<f8", "fortran_order": False,
                                                  "shape": (12, 2 ** 42 // 12 * 30 // 8)})
        fh.write(b"\0" * 64)
    return expect_error(c.cli("train", "--data", d, "--semantic", w / "big.npy", "--out", w / "r"), "big.npy")


@case("traceback", "--semantic: a CSV field over 128 KiB")
def _(c: Ctx):
    w = c.fresh()
    d = toy_dataset(w / "tiny")
    rows = [f"class{i}," + ",".join(["0.5"] * 4) for i in range(12)]
    rows[3] = "x" * 200_000 + ",1,2,3,4"
    (w / "emb.csv").write_text("\n".join(rows))
    return expect_error(c.cli("train", "--data", d, "--semantic", w / "emb.csv", "--out", w / "r"), "emb.csv")


@case("traceback", "data build --attributes: a CSV field over 128 KiB")
def _(c: Ctx):
    w = c.fresh()
    iw = image_world(w)
    iw["attributes"].write_text("class,attribute,value\nclass0,a0," + "9" * 200_000 + "\n")
    return expect_error(c.cli(*build_args(iw, w / "out")), "attributes.csv")


@case("traceback", "train --seed -1")
def _(c: Ctx):
    w = c.fresh()
    return expect_error(c.cli("train", "--data", toy_dataset(w / "tiny"), "--seed", "-1", "--out", w / "r"), "seed")


@case("traceback", "train --val-fold -1")
def _(c: Ctx):
    w = c.fresh()
    return expect_error(c.cli("train", "--data", toy_dataset(w / "tiny"), "--val-fold", "-1", "--out", w / "r"),
                        "fold")


@case("traceback", "data synth --seed -1")
def _(c: Ctx):
    w = c.fresh()
    from zslkit.data.surrogate import make_toy_att_splits

    src = make_toy_att_splits(w / "src" / "att_splits.mat", num_classes=12, num_unseen=3, images_per_class=20)
    return expect_error(c.cli("data", "synth", "--att-splits", src, "--out", w / "o", "--seed", "-1"), "seed")


@case("traceback", "YAML grid: seeds: [-1]")
def _(c: Ctx):
    w = c.fresh()
    d = toy_dataset(w / "tiny")
    y = write_yaml(w / "g.yaml", f"kind: grid\ndata: [{d}]\nseeds: [-1]\nout: {w / 'g'}\n")
    return expect_error(c.cli("run", y), "seed")


@case("traceback", "--param lam=abc (non-numeric)")
def _(c: Ctx):
    w = c.fresh()
    return expect_error(c.cli("train", "--data", toy_dataset(w / "tiny"), "--param", "lam=abc", "--out", w / "r"),
                        "lam", "abc")


@case("traceback", "model spec eszsl(alpha=[1, 2]) (a list for a float)")
def _(c: Ctx):
    w = c.fresh()
    return expect_error(c.cli("train", "--data", toy_dataset(w / "tiny"), "--model", "eszsl(alpha=x)", "--out",
                              w / "r"), "alpha")


@case("traceback", "YAML train config: params: {lam: abc}")
def _(c: Ctx):
    w = c.fresh()
    d = toy_dataset(w / "tiny")
    y = write_yaml(w / "t.yaml", f"kind: train\ndata: {d}\nmodel: eszsl\nparams: {{lam: abc}}\n")
    return expect_error(c.cli("run", y, "--out", w / "r"), "lam")


@case("traceback", "YAML grid config: params: {eszsl: {lam: abc}}")
def _(c: Ctx):
    w = c.fresh()
    d = toy_dataset(w / "tiny")
    y = write_yaml(w / "g.yaml", f"kind: grid\ndata: [{d}]\nparams: {{eszsl: {{lam: abc}}}}\nout: {w / 'g'}\n")
    return expect_error(c.cli("run", y), "lam")


@case("traceback", "YAML grid values: grid: {lam: [abc, 1]}")
def _(c: Ctx):
    w = c.fresh()
    d = toy_dataset(w / "tiny")
    y = write_yaml(w / "t.yaml", f"kind: train\ndata: {d}\nmodel: eszsl\ngrid: {{lam: [abc, 1]}}\n")
    return expect_error(c.cli("run", y, "--out", w / "r"), "lam")


@case("traceback", "YAML: an empty grid list (grid: {lam: []})")
def _(c: Ctx):
    w = c.fresh()
    d = toy_dataset(w / "tiny")
    y = write_yaml(w / "t.yaml", f"kind: train\ndata: {d}\nmodel: eszsl\ngrid: {{lam: []}}\n")
    return expect_error(c.cli("run", y, "--out", w / "r"), "lam")


@case("traceback", "YAML nested 3000 deep")
def _(c: Ctx):
    w = c.fresh()
    y = write_yaml(w / "deep.yaml", "kind: train\ndata: x\nparams: " + "[" * 3000 + "]" * 3000 + "\n")
    return expect_error(c.cli("run", y), "deep.yaml")


@case("traceback", "demo YAML: unknown key under discovery:")
def _(c: Ctx):
    w = c.fresh()
    y = write_yaml(w / "demo.yaml", "kind: demo\nsmall: true\ndiscovery: {no_such_setting: 3}\n")
    return expect_error(c.cli("run", y, "--out", w / "d"), "no_such_setting")


@case("traceback", "demo YAML: a wrong type under discovery: (epochs: many)")
def _(c: Ctx):
    w = c.fresh()
    y = write_yaml(w / "demo.yaml", "kind: demo\nsmall: true\ndiscovery: {epochs: many}\n")
    return expect_error(c.cli("run", y, "--out", w / "d"), "epochs")


@case("traceback", "--param with unparsable YAML (lam=[1,)")
def _(c: Ctx):
    w = c.fresh()
    return expect_error(c.cli("train", "--data", toy_dataset(w / "tiny"), "--param", "lam=[1,", "--out", w / "r"),
                        "lam")


@case("traceback", "--param with a !!python/object tag")
def _(c: Ctx):
    w = c.fresh()
    return expect_error(c.cli("train", "--data", toy_dataset(w / "tiny"), "--param",
                              "lam=!!python/object/apply:os.system ['true']", "--out", w / "r"), "lam")


@case("traceback", "vgse discover --param with unparsable YAML")
def _(c: Ctx):
    w = c.fresh()
    for n in ("i", "c", "u", "v"):
        (w / n).touch()
    return expect_error(c.cli("vgse", "discover", "--images", w / "i", "--classes", w / "c", "--unseen", w / "u",
                              "--word-vectors", w / "v", "--out", w / "o", "--param", "lr={"), "lr")


@case("traceback", "train --out on a read-only filesystem (EROFS)")
def _(c: Ctx):
    w = c.fresh()
    d = toy_dataset(w / "tiny")
    with tmpfs(w / "ro", "1m", readonly=True) as m:
        if m is None:
            return Outcome("skipped", "mount -t tmpfs not permitted here")
        return expect_error(c.cli("train", "--data", d, "--out", m / "run"), "read-only")


@case("traceback", "benchmark --out on a full disk (ENOSPC): error says outputs stay complete")
def _(c: Ctx):
    w = c.fresh()
    d = toy_dataset(w / "tiny", classes=40, unseen=10, dim=64)
    with tmpfs(w / "full", "48k") as m:
        if m is None:
            return Outcome("skipped", "mount -t tmpfs not permitted here")
        p = c.cli("benchmark", "--data", d, "--model", "eszsl", "--seeds", "3", "--out", m / "grid")
        o = expect_error(p, "no space")
        if o.status == "ok" and not re.search(r"complete|intact|unchanged", p.stderr, re.I):
            o = Outcome("message", f"does not say the outputs stay complete: {tail(p)}")
        left = stale_temps(m)
        if o.status == "ok" and left:
            o = Outcome("leftover", f"partial files left: {left[:3]}")
        for mj in (m / "grid").rglob("metrics.json"):
            with contextlib.suppress(ValueError):
                json.loads(mj.read_text())
                continue
            return Outcome("lost", f"truncated {mj.relative_to(m)}")
        return o


@case("traceback", "data build: a decompression-bomb PNG, without --skip-bad")
def _(c: Ctx):
    from PIL import Image

    w = c.fresh()
    iw = image_world(w)
    Image.new("1", (20000, 20000)).save(iw["images"] / "class1" / "bomb.png", optimize=True)
    return expect_error(c.cli(*build_args(iw, w / "out")), "bomb.png")


@case("traceback", "data build --skip-bad: a decompression-bomb PNG is skipped and listed")
def _(c: Ctx):
    from PIL import Image

    w = c.fresh()
    iw = image_world(w)
    Image.new("1", (20000, 20000)).save(iw["images"] / "class1" / "bomb.png", optimize=True)
    p = c.cli(*build_args(iw, w / "out", "--skip-bad"))
    o = expect_success(p, "bomb.png")
    if o.status == "ok":
        skipped = json.loads((w / "out" / "BUILD.json").read_text())["skipped_images"]
        if not any("bomb.png" in s["path"] for s in skipped):
            return Outcome("message", "bomb.png not listed in BUILD.json")
    return o


@case("traceback", "demo --seed -1")
def _(c: Ctx):
    w = c.fresh()
    return expect_error(c.cli("demo", "--small", "--seed", "-1", "--out", w / "d"), "seed")


@case("traceback", "vgse discover --demo --seed -1")
def _(c: Ctx):
    w = c.fresh()
    return expect_error(c.cli("vgse", "discover", "--demo", "--seed", "-1", "--out", w / "d"), "seed")


# --------------------------------------------------------------------------- 3. bad input accepted

@case("accepted", "train --model attention_net --gamma nan")
def _(c: Ctx):
    from zslkit.training.feature_maps import make_synthetic_feature_maps, save_feature_maps

    w = c.fresh()
    save_feature_maps(w / "maps", make_synthetic_feature_maps(num_classes=10, num_unseen=3, images_per_class=8,
                                                              seed=0))
    return expect_error(c.cli("train", "--model", "attention_net", "--data", w / "maps", "--gamma", "nan", "--out",
                              w / "r"), "gamma")


@case("accepted", "att_splits.mat: empty test_seen_loc")
def _(c: Ctx):
    w = c.fresh()
    d = toy_dataset(w / "tiny")
    edit_splits(d, test_seen=[])
    return expect_error(c.cli("train", "--data", d, "--out", w / "r"), "test_seen_loc")


@case("accepted", "att_splits.mat: trainval_loc overlaps test_seen_loc (test leak)")
def _(c: Ctx):
    w = c.fresh()
    d = toy_dataset(w / "tiny")
    lc = locs(d)
    edit_splits(d, trainval=np.concatenate([lc["trainval"], lc["test_seen"][:5]]))
    return expect_error(c.cli("train", "--data", d, "--out", w / "r"), "trainval_loc", "test_seen_loc")


@case("accepted", "att_splits.mat: test_seen_loc overlaps test_unseen_loc")
def _(c: Ctx):
    w = c.fresh()
    d = toy_dataset(w / "tiny")
    lc = locs(d)
    edit_splits(d, test_unseen=np.concatenate([lc["test_unseen"], lc["test_seen"][:1]]))
    return expect_error(c.cli("train", "--data", d, "--out", w / "r"), "test_unseen_loc")


@case("accepted", "att_splits.mat: duplicate indices in trainval_loc")
def _(c: Ctx):
    w = c.fresh()
    d = toy_dataset(w / "tiny")
    lc = locs(d)
    edit_splits(d, trainval=np.concatenate([lc["trainval"], lc["trainval"][:3]]))
    return expect_error(c.cli("train", "--data", d, "--out", w / "r"), "trainval_loc", "duplicate")


@case("accepted", "train --val-fold 99 (no class lists: seeded partition)")
def _(c: Ctx):
    w = c.fresh()
    return expect_error(c.cli("train", "--data", toy_dataset(w / "tiny"), "--val-fold", "99", "--out", w / "r"),
                        "99")


@case("accepted", "train --gamma nan")
def _(c: Ctx):
    w = c.fresh()
    return expect_error(c.cli("train", "--data", toy_dataset(w / "tiny"), "--gamma", "nan", "--out", w / "r"),
                        "gamma")


@case("accepted", "train --gamma inf")
def _(c: Ctx):
    w = c.fresh()
    return expect_error(c.cli("train", "--data", toy_dataset(w / "tiny"), "--gamma", "inf", "--out", w / "r"),
                        "gamma")


@case("accepted", "--semantic: a C x 0 matrix (.npy)")
def _(c: Ctx):
    w = c.fresh()
    d = toy_dataset(w / "tiny")
    np.save(w / "empty.npy", np.zeros((12, 0)))
    return expect_error(c.cli("train", "--data", d, "--semantic", w / "empty.npy", "--out", w / "r"), "empty.npy")


@case("accepted", "--semantic: a C x 0 matrix (.csv with names only)")
def _(c: Ctx):
    w = c.fresh()
    d = toy_dataset(w / "tiny")
    from zslkit.data.xlsa17 import read_att_splits

    names = read_att_splits(d / "att_splits.mat").class_names
    (w / "names.csv").write_text("".join(f"{n}\n" for n in names))
    return expect_error(c.cli("train", "--data", d, "--semantic", w / "names.csv", "--out", w / "r"), "names.csv")


@case("accepted", "res101.mat: complex-valued features")
def _(c: Ctx):
    from zslkit.data.matfile import load_mat, save_mat

    w = c.fresh()
    d = toy_dataset(w / "tiny")
    m = load_mat(d / "res101.mat")
    m["features"] = m["features"].astype(np.complex64) + 1j
    save_mat(d / "res101.mat", m)
    return expect_error(c.cli("train", "--data", d, "--out", w / "r"), "res101.mat", "complex")


@case("accepted", "--semantic: complex-valued .npy")
def _(c: Ctx):
    w = c.fresh()
    d = toy_dataset(w / "tiny")
    np.save(w / "cplx.npy", np.ones((12, 4)) + 1j)
    return expect_error(c.cli("train", "--data", d, "--semantic", w / "cplx.npy", "--out", w / "r"), "complex")


@case("accepted", "--semantic: complex-valued att in a .mat")
def _(c: Ctx):
    from zslkit.data.matfile import save_mat

    w = c.fresh()
    d = toy_dataset(w / "tiny")
    save_mat(w / "cplx.mat", {"att": np.ones((4, 12)) + 2j})
    return expect_error(c.cli("train", "--data", d, "--semantic", w / "cplx.mat", "--out", w / "r"), "complex")


@case("accepted", "--param normalize_w=abc (a string for a bool hyperparameter)")
def _(c: Ctx):
    w = c.fresh()
    return expect_error(c.cli("train", "--data", toy_dataset(w / "tiny"), "--model", "sae", "--param",
                              "normalize_w=abc", "--out", w / "r"), "normalize_w")


@case("accepted", "--param lam=.nan (NaN hyperparameter)")
def _(c: Ctx):
    w = c.fresh()
    return expect_error(c.cli("train", "--data", toy_dataset(w / "tiny"), "--param", "lam=.nan", "--out", w / "r"),
                        "lam")


@case("accepted", "--param epochs=2.5 (a float for an int hyperparameter)")
def _(c: Ctx):
    w = c.fresh()
    return expect_error(c.cli("train", "--data", toy_dataset(w / "tiny"), "--model", "ale", "--param", "epochs=2.5",
                              "--out", w / "r"), "epochs")


# --------------------------------------------------------------------------- 4. resources

@case("resource", "YAML alias bomb (1 KB) is refused with bounded memory")
def _(c: Ctx):
    w = c.fresh()
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    text = "kind: train\ndata: ${HOME}\nextras:\n" + "\n".join("  " + ln for ln in lines) + "\nparams: {x: *a8}\n"
    y = write_yaml(w / "bomb.yaml", text)
    proc = subprocess.Popen(c.cmd("run", y), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=c.env(), cwd=w)
    t0 = time.time()
    rss = 0
    while proc.poll() is None:
        with contextlib.suppress(OSError):
            m = re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{proc.pid}/status").read_text())
            rss = max(rss, int(m.group(1))) if m else rss  # no VmRSS line once the process has exited
        if rss > 1_500_000 or time.time() - t0 > 60:
            proc.kill()
            proc.wait()
            return Outcome("resource", f"grew past {rss / 1e6:.1f} GB RSS / 60 s; killed")
        time.sleep(0.05)
    out, err = proc.communicate()
    o = expect_error(subprocess.CompletedProcess(proc.args, proc.returncode, out.decode(), err.decode()), "bomb.yaml")
    # the same command on a 3-line bad config: what importing zslkit run's modules costs
    write_yaml(w / "small.yaml", "kind: train\ndata: x\nno_such_key: 1\n")
    base = subprocess.run(["/usr/bin/time", "-f", "%M", *c.cmd("run", w / "small.yaml")], capture_output=True,
                          text=True, env=c.env(), cwd=w)
    base_kb = int(base.stderr.strip().splitlines()[-1]) if base.stderr.strip().splitlines()[-1].isdigit() else 0
    o.detail += f" (peak RSS {rss / 1e3:.0f} MB; the same command on a 3-line bad config: {base_kb / 1e3:.0f} MB)"
    if o.status == "ok" and base_kb and rss > base_kb + 200_000:
        o.status = "resource"
    return o


@case("orphan", "SIGKILL of the parent of benchmark --workers 2: workers die with it")
def _(c: Ctx):
    w = c.fresh()
    d = toy_dataset(w / "tiny")
    y = write_yaml(w / "g.yaml", f"kind: grid\ndata: [{d}]\nmodels: ['regressor(epochs=2000)']\nseeds: [0, 1, 2, 3]\n"
                                 f"grids: {{regressor: {{}}}}\nworkers: 2\nout: {w / 'g'}\n")
    # output to files, not pipes: orphaned workers would hold a pipe open and block the reader
    log = open(w / "grid.log", "w")
    proc = subprocess.Popen(c.cmd("run", y), stdout=log, stderr=subprocess.STDOUT, env=c.env(), cwd=w)
    t0 = time.time()
    kids: list[int] = []
    while time.time() - t0 < 60:
        kids = [k for k in children_of(proc.pid)]
        if len(kids) >= 2 and time.time() - t0 > 6:
            break
        time.sleep(0.5)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    log.close()
    deadline = time.time() + 20
    while time.time() < deadline and any(alive(k) for k in kids):
        time.sleep(0.5)
    left = [k for k in kids if alive(k)]
    for k in left:
        with contextlib.suppress(OSError):
            os.kill(k, signal.SIGKILL)
    if not kids:
        return Outcome("skipped", "no worker processes seen")
    if left:
        return Outcome("orphan", f"{len(left)} of {len(kids)} child processes alive 20 s after the parent's SIGKILL")
    return Outcome("ok", f"{len(kids)} child processes gone within 20 s")


# --------------------------------------------------------------------------- 5. leftovers

def _kill_after(c: Ctx, args: list, seconds: float) -> None:
    proc = subprocess.Popen(c.cmd(*args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=c.env(),
                            cwd=c.work)
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()


@case("leftover", "vgse discover --demo: SIGKILL, stale temp files, rerun", slow=True)
def _(c: Ctx):
    w = c.fresh()
    args = ["vgse", "discover", "--demo", "--out", w / "vd"]
    _kill_after(c, args, 8)
    n = plant_temps(w / "vd")
    p = c.cli(*args)
    if p.returncode != 0:
        return expect_success(p)
    left = stale_temps(w / "vd")
    return Outcome("leftover", f"{len(left)} of {n} planted + any killed temp files left: {left[:2]}") if left \
        else Outcome("ok", f"{n} stale temp files removed by the rerun")


@case("leftover", "demo --small: SIGKILL, stale temp files, rerun", slow=True)
def _(c: Ctx):
    w = c.fresh()
    args = ["demo", "--small", "--model", "eszsl", "--semantic", "att", "--semantic", "vgse", "--out", w / "demo"]
    _kill_after(c, args, 12)
    n = plant_temps(w / "demo")
    p = c.cli(*args)
    if p.returncode != 0:
        return expect_success(p)
    left = stale_temps(w / "demo")
    return Outcome("leftover", f"{len(left)} temp files left: {left[:2]}") if left \
        else Outcome("ok", f"{n} stale temp files removed by the rerun")


@case("leftover", "data build: a rerun of a finished build (killed before cleaning its cache) is a no-op")
def _(c: Ctx):
    w = c.fresh()
    iw = image_world(w)
    p = c.cli(*build_args(iw, w / "out"))
    if p.returncode != 0:
        return expect_success(p)
    # what a SIGKILL after BUILD.json leaves: the build's own cache, still listed in its manifest (since
    # issue #20 zslkit removes only what its manifest lists; the code before it had no manifest)
    leave = ("import sys\nsys.path.insert(0, sys.argv[2])\nfrom pathlib import Path\n"
             "try:\n    from zslkit.utils.outputs import output_dir\n"
             "except ImportError:\n    output_dir = None\n"
             "out = Path(sys.argv[1])\n"
             "if output_dir is None:\n    (out / '.feature-cache').mkdir()\n"
             "    (out / '.feature-cache' / 'features.npy').write_bytes(bytes(128))\n"
             "else:\n    with output_dir(out, 'dataset') as od:\n        od.mkdir('.feature-cache')\n"
             "        od.claim('.feature-cache/features.npy')\n"
             "        (out / '.feature-cache' / 'features.npy').write_bytes(bytes(128))\n")
    subprocess.run([sys.executable, "-c", leave, str(w / "out"), str(c.src)], check=True)
    t = (w / "out" / "res101.mat").stat().st_mtime_ns
    p = c.cli(*build_args(iw, w / "out"))
    o = expect_success(p)
    if o.status == "ok" and (w / "out" / "res101.mat").stat().st_mtime_ns != t:
        return Outcome("lost", "the finished build was rewritten")
    if o.status == "ok" and (w / "out" / ".feature-cache").exists():
        return Outcome("leftover", "the feature cache of the finished build was left")
    return o


@case("leftover", "data build: a finished build with other settings still needs --overwrite")
def _(c: Ctx):
    w = c.fresh()
    iw = image_world(w)
    c.cli(*build_args(iw, w / "out"))
    return expect_error(c.cli(*build_args(iw, w / "out", "--seed", "1")), "--overwrite")


@case("leftover", "train: stale temp files of a killed run are removed by the rerun")
def _(c: Ctx):
    w = c.fresh()
    d = toy_dataset(w / "tiny")
    c.cli("train", "--data", d, "--out", w / "run")
    (w / "run" / "metrics.json").unlink()  # killed before metrics.json
    plant_temps(w / "run")
    p = c.cli("train", "--data", d, "--out", w / "run")
    o = expect_success(p)
    left = stale_temps(w / "run")
    return Outcome("leftover", f"left {left}") if o.status == "ok" and left else o


# --------------------------------------------------------------------------- 6. messages

@case("message", "att_splits.mat: empty test_unseen_loc names the file and field")
def _(c: Ctx):
    w = c.fresh()
    d = toy_dataset(w / "tiny")
    edit_splits(d, test_unseen=[])
    return expect_error(c.cli("train", "--data", d, "--out", w / "r"), "att_splits.mat", "test_unseen_loc")


@case("message", "att_splits.mat: empty trainval_loc names the file and field")
def _(c: Ctx):
    w = c.fresh()
    d = toy_dataset(w / "tiny")
    edit_splits(d, trainval=[])
    return expect_error(c.cli("train", "--data", d, "--out", w / "r"), "att_splits.mat", "trainval_loc")


@case("message", "a UTF-8 BOM in a class list is not kept in the first name")
def _(c: Ctx):
    w = c.fresh()
    iw = image_world(w, bom=True)
    p = c.cli(*build_args(iw, w / "out"))
    o = expect_success(p)
    if o.status == "ok":
        first = (w / "out" / "allclasses.txt").read_bytes().splitlines()[0]
        if first.startswith(b"\xef\xbb\xbf"):
            return Outcome("message", f"first class name kept the BOM: {first!r}")
    return o


@case("message", "a UTF-8 BOM in trainclasses1.txt of a dataset directory")
def _(c: Ctx):
    w = c.fresh()
    d = toy_dataset(w / "tiny")
    from zslkit.data.xlsa17 import load_xlsa17

    data = load_xlsa17(d)
    seen = [data.class_names[i] for i in data.seen_classes]
    (d / "trainclasses1.txt").write_bytes(b"\xef\xbb\xbf" + "\n".join(seen[:6]).encode())
    (d / "valclasses1.txt").write_bytes(b"\xef\xbb\xbf" + "\n".join(seen[6:]).encode())
    return expect_success(c.cli("train", "--data", d, "--out", w / "r"), "T1")


# --------------------------------------------------------------------------- 7. round 3 (names start "r3:")

class _Reduce:
    """Pickles as ``func(*args)`` (then ``__setstate__(state)``): a crafted pickle's call of an admitted global."""

    def __init__(self, func, args, state=None):
        self.func, self.args, self.state = func, args, state

    def __reduce__(self):
        return (self.func, self.args) if self.state is None else (self.func, self.args, self.state)


def _convert(c: Ctx, obj, name: str, *needles: str, protocol: int = 2) -> Outcome:
    import pickle

    w = c.fresh()
    (w / name).write_bytes(pickle.dumps(obj, protocol=protocol))
    o = expect_error(c.cli("data", "convert-w2v", w / name, w / "out.npy"), name, *needles)
    if (w / "out.npy").exists():
        return Outcome("accepted" if o.status == "ok" else o.status,
                       f"out.npy written ({(w / 'out.npy').stat().st_size} bytes); {o.detail}")
    return o


@case("resource", "r3: convert-w2v: a 106-byte pickle of a zero-stride 4096 x 4096 float64 array (128 MB)")
def _(c: Ctx):
    return _convert(c, _Reduce(np.ndarray, ((4096, 4096), "f8", b"\0" * 8, 0, (0, 0))), "zero_stride.pkl")


@case("accepted", "r3: convert-w2v: an array reconstructed with a shape and no data (uninitialised memory)")
def _(c: Ctx):
    from numpy._core import multiarray

    return _convert(c, _Reduce(multiarray._reconstruct, (np.ndarray, (1000,), b"b")), "nodata.pkl")


@case("resource", "r3: convert-w2v: a dict repeating one 64 KiB vector 2000 times by reference (128 MB)")
def _(c: Ctx):
    v = np.random.default_rng(0).random(8192)
    return _convert(c, {f"k{i}": v for i in range(2000)}, "memo.pkl", "bytes", protocol=4)


@case("accepted", "r3: convert-w2v: a dict key with a newline (would misalign <stem>_names.txt)")
def _(c: Ctx):
    rng = np.random.default_rng(0)
    return _convert(c, {"cat": rng.random(4), "zebra\nhorse": rng.random(4), "dog": rng.random(4)}, "keys.pkl",
                    "zebra\\nhorse", protocol=4)


def _maps_and_model(c: Ctx):
    """A tiny SYNTHETIC feature-map directory and the state of a zslkit model.pt / ReZSL checkpoint for it."""
    import torch

    from zslkit.models.attention_net import AttentionNet
    from zslkit.training.feature_maps import make_synthetic_feature_maps, save_feature_maps

    w = c.fresh()
    data = make_synthetic_feature_maps(num_classes=6, num_unseen=2, images_per_class=4, num_attributes=8, channels=8,
                                       size=4, word_dim=6, seed=0)
    maps = save_feature_maps(w / "maps", data)
    model = AttentionNet(torch.as_tensor(data.attribute_vectors), 8, attention_dim=5)
    zslkit_state = {"model": model.state_dict(), "meta": {"model_config": model.config()}, "gamma": 0.0}
    g = torch.Generator().manual_seed(0)
    theirs = {"QueryW": (5, 6), "KeyW": (5, 8), "ValueW": (5, 8), "W_o": (8, 5)}
    rezsl = {}
    for name, (o, i) in theirs.items():
        rezsl[f"module.v2s_branch.{name}.weight"] = torch.randn(o, i, generator=g)
        rezsl[f"module.v2s_branch.{name}.bias"] = torch.randn(o, generator=g)
    rezsl["module.v2s_branch.V_att_final_branch"] = torch.randn(8, 8, generator=g)
    return w, maps, zslkit_state, rezsl


def _evaluate_crafted(c: Ctx, edit, fmt: str, *needles: str) -> Outcome:
    from zslkit.training.checkpoint import save_checkpoint

    w, maps, state, rezsl = _maps_and_model(c)
    if fmt == "rezsl":
        import torch

        edit(rezsl)
        torch.save({"model": rezsl}, w / "crafted.pth")
        path = w / "crafted.pth"
    else:
        edit(state)
        save_checkpoint(w / "model.pt", state)
        path = w / "model.pt"
    return expect_error(c.cli("evaluate", path, "--data", maps, "--out", w / "r"), path.name, *needles)


@case("traceback", "r3: evaluate: ReZSL checkpoint with a 1-D tensor where a matrix belongs")
def _(c: Ctx):
    import torch

    return _evaluate_crafted(c, lambda sd: sd.update({"module.v2s_branch.V_att_final_branch": torch.zeros(8)}),
                             "rezsl", "V_att_final_branch")


@case("traceback", "r3: evaluate: ReZSL checkpoint with a bias of the wrong length")
def _(c: Ctx):
    import torch

    return _evaluate_crafted(c, lambda sd: sd.update({"module.v2s_branch.QueryW.bias": torch.zeros(9)}), "rezsl",
                             "QueryW.bias")


@case("traceback", "r3: evaluate: ReZSL checkpoint whose 'model' entry is a list")
def _(c: Ctx):
    import torch

    w, maps, _, _ = _maps_and_model(c)
    torch.save({"model": [torch.zeros(2)], "epoch": 3}, w / "list.pth")
    return expect_error(c.cli("evaluate", w / "list.pth", "--data", maps, "--out", w / "r"), "list.pth", "'model'")


@case("traceback", "r3: evaluate: model.pt with a string dimension (num_attributes: '8')")
def _(c: Ctx):
    return _evaluate_crafted(c, lambda st: st["meta"]["model_config"].update(num_attributes="8"), "zslkit",
                             "num_attributes")


@case("resource", "r3: evaluate: model.pt declaring num_attributes = word_dim = 1e6 (a 4 TB buffer)")
def _(c: Ctx):
    return _evaluate_crafted(c, lambda st: st["meta"]["model_config"].update(num_attributes=10 ** 6, word_dim=10 ** 6),
                             "zslkit", "model.")


@case("traceback", "r3: evaluate: model.pt with a 0-d tensor where a matrix belongs")
def _(c: Ctx):
    import torch

    return _evaluate_crafted(c, lambda st: st["model"].update({"key.weight": torch.tensor(1.0)}), "zslkit",
                             "key.weight")


@case("traceback", "r3: evaluate: model.pt missing a weight (out.weight)")
def _(c: Ctx):
    return _evaluate_crafted(c, lambda st: st["model"].pop("out.weight"), "zslkit", "out.weight")


@case("traceback", "r3: evaluate: model.pt whose 'model' entry is not a dict")
def _(c: Ctx):
    return _evaluate_crafted(c, lambda st: st.update(model="weights"), "zslkit", "'model'")


def _evaluate_batch_size(c: Ctx, value: str) -> Outcome:
    from zslkit.training.checkpoint import save_checkpoint

    w, maps, state, _ = _maps_and_model(c)
    save_checkpoint(w / "model.pt", state)
    return expect_error(c.cli("evaluate", w / "model.pt", "--data", maps, "--out", w / "r", "--batch-size", value),
                        "--batch-size")


@case("accepted", "r3: evaluate --batch-size 0")
def _(c: Ctx):
    return _evaluate_batch_size(c, "0")


@case("accepted", "r3: evaluate --batch-size -5")
def _(c: Ctx):
    return _evaluate_batch_size(c, "-5")


@case("traceback", "r3: analyze --data MAPS --index 99999 (out of range)")
def _(c: Ctx):
    from zslkit.training.checkpoint import save_checkpoint

    w, maps, state, _ = _maps_and_model(c)
    save_checkpoint(w / "run" / "model.pt", state)
    return expect_error(c.cli("analyze", w / "run", "--data", maps, "--index", "99999"), "99999", "0..23")


def _finished_run(c: Ctx) -> tuple[Path, Path]:
    w = c.fresh()
    d = toy_dataset(w / "tiny")
    p = c.cli("train", "--data", d, "--model", "eszsl", "--no-tune", "--out", w / "run")
    if p.returncode != 0:
        raise RuntimeError(f"could not make a run: {tail(p)}")
    return w, w / "run"


def _metrics_edit(c: Ctx, field_path: str, value, command: str) -> Outcome:
    w, run = _finished_run(c)
    m = json.loads((run / "metrics.json").read_text())
    node = m
    *parents, last = field_path.split(".")
    for k in parents:
        node = node[k]
    node[last] = value
    (run / "metrics.json").write_text(json.dumps(m))
    args = ["report", run, "--out", w / "report.html"] if command == "report" else ["analyze", run]
    return expect_error(c.cli(*args), "metrics.json", field_path)


@case("traceback", "r3: report: metrics.json with gzsl.U a string")
def _(c: Ctx):
    return _metrics_edit(c, "gzsl.U", "high", "report")


@case("traceback", "r3: report: metrics.json with params a list")
def _(c: Ctx):
    return _metrics_edit(c, "params", [1, 2], "report")


@case("traceback", "r3: report: metrics.json with dataset a string")
def _(c: Ctx):
    return _metrics_edit(c, "dataset", "tiny", "report")


@case("traceback", "r3: report: metrics.json with selection a list")
def _(c: Ctx):
    return _metrics_edit(c, "selection", ["lam"], "report")


@case("traceback", "r3: analyze: metrics.json with ausuc null")
def _(c: Ctx):
    return _metrics_edit(c, "ausuc", None, "analyze")


@case("traceback", "r3: analyze: metrics.json with gzsl a string")
def _(c: Ctx):
    return _metrics_edit(c, "gzsl", "x", "analyze")


@case("traceback", "r3: report: curve.json holding a list")
def _(c: Ctx):
    w, run = _finished_run(c)
    (run / "curve.json").write_text("[1, 2, 3]")
    return expect_error(c.cli("report", run, "--out", w / "report.html"), "curve.json")


def _report_counts(c: Ctx, *paths) -> Outcome:
    w = c.work
    p = c.cli("report", *paths, "--out", w / "report.html")
    o = expect_success(p)
    if o.status != "ok":
        return o
    summary = re.search(r"(\d+) run\(s\) in (\d+) group\(s\)", (w / "report.html").read_text())
    if not summary or summary.group(1) != "1":
        return Outcome("lost", f"report.html says {summary.group(0) if summary else '?'}: one run counted as "
                               "several seeds")
    return Outcome("ok", summary.group(0))


@case("lost", "r3: report RUN RUN/../RUN counts one run, not two seeds")
def _(c: Ctx):
    w, run = _finished_run(c)
    return _report_counts(c, run, run / ".." / "run")


@case("lost", "r3: report GRID GRID/cells/CELL counts the cell once")
def _(c: Ctx):
    w = c.fresh()
    d = toy_dataset(w / "tiny")
    p = c.cli("benchmark", "--data", d, "--model", "eszsl", "--seeds", "1", "--out", w / "grid")
    if p.returncode != 0:
        return expect_success(p)
    cell = next(x for x in (w / "grid" / "cells").iterdir() if x.is_dir())
    return _report_counts(c, w / "grid", cell)


def _built_images(c: Ctx) -> tuple[Path, dict, Path]:
    """An image world and its ``data build`` (res101.mat image_files relative to the image folder)."""
    w = c.fresh()
    iw = image_world(w)
    p = c.cli(*build_args(iw, w / "out"))
    if p.returncode != 0:
        raise RuntimeError(f"data build failed: {tail(p)}")
    return w, iw, w / "out"


def _set_image_file(data: Path, i: int, value: str) -> None:
    from zslkit.data.matfile import load_mat, save_mat

    m = load_mat(data / "res101.mat")
    files = [str(np.asarray(x).ravel()[0]) for x in np.asarray(m["image_files"]).ravel()]
    files[i] = value
    cell = np.empty((len(files), 1), dtype=object)
    for k, f in enumerate(files):
        cell[k, 0] = np.array([f])
    m["image_files"] = cell
    save_mat(data / "res101.mat", m)


def _train_images(c: Ctx, data: Path, images: Path, out: Path):
    return c.cli("train", "--model", "basic_net", "--data", data, "--images", images, "--backbone", "tiny",
                 "--param", "epochs=1", "--param", "ways=2", "--out", out)


def _outside_case(c: Ctx, make) -> Outcome:
    """The same error, naming the entry, whether the outside file exists or not."""
    msgs = []
    for name in ("exists.png", "absent.png"):
        w, iw, data = _built_images(c)
        (w / "secret").mkdir()
        from PIL import Image

        Image.new("RGB", (16, 16), (9, 9, 9)).save(w / "secret" / "exists.png")
        entry = make(w, iw, name)
        _set_image_file(data, 0, entry)
        p = _train_images(c, data, iw["images"], w / "run")
        o = expect_error(p, "image_files", "outside")
        if o.status != "ok":
            return o
        msgs.append(re.sub(r"case\d+", "caseN", tail(p)).replace(name, "NAME"))
    if msgs[0] != msgs[1]:
        return Outcome("message", f"the message tells whether the outside file exists: {msgs}")
    return Outcome("ok", msgs[0])


@case("accepted", "r3: train --images: res101 image_files entry '../secret/X.png' (same error, X existing or not)")
def _(c: Ctx):
    return _outside_case(c, lambda w, iw, name: f"../secret/{name}")


@case("accepted", "r3: train --images: an image that is a symlink out of --images (same error, target existing or not)")
def _(c: Ctx):
    def make(w, iw, name):
        (iw["images"] / "class0" / "link.png").symlink_to(w / "secret" / name)
        return "class0/link.png"
    return _outside_case(c, make)


@case("accepted", "r3: data build: 16-bit PNG images are not clipped to white (features differ between images)")
def _(c: Ctx):
    from PIL import Image

    w = c.fresh()
    iw = image_world(w)
    rng = np.random.default_rng(1)
    for f in sorted(iw["images"].rglob("*.png")):  # replace every image by a 16-bit greyscale one, all above 255
        Image.fromarray((rng.random((16, 16)) * 60000 + 1000).astype(np.uint16)).save(f)
    p = c.cli(*build_args(iw, w / "out"))
    o = expect_success(p)
    if o.status != "ok":
        return o
    from zslkit.data.matfile import load_mat

    feats = np.asarray(load_mat(w / "out" / "res101.mat", ["features"])["features"])
    n_distinct = len({col.tobytes() for col in feats.T})
    if n_distinct == 1:
        return Outcome("accepted", f"all {feats.shape[1]} images have identical features (clipped to white)")
    return Outcome("ok", f"{n_distinct} distinct feature vectors of {feats.shape[1]} images")


@case("accepted", "r3: train --param lr=1e-3 (YAML 1.1 reads a string): a float")
def _(c: Ctx):
    w = c.fresh()
    p = c.cli("train", "--data", toy_dataset(w / "tiny"), "--model", "regressor", "--no-tune", "--param", "lr=1e-3",
              "--param", "epochs=1", "--out", w / "r")
    o = expect_success(p)
    if o.status == "ok":
        lr = json.loads((w / "r" / "metrics.json").read_text())["params"]["lr"]
        return Outcome("ok" if lr == 0.001 else "lost", f"lr = {lr!r}")
    return o


@case("accepted", "r3: train --seed 4294967296 (2**32: numpy seeds it like 0)")
def _(c: Ctx):
    w = c.fresh()
    return expect_error(c.cli("train", "--data", toy_dataset(w / "tiny"), "--seed", str(2**32), "--out", w / "r"),
                        "seed", "4294967295")


@case("accepted", "r3: YAML grid: seeds: [0, 4294967296]")
def _(c: Ctx):
    w = c.fresh()
    d = toy_dataset(w / "tiny")
    y = write_yaml(w / "g.yaml", f"kind: grid\ndata: [{d}]\nseeds: [0, {2**32}]\nout: {w / 'g'}\n")
    return expect_error(c.cli("run", y), "g.yaml", "seeds", "4294967295")


@case("resource", "r3: benchmark --seeds 5000000000 (a list of 5e9 seeds)")
def _(c: Ctx):
    w = c.fresh()
    return expect_error(c.cli("benchmark", "--data", toy_dataset(w / "tiny"), "--seeds", "5000000000", "--out",
                              w / "g", timeout=120), "--seeds")


@case("accepted", "r3: data synth --seed 4294967296")
def _(c: Ctx):
    w = c.fresh()
    from zslkit.data.surrogate import make_toy_att_splits

    src = make_toy_att_splits(w / "src" / "att_splits.mat", num_classes=12, num_unseen=3, images_per_class=20)
    return expect_error(c.cli("data", "synth", "--att-splits", src, "--out", w / "o", "--seed", str(2**32)), "seed")


@case("accepted", "r3: data build --seed 4294967296")
def _(c: Ctx):
    w = c.fresh()
    return expect_error(c.cli(*build_args(image_world(w), w / "out", "--seed", str(2**32))), "seed")


@case("accepted", "r3: vgse discover --demo --seed 4294967296")
def _(c: Ctx):
    w = c.fresh()
    return expect_error(c.cli("vgse", "discover", "--demo", "--seed", str(2**32), "--out", w / "d"), "seed")


@case("accepted", "r3: demo --seed 4294967296")
def _(c: Ctx):
    w = c.fresh()
    return expect_error(c.cli("demo", "--small", "--seed", str(2**32), "--out", w / "d"), "seed")


@case("message", "r3: YAML data: ${VAR} whose value holds a '$' is not reported as unset")
def _(c: Ctx):
    w = c.fresh()
    d = toy_dataset(w / "d$x")
    y = write_yaml(w / "t.yaml", "kind: train\ndata: ${ZSLKIT_ADV_DATA}\nmodel: eszsl\ntune: false\n")
    return expect_success(c.cli("run", y, "--out", w / "r", env={"ZSLKIT_ADV_DATA": str(d)}), "T1")


def _edit_features(data: Path, fn) -> None:
    from zslkit.data.matfile import load_mat, save_mat

    m = load_mat(data / "res101.mat")
    m["features"] = fn(np.asarray(m["features"]).copy(), data)  # D x N
    save_mat(data / "res101.mat", m)


@case("accepted", "r3: res101.mat: all-zero features (trains at chance without a word)")
def _(c: Ctx):
    w = c.fresh()
    d = toy_dataset(w / "tiny")
    _edit_features(d, lambda f, _: np.zeros_like(f))
    return expect_error(c.cli("train", "--data", d, "--out", w / "r"), "features", "identical")


@case("accepted", "r3: res101.mat: every trainval image with one constant feature vector")
def _(c: Ctx):
    w = c.fresh()
    d = toy_dataset(w / "tiny")

    def flat(f, data):
        f[:, locs(data)["trainval"]] = 0.5
        return f
    _edit_features(d, flat)
    return expect_error(c.cli("train", "--data", d, "--out", w / "r"), "trainval", "identical")


@case("accepted", "r3: --semantic: every unseen class with the same row")
def _(c: Ctx):
    w = c.fresh()
    d = toy_dataset(w / "tiny")
    from zslkit.data.xlsa17 import load_xlsa17

    data = load_xlsa17(d)
    sem = data.semantic.copy()
    sem[data.unseen_classes] = sem[data.unseen_classes[0]]
    np.save(w / "same.npy", sem)
    return expect_error(c.cli("train", "--data", d, "--semantic", w / "same.npy", "--out", w / "r"), "unseen",
                        "same row")


@case("message", "r3: --semantic: one unseen class with an all-zero row: a warning naming it")
def _(c: Ctx):
    w = c.fresh()
    d = toy_dataset(w / "tiny")
    from zslkit.data.xlsa17 import load_xlsa17

    data = load_xlsa17(d)
    sem = data.semantic.copy()
    u = int(data.unseen_classes[0])
    sem[u] = 0.0
    np.save(w / "zero.npy", sem)
    return expect_success(c.cli("train", "--data", d, "--semantic", w / "zero.npy", "--out", w / "r"), "T1",
                          "warning", data.class_names[u], "all-zero")
# --------------------------------------------------------------------------- 8. files zslkit did not write (#20)

def user_files(d: Path, files: dict) -> dict:
    """The user's own files in ``d``; returns name -> bytes, for :func:`touched`."""
    for name, text in files.items():
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        (d / name).write_text(text)
    return {n: (d / n).read_bytes() for n in files}


def touched(d: Path, before: dict) -> list[str]:
    """The user's files in ``d`` that were replaced or deleted."""
    return [n for n, b in before.items() if not (d / n).is_file() or (d / n).read_bytes() != b]


def foreign_judge(p, d: Path, before: dict, *needles: str) -> Outcome:
    gone = touched(d, before)
    if gone:
        return Outcome("foreign", f"exit {p.returncode}; the user's {gone} replaced or deleted")
    return expect_error(p, *needles)


@case("foreign", "train --out DIR holding the user's config.yaml / curve.json / predictions.npz (no metrics.json)")
def _(c: Ctx):
    w = c.fresh()
    d = toy_dataset(w / "tiny")
    before = user_files(w / "proj", {"config.yaml": "mine", "curve.json": "[1]", "predictions.npz": "npz"})
    return foreign_judge(c.cli("train", "--data", d, "--out", w / "proj", "--no-tune"), w / "proj", before,
                         "not written by zslkit", "config.yaml")


@case("foreign", "train --out . in a project folder")
def _(c: Ctx):
    w = c.fresh()
    d = toy_dataset(w / "data" / "tiny")
    proj = w / "proj"
    before = user_files(proj, {"README.md": "x", "config.yaml": "y", "metrics.json": "{}"})
    p = subprocess.run(c.cmd("train", "--data", d, "--out", ".", "--no-tune"), capture_output=True, text=True,
                       env=c.env(), cwd=proj, timeout=300)
    return foreign_judge(p, proj, before, "not written by zslkit")


@case("foreign", "train --overwrite keeps the user's files in figures/ and checkpoints/ of a run")
def _(c: Ctx):
    w = c.fresh()
    d = toy_dataset(w / "tiny")
    c.cli("train", "--data", d, "--out", w / "run", "--no-tune")
    c.cli("analyze", w / "run")
    before = user_files(w / "run", {"figures/mine.png": "p", "checkpoints/keep.pt": "c", "selection/x": "s"})
    p = c.cli("train", "--data", d, "--model", "sae", "--out", w / "run", "--no-tune", "--overwrite")
    gone = touched(w / "run", before)
    if gone:
        return Outcome("foreign", f"--overwrite deleted the user's {gone}")
    return expect_success(p)


@case("foreign", "train --out DIR whose metrics.json was written by another tool")
def _(c: Ctx):
    w = c.fresh()
    d = toy_dataset(w / "tiny")
    before = user_files(w / "run", {"metrics.json": json.dumps({"zsl": {"T1": 1}, "gzsl": {}, "config": {}})})
    return foreign_judge(c.cli("train", "--data", d, "--out", w / "run", "--no-tune", "--overwrite"), w / "run",
                         before, "not written by zslkit")


@case("foreign", "evaluate --out over a finished train run (no --overwrite)")
def _(c: Ctx):
    w = c.fresh()
    maps, ckpt = attention_inputs(w)
    p1 = c.cli("evaluate", ckpt, "--data", maps, "--out", w / "run")
    if p1.returncode != 0:
        return expect_success(p1)
    before = {n: (w / "run" / n).read_bytes() for n in ("model.pt", "metrics.json", "config.yaml", "predictions.npz")}
    p = c.cli("evaluate", ckpt, "--data", maps, "--out", w / "run", "--gamma", "0.3")
    return foreign_judge(p, w / "run", before, "finished run", "--overwrite")


@case("foreign", "data build --out on a copy of a published dataset (res101.mat, att_splits.mat, class lists)")
def _(c: Ctx):
    w = c.fresh()
    world = image_world(w)
    d = toy_dataset(w / "AWA2")
    for f in [*d.glob(".zslkit*"), d / "SURROGATE.json"]:
        f.unlink()  # a downloaded dataset carries no zslkit manifest (nor a surrogate's record)
    (d / "trainclasses3.txt").write_text("a\n")
    (d / "valclasses3.txt").write_text("b\n")
    before = {f.name: f.read_bytes() for f in d.iterdir()}
    return foreign_judge(c.cli(*build_args(world, d)), d, before, "not written by zslkit")


@case("foreign", "benchmark --out holding the user's results.csv / results.md")
def _(c: Ctx):
    w = c.fresh()
    d = toy_dataset(w / "tiny")
    before = user_files(w / "grid", {"results.csv": "mine", "results.md": "mine"})
    return foreign_judge(c.cli("benchmark", "--data", d, "--seeds", "1", "--out", w / "grid"), w / "grid", before,
                         "not written by zslkit")


@case("foreign", "demo --out holding the user's report.html / metrics.json")
def _(c: Ctx):
    w = c.fresh()
    before = user_files(w / "demo", {"report.html": "mine", "metrics.json": "{}"})
    return foreign_judge(c.cli("demo", "--small", "--out", w / "demo", timeout=900), w / "demo", before,
                         "not written by zslkit")


@case("foreign", "report --out RUN/metrics.json and --out DATA/res101.mat")
def _(c: Ctx):
    w = c.fresh()
    d = toy_dataset(w / "tiny")
    c.cli("train", "--data", d, "--out", w / "run", "--no-tune")
    before_run = {"metrics.json": (w / "run" / "metrics.json").read_bytes()}
    before_data = {"res101.mat": (d / "res101.mat").read_bytes()}
    for target, where, before in ((w / "run" / "metrics.json", w / "run", before_run),
                                  (d / "res101.mat", d, before_data)):
        o = foreign_judge(c.cli("report", w / "run", "--out", target), where, before, ".html")
        if o.status != "ok":
            return o
    return o


@case("foreign", "temp clean-up of --out never reaches into a sub-folder another live process holds")
def _(c: Ctx):
    w = c.fresh()
    d = toy_dataset(w / "tiny")
    p = c.cli("benchmark", "--data", d, "--seeds", "1", "--out", w / "grid")
    if p.returncode != 0:
        return expect_success(p)
    cell = next((w / "grid" / "cells").iterdir())
    hold = ("import sys, time\nsys.path.insert(0, sys.argv[2])\n"
            "try:\n    from zslkit.utils.outputs import DirLock\n"
            "except ImportError:\n    from zslkit.utils.lock import DirLock\n"  # the code before issue #20
            "with DirLock(sys.argv[1]):\n    print('held', flush=True)\n    time.sleep(120)\n")
    holder = subprocess.Popen([sys.executable, "-c", hold, str(cell), str(c.src)], stdout=subprocess.PIPE, text=True)
    try:
        holder.stdout.readline()
        live = cell / ".metrics.json.tmp-abcd1234"  # the holder's file being written
        live.write_text("being written")
        p = c.cli("benchmark", "--data", d, "--seeds", "1", "--out", w / "grid")
        if not live.exists():
            return Outcome("foreign", "the other process's temporary file was deleted")
        return Outcome("ok", f"exit {p.returncode}; the held cell's temporary file kept")
    finally:
        holder.kill()
        holder.wait()


def attention_inputs(w: Path) -> tuple[Path, Path]:
    """A tiny feature-map directory and an AttentionNet checkpoint in the authors' format."""
    sys.path.insert(0, str(REPO))
    import torch

    from tests.models.test_attention_net import authors_state_dict
    from tests.training.conftest import tiny_world
    from zslkit.training.feature_maps import save_feature_maps

    data = tiny_world()
    maps = save_feature_maps(w / "maps", data)
    sd = authors_state_dict(data.num_attributes, data.attribute_vectors.shape[1], data.map_shape[0], med=16, seed=2)
    torch.save({"model": sd}, w / "ckpt.pth")
    return maps, w / "ckpt.pth"


# --------------------------------------------------------------------------- driver

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", default=str(REPO / "src"), help="zslkit source tree to run (PYTHONPATH)")
    ap.add_argument("--tag", default="", help="suffix of the results files (e.g. 'before')")
    ap.add_argument("--quick", action="store_true", help="skip the slow kill-and-rerun demo cases")
    ap.add_argument("-k", default="", help="run only cases whose name contains this (results saved only with --tag)")
    ap.add_argument("--cls", default="", help="run only the cases of this class (e.g. foreign); results saved with "
                                               "the class in the file name")
    ap.add_argument("--scratch", default=None, help="work folder (default: a new temp dir, deleted afterwards)")
    args = ap.parse_args()
    root = Path(args.scratch or tempfile.mkdtemp(prefix="zslkit-adversarial-"))
    ctx = Ctx(src=Path(args.src).resolve(), root=root)
    load0 = os.getloadavg()
    t_all = time.time()
    results = []
    for cs in CASES:
        if (args.quick and cs.slow) or (args.k and args.k.lower() not in cs.name.lower()) or \
                (args.cls and cs.cls != args.cls):
            continue
        t0 = time.time()
        try:
            o = cs.fn(ctx)
        except subprocess.TimeoutExpired as exc:
            o = Outcome("resource", f"timed out: {exc}")
        o.seconds = time.time() - t0
        results.append({"class": cs.cls, "case": cs.name, "status": o.status, "detail": o.detail,
                        "seconds": round(o.seconds, 1)})
        print(f"[{o.status:9s}] {cs.cls:9s} {cs.name}  ({o.seconds:.1f} s)\n            {o.detail}", flush=True)
    counts: dict[str, int] = {}
    for r in results:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    bad = sum(v for k, v in counts.items() if k not in ("ok", "skipped"))
    summary = {"src": str(ctx.src), "cases": len(results), "ending_badly": bad, "counts": counts,
               "wall_s": round(time.time() - t_all, 1), "loadavg_start": load0, "loadavg_end": os.getloadavg(),
               "machine": platform.platform(), "python": platform.python_version()}
    lines = [f"adversarial driver (issues #15, #20), src {ctx.src}",
             f"{len(results)} cases, {bad} ending badly: {counts}",
             f"wall {summary['wall_s']} s, load average at start {load0[0]:.2f}, at end {os.getloadavg()[0]:.2f}",
             ""]
    lines += [f"{r['status']:9s} {r['class']:9s} {r['case']}\n          {r['detail']}" for r in results]
    if not args.k or args.tag:  # a selection (-k) is saved only under its own --tag
        RESULTS.mkdir(parents=True, exist_ok=True)
        stem = "adversarial" + (f"_{args.cls}" if args.cls else "") + (f"_{args.tag}" if args.tag else "")
        (RESULTS / f"{stem}.txt").write_text("\n".join(lines) + "\n")
        (RESULTS / f"{stem}.json").write_text(json.dumps({"summary": summary, "results": results}, indent=2) + "\n")
    print("\n".join(lines[:3]))
    if not args.scratch:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
