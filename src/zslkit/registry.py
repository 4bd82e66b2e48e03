"""Components chosen by name: one place to add a model or a semantic source.

:func:`get_model` builds an estimator by name with keyword hyperparameters and gives a clear
error for unknown names. ``MODELS`` maps names to estimator classes: the user's
(:func:`register_model`) and the built-ins used so far (a built-in's module is imported on its
first use, so that ESZSL or SAE never import torch). A model may be named with fixed
hyperparameters inline, ``"regressor(loss=remse, p=0.1)"`` (values parsed as YAML scalars), so
that variants of one model can sit side by side in a benchmark grid or on the command line.

Hyperparameter values from any source (inline, ``--param``, YAML ``params``/``grid``) are checked
against the constructor's annotations before a model is built (:func:`check_hyperparameters`):
a name the model does not have, a string for a number or a bool, a float for an int, NaN or inf
for a float are :class:`ConfigError` naming the model, the hyperparameter and the value.
"""

from __future__ import annotations

import functools
import inspect
import math
import re
import typing
from typing import Any, Callable, Iterable, Sequence

from zslkit.errors import ConfigError, did_you_mean

#: largest float32: a hyperparameter above it overflows in the models' float32 arithmetic
FLOAT32_MAX = 3.4028234663852886e38

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
    "softmax_compat": ("zslkit.models.softmax_compat", "SoftmaxCompat"),
    "abp": ("zslkit.models.abp", "ABP"),
    "dap": ("zslkit.models.dap", "DAP"), "iap": ("zslkit.models.dap", "IAP"),
}

#: one line per built-in for ``zslkit models`` (what each name computes; docs/PARITY.md has the references)
_DESCRIPTIONS: dict[str, str] = {
    "eszsl": "ESZSL (Romera-Paredes & Torr 2015), closed form, Y in {0, 1} as the reproduction",
    "sae": "SAE (Kodirov et al. 2017), Sylvester equation, row-normalised W for scoring",
    "ale": "ALE (Akata et al. 2016), bilinear + rank-weighted hinge",
    "sje": "SJE (Akata et al. 2015), bilinear + structured hinge",
    "devise": "DeViSE (Frome et al. 2013), bilinear + hinge rank loss",
    "regressor": "visual -> semantic regressor (ReZSL's BasicNet), MSE or ReMSE",
    "clswgan": "f-CLSWGAN (Xian et al. 2018), WGAN-GP feature generator + softmax classifier",
    "softmax_compat": "VGSE paper's evaluation model (called SJE in their script): linear compatibility "
                      "+ softmax, cross-entropy, Adam",
    "abp": "ABP (Zhu et al. 2019), feature generator by alternating back-propagation + kNN (ZSL) / softmax (GZSL)",
    "dap": "DAP (Lampert et al. 2009/2014), one probabilistic classifier per binary attribute + MAP rule with "
           "attribute priors",
    "iap": "IAP (Lampert et al. 2009/2014), seen-class posteriors -> attribute posteriors + the same MAP rule",
}


def _register_builtin(name: str | None = None) -> None:
    """Register the built-in estimator ``name`` (all of them when ``None``); names registered
    by the user with :func:`register_model` are kept."""
    import importlib

    for key in _BUILTIN if name is None else [name] if name in _BUILTIN else []:
        if key not in MODELS:
            module, cls = _BUILTIN[key]
            MODELS[key] = getattr(importlib.import_module(module), cls)


def _split_top_level(text: str, spec: str, what: str = "model specification") -> list[str]:
    """Split on the commas outside brackets and quotes: ``"a=[1, 2], b=x"`` -> ``["a=[1, 2]", " b=x"]``."""
    items, depth, quote, start = [], 0, None, 0
    for i, ch in enumerate(text):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth < 0:
                raise ConfigError(f"bad {what} {spec!r}: unbalanced {ch!r}")
        elif ch == "," and depth == 0:
            items.append(text[start:i])
            start = i + 1
    if depth or quote:
        raise ConfigError(f"bad {what} {spec!r}: unclosed {'quote' if quote else 'bracket'}")
    items.append(text[start:])
    return items


def parse_model_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``"regressor(loss=remse, p=0.1)"`` -> ``("regressor", {"loss": "remse", "p": 0.1})``; values are YAML,
    so lists and mappings work: ``"abp(hidden=[512, 256])"``."""
    m = _SPEC.match(spec)
    if not m:
        raise ConfigError(f"bad model specification {spec!r}; expected NAME or NAME(key=value, ...)")
    name, inner = m.group(1).lower(), m.group(2)
    params: dict[str, Any] = {}
    if inner and inner.strip():
        for item in _split_top_level(inner, spec):
            if "=" not in item:
                raise ConfigError(f"bad model specification {spec!r}: {item.strip()!r} is not key=value")
            k, v = item.split("=", 1)
            from zslkit.config import parse_value

            params[k.strip()] = parse_value(v.strip(), f"model specification {spec!r}, value of {k.strip()!r}")
    return name, params


@functools.lru_cache(maxsize=None)
def _signature(cls: type) -> tuple[dict[str, Any], dict[str, Any], bool]:
    """(name -> default, name -> annotation, whether it takes ``**kwargs``) of the constructor's
    keyword hyperparameters."""
    try:
        sig = inspect.signature(cls.__init__)
    except (TypeError, ValueError):  # pragma: no cover - a builtin without a signature: no checks
        return {}, {}, True
    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception:  # noqa: BLE001 - an annotation that does not evaluate: check names only
        hints = {}
    defaults = {n: p.default for n, p in sig.parameters.items()
                if n != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    var_kw = any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values())
    return defaults, {n: hints[n] for n in defaults if n in hints}, var_kw


def check_hyperparameters(name: str, params: dict[str, Any], where: str = "", grid: bool = False) -> None:
    """Check hyperparameter values for model ``name`` against its constructor.

    Args:
        params: ``{hyperparameter: value}``, or with ``grid=True`` ``{hyperparameter: [values]}``
            (a search grid: each list non-empty, every value checked).
        where: prefix of the messages (file, option).

    Raises:
        ConfigError: unknown model or hyperparameter, an empty grid list, or a value whose type
            does not match the annotation (floats must be finite and within the float32 range),
            naming model, name and value.
    """
    base = parse_model_spec(name)[0]
    pre = f"{where}: " if where else ""
    if not isinstance(params, dict):
        raise ConfigError(f"{pre}hyperparameters of model {base!r} must be a mapping name: value, got {params!r}")
    if base in IMAGE_MODELS:  # image-level models: the fields of their run configuration
        from zslkit.image_pipeline import ImageModelConfig

        cls: type = ImageModelConfig
        preset = params.get("preset")
        if preset is not None and not isinstance(preset, str):
            raise ConfigError(f"{pre}model {base!r} preset must be a dataset name such as 'cub', got {preset!r}")
        params = {k: v for k, v in params.items() if k not in ("preset", "model")}
    else:
        cls = model_class(base)
    check_params_of(cls, "model", base, params, pre, grid)


def check_params_of(cls: type, kind: str, base: str, params: dict[str, Any], pre: str = "", grid: bool = False) -> None:
    """Check ``params`` (or, with ``grid``, ``{name: [values]}``) against the constructor of ``cls``: the
    names it takes, the annotated types, finite floats within the float32 range. ``kind`` and ``base``
    name the component in messages ("model 'eszsl'", "transform 'chi2'"); ``pre`` prefixes them."""
    from zslkit.config import _type_ok, type_name

    defaults, hints, var_kw = _signature(cls)
    for key, value in params.items():
        if key not in defaults and not var_kw:
            raise ConfigError(f"{pre}{kind} {base!r} has no hyperparameter {key!r}{did_you_mean(key, defaults)}; "
                              f"its hyperparameters: {sorted(defaults)}")
        values: Iterable[Any] = [value]
        if grid:
            if not isinstance(value, (list, tuple)) or len(value) == 0:
                raise ConfigError(f"{pre}search grid of {base!r} hyperparameter {key!r} must be a non-empty list "
                                  f"of values, got {value!r}")
            values = value
        tp = hints.get(key)
        for v in values:
            if isinstance(v, float) and math.isfinite(v) and abs(v) > FLOAT32_MAX:
                raise ConfigError(f"{pre}{kind} {base!r} hyperparameter {key!r} = {v!r}: beyond the float32 range "
                                  f"(|value| <= {FLOAT32_MAX:.3g}) the models compute in")
            if tp is not None and not _type_ok(v, tp):
                if isinstance(v, float) and not math.isfinite(v):
                    raise ConfigError(f"{pre}{kind} {base!r} hyperparameter {key!r} = {v!r}: must be a finite number")
                raise ConfigError(f"{pre}{kind} {base!r} hyperparameter {key!r} = {v!r} has the wrong type "
                                  f"(expected {type_name(tp)})")


def model_class(name: str) -> type:
    """The estimator class registered as ``name`` (a plain name, no inline hyperparameters)."""
    _register_builtin(name)
    try:
        return MODELS[name]
    except KeyError:
        raise unknown_model_error(name) from None


def unknown_model_error(name: str, where: str = "", grid: bool = False) -> ConfigError:
    """The error for a name that is not a registered model: the closest name and every model there is,
    feature-level and image-level. ``grid``: the name is one of a benchmark grid's models, which are
    feature-level only (an image-level name is then refused as such)."""
    pre = f"{where}: " if where else ""
    image = sorted(IMAGE_MODELS)
    if grid and name in IMAGE_MODELS:
        return ConfigError(f"{pre}{name!r} is an image-level model: a grid runs feature-level models only "
                           f"({model_names()}); train {name!r} with `zslkit train`")
    return ConfigError(f"{pre}unknown model {name!r}{did_you_mean(name, [*model_names(), *image])}; feature-level "
                       f"models: {model_names()}; image-level models{' (not in a grid)' if grid else ''}: {image}")


def get_model(spec: str, **params: Any):
    """Instantiate the model named by ``spec`` (a name or ``NAME(key=value, ...)``) with ``params``
    (which override the inline values)."""
    name, inline = parse_model_spec(spec)
    cls = model_class(name)
    params = {**inline, **params}
    check_hyperparameters(name, params)
    try:
        return cls(**params)
    except TypeError as exc:
        raise ConfigError(f"bad hyperparameters for model {name!r}: {exc}") from exc


def model_names() -> list[str]:
    """Feature-level estimators; the image-level models (:data:`IMAGE_MODELS`) are trained by the
    episodic engine (:mod:`zslkit.image_pipeline`) and listed by ``zslkit models`` separately."""
    return sorted(set(MODELS) | set(_BUILTIN))


#: image-level models (feature maps, ViT tokens or images), run by :mod:`zslkit.image_pipeline`
#: through the same :func:`zslkit.pipeline.train`: name -> description
IMAGE_MODELS: dict[str, str] = {
    "attention_net": "ReZSL's AttentionNet: cross-modal attribute attention (Ye et al., IEEE TIP 2023)",
    "gem_zsl": "GEM-ZSL: attribute attention with decorrelation and compactness losses (Liu et al., CVPR 2021)",
    "basic_net": "ReZSL's BasicNet: backbone + linear (or one-hidden-layer) attribute head",
}


def is_image_model(spec: str) -> bool:
    """Whether a model spec (``NAME`` or ``NAME(k=v, ...)``) names an image-level model."""
    return parse_model_spec(spec)[0] in IMAGE_MODELS


def model_description(name: str) -> str:
    """One-line description of a built-in model ("" for a user-registered one)."""
    return _DESCRIPTIONS.get(name, "")


# --------------------------------------------------------------------------- hyperparameters and search grids

def model_hyperparameters(name: str) -> dict[str, Any]:
    """Every hyperparameter of model ``name`` (a plain name) with the value it takes when not set: the
    constructor defaults of a feature-level model; the :class:`~zslkit.image_pipeline.ImageModelConfig`
    fields of an image-level one (its ``preset`` parameter starts from the authors' settings instead)."""
    if name in IMAGE_MODELS:
        from zslkit.image_pipeline import ImageModelConfig

        defaults = _signature(ImageModelConfig)[0]
        return {k: v for k, v in defaults.items() if k not in ("model", "out_dir")}
    return dict(_signature(model_class(name))[0])


def hyperparameter_types(name: str) -> dict[str, Any]:
    """The annotated type of each hyperparameter of :func:`model_hyperparameters` (those without one are left out)."""
    if name in IMAGE_MODELS:
        from zslkit.image_pipeline import ImageModelConfig

        return dict(_signature(ImageModelConfig)[1])
    return dict(_signature(model_class(name))[1])


def default_grid(spec: str) -> dict[str, list]:
    """The search grid validation uses for model ``spec`` when none is given (``param_grid`` of its class;
    empty for image-level models, whose epoch count and gamma are chosen on validation classes), without
    the hyperparameters the spec fixes inline."""
    name, inline = parse_model_spec(spec)
    if name in IMAGE_MODELS:
        return {}
    return {k: list(v) for k, v in getattr(model_class(name), "param_grid", {}).items() if k not in inline}


def format_value(value: Any) -> str:
    """A value as ``--param``/``--grid`` read it back (YAML): ``0.001``, ``true``, ``null``, ``[512, 256]``,
    ``semantic->visual``; a string YAML would read otherwise, or with a comma, is quoted."""
    import json

    from zslkit.config import parse_value

    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        try:
            plain = "," not in value and parse_value(value, "value") == value
        except ConfigError:
            plain = False
        return value if plain else json.dumps(value)
    return json.dumps(value)


def grid_option(key: str, values: Iterable[Any]) -> str:
    """``--grid KEY=V1,V2,...``: the command-line option that searches ``key`` over ``values``."""
    return f"--grid {key}={','.join(format_value(v) for v in values)}"


def parse_grid_option(text: str, where: str = "--grid") -> tuple[str | None, str, list[Any]]:
    """One ``--grid [MODEL:]KEY=V1,V2,...`` option -> ``(MODEL or None, KEY, [values])``.

    Values are YAML (:func:`zslkit.config.parse_value`) separated by the commas outside brackets and
    quotes, so ``hidden=0,[512, 256]`` is two values; a single YAML list (``lam=[0.1, 1]``) works too.
    """
    key, sep, raw = text.partition("=")
    model, _, key = key.strip().rpartition(":")
    key, model = key.strip(), model.strip() or None
    name = re.compile(r"^[A-Za-z_][\w-]*$")
    if not sep or not name.match(key) or (model is not None and not name.match(model)) or not raw.strip():
        raise ConfigError(f"{where} {text!r}: expected [MODEL:]KEY=V1,V2,... (e.g. --grid lam=0.1,1,10 or "
                          "--grid eszsl:lam=0.1,1,10)")
    from zslkit.config import parse_value

    items = _split_top_level(raw, text, what="--grid value list")
    if any(not item.strip() for item in items):
        raise ConfigError(f"{where} {text!r}: an empty value in the list (two commas in a row, or one at an end)")
    values = [parse_value(item.strip(), f"{where} {key}") for item in items]
    if len(values) == 1 and isinstance(values[0], list):
        values = values[0]
    if not values:
        raise ConfigError(f"{where} {text!r}: no values")
    return model, key, values


def search_grids(models: Sequence[str], options: Sequence[str], fixed: dict[str, Any] | None = None,
                 where: str = "--grid") -> dict[str, dict[str, list]]:
    """The search grid of each of ``models`` (specs) under ``--grid [MODEL:]KEY=V1,V2,...`` ``options``: its
    default grid (:func:`default_grid`) with each option's KEY searched over the option's values instead.

    An option without ``MODEL:`` applies to every model. Model keys are checked against each model's
    constructor (unknown names with the closest one, types), a key the model's spec or ``fixed``
    (``--param``) fixes is refused, and so is an option naming no model of ``models``. Keys prefixed
    ``transform__`` are passed on for the run's transform to check. Models no option applies to get no
    entry (they keep their default grid).
    """
    from zslkit.features import TRANSFORM_PREFIX

    grids: dict[str, dict[str, list]] = {}
    given: dict[str, set[str]] = {}
    for text in options:
        model, key, values = parse_grid_option(text, where)
        bases = {m: parse_model_spec(m)[0] for m in models}
        targets = [m for m in models if model is None or model in (m, bases[m])]
        if not targets:
            raise ConfigError(f"{where} {text!r}: {model!r} is none of the models run here {list(models)}")
        for m in targets:
            name, inline = parse_model_spec(m)
            if name in IMAGE_MODELS:
                raise ConfigError(f"{where} {text!r}: image-level models have no search grid (their epoch count and "
                                  "gamma are chosen on validation classes); set their settings with --param")
            if key in inline or key in (fixed or {}):
                how = f"in the model name {m!r}" if key in inline else "by --param"
                raise ConfigError(f"{where} {text!r}: {key!r} is fixed {how}; a hyperparameter is either fixed or "
                                  "searched")
            if not key.startswith(TRANSFORM_PREFIX):
                try:
                    check_hyperparameters(m, {key: values}, f"{where} {text!r}", grid=True)
                except ConfigError as exc:
                    if model is not None or len(models) == 1:
                        raise
                    raise ConfigError(f"{exc} (without MODEL: the option applies to every model; "
                                      f"{where} MODEL:{key}=... applies to one)") from None
            if key in given.setdefault(m, set()):
                raise ConfigError(f"{where} {text!r}: {key!r} of model {m!r} is given a grid twice")
            given[m].add(key)
            grids.setdefault(m, default_grid(m))[key] = values
    return grids
