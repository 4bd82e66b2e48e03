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
        assert {f"xlsa17_baselines_{ds}", f"vgse_{ds}", f"rezsl_regressor_{ds}", f"rezsl_attention_net_{ds}",
                f"gem_zsl_{ds}"} <= names


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_config_loads(path, monkeypatch):
    for var, value in (("ZSLKIT_DATA", "/data/xlsa17"), ("ZSLKIT_IMAGES", "/data/images"),
                       ("ZSLKIT_W2V", "/data/w2v"), ("ZSLKIT_WEIGHTS", "/data/weights")):
        monkeypatch.setenv(var, value)
    cfg = load_config(path)
    if path.stem == "demo":
        from zslkit.demo import DemoConfig

        assert cfg == DemoConfig()  # the shipped file spells out the defaults
        return
    if path.stem.startswith(("rezsl_attention_net_", "gem_zsl_")):  # image-level: one run with the authors' preset
        from zslkit.image_pipeline import ImageModelConfig
        from zslkit.pipeline import TrainConfig

        assert isinstance(cfg, TrainConfig) and cfg.images.startswith("/data/images/")
        params = dict(cfg.params)
        icfg = ImageModelConfig.from_preset(params.pop("preset"), model=cfg.model, **params).validate()
        assert icfg.backbone == "resnet101" and icfg.finetune_backbone and icfg.image_size == 448
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
