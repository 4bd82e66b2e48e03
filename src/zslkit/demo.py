"""The built-in default job (``zslkit demo``): runs anywhere, downloads nothing.

It builds a small SURROGATE dataset from a synthetic ``att_splits.mat`` and evaluates ESZSL
with attributes and with surrogate word vectors under the full protocol (selection on
validation classes, test metrics, AUSUC). The later VGSE / ReMSE / report stages extend it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zslkit.data.surrogate import SurrogateConfig, make_surrogate, make_toy_att_splits
from zslkit.pipeline import TrainConfig, train
from zslkit.utils.atomic import atomic_write_json


def run_demo(out: str | Path, seed: int = 0, models: tuple[str, ...] = ("eszsl",),
             semantics: tuple[str, ...] = ("att", "word2vec")) -> dict[str, Any]:
    """Run the demo into ``out``; returns (and writes as ``metrics.json``) a summary dict."""
    out = Path(out)
    src = out / "source" / "att_splits.mat"
    make_toy_att_splits(src, seed=seed)
    data_dir = make_surrogate(src, out / "data", seed=seed, config=SurrogateConfig(feature_dim=512),
                              overwrite=True)
    rows = []
    for model in models:
        for sem in semantics:
            res = train(TrainConfig(data=str(data_dir), model=model, semantic=sem, seed=seed))
            res.save(out / "runs" / f"{model}-{sem}")
            m = res.metrics
            rows.append({"model": model, "semantic": sem, "T1": m.T1, "U": m.U, "S": m.S, "H": m.H,
                         "gamma": m.gamma, "ausuc": m.ausuc, "params": res.params})
    summary = {"surrogate": True,
               "warning": "SURROGATE data (synthetic features and classes): not a benchmark result",
               "dataset": str(data_dir), "seed": seed, "rows": rows}
    atomic_write_json(out / "metrics.json", summary)
    return summary
