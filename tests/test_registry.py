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
    with pytest.raises(ConfigError, match="bad hyperparameters"):
        get_model("eszsl(nonexistent=1)")
    assert "eszsl" in model_names()
