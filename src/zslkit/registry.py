"""Components chosen by name: one place to add a model or a semantic source.

:func:`get_model` builds an estimator by name with keyword hyperparameters and gives a clear
error for unknown names. ``MODELS`` maps names to estimator classes: the user's
(:func:`register_model`) and the built-ins used so far (a built-in's module is imported on its
first use, so that ESZSL or SAE never import torch). A model may be named with fixed
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


#: built-in estimators: name -> (module, class). Imported on first use, so that naming a closed-form
#: model (ESZSL, SAE) does not import torch, which only the iterative models need.
_BUILTIN: dict[str, tuple[str, str]] = {
    "eszsl": ("zslkit.models.eszsl", "ESZSL"), "sae": ("zslkit.models.sae", "SAE"),
    "ale": ("zslkit.models.bilinear", "ALE"), "sje": ("zslkit.models.bilinear", "SJE"),
    "devise": ("zslkit.models.bilinear", "DeViSE"), "regressor": ("zslkit.models.regressor", "SemanticRegressor"),
    "clswgan": ("zslkit.models.clswgan", "CLSWGAN"),
    "abp": ("zslkit.models.abp", "ABP"),
}


def _register_builtin(name: str | None = None) -> None:
    """Register the built-in estimator ``name`` (all of them when ``None``); names registered
    by the user with :func:`register_model` are kept."""
    import importlib

    for key in _BUILTIN if name is None else [name] if name in _BUILTIN else []:
        if key not in MODELS:
            module, cls = _BUILTIN[key]
            MODELS[key] = getattr(importlib.import_module(module), cls)


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
    name, inline = parse_model_spec(spec)
    _register_builtin(name)
    params = {**inline, **params}
    try:
        cls = MODELS[name]
    except KeyError:
        raise ConfigError(f"unknown model {name!r}; choose one of {model_names()}") from None
    try:
        return cls(**params)
    except TypeError as exc:
        raise ConfigError(f"bad hyperparameters for model {name!r}: {exc}") from exc


def model_names() -> list[str]:
    """Feature-level estimators; ``attention_net`` (image / feature-map level) is trained by its own
    engine (:func:`zslkit.training.loop.train_attention_net`) and listed by ``zslkit models`` separately."""
    return sorted(set(MODELS) | set(_BUILTIN))
