"""Feature transforms chosen by name, like models (:mod:`zslkit.registry`).

A transform is named by a spec string ``NAME`` or ``NAME(key=value, ...)`` (values are YAML, as in
model specs): ``"expchi2(norm=l1, n_components=500)"``, ``"chi2(sample_steps=2)"``,
``"normalize(norm=power)"``. Every name builds a :class:`~zslkit.features.transforms.BlockTransform`
with a preset ``map``; the spec's values override it. In a run (:class:`zslkit.pipeline.TrainConfig`
``transform``), parameters prefixed ``transform__`` in ``params`` (fixed) or ``grid`` (searched on
validation classes), as in a scikit-learn Pipeline, set the transform's parameters:
``grid: {transform__norm: [l1, power], C: [0.1, 1]}``.
"""

from __future__ import annotations

from typing import Any

from zslkit.errors import ConfigError, did_you_mean
from zslkit.features.transforms import MAPS, NORMS, BlockTransform, check_blocks, normalize_block

__all__ = ["BlockTransform", "TRANSFORMS", "TRANSFORM_PREFIX", "check_blocks", "check_transform_params",
           "get_transform", "normalize_block", "split_transform_params", "transform_description", "MAPS", "NORMS"]

#: prefix of transform parameters in a run's ``params`` / ``grid`` (scikit-learn Pipeline style)
TRANSFORM_PREFIX = "transform__"

#: name -> (preset parameters, one-line description)
TRANSFORMS: dict[str, tuple[dict[str, Any], str]] = {
    "normalize": ({"map": "none"}, "per-block normalisation only (none | l1 | l2 | power), block weights"),
    "chi2": ({"map": "additive_chi2"}, "per-block normalisation + additive chi-squared map (scikit-learn "
                                       "AdditiveChi2Sampler), block weights"),
    "expchi2": ({"map": "exp_chi2"}, "per-block normalisation + exponentiated chi-squared kernel, median "
                                     "bandwidth, Nystroem map (numba-fast with the fast extra), block weights"),
}


def _parse(spec: str) -> tuple[str, dict[str, Any]]:
    from zslkit.registry import parse_model_spec

    if not isinstance(spec, str):
        raise ConfigError(f"transform must be a spec string such as 'expchi2(norm=l1)', got {spec!r}")
    name, inline = parse_model_spec(spec)
    if name not in TRANSFORMS:
        raise ConfigError(f"unknown transform {name!r} in {spec!r}{did_you_mean(name, TRANSFORMS)}; choose one of "
                          f"{sorted(TRANSFORMS)}")
    return name, inline


def check_transform_params(spec: str, params: dict[str, Any], where: str = "", grid: bool = False) -> None:
    """Check transform parameters (unprefixed; with ``grid``, lists of values) against
    :class:`BlockTransform`; raises :class:`ConfigError` naming the transform, the key and the value."""
    from zslkit.registry import check_params_of

    name, _ = _parse(spec)
    pre = f"{where}: " if where else ""
    if not isinstance(params, dict):
        raise ConfigError(f"{pre}parameters of transform {name!r} must be a mapping name: value, got {params!r}")
    check_params_of(BlockTransform, "transform", name, params, pre, grid)


def get_transform(spec: str, **params: Any) -> BlockTransform:
    """The transform named by ``spec`` with ``params`` on top of its inline values; every value is
    checked (unknown names, types, and the allowed norms / maps when the transform is fitted)."""
    name, inline = _parse(spec)
    values = {**TRANSFORMS[name][0], **inline, **params}
    check_transform_params(spec, {**inline, **params})
    t = BlockTransform(**values)
    t._check_settings()
    return t


def split_transform_params(params: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """``{"C": 1, "transform__norm": "l2"}`` -> ``({"C": 1}, {"norm": "l2"})``: model and transform parts."""
    model, transform = {}, {}
    for k, v in (params or {}).items():
        if isinstance(k, str) and k.startswith(TRANSFORM_PREFIX):
            transform[k[len(TRANSFORM_PREFIX):]] = v
        else:
            model[k] = v
    return model, transform


def transform_description(name: str) -> str:
    """One line about the named transform (for ``zslkit models``)."""
    return TRANSFORMS[name][1]
