"""The built-in default job at reduced size: world -> VGSE -> models -> report.html + metrics.json."""

import json
import math
import re

import pytest

from zslkit.demo import DemoConfig, run_demo
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
                  "ReMSE vs MSE (semantic regressor)", "Confusion matrix", "Visual clusters", "Timings and files"):
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
