"""Attributes vs real word2vec vs WordLlama class embeddings on the SURROGATE (ESZSL, SAE, ALE).

SURROGATE data (synthetic features on the real xlsa17 splits; NOT results on AWA2/CUB/SUN). The
features are generated once per dataset (its calibrated preset, seed 0); only the class
semantic matrix changes:

* ``att``: the real xlsa17 attributes;
* ``word2vec``: the real GoogleNews word2vec vectors of the class names
  (``../shared/data/word-vectors/``; AWA2 and CUB only, SUN has no class-name vectors there);
* ``wordllama``: WordLlama embeddings of the class names (``zslkit.embeddings.text_models``).

The features were generated from the attributes, so the attributes carry the signal by
construction; the question is how much of it each class-name embedding recovers (on the real
benchmarks word2vec class embeddings also trail attributes by a wide margin). Standard zslkit
protocol: each model's default search grid on validation classes (fold 1), gamma from
validation, one thread.

Run:  python benchmarks/bench_surrogate_semantics.py [--datasets AWA2 CUB SUN]
Writes benchmarks/results/surrogate_semantics.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import surrogate_reference as ref  # noqa: E402

from zslkit.data.surrogate import SURROGATE_VERSION, generate_surrogate  # noqa: E402
from zslkit.embeddings.class_files import resolve_class_embeddings  # noqa: E402
from zslkit.pipeline import TrainConfig, train  # noqa: E402
from zslkit.utils.outputs import atomic_write_json, atomic_write_text  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
MODELS = ("eszsl", "sae", "ale")


def semantics(ds: str, arr) -> dict[str, np.ndarray]:
    names, c = arr.att_splits.class_names, arr.att_splits.num_classes
    out = {"att": arr.att_splits.att}
    npy = SHARED / "word-vectors" / f"{ds}_class_w2v.npy"
    if npy.is_file():
        out["word2vec"] = resolve_class_embeddings(npy, names, c, names_file=npy.with_name(f"{ds}_class_names.txt"))[0]
    out["wordllama"] = resolve_class_embeddings("wordllama", names, c)[0]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="*", default=["AWA2", "CUB", "SUN"])
    ap.add_argument("--models", nargs="*", default=list(MODELS))
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "surrogate_semantics"))
    args = ap.parse_args()
    ref.one_thread()
    lines = [f"# Class embeddings on the SURROGATE ({SURROGATE_VERSION}): attributes vs real word2vec vs WordLlama",
             "", "**SURROGATE data: synthetic features on the real xlsa17 splits; NOT results on AWA2/CUB/SUN.**", "",
             ref.machine_line(), "",
             "Standard protocol: default search grids on validation classes (fold 1), gamma from validation. The "
             "features are generated from the attributes (by construction they carry the signal).", "",
             "| dataset | semantic | dim | model | T1 | U | S | H | seconds |", "|---|---|---|---|---|---|---|---|---|"]
    record: dict = {"version": SURROGATE_VERSION, "rows": []}
    t_all = time.perf_counter()
    for ds in args.datasets:
        arr = generate_surrogate(SHARED / "xlsa17-meta" / ds / "att_splits.mat", seed=0)
        for sem, mat in semantics(ds, arr).items():
            data = arr.to_zsldata(semantic=mat, semantic_name=sem)
            for model in args.models:
                t0 = time.perf_counter()
                r = train(TrainConfig(data=f"<surrogate {ds}>", model=model, semantic=sem), data=data)
                m = r.metrics
                sec = time.perf_counter() - t0
                row = {"dataset": ds, "semantic": sem, "dim": int(mat.shape[1]), "model": model, "T1": m.T1,
                       "U": m.U, "S": m.S, "H": m.H, "seconds": sec, "params": r.params}
                record["rows"].append(row)
                lines.append(f"| {ds} | {sem} | {mat.shape[1]} | {model} | {m.T1:.1f} | {m.U:.1f} | {m.S:.1f} | "
                             f"{m.H:.1f} | {sec:.0f} |")
                print(lines[-1], flush=True)
                atomic_write_text(Path(args.out).with_suffix(".md"), "\n".join(lines) + "\n")
                atomic_write_json(Path(args.out).with_suffix(".json"), json.loads(json.dumps(record, default=str)))
    lines += ["", f"total {(time.perf_counter() - t_all) / 60:.1f} min"]
    atomic_write_text(Path(args.out).with_suffix(".md"), "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
