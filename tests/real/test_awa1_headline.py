"""REAL data (AwA1, Lampert features, standard split): regression tests of the headline models.

On a fixed subset (tests/real/awa1_subset.py: the first 40 images of each class, all five feature
blocks, imported with ``data build --features``), DAP, IAP and ESZSL must reproduce, within one point,
the ZSL T1 that ``benchmarks/bench_real_awa1.py ci`` measured and saved in
``benchmarks/results/real_awa1_ci.json``. A change to the importer, the transform or a model that moves
a real-data number fails here. Fails (does not skip) without ../shared.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.real.awa1_subset import AWA1, HEADLINE, build_subset, headline

RECORD = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "real_awa1_ci.json"


@pytest.fixture(scope="module")
def subset_t1(tmp_path_factory):
    if not (AWA1 / "labels.npy").is_file():  # pragma: no cover - CI has ../shared
        pytest.fail(f"real AwA1 data not found at {AWA1} (expected ../shared beside the checkout)")
    return headline(build_subset(tmp_path_factory.mktemp("awa1_subset")))


@pytest.mark.parametrize("model", sorted(HEADLINE))
def test_headline_model_reproduces_the_benchmark_figure(subset_t1, model):
    rec = json.loads(RECORD.read_text())
    assert rec["label"] == "REAL (AwA1, Lampert features, standard split, CI subset)"
    expected = rec["T1"][model]
    assert subset_t1[model] == pytest.approx(expected, abs=1.0), (model, subset_t1[model], expected)
    assert subset_t1[model] > 100 / 10 + 5  # well above chance (10 unseen classes): the pipeline learns
