"""YAML files onto typed dataclasses, with errors that name the file and the key.

``load_config(path)`` reads a YAML mapping whose ``kind`` is ``train`` (a
:class:`zslkit.pipeline.TrainConfig`), ``grid`` (a :class:`zslkit.grid.GridConfig`),
``discover`` (a :class:`zslkit.vgse.discovery.DiscoverConfig`) or ``demo`` (a
:class:`zslkit.demo.DemoConfig`: synthetic world -> VGSE -> models -> report); every
other key must be a field of that dataclass. Types are checked against the annotations for
the simple cases (int, float, str, bool, lists, dicts, optional), so a typo or a wrong type
fails before any work starts. Environment variables in string values are expanded
(``data: ${ZSLKIT_DATA}/AWA2``), and an unset variable is an error rather than a silent empty path.

Every YAML text zslkit parses (config files, ``--param`` values, ``NAME(key=value)`` model
specifications) goes through :func:`parse_yaml`: ``yaml.safe_load`` (no Python tags), then
bounds on what the text may expand to: at most :data:`MAX_NODES` values counting every use of
an alias (a 1 KB "billion laughs" document of nested aliases would otherwise expand to
gigabytes when copied), at most :data:`MAX_DEPTH` levels of nesting, no self-referencing alias.
Each violation is a :class:`ConfigError` naming the file (or option) and the reason.

Numbers are read as YAML 1.2 reads them: PyYAML follows YAML 1.1, where a float needs a dot and a
signed exponent, so ``1e-3``, ``1E5``, ``-.5`` and ``2e+3`` would be strings (``--param lr=1e-3``
then fails as "a string for a float"); :func:`parse_yaml`'s loader adds YAML 1.2's float forms.
Everything else (ints, booleans, nulls, the 1.1 floats) resolves as before.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import typing
from pathlib import Path
from typing import Any, Sequence

import yaml

from zslkit.errors import ConfigError, did_you_mean

#: most values (scalars, lists, mappings; an alias counted at each use) a YAML text may expand to
MAX_NODES = 20_000
#: deepest nesting of lists / mappings accepted in YAML texts
MAX_DEPTH = 40


class _Loader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that also resolves YAML 1.2 floats (``1e-3``, ``1E5``, ``-.5``, ``2e+3``; see the module
    docstring)."""


# YAML 1.2 core schema floats; tried after YAML 1.1's resolvers, so ints (and 1.1 floats) resolve as before
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$"),
    list("-+0123456789."))


def _check_bounds(data: Any, where: str) -> None:
    """Refuse a parsed YAML value that expands to more than :data:`MAX_NODES` values, nests deeper
    than :data:`MAX_DEPTH` or refers to itself; counts aliases without expanding them."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: Any, depth: int) -> int:
        if not isinstance(node, (list, dict)):
            return 1
        if depth > MAX_DEPTH:
            raise ConfigError(f"{where}: nested more than {MAX_DEPTH} levels deep")
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise ConfigError(f"{where}: a YAML alias refers to itself (a recursive structure)")
        active.add(key)
        children = list(node.keys()) + list(node.values()) if isinstance(node, dict) else node
        total = 1
        for child in children:
            total += size(child, depth + 1)
            if total > MAX_NODES:
                raise ConfigError(f"{where}: expands to more than {MAX_NODES} values (YAML aliases repeated "
                                  "inside each other?); a configuration is far smaller")
        active.discard(key)
        sizes[key] = total
        return total

    size(data, 0)


def _yaml_reason(exc: yaml.YAMLError) -> str:
    """One line: the parser's problem and where it is (its own message spans several lines)."""
    problem = getattr(exc, "problem", None)
    mark = getattr(exc, "problem_mark", None)
    if problem is None:
        return " ".join(str(exc).split())
    context = getattr(exc, "context", None)
    at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{(context + ': ') if context else ''}{problem}{at}"


def parse_yaml(text: str, where: str) -> Any:
    """``yaml.safe_load(text)`` (with YAML 1.2 floats: ``1e-3`` is a float) with every failure a
    :class:`ConfigError` naming ``where``: invalid YAML, Python tags (``!!python/object``: refused by
    the safe loader), nesting too deep for the parser, and the bounds of :func:`_check_bounds`."""
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass (one more float resolver)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: invalid YAML: {_yaml_reason(exc)}") from exc
    except RecursionError:
        raise ConfigError(f"{where}: nested too deeply to parse (limit {MAX_DEPTH} levels)") from None
    _check_bounds(data, where)
    return data


def parse_value(text: str, where: str) -> Any:
    """One ``--param`` / ``NAME(key=value)`` value: a YAML scalar or flow collection (``0.1``,
    ``true``, ``[1, 2]``, ``remse``), parsed by :func:`parse_yaml`."""
    return parse_yaml(text, where)


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
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(tp, type):
        return isinstance(value, tp)
    return True


def type_name(tp: Any) -> str:
    """``float``, ``int | None``, ``list[str]``: an annotation as a user reads it."""
    return tp.__name__ if isinstance(tp, type) and not typing.get_args(tp) else str(tp).replace("typing.", "")


def wrong_type(where: str, key: str, value: Any, tp: Any) -> ConfigError:
    if isinstance(value, float) and not math.isfinite(value):
        return ConfigError(f"{where}: setting {key!r} = {value!r} must be a finite number")
    return ConfigError(f"{where}: setting {key!r} = {value!r} has the wrong type (expected {type_name(tp)})")


def check_fields(cls: type, data: Any, where: str, exclude: typing.Iterable[str] = ()) -> None:
    """Check a mapping meant for dataclass ``cls`` without building it: a mapping, every key a
    field of ``cls`` (and not in ``exclude``: fields the caller sets itself), every value of the
    field's annotated type (floats finite). Raises :class:`ConfigError` naming ``where`` and the key."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of settings, got {type(data).__name__}")
    excluded = set(exclude)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    allowed = sorted(set(fields) - excluded)
    unknown = sorted(str(k) for k in set(data) - set(allowed))
    if unknown:
        raise ConfigError(f"{where}: unknown setting(s) {unknown}{did_you_mean(unknown[0], allowed)} for "
                          f"{cls.__name__}; valid: {allowed}")
    hints = typing.get_type_hints(cls)
    for k, v in data.items():
        if not _type_ok(v, hints[k]):
            raise wrong_type(where, k, v, hints[k])


def from_dict(cls: type, data: dict[str, Any], where: str) -> Any:
    """Build dataclass ``cls`` from ``data``; unknown keys, missing required keys and wrong
    types raise :class:`ConfigError` naming ``where`` (file) and the key."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of settings, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    unknown = sorted(str(k) for k in set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown setting(s) {unknown}{did_you_mean(unknown[0], fields)} for "
                          f"{cls.__name__}; valid: {sorted(fields)}")
    missing = [n for n, f in fields.items() if f.default is dataclasses.MISSING
               and f.default_factory is dataclasses.MISSING and n not in data]  # type: ignore[misc]
    if missing:
        raise ConfigError(f"{where}: required setting(s) {missing} missing for {cls.__name__}")
    for k, v in data.items():
        if not _type_ok(v, hints[k]):
            raise wrong_type(where, k, v, hints[k])
    return cls(**data)


def read_yaml(path: str | os.PathLike) -> dict[str, Any]:
    p = Path(path)
    try:
        text = p.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{p}: config file not found") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p}: not UTF-8 text ({exc})") from exc
    data = parse_yaml(text, str(p))
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: expected a YAML mapping at the top level, got {type(data).__name__}")
    return data


#: a ``$NAME`` or ``${NAME}`` reference, as os.path.expandvars reads them
_ENV_REF = re.compile(r"\$(\w+|\{[^}]*\})")


def _expand(value: Any, where: str) -> Any:
    """Environment variables in string values expanded; a reference to an unset variable is an error. The
    check looks at the references of the value as written (not at the expanded text, whose ``$`` may come
    from a variable's own value, e.g. ``PASSWORD=pa$$word``)."""
    if isinstance(value, str) and "$" in value:
        unset = [m.group(0) for m in _ENV_REF.finditer(value) if m.group(1).strip("{}") not in os.environ]
        if unset:
            raise ConfigError(f"{where}: environment variable {unset[0]} in {value!r} is not set")
        return os.path.expandvars(value)
    if isinstance(value, list):
        return [_expand(v, where) for v in value]
    if isinstance(value, dict):
        return {k: _expand(v, where) for k, v in value.items()}
    return value


def apply_overrides(data: dict[str, Any], overrides: Sequence[str], where: str = "override") -> dict[str, Any]:
    """Set ``key=value`` overrides in a config mapping (in place; returned). Dotted keys reach into
    nested mappings (``params.lr=0.1``, ``discovery.epochs=3``); values are YAML (``[0, 1]``, ``true``,
    ``remse``), parsed safely (:func:`parse_value`). Setting a key the config does not have is allowed
    here and refused, naming it, when the config is checked."""
    for item in overrides:
        if "=" not in item or not item.split("=", 1)[0].strip():
            raise ConfigError(f"{where} {item!r}: expected KEY=VALUE (e.g. seed=1 or params.lr=0.01)")
        key, raw = item.split("=", 1)
        parts = key.strip().split(".")
        if any(not p for p in parts):
            raise ConfigError(f"{where} {item!r}: empty part in the key {key!r}")
        node = data
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"{where} {item!r}: {part!r} is not a mapping (it is {child!r})")
            node = child
        node[parts[-1]] = parse_value(raw, f"{where} {key.strip()}")
    return data


def load_config(path: str | os.PathLike, overrides: Sequence[str] = ()) -> Any:
    """Load a ``kind: train | grid | discover | demo`` YAML file into its dataclass, with ``key=value``
    ``overrides`` on top (:func:`apply_overrides`; applied before environment variables are expanded)."""
    from zslkit.demo import DemoConfig
    from zslkit.grid import GridConfig
    from zslkit.pipeline import TrainConfig
    from zslkit.vgse.discovery import DiscoverConfig

    raw = read_yaml(path)
    if overrides:
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: the config is not a mapping, so {list(overrides)} cannot be applied")
        raw = apply_overrides(raw, overrides, where=f"{path}: override")
    data = _expand(raw, str(path))
    kind = data.pop("kind", "train")
    kinds = {"train": TrainConfig, "grid": GridConfig, "discover": DiscoverConfig, "demo": DemoConfig}
    if not isinstance(kind, str) or kind not in kinds:
        raise ConfigError(f"{path}: kind must be one of {sorted(kinds)}, got {kind!r}")
    cfg = from_dict(kinds[kind], data, str(path))
    _check_seeds(cfg, str(path))
    return cfg.validate() if hasattr(cfg, "validate") else cfg


def _check_seeds(cfg: Any, where: str) -> None:
    """``seed`` / ``seeds`` of any config kind not above ``2**32 - 1`` (:data:`zslkit.utils.seed.MAX_SEED`); types
    and negative seeds are left to the config's own ``validate`` (its message names the kind)."""
    from zslkit.utils.seed import MAX_SEED, seed_error

    seeds = [("seed", getattr(cfg, "seed"))] if hasattr(cfg, "seed") else []
    if isinstance(getattr(cfg, "seeds", None), (list, tuple)):
        seeds += [("seeds", s) for s in cfg.seeds]
    for name, s in seeds:
        if isinstance(s, int) and not isinstance(s, bool) and s > MAX_SEED:
            raise ConfigError(f"{where}: {seed_error(s, name)}")
