"""YAML files onto typed dataclasses, with errors that name the file and the key.

``load_config(path)`` reads a YAML mapping whose ``kind`` is ``train`` (a
:class:`zslkit.pipeline.TrainConfig`), ``grid`` (a :class:`zslkit.grid.GridConfig`),
``discover`` (a :class:`zslkit.vgse.discovery.DiscoverConfig`) or ``demo`` (a
:class:`zslkit.demo.DemoConfig`: synthetic world -> VGSE -> models -> report); every
other key must be a field of that dataclass. Types are checked against the annotations for
the simple cases (int, float, str, bool, lists, dicts, optional), so a typo or a wrong type
fails before any work starts. Environment variables in string values are expanded
(``data: ${ZSLKIT_DATA}/AWA2``), and an unset variable is an error rather than a silent empty path.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from pathlib import Path
from typing import Any

import yaml

from zslkit.errors import ConfigError


def _type_ok(value: Any, tp: Any) -> bool:
    origin = typing.get_origin(tp)
    if tp is Any:
        return True
    if origin is typing.Union or (origin is not None and str(origin) == "<class 'types.UnionType'>"):
        return any(_type_ok(value, a) for a in typing.get_args(tp))
    if tp is type(None):
        return value is None
    if origin in (list, tuple):
        args = typing.get_args(tp)
        return isinstance(value, (list, tuple)) and (not args or all(_type_ok(v, args[0]) for v in value))
    if origin is dict:
        return isinstance(value, dict)
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(tp, type):
        return isinstance(value, tp)
    return True


def from_dict(cls: type, data: dict[str, Any], where: str) -> Any:
    """Build dataclass ``cls`` from ``data``; unknown keys, missing required keys and wrong
    types raise :class:`ConfigError` naming ``where`` (file) and the key."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of settings, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown setting(s) {unknown} for {cls.__name__}; valid: {sorted(fields)}")
    missing = [n for n, f in fields.items() if f.default is dataclasses.MISSING
               and f.default_factory is dataclasses.MISSING and n not in data]  # type: ignore[misc]
    if missing:
        raise ConfigError(f"{where}: required setting(s) {missing} missing for {cls.__name__}")
    for k, v in data.items():
        if not _type_ok(v, hints[k]):
            raise ConfigError(f"{where}: setting {k!r} = {v!r} has the wrong type (expected {hints[k]})")
    return cls(**data)


def read_yaml(path: str | os.PathLike) -> dict[str, Any]:
    p = Path(path)
    try:
        text = p.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{p}: config file not found") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p}: not UTF-8 text ({exc})") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: invalid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: expected a YAML mapping at the top level, got {type(data).__name__}")
    return data


def _expand(value: Any, where: str) -> Any:
    if isinstance(value, str) and "$" in value:
        out = os.path.expandvars(value)
        if "$" in out:
            raise ConfigError(f"{where}: environment variable in {value!r} is not set")
        return out
    if isinstance(value, list):
        return [_expand(v, where) for v in value]
    if isinstance(value, dict):
        return {k: _expand(v, where) for k, v in value.items()}
    return value


def load_config(path: str | os.PathLike) -> Any:
    """Load a ``kind: train | grid | discover | demo`` YAML file into its dataclass."""
    from zslkit.demo import DemoConfig
    from zslkit.grid import GridConfig
    from zslkit.pipeline import TrainConfig
    from zslkit.vgse.discovery import DiscoverConfig

    data = _expand(read_yaml(path), str(path))
    kind = data.pop("kind", "train")
    kinds = {"train": TrainConfig, "grid": GridConfig, "discover": DiscoverConfig, "demo": DemoConfig}
    if kind not in kinds:
        raise ConfigError(f"{path}: kind must be one of {sorted(kinds)}, got {kind!r}")
    cfg = from_dict(kinds[kind], data, str(path))
    return cfg.validate() if hasattr(cfg, "validate") else cfg
