"""The shipped configs load, and environment variables in configs expand (or fail clearly)."""

from pathlib import Path

import pytest

from zslkit.config import load_config
from zslkit.errors import ConfigError
from zslkit.grid import GridConfig

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))


def test_there_are_configs_for_each_paper_and_dataset():
    names = {p.stem for p in CONFIGS}
    for ds in ("awa2", "cub", "sun"):
        assert {f"xlsa17_baselines_{ds}", f"vgse_{ds}", f"rezsl_regressor_{ds}"} <= names


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_config_loads(path, monkeypatch):
    monkeypatch.setenv("ZSLKIT_DATA", "/data/xlsa17")
    cfg = load_config(path)
    if path.stem == "demo":
        from zslkit.demo import DemoConfig

        assert cfg == DemoConfig()  # the shipped file spells out the defaults
        return
    assert isinstance(cfg, GridConfig) and all(d.startswith("/data/xlsa17/") for d in cfg.data)


def test_discover_and_demo_kinds(tmp_path):
    from zslkit.vgse.discovery import DiscoverConfig

    p = tmp_path / "d.yaml"
    p.write_text("kind: discover\nimages: /imgs\nclasses: c.txt\nunseen: u.txt\nword_vectors: w.txt\n"
                 "out: /o\nn_clusters: 32\n")
    cfg = load_config(p)
    assert isinstance(cfg, DiscoverConfig) and cfg.n_clusters == 32
    p.write_text("kind: demo\nsmall: true\nmodls: [eszsl]\n")
    with pytest.raises(ConfigError, match="modls"):
        load_config(p)
    p.write_text("kind: demo\nsemantics: [glove]\n")
    with pytest.raises(ConfigError, match="glove"):
        load_config(p)


def test_unset_environment_variable_is_an_error(tmp_path, monkeypatch):
    monkeypatch.delenv("ZSLKIT_DATA", raising=False)
    with pytest.raises(ConfigError, match="not set"):
        load_config(next(p for p in CONFIGS if "${ZSLKIT_DATA}" in p.read_text()))


@pytest.mark.parametrize("ds, steps, n_synth", [("awa2", 11040, 1800), ("cub", 6216, 300), ("sun", 6480, 400)])
def test_real_data_configs_carry_the_paper_settings_of_clswgan(ds, steps, n_synth, monkeypatch):
    from zslkit.registry import get_model

    monkeypatch.setenv("ZSLKIT_DATA", "/data/xlsa17")
    cfg = load_config(next(p for p in CONFIGS if p.stem == f"xlsa17_baselines_{ds}"))
    p = cfg.params["clswgan"]
    assert (p["hidden"], p["lr"], p["n_critic"], p["gp_lambda"], p["cls_weight"], p["batch_size"]) == (
        4096, 1e-4, 5, 10.0, 0.01, 64)
    assert (p["steps"], p["n_synth"]) == (steps, n_synth)
    m = get_model("clswgan", **p)  # valid hyperparameters, and not the CPU-sized defaults
    assert m.hidden != get_model("clswgan").hidden


@pytest.mark.parametrize("ds, settings", [("awa2", {1e-5: 0.001, 2e-4: 0.0}), ("cub", {1e-3: 0.0, 1e-4: 0.0}),
                                          ("sun", {1e-3: 0.0, 5e-4: 0.0})])
def test_vgse_configs_run_the_authors_evaluation_model(ds, settings, monkeypatch):
    """One entry per learning rate of the authors' scripts (ZSL, GZSL); the ||A||_F term only where their
    code has it (AWA2's ZSL training)."""
    from zslkit.registry import get_model

    monkeypatch.setenv("ZSLKIT_DATA", "/data/xlsa17")
    cfg = load_config(next(p for p in CONFIGS if p.stem == f"vgse_{ds}"))
    models = [get_model(m) for m in cfg.models if m.startswith("softmax_compat")]
    assert {m.lr: m.weight_norm_reg for m in models} == settings
    assert "sje" in cfg.models  # Akata et al.'s SJE stays, under its own name
