"""Results of any set of runs and grids as one table: :func:`results_rows`, :func:`load_results` (a pandas
DataFrame) and ``zslkit report --csv``.

One row per finished run directory at or below the given paths (a run, a grid's cells, a demo's runs;
found by :func:`zslkit.report.runs.collect_runs`), with

* what the run was: ``path``, ``dataset``, ``model`` (the specification it was trained with),
  ``semantic``, ``seed``, ``transform``, ``surrogate``;
* its numbers: ``T1``, ``U``, ``S``, ``H``, ``AUSUC``, ``gamma`` (validation), ``gamma_source``,
  ``U0``, ``S0``, ``H0`` (uncalibrated, gamma 0), ``oracle_H``, ``oracle_gamma`` (tuned on test, for
  comparison only), ``seconds`` (the run's phases together);
* its settings: ``param.NAME`` for every hyperparameter of the trained model (what validation chose
  and what was fixed), ``config.FIELD`` for the rest of its configuration (lists and mappings as JSON
  text).

Columns a run does not have are empty (None; NaN in the DataFrame).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from typing import Any, Sequence

__all__ = ["RESULT_COLUMNS", "load_results", "results_rows", "write_results_csv"]

#: the leading columns of every table, in order (``param.*`` and ``config.*`` columns follow)
RESULT_COLUMNS = ("path", "dataset", "model", "semantic", "seed", "transform", "surrogate", "T1", "U", "S", "H",
                  "AUSUC", "gamma", "gamma_source", "U0", "S0", "H0", "oracle_H", "oracle_gamma", "seconds")
#: configuration fields shown as their own columns above, or that describe the machine rather than the run
_CONFIG_SKIP = {"model", "semantic", "seed", "transform", "data", "params", "progress", "tensorboard"}


def _get(m: dict[str, Any], *path: str) -> Any:
    v: Any = m
    for k in path:
        v = v.get(k) if isinstance(v, dict) else None
    return v


def _cell(value: Any) -> Any:
    """A table cell: numbers, strings, bools and None as they are; lists and mappings as JSON text."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def results_rows(paths: Sequence[str | os.PathLike]) -> list[dict[str, Any]]:
    """One dict per finished run at or below ``paths`` (see the module docstring for the columns), in the
    order :func:`~zslkit.report.runs.collect_runs` finds them.

    Raises:
        ZSLDataError: a path without any finished run, or a run whose ``metrics.json`` is unreadable or
            lacks what the reports need (naming the file and the field).
    """
    from zslkit.report.runs import collect_runs

    rows = []
    for r in collect_runs(paths):
        m = r.metrics
        cfg = m.get("config") if isinstance(m.get("config"), dict) else {}
        timings = m.get("timings_s") if isinstance(m.get("timings_s"), dict) else {}
        secs = [float(v) for v in timings.values() if isinstance(v, (int, float)) and not isinstance(v, bool)]
        row: dict[str, Any] = {
            "path": str(r.path), "dataset": r.dataset, "model": str(cfg.get("model") or r.model),
            "semantic": r.semantic, "seed": r.seed, "transform": cfg.get("transform"),
            "surrogate": bool(m.get("surrogate", False)),
            "T1": _get(m, "zsl", "T1"), "U": _get(m, "gzsl", "U"), "S": _get(m, "gzsl", "S"),
            "H": _get(m, "gzsl", "H"), "AUSUC": m.get("ausuc"), "gamma": _get(m, "gzsl", "gamma"),
            "gamma_source": m.get("gamma_source"),
            "U0": _get(m, "gzsl_uncalibrated", "U"), "S0": _get(m, "gzsl_uncalibrated", "S"),
            "H0": _get(m, "gzsl_uncalibrated", "H"), "oracle_H": _get(m, "gzsl_oracle", "H"),
            "oracle_gamma": _get(m, "gzsl_oracle", "gamma"), "seconds": sum(secs) if secs else None,
        }
        for k, v in sorted(r.params.items()):
            row[f"param.{k}"] = _cell(v)
        for k, v in cfg.items():
            if k not in _CONFIG_SKIP:
                row[f"config.{k}"] = _cell(v)
        rows.append(row)
    return rows


def _columns(rows: Sequence[dict[str, Any]]) -> list[str]:
    extra = sorted({k for r in rows for k in r if k not in RESULT_COLUMNS},
                   key=lambda k: (not k.startswith("param."), k))
    return [*RESULT_COLUMNS, *extra]


def load_results(paths: Sequence[str | os.PathLike] | str | os.PathLike) -> Any:
    """The results of the runs and grids at or below ``paths`` as a pandas DataFrame, one row per run (the
    columns of :func:`results_rows`; a missing value is NaN/None). Needs pandas (``pip install
    "zslkit[pandas]"``). Example: ``load_results(["grid"]).groupby(["model", "semantic"])["H"].agg(["mean",
    "std"])``."""
    try:
        import pandas as pd
    except ImportError:
        from zslkit.errors import ConfigError

        raise ConfigError("load_results needs pandas, which is not installed: pip install 'zslkit[pandas]' (or use "
                          "zslkit.report.results_rows, a list of dicts, or zslkit report --csv)") from None
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    rows = results_rows(paths)
    return pd.DataFrame(rows, columns=_columns(rows))


def write_results_csv(paths: Sequence[str | os.PathLike], out: str | os.PathLike) -> int:
    """Write the results of :func:`results_rows` to the CSV file ``out`` (atomically, only where zslkit may
    write: :func:`zslkit.utils.outputs.output_file`); returns the number of runs. Floats are written in
    full precision, missing values as empty cells."""
    from zslkit.utils.outputs import output_file

    rows = results_rows(paths)
    cols = _columns(rows)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: "" if r.get(k) is None or (isinstance(r.get(k), float) and math.isnan(r[k])) else r[k]
                    for k in cols})
    inputs = [os.path.join(r["path"], "metrics.json") for r in rows]
    with output_file(out, inputs=tuple(inputs)) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            fh.write(buf.getvalue())
    return len(rows)
