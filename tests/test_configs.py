"""The shipped configs load, and environment variables in configs expand (or fail clearly)."""

import re
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
                f"rezsl_basic_net_{ds}", f"gem_zsl_{ds}"} <= names


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
    if path.stem.startswith(("rezsl_attention_net_", "rezsl_basic_net_", "gem_zsl_")):  # image-level: one run with the authors' preset
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


def test_yaml_bounds_alias_bomb_depth_recursion_and_tags(tmp_path):
    """Issue #15: a 1 KB alias bomb grew past 1.3 GB when expanded, 3000-deep nesting was a RecursionError,
    a !!python tag was refused as a traceback."""
    import subprocess
    import sys

    p = tmp_path / "c.yaml"
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"] + [
        f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    p.write_text("kind: train\ndata: ${HOME}\nx:\n" + "\n".join("  " + ln for ln in levels) + "\nparams: {x: *a8}\n")
    assert p.stat().st_size < 1200
    # in a child limited to 1 GB of address space: a regression fails with MemoryError instead of eating RAM
    child = ("import resource, sys\n"
             "resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))\n"
             "from zslkit.config import _expand, read_yaml\n"
             "try:\n    _expand(read_yaml(sys.argv[1]), sys.argv[1])\n"
             "except Exception as exc:\n    print(type(exc).__name__, exc)\n")
    r = subprocess.run([sys.executable, "-c", child, str(p)], capture_output=True, text=True, timeout=120,
                       env={**__import__("os").environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")})
    assert r.stdout.startswith("ConfigError") and "c.yaml: expands to more than 20000 values" in r.stdout, r
    with pytest.raises(ConfigError, match=r"c.yaml: expands to more than 20000 values"):
        load_config(p)
    for text, match in (("params: " + "[" * 3000 + "]" * 3000, "nested too deeply"),
                        ("params: " + "[" * 50 + "]" * 50, "nested more than 40 levels"),
                        ("params: &a {x: *a}", "refers to itself"),
                        ("params: !!python/object/apply:os.system [echo]", "could not determine a constructor"),
                        ("kind: [train]", "kind must be one of")):
        p.write_text("data: x\n" + text + "\n")
        with pytest.raises(ConfigError, match=match):
            load_config(p)
    p.write_text("base: &b {lam: 1.0}\n")  # ordinary anchors still work
    from zslkit.config import parse_yaml

    assert parse_yaml("a: &b {lam: 1.0}\nc: *b\n", "x") == {"a": {"lam": 1.0}, "c": {"lam": 1.0}}


def test_train_yaml_values_are_checked_before_any_work(tmp_path, toy_dir):
    p = tmp_path / "t.yaml"
    for body, match in (("seed: -1", "seed must be an integer >= 0"), ("val_folds: [0]", "numbered from 1"),
                        ("gamma: .nan", "'gamma' = nan must be a finite number"),
                        ("params: {lam: abc}", "params: model 'eszsl' hyperparameter 'lam' = 'abc'"),
                        ("grid: {lam: []}", "grid: search grid of 'eszsl' hyperparameter 'lam' must be a non-empty"),
                        ("grid: {lam: [1, abc]}", "'lam' = 'abc' has the wrong type"),
                        ("model: 'sae(normalize_w=abc)'", "'normalize_w' = 'abc' has the wrong type"),
                        ("seeed: 1", r"unknown setting\(s\) \['seeed'\] \(did you mean 'seed'\?\) for TrainConfig"),
                        ("model: eszls", r"unknown model 'eszls' \(did you mean 'eszsl'\?\)")):
        p.write_text(f"kind: train\ndata: {toy_dir}\n{body}\n")
        with pytest.raises(ConfigError, match=match):
            load_config(p)


def test_demo_nested_settings_are_checked(tmp_path):
    p = tmp_path / "d.yaml"
    for body, match in (("discovery: {no_such_setting: 3}", r"demo discovery: unknown setting\(s\) \['no_such_setting'\]"),
                        ("discovery: {epochs: many}", "demo discovery: setting 'epochs' = 'many' has the wrong type"),
                        ("discovery: {out: /elsewhere}", "unknown setting.*'out'"),  # the demo sets it itself
                        ("world: {n_sen: 3}", "demo world: unknown setting"),
                        ("seed: -2", "demo seed must be an integer >= 0")):
        p.write_text(f"kind: demo\nsmall: true\n{body}\n")
        with pytest.raises(ConfigError, match=match):
            load_config(p)


def test_run_overrides_reach_nested_keys(tmp_path, monkeypatch):
    from zslkit.config import apply_overrides

    monkeypatch.setenv("ZSLKIT_DATA", "/data/xlsa17")
    cfg = load_config(CONFIGS[0].parent / "xlsa17_baselines_cub.yaml", ["seeds=[0]", "workers=1", "out=/tmp/x"])
    assert cfg.seeds == [0] and cfg.workers == 1 and cfg.out == "/tmp/x"
    d = apply_overrides({"params": {"lr": 0.1}}, ["params.lr=0.01", "params.loss=remse", "new.key=[1, 2]"])
    assert d == {"params": {"lr": 0.01, "loss": "remse"}, "new": {"key": [1, 2]}}
    for bad, match in (("seeds", "KEY=VALUE"), ("=1", "KEY=VALUE"), ("params..lr=1", "empty part"),
                       ("params.lr.x=1", "not a mapping")):
        with pytest.raises(ConfigError, match=match):
            apply_overrides({"params": {"lr": 0.1}}, [bad])
    with pytest.raises(ConfigError, match="nosuchkey"):
        load_config(CONFIGS[0].parent / "xlsa17_baselines_cub.yaml", ["nosuchkey=1"])


@pytest.mark.parametrize("kind", ["xlsa17_baselines", "vgse"])
@pytest.mark.parametrize("ds, steps, n_synth", [("awa2", 11040, 1800), ("cub", 6216, 300), ("sun", 6480, 400)])
def test_real_data_configs_carry_the_paper_settings_of_clswgan(kind, ds, steps, n_synth, monkeypatch):
    from zslkit.registry import get_model

    monkeypatch.setenv("ZSLKIT_DATA", "/data/xlsa17")
    cfg = load_config(next(p for p in CONFIGS if p.stem == f"{kind}_{ds}"))
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


# -- YAML 1.2 floats, environment values with '$', seeds above 2**32 - 1 -------------------------------------------


@pytest.mark.parametrize("text, value", [("1e-3", 0.001), ("1E5", 1e5), (".5", 0.5), ("-.5", -0.5), ("2e+3", 2000.0),
                                         ("+1.5e3", 1500.0), ("1.0e-5", 1e-5), ("1.", 1.0), ("-2E-2", -0.02)])
def test_yaml_1_2_floats_are_floats(text, value):
    from zslkit.config import parse_value

    v = parse_value(text, "--param lr")
    assert type(v) is float and v == value


@pytest.mark.parametrize("text, value", [("10", 10), ("0x10", 16), ("1_000", 1000), ("true", True), ("null", None),
                                         ("1e", "1e"), ("e5", "e5"), (".", "."), ("1e-3x", "1e-3x"), ("abc", "abc")])
def test_everything_else_resolves_as_before(text, value):
    from zslkit.config import parse_value

    v = parse_value(text, "--param x")
    assert type(v) is type(value) and v == value


def test_yaml_1_2_floats_in_config_files_params_and_model_specs(tmp_path, toy_dir):
    from zslkit.registry import parse_model_spec

    y = tmp_path / "t.yaml"
    y.write_text(f"kind: train\ndata: {toy_dir}\nmodel: regressor\nparams: {{lr: 1e-3, weight_decay: 5E-4}}\n"
                 "grid: {lambda1: [1e-2, 1e2]}\n")
    cfg = load_config(y, ["params.momentum=.5"])
    assert cfg.params == {"lr": 0.001, "weight_decay": 0.0005, "momentum": 0.5}
    assert cfg.grid == {"lambda1": [0.01, 100.0]}
    assert parse_model_spec("regressor(lr=1e-3)")[1] == {"lr": 0.001}


def test_environment_values_holding_a_dollar_are_not_unset(tmp_path, monkeypatch):
    monkeypatch.setenv("ZSLKIT_SECRET_DIR", "/data/pa$$word/$HOME")
    monkeypatch.delenv("ZSLKIT_NOT_SET", raising=False)
    y = tmp_path / "t.yaml"
    y.write_text("kind: train\ndata: ${ZSLKIT_SECRET_DIR}/AWA2\nmodel: eszsl\nsemantic: cost$\n")
    cfg = load_config(y)
    assert cfg.data == "/data/pa$$word/$HOME/AWA2"  # the value as set, not expanded again
    assert cfg.semantic == "cost$"  # a '$' that names no variable is text
    for ref in ("$ZSLKIT_NOT_SET", "${ZSLKIT_NOT_SET}"):
        y.write_text(f"kind: train\ndata: ${{ZSLKIT_SECRET_DIR}}/{ref}\nmodel: eszsl\n")
        with pytest.raises(ConfigError, match=re.escape(f"t.yaml: environment variable {ref} in ")):
            load_config(y)


@pytest.mark.parametrize("body", ["kind: train\ndata: x\nmodel: eszsl\nseed: 4294967296\n",
                                  "kind: grid\ndata: [x]\nseeds: [0, 4294967296]\nout: g\n",
                                  "kind: demo\nseed: 18446744073709551616\n",
                                  "kind: discover\nimages: i\nclasses: c\nunseen: u\nword_vectors: w\nout: o\n"
                                  "seed: 4294967296\n"])
def test_seeds_above_2_32_minus_1_are_refused_in_every_config_kind(tmp_path, body):
    y = tmp_path / "c.yaml"
    y.write_text(body)
    with pytest.raises(ConfigError, match=r"c.yaml: seeds? must be an integer >= 0 and <= 4294967295 \(2\*\*32 - 1\)"):
        load_config(y)


def test_the_largest_seed_is_accepted(tmp_path, toy_dir):
    y = tmp_path / "t.yaml"
    y.write_text(f"kind: train\ndata: {toy_dir}\nmodel: eszsl\nseed: 4294967295\n")
    assert load_config(y).seed == 2**32 - 1
