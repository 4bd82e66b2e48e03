"""zslkit report / analyze: runs grouped over seeds, legible figures, the synthetic mark."""

from __future__ import annotations

import re

import numpy as np
import pytest
from click.testing import CliRunner

from zslkit.cli import main
from zslkit.errors import ZSLDataError
from zslkit.pipeline import TrainConfig, train
from zslkit.report.figures import FULL_CONFUSION_MAX, attribute_error_figure, confusion_figure, top_confusions
from zslkit.report.runs import build_report, collect_runs, comparison_table, group_runs


@pytest.fixture(scope="module")
def runs_root(tmp_path_factory, toy_dir):
    root = tmp_path_factory.mktemp("runs")
    for seed in (0, 1):
        train(TrainConfig(data=str(toy_dir), model="eszsl", params={"alpha": 1.0, "lam": 1.0}, seed=seed, tune=False),
              out_dir=root / f"eszsl_s{seed}")
    train(TrainConfig(data=str(toy_dir), model="regressor", params={"epochs": 2, "loss": "remse"}, tune=False),
          out_dir=root / "grid" / "regressor_remse")
    return root


def test_runs_are_grouped_over_seeds(runs_root):
    runs = collect_runs([runs_root])
    assert len(runs) == 3
    groups = group_runs(runs)
    assert [len(g.runs) for g in groups] == [2, 1]
    rows = comparison_table(groups)
    assert rows[0]["run"] == "ESZSL · att" and rows[0]["seeds"] == 2
    assert re.fullmatch(r"\d+\.\d ± \d+\.\d", rows[0]["T1"])  # mean ± std over the two seeds
    assert rows[1]["run"].startswith("Regressor · att · ReMSE (p 0.1, p2 0.75)")
    assert rows[0]["chance T1"] == "10.0"  # 10 unseen classes


def test_seeds_whose_search_chose_differently_stay_one_group(runs_root, tmp_path):
    """Same request, different seeds: the validation search may choose other hyperparameters per seed
    (bench_report's regressor picked lr 0.1 on seed 0 and 0.01 on seed 1); that is one experiment, not
    two. A different request (another fixed parameter) is another group."""
    import json
    import shutil

    for seed, lam in ((0, 1.0), (1, 10.0)):
        d = shutil.copytree(runs_root / f"eszsl_s{seed}", tmp_path / f"s{seed}")
        m = json.loads((d / "metrics.json").read_text())
        m["params"]["lam"] = lam  # what the search chose
        (d / "metrics.json").write_text(json.dumps(m))
    d = shutil.copytree(runs_root / "eszsl_s0", tmp_path / "other")
    m = json.loads((d / "metrics.json").read_text())
    m["config"]["params"]["alpha"] = 5.0  # another request
    (d / "metrics.json").write_text(json.dumps(m))
    groups = group_runs(collect_runs([tmp_path]))
    assert sorted(len(g.runs) for g in groups) == [1, 2]
    assert sorted(g.label for g in groups) == ["ESZSL · att", "ESZSL · att [2]"]


def test_report_html_is_self_contained_and_marked(runs_root, tmp_path):
    out = build_report([runs_root], tmp_path / "report.html")
    html = out.read_text()
    assert "SURROGATE / SYNTHETIC data" in html and "data:image/png;base64," in html
    assert "http://" not in html and "https://" not in html  # nothing fetched when opened
    for section in ("Summary", "Selected hyperparameters", "Seen-unseen curves", "Confusions", "Per-attribute errors",
                    "Provenance"):
        assert f">{section}</h2>" in html
    assert "CV = coefficient of variation" in html and "ReMSE active" in html
    with pytest.raises(ZSLDataError, match="no finished run"):
        build_report([tmp_path], tmp_path / "r2.html")


def test_confusion_views_stay_legible_for_many_classes(tmp_path):
    rng = np.random.default_rng(0)
    n_cls = 200  # CUB-sized: an aggregated view, no per-class tick labels
    unseen = np.arange(150, 200)
    y = rng.integers(0, n_cls, 3000)
    pred = np.where(rng.random(3000) < 0.5, y, rng.integers(0, n_cls, 3000))
    names = [f"class {i}" for i in range(n_cls)]
    big = confusion_figure(y, pred, np.arange(n_cls), names, unseen, tmp_path / "big.png", synthetic=True)
    small = confusion_figure(y[y < 20], pred[y < 20] % 20, np.arange(20), names, np.arange(15, 20), tmp_path / "s.png")
    assert big.read_bytes()[:4] == small.read_bytes()[:4] == b"\x89PNG" and n_cls > FULL_CONFUSION_MAX
    top = top_confusions(y, pred, names, unseen, k=5)
    assert len(top) == 5 and top[0]["images"] >= top[-1]["images"]
    assert top[0]["true class"].endswith(("(seen)", "(unseen)"))
    errs = attribute_error_figure([rng.random(312), rng.random(312)], ["MSE", "ReMSE"], tmp_path / "a.png", top_k=30)
    assert errs.read_bytes()[:4] == b"\x89PNG"


def test_cli_report_and_analyze_print_the_table(runs_root, tmp_path):
    res = CliRunner().invoke(main, ["-q", "report", str(runs_root), "--out", str(tmp_path / "r.html")])
    assert res.exit_code == 0, res.output
    assert "ESZSL · att" in res.output and (tmp_path / "r.html").is_file()
    res = CliRunner().invoke(main, ["-q", "analyze", str(runs_root / "eszsl_s0"), "--compare",
                                    str(runs_root / "eszsl_s1")])
    assert res.exit_code == 0, res.output
    assert "chance T1" in res.output and "AUSUC" in res.output
