import pytest

from zslkit.errors import ConfigError
from zslkit.models import ESZSL
from zslkit.registry import get_model, model_names, parse_model_spec


def test_parse_model_spec():
    assert parse_model_spec("eszsl") == ("eszsl", {})
    assert parse_model_spec("Regressor(loss=remse, p=0.1, hidden=0)") == (
        "regressor", {"loss": "remse", "p": 0.1, "hidden": 0})
    for bad in ("", "eszsl(alpha)", "1abc", "eszsl(alpha=[1)"):
        with pytest.raises(ConfigError):
            parse_model_spec(bad)


def test_get_model_inline_and_override():
    m = get_model("eszsl(alpha=5, lam=2)", lam=3)
    assert isinstance(m, ESZSL) and m.alpha == 5 and m.lam == 3
    with pytest.raises(ConfigError, match="unknown model"):
        get_model("nope")
    with pytest.raises(ConfigError, match="model 'eszsl' has no hyperparameter 'nonexistent'; its hyperparameters"):
        get_model("eszsl(nonexistent=1)")
    assert "eszsl" in model_names()


@pytest.mark.parametrize("spec, params, match", [
    ("eszsl", {"lam": "abc"}, r"'lam' = 'abc' has the wrong type \(expected float\)"),
    ("sae", {"normalize_w": "abc"}, r"'normalize_w' = 'abc' has the wrong type \(expected bool\)"),
    ("sae", {"normalize_w": 1}, r"'normalize_w' = 1 has the wrong type \(expected bool\)"),
    ("ale", {"epochs": 2.5}, r"'epochs' = 2.5 has the wrong type \(expected int\)"),
    ("ale", {"epochs": True}, r"'epochs' = True has the wrong type"),
    ("eszsl", {"alpha": float("nan")}, r"'alpha' = nan: must be a finite number"),
    ("eszsl", {"alpha": float("inf")}, r"'alpha' = inf: must be a finite number"),
    ("regressor", {"loss": 3}, r"'loss' = 3 has the wrong type \(expected str\)"),
    ("eszsl", {"lam": [1, 2]}, r"'lam' = \[1, 2\] has the wrong type"),
    ("eszsl(lam=x)", {}, r"'lam' = 'x' has the wrong type"),
])
def test_hyperparameter_values_are_checked_against_the_constructor(spec, params, match):
    # issue #15: a string for a bool was accepted (truthy), NaN ran until the scores were NaN, "abc" raised
    # a ValueError traceback deep inside fit
    with pytest.raises(ConfigError, match=match):
        get_model(spec, **params)


def test_valid_hyperparameters_still_pass():
    assert get_model("ale", epochs=2, lr=None).epochs == 2  # Optional[float] accepts None
    assert get_model("eszsl", alpha=3).alpha == 3  # an int for a float
    assert get_model("regressor(loss=remse, hidden=0)").loss == "remse"


def test_grid_values_are_checked():
    from zslkit.registry import check_hyperparameters

    check_hyperparameters("eszsl", {"alpha": [1, 10.0]}, grid=True)
    for grid, match in (({"alpha": []}, "non-empty list"), ({"alpha": 3}, "non-empty list"),
                        ({"alpha": [1, "x"]}, "'alpha' = 'x'"), ({"beta": [1]}, "no hyperparameter 'beta'")):
        with pytest.raises(ConfigError, match=match):
            check_hyperparameters("eszsl", grid, "g.yaml:grid", grid=True)


def test_model_spec_values_are_safe_yaml():
    with pytest.raises(ConfigError, match="could not determine a constructor"):
        parse_model_spec("eszsl(alpha=!!python/object/apply:os.system [true])")
    with pytest.raises(ConfigError, match="nested"):
        parse_model_spec("eszsl(alpha=" + "[" * 100 + "]" * 100 + ")")


def test_model_spec_values_may_be_lists_and_mappings():
    from zslkit.registry import parse_model_spec

    assert parse_model_spec("regressor(hidden=[512, 256], loss=remse)") == ("regressor", {"hidden": [512, 256],
                                                                                          "loss": "remse"})
    assert parse_model_spec("m(a={b: 1, c: [1, 2]}, d='q,r')") == ("m", {"a": {"b": 1, "c": [1, 2]}, "d": "q,r"})
    for bad in ("m(a=[1, 2)", "m(a=1])", "m(a='x)"):
        with pytest.raises(ConfigError, match="bad model specification"):
            parse_model_spec(bad)


def test_misspelt_names_get_the_closest_one_and_unknown_models_list_every_model():
    from zslkit.features import get_transform
    from zslkit.registry import check_hyperparameters

    with pytest.raises(ConfigError) as info:
        get_model("eszls")
    msg = str(info.value)
    assert "unknown model 'eszls' (did you mean 'eszsl'?)" in msg
    assert "image-level models: ['attention_net', 'basic_net', 'gem_zsl']" in msg and "'softmax_compat'" in msg
    with pytest.raises(ConfigError, match="unknown model 'atention_net' \\(did you mean 'attention_net'\\?\\)"):
        get_model("atention_net")
    with pytest.raises(ConfigError, match="has no hyperparameter 'alpah' \\(did you mean 'alpha'\\?\\)"):
        get_model("eszsl(alpah=1)")
    with pytest.raises(ConfigError, match="has no hyperparameter 'epoch' \\(did you mean 'epochs'\\?\\)"):
        check_hyperparameters("attention_net", {"epoch": 3})  # image-level settings too
    with pytest.raises(ConfigError, match="unknown transform 'chi' in 'chi' \\(did you mean 'chi2'\\?\\)"):
        get_transform("chi")
    with pytest.raises(ConfigError) as info:
        get_model("nothing_like_it")
    assert "did you mean" not in str(info.value)  # no suggestion that is not close


def test_hyperparameters_and_default_grids():
    from zslkit.models.eszsl import ESZSL
    from zslkit.registry import default_grid, model_hyperparameters

    assert model_hyperparameters("eszsl") == {"alpha": ESZSL().alpha, "lam": ESZSL().lam,
                                              "normalize_features": False, "label_coding": "01"}
    assert default_grid("eszsl") == ESZSL.param_grid
    assert list(default_grid("eszsl(lam=2)")) == ["alpha"]  # a value fixed in the name is not searched
    image = model_hyperparameters("attention_net")
    assert image["epochs"] == 30 and "model" not in image and "out_dir" not in image
    assert default_grid("gem_zsl") == {}
    with pytest.raises(ConfigError, match="did you mean 'sae'"):
        model_hyperparameters("sea")


def test_grid_options_read_back_what_they_write():
    from zslkit.registry import grid_option, parse_grid_option

    for name in model_names():
        for key, values in get_model(name).param_grid.items():
            option = grid_option(key, values)
            assert parse_grid_option(option[len("--grid "):]) == (None, key, list(values)), option
    values = [0, [512, 256], "01", "a,b", None, True, 1e-05, "semantic->visual"]
    assert grid_option("x", values) == '--grid x=0,[512, 256],"01","a,b",null,true,1e-05,semantic->visual'
    assert parse_grid_option(grid_option("x", values)[len("--grid "):]) == (None, "x", values)
    assert parse_grid_option("eszsl:lam=[0.1, 1]") == ("eszsl", "lam", [0.1, 1])
    for bad, match in (("lam", "expected \\[MODEL:\\]KEY=V1,V2"), ("lam=", "expected"), ("=1,2", "expected"),
                       ("eszsl(lam=1)", "expected"), ("lam=1,,2", "an empty value"), ("lam=1,", "an empty value"),
                       ("lam=[1,2", "unclosed bracket")):
        with pytest.raises(ConfigError, match=match):
            parse_grid_option(bad)


def test_search_grids_replace_the_given_keys_of_the_default_grids():
    from zslkit.models.eszsl import ESZSL
    from zslkit.models.sae import SAE
    from zslkit.registry import search_grids

    grids = search_grids(["eszsl"], ["lam=0.5,5"])
    assert grids == {"eszsl": {**ESZSL.param_grid, "lam": [0.5, 5]}}
    grids = search_grids(["eszsl", "sae(lam=1)", "sae"], ["eszsl:alpha=1,2", "sae:direction=semantic->visual"])
    assert grids["eszsl"] == {**ESZSL.param_grid, "alpha": [1, 2]}
    assert grids["sae(lam=1)"] == {"direction": ["semantic->visual"]}  # its inline lam is not searched
    assert grids["sae"] == {**SAE.param_grid, "direction": ["semantic->visual"]}
    assert search_grids(["eszsl"], ["transform__norm=l1,l2"])["eszsl"]["transform__norm"] == ["l1", "l2"]
    assert search_grids(["eszsl"], []) == {}
    for models, options, fixed, match in (
            (["eszsl"], ["alpah=1,2"], None, "no hyperparameter 'alpah' \\(did you mean 'alpha'\\?\\)"),
            (["eszsl"], ["lam=1,2"], {"lam": 3}, "'lam' is fixed by --param"),
            (["eszsl(lam=3)"], ["lam=1,2"], None, "'lam' is fixed in the model name"),
            (["eszsl"], ["lam=1,2", "lam=3"], None, "given a grid twice"),
            (["eszsl"], ["sae:lam=1,2"], None, "'sae' is none of the models run here"),
            (["eszsl", "sae"], ["alpha=1,2"], None, "model 'sae' has no hyperparameter 'alpha'.*MODEL:alpha="),
            (["eszsl"], ["lam=x,y"], None, "'lam' = 'x' has the wrong type"),
            (["attention_net"], ["lr=0.1,1"], None, "image-level models have no search grid")):
        with pytest.raises(ConfigError, match=match):
            search_grids(models, options, fixed=fixed)
