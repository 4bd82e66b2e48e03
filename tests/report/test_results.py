"""Results of many runs as one table: results_rows, load_results (pandas) and zslkit report --csv."""

from __future__ import annotations

import csv
import json
import sys

import pytest
from click.testing import CliRunner

from zslkit.cli import main
from zslkit.errors import ConfigError, ZSLDataError
from zslkit.pipeline import TrainConfig, train
from zslkit.report import load_results, results_rows
from zslkit.report.results import RESULT_COLUMNS


@pytest.fixture(scope="module")
def runs_root(tmp_path_factory, toy_dir):
    root = tmp_path_factory.mktemp("results")
    for seed in (0, 1):
        train(TrainConfig(data=str(toy_dir), model="eszsl", params={"lam": 1.0}, grid={"alpha": [1.0, 10.0]},
                          seed=seed), out_dir=root / f"eszsl_s{seed}")
    train(TrainConfig(data=str(toy_dir), model="sae", semantic="word2vec", tune=False,
                      transform="normalize(norm=l2)"), out_dir=root / "grid" / "cells" / "sae")
    return root


def test_one_row_per_run_with_config_and_metric_columns(runs_root):
    rows = results_rows([runs_root])
    assert len(rows) == 3 and list(rows[0])[:len(RESULT_COLUMNS)] == list(RESULT_COLUMNS)
    by_path = {r["path"]: r for r in rows}
    for name in ("eszsl_s0", "eszsl_s1", "grid/cells/sae"):
        m = json.loads((runs_root / name / "metrics.json").read_text())
        r = by_path[str(runs_root / name)]
        assert (r["T1"], r["U"], r["S"], r["H"], r["AUSUC"], r["gamma"]) == (
            m["zsl"]["T1"], m["gzsl"]["U"], m["gzsl"]["S"], m["gzsl"]["H"], m["ausuc"], m["gzsl"]["gamma"])
        assert r["H0"] == m["gzsl_uncalibrated"]["H"] and r["oracle_H"] == m["gzsl_oracle"]["H"]
        assert r["seconds"] == pytest.approx(sum(m["timings_s"].values()))
        assert all(r[f"param.{k}"] == (v if not isinstance(v, (list, dict)) else json.dumps(v, sort_keys=True))
                   for k, v in m["params"].items())
    s0, sae = by_path[str(runs_root / "eszsl_s0")], by_path[str(runs_root / "grid/cells/sae")]
    assert (s0["model"], s0["semantic"], s0["seed"], s0["transform"]) == ("eszsl", "att", 0, None) and s0["surrogate"]
    assert s0["config.grid"] == '{"alpha": [1.0, 10.0]}' and s0["config.tune"] is True
    assert s0["param.lam"] == 1.0 and s0["param.alpha"] in (1.0, 10.0)
    assert (sae["model"], sae["semantic"], sae["transform"]) == ("sae", "word2vec", "normalize(norm=l2)")
    assert "param.alpha" not in sae  # a hyperparameter this model does not have


def test_load_results_is_a_dataframe(runs_root):
    pd = pytest.importorskip("pandas")
    df = load_results(runs_root)  # one path, or a list of them
    assert isinstance(df, pd.DataFrame) and df.shape[0] == 3 and list(df.columns[:len(RESULT_COLUMNS)]) == \
        list(RESULT_COLUMNS)
    assert df.loc[df["model"] == "sae", "param.alpha"].isna().all()
    means = df.groupby("model")["T1"].mean()
    rows = results_rows([runs_root])
    assert means["eszsl"] == pytest.approx(sum(r["T1"] for r in rows if r["model"] == "eszsl") / 2)
    assert load_results([runs_root / "eszsl_s0", runs_root / "grid"]).shape[0] == 2


def test_load_results_without_pandas_says_what_to_install(runs_root, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas fails
    with pytest.raises(ConfigError, match=r"needs pandas.*zslkit\[pandas\]"):
        load_results([runs_root])


def test_report_csv(runs_root, tmp_path):
    out = tmp_path / "results.csv"
    r = CliRunner().invoke(main, ["-q", "report", str(runs_root), "--csv", str(out)])
    assert r.exit_code == 0 and "3 runs" in r.output, r.output
    with out.open() as fh:
        table = list(csv.DictReader(fh))
    rows = results_rows([runs_root])
    assert [t["path"] for t in table] == [r["path"] for r in rows]
    assert [float(t["H"]) for t in table] == [r["H"] for r in rows]  # full precision
    assert table[2]["param.alpha"] == "" and table[0]["transform"] == ""  # missing: empty cells
    r = CliRunner().invoke(main, ["-q", "report", str(runs_root)])
    assert r.exit_code == 2 and "give --out REPORT.html, --csv RESULTS.csv, or both" in r.output
    mine = tmp_path / "mine.csv"
    mine.write_text("x")
    r = CliRunner().invoke(main, ["-q", "report", str(runs_root), "--csv", str(mine)])
    assert r.exit_code == 2 and "not written by zslkit" in r.output and mine.read_text() == "x"
    with pytest.raises(ZSLDataError, match="no finished run below it"):
        results_rows([tmp_path])
