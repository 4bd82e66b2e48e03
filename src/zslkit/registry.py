"""Components chosen by name: one place to add a model or a semantic source.

``MODELS["eszsl"]`` is the estimator class; :func:`get_model` builds one with keyword
hyperparameters and gives a clear error for unknown names. A model may be named with fixed
hyperparameters inline, ``"regressor(loss=remse, p=0.1)"`` (values parsed as YAML scalars), so
that variants of one model can sit side by side in a benchmark grid or on the command line.
"""

from __future__ import annotations

import re
from typing import Any, Callable

import yaml

from zslkit.errors import ConfigError

_SPEC = re.compile(r"^\s*([A-Za-z_][\w-]*)\s*(?:\((.*)\))?\s*$")

MODELS: dict[str, Callable[..., Any]] = {}


def register_model(name: str) -> Callable:
    """Decorator/function registering an estimator class under ``name``."""

    def deco(cls):
        MODELS[name] = cls
        return cls

    return deco


def _register_builtin() -> None:
    from zslkit.models.bilinear import ALE, SJE, DeViSE
    from zslkit.models.clswgan import CLSWGAN
    from zslkit.models.eszsl import ESZSL
    from zslkit.models.regressor import SemanticRegressor
    from zslkit.models.sae import SAE

    for name, cls in (("eszsl", ESZSL), ("sae", SAE), ("ale", ALE), ("sje", SJE), ("devise", DeViSE),
                      ("regressor", SemanticRegressor), ("clswgan", CLSWGAN)):
        MODELS.setdefault(name, cls)


def parse_model_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``"regressor(loss=remse, p=0.1)"`` -> ``("regressor", {"loss": "remse", "p": 0.1})``."""
    m = _SPEC.match(spec)
    if not m:
        raise ConfigError(f"bad model specification {spec!r}; expected NAME or NAME(key=value, ...)")
    name, inner = m.group(1).lower(), m.group(2)
    params: dict[str, Any] = {}
    if inner and inner.strip():
        for item in inner.split(","):
            if "=" not in item:
                raise ConfigError(f"bad model specification {spec!r}: {item.strip()!r} is not key=value")
            k, v = item.split("=", 1)
            try:
                params[k.strip()] = yaml.safe_load(v.strip())
            except yaml.YAMLError as exc:
                raise ConfigError(f"bad value in model specification {spec!r}: {v.strip()!r}") from exc
    return name, params


def get_model(spec: str, **params: Any):
    """Instantiate the model named by ``spec`` (a name or ``NAME(key=value, ...)``) with ``params``
    (which override the inline values)."""
    _register_builtin()
    name, inline = parse_model_spec(spec)
    params = {**inline, **params}
    try:
        cls = MODELS[name]
    except KeyError:
        raise ConfigError(f"unknown model {name!r}; choose one of {sorted(MODELS)}") from None
    try:
        return cls(**params)
    except TypeError as exc:
        raise ConfigError(f"bad hyperparameters for model {name!r}: {exc}") from exc


def model_names() -> list[str]:
    """Feature-level estimators; ``attention_net`` (image / feature-map level) is trained by its own
    engine (:func:`zslkit.training.loop.train_attention_net`) and listed by ``zslkit models`` separately."""
    _register_builtin()
    return sorted(MODELS)
