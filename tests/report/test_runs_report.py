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
                                    str(runs_root / "eszsl_s1"), "--out", str(tmp_path / "analysis")])
    assert res.exit_code == 0, res.output
    assert "chance T1" in res.output and "AUSUC" in res.output


# -- metrics.json fields of the wrong type, and runs reached twice ----------------------------------------------

_WRONG = ["x", None, [1], {"a": 1}, True, 1.5, -1]


def _field_paths(m: dict) -> list[str]:
    """Every field of a real run's metrics.json two levels deep, and every field the reports read (the
    schema of runs.py, some of them absent from this run)."""
    from zslkit.report.runs import _METRICS_FIELDS

    out = []
    for k, v in m.items():
        out.append(k)
        if isinstance(v, dict):
            out += [f"{k}.{k2}" for k2 in v]
    return list(dict.fromkeys(out + list(_METRICS_FIELDS) + ["curve.U", "curve.S"]))


def _mutated(m: dict, path: str, value) -> dict | None:
    import copy

    m = copy.deepcopy(m)
    node = m
    *parents, last = path.split(".")
    for p in parents:
        node = node.setdefault(p, {}) if isinstance(node, dict) else None
    if not isinstance(node, dict) or (last in node and node[last] == value and type(node[last]) is type(value)):
        return None
    node[last] = value
    return m


@pytest.mark.slow
def test_metrics_fields_of_the_wrong_type_are_one_error_naming_file_and_field(runs_root, tmp_path):
    """The fuzz: every field of a real run's metrics.json (and every field the reports read) set to a string,
    null, a list, an object, a bool, a float, -1. ``report`` and ``analyze`` either raise ZSLDataError naming
    metrics.json and the field, or the value is one they handle: all such values of one kind, applied
    together to one run, then give a report and an analysis without any error."""
    import json
    import shutil

    from zslkit.report.analysis import analyze_run

    run = shutil.copytree(runs_root / "grid" / "regressor_remse", tmp_path / "run")
    m0 = json.loads((run / "metrics.json").read_text())
    m0["curve"] = json.loads((run / "curve.json").read_text())  # the curve also as a metrics.json field
    mfile = run / "metrics.json"
    accepted: dict[str, list[str]] = {}
    refused = 0
    for path in _field_paths(m0):
        for value in _WRONG:
            m = _mutated(m0, path, value)
            if m is None:
                continue
            mfile.write_text(json.dumps(m))
            try:
                collect_runs([run])
            except ZSLDataError as exc:
                msg = str(exc)
                assert str(mfile) in msg and repr(path.split(".")[0])[:-1] in msg, (path, value, msg)
                assert "\n" not in msg
                with pytest.raises(ZSLDataError, match=re.escape(str(mfile))):
                    analyze_run(run)
                refused += 1
                continue
            accepted.setdefault(json.dumps(value), []).append(path)
    assert refused > 50
    for value, paths in accepted.items():  # every accepted value of a kind, together: report and analyze work
        m = m0
        for path in paths:
            m = _mutated(m, path, json.loads(value)) or m
        mfile.write_text(json.dumps(m))
        build_report([run], tmp_path / "report.html")
        analyze_run(run)


@pytest.mark.parametrize("content, match", [
    ('"x"', r"curve.json: the curve is \"x\", expected a JSON object"),
    ('[1, 2]', r"curve.json: the curve is \[1, 2\], expected a JSON object"),
    ('{"U": "x", "S": [1]}', r"curve.json: field 'U' is \"x\", expected a list of numbers"),
    ('{"U": [1, 2], "S": [1]}', r"curve.json: fields 'U' and 'S' have 2 and 1 values"),
    ('{"U": [1], "S": [null]}', r"curve.json: field 'S' is \[null\], expected a list of numbers"),
])
def test_curve_json_of_the_wrong_shape(runs_root, tmp_path, content, match):
    import shutil

    from zslkit.report.analysis import analyze_run

    run = shutil.copytree(runs_root / "eszsl_s0", tmp_path / "run")
    (run / "curve.json").write_text(content)
    with pytest.raises(ZSLDataError, match=match):
        build_report([run], tmp_path / "report.html")
    with pytest.raises(ZSLDataError, match=match):
        analyze_run(run)


def test_attribute_names_of_other_dimensions_are_not_used(runs_root, tmp_path):
    """Names that do not name the predicted dimensions (fewer, or attribute names beside a word2vec run) are
    not indexed (an IndexError before): the figures number the dimensions instead."""
    import json
    import shutil

    from zslkit.report.analysis import analyze_run
    from zslkit.report.runs import attribute_names_of

    run = shutil.copytree(runs_root / "grid" / "regressor_remse", tmp_path / "run")
    m = json.loads((run / "metrics.json").read_text())
    m["attribute_names"] = ["only one"]
    (run / "metrics.json").write_text(json.dumps(m))
    build_report([run], tmp_path / "report.html")
    analyze_run(run)
    assert attribute_names_of(m, 1) == ["only one"] and attribute_names_of(m, 2) is None
    assert attribute_names_of({"dataset": {"attribute_names": ["a", "b"]}}, 2) == ["a", "b"]


def test_a_run_reached_twice_counts_once(runs_root, tmp_path):
    """RUN RUN, RUN and RUN/../RUN, a grid and one of its cells (and a symlink to a run): one run, not two seeds."""
    run = runs_root / "eszsl_s0"
    (tmp_path / "link").symlink_to(run)
    for paths in ([run, run], [run, run / ".." / run.name], [run, tmp_path / "link"],
                  [runs_root / "grid", runs_root / "grid" / "regressor_remse"]):
        runs = collect_runs(paths)
        assert len(runs) == 1, paths
        assert comparison_table(group_runs(runs))[0]["seeds"] == 1
    assert len(collect_runs([runs_root, runs_root / "eszsl_s1"])) == 3  # the two eszsl seeds and the regressor


def test_analyze_a_run_compared_with_itself_counts_once(runs_root, tmp_path):
    import shutil

    from zslkit.report.analysis import analyze_run

    run = shutil.copytree(runs_root / "eszsl_s0", tmp_path / "run")
    report = analyze_run(run, compare=[run, tmp_path / "run" / ".." / "run"])
    assert report["runs"] == [str(run)] and report["table"][0]["seeds"] == 1


def test_a_predictions_npz_missing_arrays_is_one_error_naming_them(toy_dir, tmp_path):
    import numpy as np

    from zslkit.errors import ZSLDataError
    from zslkit.pipeline import TrainConfig, train_to_dir
    from zslkit.report.analysis import analyze_run
    from zslkit.report.runs import build_report

    run = tmp_path / "run"
    train_to_dir(TrainConfig(data=str(toy_dir), tune=False), run)
    with np.load(run / "predictions.npz") as z:
        kept = {k: z[k] for k in z.files if k != "gzsl_y_pred"}
    (run / "predictions.npz").unlink()
    np.savez(run / "predictions.npz", **kept)  # damaged by another tool
    with pytest.raises(ZSLDataError, match=r"predictions.npz: lacks array\(s\) \['gzsl_y_pred'\]"):
        analyze_run(run, out=tmp_path / "a")
    with pytest.raises(ZSLDataError, match=r"lacks array\(s\) \['gzsl_y_pred'\]"):
        build_report([run], tmp_path / "r.html")
