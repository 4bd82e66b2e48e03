"""The built-in default job at reduced size: world -> VGSE -> models -> report.html + metrics.json."""

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from zslkit.demo import REAL_DATA_FINDINGS, DemoConfig, real_data_lines, run_demo
from zslkit.errors import ConfigError


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    cfg = DemoConfig(small=True, models=["eszsl", "regressor(loss=mse)", "regressor(loss=remse)"],
                     discovery={"epochs": 2, "tiny_pretrain_epochs": 1})
    return out, run_demo(out, cfg)


def _finite_numbers(obj):
    if isinstance(obj, dict):
        for v in obj.values():
            yield from _finite_numbers(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _finite_numbers(v)
    elif isinstance(obj, float):
        yield obj


def test_demo_writes_json_with_every_cell(demo_out):
    out, res = demo_out
    d = json.loads((out / "metrics.json").read_text())
    assert d["synthetic_world"] is True and "not results on AWA2" in d["warning"]
    cells = {(r["model"], r["semantic"]) for r in d["rows"]}
    assert cells == {(m, s) for m in res.config.models for s in ("att", "word2vec", "vgse")}
    for r in d["rows"]:
        for k in ("T1", "U", "S", "H", "AUSUC"):
            assert math.isfinite(r[k]) and 0.0 <= r[k] <= 100.0, (r["model"], r["semantic"], k)
        assert r["val_semantic"] == ("relation (smo on word2vec)" if r["semantic"] == "vgse" else "same")
    comp = d["comparisons"]
    assert set(comp["vgse_minus_word2vec"]) == set(res.config.models)
    assert set(comp["remse_minus_mse"]) == {"att", "word2vec", "vgse"}
    assert all(math.isfinite(x) for x in _finite_numbers(comp))
    assert all(math.isfinite(v) and v >= 0 for v in d["timings_s"].values())
    for f in d["files"].values():
        assert (out / f).is_file() or __import__("pathlib").Path(f).is_file()


def test_demo_report_has_every_section(demo_out):
    out, _ = demo_out
    html = (out / "report.html").read_text()
    for title in ("Summary", "Models x class embeddings", "VGSE vs word vectors", "Seen-unseen (AUSUC) curves",
                  "ReMSE vs MSE (semantic regressor)", "Confusion matrix", "Visual clusters", "Timings and files",
                  "Synthetic world vs real data"):
        assert f">{title}</h2>" in html, title
    assert "SYNTHETIC image world" in html
    # self-contained: figures embedded, no external references
    imgs = re.findall(r'<img [^>]*src="([^"]+)"', html)
    assert len(imgs) >= 6 and all(src.startswith("data:image/png;base64,") for src in imgs)
    assert "http://" not in html and "https://" not in html
    assert "n/a" not in re.sub(r"<figure>.*?</figure>", "", html, flags=re.S)


def test_demo_resumes_without_redoing_runs(demo_out):
    from tests.conftest import killed_writer_leftover, temp_leftovers

    out, res = demo_out
    stamps = {p: p.stat().st_mtime_ns for p in (out / "runs").glob("*/metrics.json")}
    # issue #15: what writers SIGKILLed in the world, the discovery, a run and the report left was never removed
    img = next((out / "world" / "train").rglob("*.png"))
    left = [killed_writer_leftover(p) for p in (img, out / "vgse" / "metadata.json", out / "report.html",
                                                next((out / "runs").glob("*/predictions.npz")))]
    again = run_demo(out, res.config)
    assert not any(p.exists() for p in left) and temp_leftovers(out) == []
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    assert [r["T1"] for r in again.rows] == [r["T1"] for r in res.rows]


def test_demo_config_errors():
    with pytest.raises(ConfigError, match="semantics"):
        DemoConfig(semantics=["glove"]).validate()
    with pytest.raises(ConfigError, match="nosuchmodel"):
        DemoConfig(models=["nosuchmodel"]).validate()
    with pytest.raises(ConfigError, match="demo world"):
        DemoConfig(world={"n_sen": 3}).world_config()


REAL_RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "real_awa1.json"


def test_real_data_findings_match_the_benchmark_record():
    """The demo's statement about the real data is the REAL benchmark's record, not a typed-in number."""
    rec = json.loads(REAL_RESULTS.read_text())
    f = REAL_DATA_FINDINGS
    assert f["vgse_ahead_on_T1"] == rec["vgse_summary"]["ahead_on_T1"]
    assert f["vgse_models"] == rec["vgse_summary"]["models"]
    rz = rec["rezsl_summary"]
    authors = next(v for k, v in rz.items() if "p=1.0" in k)
    searched = next(v for k, v in rz.items() if "p=1.0" not in k)
    assert len(authors["seeds"]) == len(searched["seeds"]) == 5
    for key, v in (("remse_authors_minus_mse_T1", authors), ("remse_searched_minus_mse_T1", searched)):
        mean, std = f[key]
        assert mean == pytest.approx(np.mean(v["T1_minus_mse"]), abs=0.05)
        assert std == pytest.approx(np.std(v["T1_minus_mse"]), abs=0.05)


def test_real_data_lines_say_whether_the_synthetic_run_agrees():
    comp = {"vgse_minus_word2vec": {}, "vgse_ahead_on_T1": 0, "n_models": 4,
            "remse_minus_mse": {"att": {"T1": 0.3, "H": 0.0, "AUSUC": 0.0}}}
    lines = real_data_lines(comp)
    assert len(lines) == 2
    real_majority = REAL_DATA_FINDINGS["vgse_ahead_on_T1"] > REAL_DATA_FINDINGS["vgse_models"] / 2
    assert ("disagree" if real_majority else "agree") in lines[0]
    assert "+0.3" in lines[1] and "authors' p/p2" in lines[1]
    assert real_data_lines({}) == []
