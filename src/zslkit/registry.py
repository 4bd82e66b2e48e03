"""Components chosen by name: one place to add a model or a semantic source.

``MODELS["eszsl"]`` is the estimator class; :func:`get_model` builds one with keyword
hyperparameters and gives a clear error for unknown names.
"""

from __future__ import annotations

from typing import Any, Callable

from zslkit.errors import ConfigError

MODELS: dict[str, Callable[..., Any]] = {}


def register_model(name: str) -> Callable:
    """Decorator/function registering an estimator class under ``name``."""

    def deco(cls):
        MODELS[name] = cls
        return cls

    return deco


def _register_builtin() -> None:
    from zslkit.models.eszsl import ESZSL

    MODELS.setdefault("eszsl", ESZSL)


def get_model(name: str, **params: Any):
    """Instantiate the model registered as ``name`` with hyperparameters ``params``."""
    _register_builtin()
    try:
        cls = MODELS[name.lower()]
    except KeyError:
        raise ConfigError(f"unknown model {name!r}; choose one of {sorted(MODELS)}") from None
    try:
        return cls(**params)
    except TypeError as exc:
        raise ConfigError(f"bad hyperparameters for model {name!r}: {exc}") from exc


def model_names() -> list[str]:
    _register_builtin()
    return sorted(MODELS)
