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
