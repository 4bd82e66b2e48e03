"""Surrogate vs published: does the SURROGATE rank and score the models as the real features do?

SURROGATE data (synthetic features on the real xlsa17 splits): every number measured here is a
surrogate figure, printed beside the *published* figure on the real features so that the
difference (the residual) shows how far the surrogate can be trusted. The generator's knobs were
calibrated per dataset on ESZSL and ALE only (``calibrate_surrogate.py``); SAE (both directions),
SJE, DeViSE, f-CLSWGAN and the semantic regressor are held out. Models run as the public
reproduction ran them (fixed hyperparameters, mapped as ``surrogate_reference.py`` documents);
f-CLSWGAN and the regressor at zslkit's defaults. U/S/H are uncalibrated (gamma = 0), as in the
table.

Targets, declared in issue #13 (printed PASS/MISS, whatever is reached is what is reported):

* every held-out model's T1 within 8 points of its published value;
* Spearman rank correlation of T1 over the table models (ESZSL, SAE, ALE, SJE, DeViSE, and
  f-CLSWGAN where published) >= 0.6, with SAE taken in each direction in turn;
* uncalibrated GZSL with U far below S, as in the table. Made concrete here as: the surrogate's
  uncalibrated U is below S/2 exactly for the models whose published U is (the table itself has
  models on both sides, e.g. SUN ALE 21.8 / 33.1, and f-CLSWGAN's U is above its S on SUN).

f-CLSWGAN runs only where a published value exists (CUB, SUN): it is the slowest model here.

Run:  python benchmarks/bench_surrogate_fidelity.py [--datasets AWA2 CUB SUN APY AWA1] [--seed 0]
Writes benchmarks/results/surrogate_fidelity.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import surrogate_reference as ref  # noqa: E402

from zslkit.data.surrogate import SURROGATE_VERSION, generate_surrogate  # noqa: E402
from zslkit.utils.outputs import atomic_write_json, atomic_write_text  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "xlsa17-meta"
#: row name -> (table model it is compared with, calibrated?)
ROWS = {"ESZSL": ("ESZSL", True), "ALE": ("ALE", True), "SAE F->S": ("SAE", False), "SAE S->F": ("SAE", False),
        "SJE": ("SJE", False), "DeViSE": ("DeViSE", False), "f-CLSWGAN": ("f-CLSWGAN", False),
        "regressor": (None, False)}
TOL = 8.0


def run_dataset(ds: str, seed: int) -> dict:
    t0 = time.perf_counter()
    arr = generate_surrogate(SHARED / ds / "att_splits.mat", seed=seed)
    data = arr.to_zsldata()
    gen_s = time.perf_counter() - t0
    res = {}
    for row in ROWS:
        if row == "f-CLSWGAN" and ref.PUBLISHED[ds]["f-CLSWGAN"][0] is None:
            continue  # no published value to compare with (and the slowest model): not run
        if row == "ESZSL":
            r = ref.run_eszsl(data, ds)
        elif row == "ALE":
            r = ref.run_ranking(data, ds, "ale", seed=seed)
        elif row.startswith("SAE"):
            r = ref.run_sae(data, ds, row.split()[1])
        elif row in ("SJE", "DeViSE"):
            r = ref.run_ranking(data, ds, row.lower(), seed=seed)
        elif row == "f-CLSWGAN":
            r = ref.run_default(data, ds, "clswgan", seed=seed)
        else:
            r = ref.run_default(data, ds, "regressor", seed=seed)
        res[row] = r
        print(f"{ds} {row}: T1 {r['T1']:.1f} U {r['U']:.1f} S {r['S']:.1f} ({r['seconds']:.0f} s)", flush=True)
    return {"preset": arr.preset, "config": arr.config.__dict__, "generate_s": gen_s, "rows": res}


def tables(ds: str, d: dict) -> tuple[list[str], dict]:
    pub = ref.PUBLISHED[ds]
    lines = [f"## {ds} (SURROGATE, preset {d['preset']})", "",
             "| model | role | published T1 | surrogate T1 | residual | within 8 | published U / S | "
             "surrogate U / S (uncal.) | U/S published / surrogate | U < S/2 as published | "
             "reproduction on real T1 |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    checks = {"within": {}, "gzsl": {}}
    for row, (tm, calibrated) in ROWS.items():
        if row not in d["rows"]:
            continue
        r = d["rows"][row]
        p = pub.get(tm, (None,) * 4) if tm else (None,) * 4
        t1p, up, sp = p[0], p[1], p[2]
        resid = None if t1p is None else r["T1"] - t1p
        within = "" if resid is None else ("yes" if abs(resid) <= TOL else "NO")
        if resid is not None and not calibrated:
            checks["within"][row] = abs(resid) <= TOL
        # "U far below S as in the table": the surrogate's U is below S/2 exactly where the published one is
        gz_ok = None if up is None or sp is None else (r["U"] < r["S"] / 2) == (up < sp / 2)
        if gz_ok is not None:
            checks["gzsl"][row] = gz_ok
        real = ref.REPRO_REAL.get(ds, {}).get(row)
        role = "calibrated" if calibrated else ("held out" if tm else "held out, no published value")
        lines.append(f"| {row} | {role} | {ref.fmt(t1p)} | {r['T1']:.1f} | "
                     f"{'—' if resid is None else f'{resid:+.1f}'} | {within if not calibrated else '(' + within + ')'}"
                     f" | {ref.fmt(up)} / {ref.fmt(sp)} | {r['U']:.1f} / {r['S']:.1f} | "
                     f"{ref.fmt(None if up is None or not sp else up / sp, 2)} / {r['U'] / max(r['S'], 1e-9):.2f} | "
                     f"{'' if gz_ok is None else ('yes' if gz_ok else 'NO')} | {ref.fmt(real, 2)} |")
    rho = {}
    for sae, with_gan in (("SAE F->S", True), ("SAE S->F", True), ("SAE F->S", False), ("SAE S->F", False)):
        names, a, b = [], [], []
        for row, (tm, _) in ROWS.items():
            if tm is None or (row.startswith("SAE") and row != sae) or (row == "f-CLSWGAN" and not with_gan):
                continue
            t1p = pub.get(tm, (None,))[0]
            if t1p is None or row not in d["rows"]:
                continue
            names.append(row)
            a.append(t1p)
            b.append(d["rows"][row]["T1"])
        key = sae if with_gan else f"{sae}, classic models only"
        rho[key] = {"models": names, "rho": ref.spearman(a, b)}
    lines += ["", "Spearman rank correlation of T1 (published vs surrogate) over the table models (the target), "
              "and, for information, over the five classic models without f-CLSWGAN (run at zslkit's short CPU "
              "defaults, not the authors' schedule):", ""]
    for key, v in rho.items():
        target = "" if "classic" in key else f" ({'PASS' if v['rho'] >= 0.6 else 'MISS'} >= 0.6)"
        lines.append(f"- with {key}: rho = {v['rho']:.2f} over {', '.join(v['models'])}{target}")
    held = checks["within"]
    lines += [f"- held-out models within {TOL:.0f} points of published T1: {sum(held.values())}/{len(held)} "
              f"({'PASS' if all(held.values()) else 'MISS'}; misses: "
              f"{', '.join(k for k, v in held.items() if not v) or 'none'})",
              f"- uncalibrated U below S/2 exactly where the published U is: {sum(checks['gzsl'].values())}/"
              f"{len(checks['gzsl'])} models with published U/S "
              f"({'PASS' if all(checks['gzsl'].values()) else 'MISS'}; misses: "
              f"{', '.join(k for k, v in checks['gzsl'].items() if not v) or 'none'}); U < S for "
              f"{sum(d['rows'][k]['U'] < d['rows'][k]['S'] for k in d['rows'])}/{len(d['rows'])} surrogate rows",
              "", f"generation {d['generate_s']:.1f} s; model seconds: "
              + ", ".join(f"{k} {v['seconds']:.0f}" for k, v in d["rows"].items()), ""]
    return lines, {"rho": rho, "checks": checks}


def render_saved(out: Path) -> None:
    """Rewrite ``out.md`` from ``out.json`` (same measurements, current table code)."""
    record = json.loads(out.with_suffix(".json").read_text())
    old = out.with_suffix(".md").read_text().splitlines() if out.with_suffix(".md").is_file() else []
    head = record.get("head") or old[:next((i for i, x in enumerate(old) if x.startswith("## ")), len(old))]
    total = record.get("total") or next((x for x in old if x.startswith("total ")), "")
    lines = list(head)
    for ds, d in record["datasets"].items():
        lines += tables(ds, d)[0]
    lines += [total, "", "(tables re-rendered from the saved measurements with --render-only)"]
    atomic_write_text(out.with_suffix(".md"), "\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="*", default=["AWA2", "CUB", "SUN", "APY", "AWA1"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "surrogate_fidelity"))
    ap.add_argument("--render-only", action="store_true",
                    help="Do not run anything: re-render the .md from the measurements saved in the .json.")
    args = ap.parse_args()
    ref.one_thread()
    out = Path(args.out)
    if args.render_only:
        render_saved(out)
        return
    head = [f"# Surrogate fidelity ({SURROGATE_VERSION}): SURROGATE vs published (real features)", "",
            "**SURROGATE data: synthetic features on the real xlsa17 splits. The surrogate columns are NOT "
            "results on AWA2/CUB/SUN/APY/AWA1**; the published columns are the papers' numbers on the real "
            "features (sources in benchmarks/surrogate_reference.py).", "", ref.machine_line(), "",
            "Calibrated on ESZSL and ALE (T1 and uncalibrated S; calibrate_surrogate.py); every other model is "
            "held out. Hyperparameters: the public reproduction's fixed values (surrogate_reference.py: lr x 6.4 "
            "for minibatch SGD with momentum, epochs chosen on validation classes); f-CLSWGAN and the regressor at "
            "zslkit defaults. U / S uncalibrated (gamma 0). Seed " + str(args.seed) + ", real sizes, no "
            "subsampling, one thread. '(yes)' marks a calibrated model's residual (not a validation).", ""]
    record = {"version": SURROGATE_VERSION, "seed": args.seed, "head": head, "datasets": {}}
    body: list[str] = []
    t_all = time.perf_counter()
    for ds in args.datasets:
        d = run_dataset(ds, args.seed)
        lines, summary = tables(ds, d)
        body += lines
        record["datasets"][ds] = {**d, **summary}
        atomic_write_text(out.with_suffix(".md"), "\n".join(head + body) + "\n")
        atomic_write_json(out.with_suffix(".json"), json.loads(json.dumps(record, default=float)))
    body += [f"total {(time.perf_counter() - t_all) / 60:.1f} min"]
    record["total"] = body[-1]
    atomic_write_text(out.with_suffix(".md"), "\n".join(head + body) + "\n")
    atomic_write_json(out.with_suffix(".json"), json.loads(json.dumps(record, default=float)))
    print("\n".join(head + body))


if __name__ == "__main__":
    main()
