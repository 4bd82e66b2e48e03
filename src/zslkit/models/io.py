"""Fitted estimators to files and back, without pickle: structure as JSON, arrays in a ``.npz``.

:func:`encode` turns a fitted estimator (any zslkit model, a :class:`~zslkit.features.BlockTransform`,
and the scikit-learn estimators and torch modules they hold) into a JSON document plus a dict of
named arrays; :func:`decode` rebuilds it. :func:`write_state` / :func:`read_state` store the pair as
``NAME.json`` + ``NAME.npz`` (written atomically, read with ``allow_pickle=False``). Nothing in a file
is executed when it is read: the JSON names classes, and only classes of the modules in
:data:`ALLOWED_MODULES` are rebuilt, without running their constructors.

What is encoded (the JSON value of each kind; ``$type`` marks everything JSON has no type for):

* ``None``, bools, ints, finite floats and strings as themselves; lists as lists; dicts with string
  keys as objects;
* non-finite floats ``{"$type": "float", "value": "nan"}``; tuples, sets and dicts with other keys
  (or a ``$type`` key) as ``{"$type": "tuple" | "set" | "dict", "items": [...]}``;
* numpy arrays and numpy scalars ``{"$type": "ndarray" | "npscalar", "key": K}``: the array is
  entry K of the ``.npz`` (dtype and shape exact; object arrays are refused);
* torch tensors ``{"$type": "tensor", "key": K, "requires_grad": b, "parameter": b}`` (the values
  in the ``.npz`` as a numpy array of the same dtype);
* torch modules ``{"$type": "module", "class": "torch.nn.modules.linear.Linear", "training": b,
  "attrs": {...}, "parameters": {...}, "buffers": {...}, "non_persistent": [...], "modules": {...}}``,
  rebuilt by ``nn.Module.__init__`` on an instance of the class, then the attributes, parameters,
  buffers and sub-modules set (so a file does not depend on torch's private module layout);
* any other object of an allowed module (a zslkit or scikit-learn estimator, a calibrator)
  ``{"$type": "object", "class": "module.Class", "state": {...}}``: its ``__getstate__()``
  (what pickle would store; estimators leave out caches there), restored with ``__setstate__``.

Anything else (functions, random generators, open files, objects of other libraries) is a
:class:`~zslkit.errors.ConfigError` naming the attribute, so a model that cannot be saved faithfully
is never saved partly.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from zslkit.errors import ConfigError, ZSLDataError

__all__ = ["ALLOWED_MODULES", "STATE_FORMAT", "decode", "encode", "read_state", "write_state"]

#: version tag of the JSON documents :func:`write_state` writes
STATE_FORMAT = "zslkit-state-v1"
#: classes are rebuilt only from these modules (and their sub-modules)
ALLOWED_MODULES = ("zslkit", "sklearn", "torch.nn")


def _class_path(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _allowed(module: str) -> bool:
    return any(module == m or module.startswith(m + ".") for m in ALLOWED_MODULES)


def _resolve(path: Any, where: str) -> type:
    """The class named ``module:qualname`` by a saved document, from an allowed module only."""
    if not isinstance(path, str) or ":" not in path:
        raise ZSLDataError(f"{where}: expected a class name 'module:Class', got {path!r}")
    module, qualname = path.split(":", 1)
    if not _allowed(module):
        raise ZSLDataError(f"{where}: class {path!r} is not from {', '.join(ALLOWED_MODULES)}; zslkit rebuilds "
                           "only its own, scikit-learn and torch.nn classes from a saved model")
    try:
        obj: Any = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise ZSLDataError(f"{where}: class {path!r} does not exist in this installation ({exc}); the model was "
                           "saved by another version of zslkit or scikit-learn") from None
    if not isinstance(obj, type):
        raise ZSLDataError(f"{where}: {path!r} is not a class")
    return obj


def _module_internals() -> set[str]:
    """The attributes ``nn.Module.__init__`` creates (torch's own bookkeeping, never saved)."""
    import torch.nn as nn

    return set(vars(nn.Module()))


class _Encoder:
    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self._internals: set[str] | None = None

    def _key(self, where: str) -> str:
        key = where
        n = 1
        while key in self.arrays:
            n += 1
            key = f"{where}~{n}"
        return key

    def array(self, arr: np.ndarray, where: str) -> str:
        if arr.dtype.hasobject:
            raise ConfigError(f"cannot save {where}: an array of Python objects (dtype object) is not stored")
        key = self._key(where)
        self.arrays[key] = arr
        return key

    def __call__(self, obj: Any, where: str) -> Any:
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int) and type(obj) is int:
            return obj
        if type(obj) is float:
            return obj if math.isfinite(obj) else {"$type": "float", "value": repr(obj)}
        if isinstance(obj, np.ndarray):
            return {"$type": "ndarray", "key": self.array(obj, where)}
        if isinstance(obj, np.generic):
            return {"$type": "npscalar", "key": self.array(np.asarray(obj), where)}
        if isinstance(obj, list):
            return [self(v, f"{where}.{i}") for i, v in enumerate(obj)]
        if isinstance(obj, tuple) and type(obj) is tuple:
            return {"$type": "tuple", "items": [self(v, f"{where}.{i}") for i, v in enumerate(obj)]}
        if isinstance(obj, (set, frozenset)):
            items = sorted(obj, key=repr)
            return {"$type": "set", "items": [self(v, f"{where}.{i}") for i, v in enumerate(items)]}
        if isinstance(obj, dict):
            if all(isinstance(k, str) for k in obj) and "$type" not in obj:
                return {k: self(v, f"{where}.{k}") for k, v in obj.items()}
            return {"$type": "dict", "items": [[self(k, f"{where}.key{i}"), self(v, f"{where}.{i}")]
                                               for i, (k, v) in enumerate(obj.items())]}
        torch = sys.modules.get("torch")  # no tensor or module can exist unless torch was imported
        if torch is not None:
            if isinstance(obj, torch.Tensor):
                return self._tensor(obj, where)
            if isinstance(obj, torch.nn.Module):
                return self._module(obj, where)
        cls = type(obj)
        if _allowed(cls.__module__) and hasattr(obj, "__dict__"):
            state = obj.__getstate__() if hasattr(obj, "__getstate__") else vars(obj)
            state = {} if state is None else state  # object.__getstate__ of an empty instance
            if not isinstance(state, dict):
                raise ConfigError(f"cannot save {where}: {cls.__name__}.__getstate__() is not a dict")
            return {"$type": "object", "class": _class_path(cls),
                    "state": {k: self(v, f"{where}.{k}") for k, v in state.items()}}
        raise ConfigError(f"cannot save {where}: a {cls.__module__}.{cls.__qualname__} is none of the types zslkit "
                          "stores without pickle (numbers, strings, lists, dicts, numpy arrays, torch tensors and "
                          f"modules, zslkit and scikit-learn estimators)")

    def _tensor(self, t: Any, where: str) -> dict[str, Any]:
        import torch

        data = t.detach().cpu()
        if data.dtype == torch.bfloat16:
            raise ConfigError(f"cannot save {where}: bfloat16 tensors have no numpy dtype; convert the model to "
                              "float32 first")
        return {"$type": "tensor", "key": self.array(data.numpy().copy(), where),
                "requires_grad": bool(t.requires_grad), "parameter": isinstance(t, torch.nn.Parameter)}

    def _module(self, m: Any, where: str) -> dict[str, Any]:
        cls = type(m)
        if not _allowed(cls.__module__):
            raise ConfigError(f"cannot save {where}: torch module {_class_path(cls)} is not from "
                              f"{', '.join(ALLOWED_MODULES)}")
        if self._internals is None:
            self._internals = _module_internals()
        attrs = {k: self(v, f"{where}.{k}") for k, v in vars(m).items() if k not in self._internals}
        return {"$type": "module", "class": _class_path(cls), "training": bool(m.training), "attrs": attrs,
                "parameters": {k: None if p is None else self._tensor(p, f"{where}.{k}")
                               for k, p in m._parameters.items()},
                "buffers": {k: None if b is None else self._tensor(b, f"{where}.{k}") for k, b in m._buffers.items()},
                "non_persistent": sorted(m._non_persistent_buffers_set),
                "modules": {k: None if c is None else self._module(c, f"{where}.{k}") for k, c in m._modules.items()}}


def encode(obj: Any, name: str = "model") -> tuple[Any, dict[str, np.ndarray]]:
    """``obj`` as ``(JSON-able document, {key: array})`` (see the module docstring); array keys start
    with ``name`` and follow the attribute path (``model.V_``, ``transform.mappers_.0.components_``).

    Raises:
        ConfigError: something in ``obj`` cannot be stored without pickle (named by its path).
    """
    enc = _Encoder()
    return enc(obj, name), enc.arrays


def decode(doc: Any, arrays: dict[str, np.ndarray], where: str = "model") -> Any:
    """Rebuild what :func:`encode` encoded; ``where`` names the file in errors.

    Raises:
        ZSLDataError: a document that is not one :func:`encode` writes (unknown ``$type``, a missing
            array, a class outside :data:`ALLOWED_MODULES` or not in this installation).
    """
    if doc is None or isinstance(doc, (bool, int, float, str)):
        return doc
    if isinstance(doc, list):
        return [decode(v, arrays, where) for v in doc]
    if not isinstance(doc, dict):
        raise ZSLDataError(f"{where}: unexpected JSON value {doc!r}")
    kind = doc.get("$type")
    if kind is None:
        return {k: decode(v, arrays, where) for k, v in doc.items()}

    def array(key: Any) -> np.ndarray:
        if not isinstance(key, str) or key not in arrays:
            raise ZSLDataError(f"{where}: array {key!r} is missing from the .npz file beside it")
        return arrays[key]

    if kind == "float":
        return float(doc["value"])
    if kind == "ndarray":
        return array(doc.get("key"))
    if kind == "npscalar":
        return array(doc.get("key"))[()]
    if kind in ("tuple", "set", "dict"):
        items = doc.get("items")
        if not isinstance(items, list):
            raise ZSLDataError(f"{where}: a {kind} without its list of items")
        if kind == "dict":
            return {_hashable(decode(k, arrays, where)): decode(v, arrays, where) for k, v in items}
        values = [decode(v, arrays, where) for v in items]
        return tuple(values) if kind == "tuple" else set(_hashable(v) for v in values)
    if kind == "tensor":
        return _decode_tensor(doc, array(doc.get("key")))
    if kind == "module":
        return _decode_module(doc, arrays, where)
    if kind == "object":
        cls = _resolve(doc.get("class"), where)
        state = decode(doc.get("state"), arrays, where)
        if not isinstance(state, dict):
            raise ZSLDataError(f"{where}: the state of {doc.get('class')} is not an object")
        obj = cls.__new__(cls)
        if hasattr(obj, "__setstate__"):
            obj.__setstate__(state)
        else:  # what pickle does for a class without __setstate__
            obj.__dict__.update(state)
        return obj
    raise ZSLDataError(f"{where}: unknown entry type {kind!r} (saved by a newer zslkit?)")


def _hashable(value: Any) -> Any:
    return tuple(_hashable(v) for v in value) if isinstance(value, list) else value


def _decode_tensor(doc: dict[str, Any], arr: np.ndarray) -> Any:
    import torch

    t = torch.from_numpy(np.array(arr, copy=True))
    if doc.get("parameter"):
        return torch.nn.Parameter(t, requires_grad=bool(doc.get("requires_grad")))
    return t.requires_grad_(bool(doc.get("requires_grad")))


def _decode_module(doc: dict[str, Any], arrays: dict[str, np.ndarray], where: str) -> Any:
    import torch.nn as nn

    cls = _resolve(doc.get("class"), where)
    if not issubclass(cls, nn.Module):
        raise ZSLDataError(f"{where}: {doc.get('class')} is not a torch module")
    m = cls.__new__(cls)
    nn.Module.__init__(m)  # torch's bookkeeping of this installation; the class's own __init__ does not run
    for k, v in (doc.get("attrs") or {}).items():
        object.__setattr__(m, k, decode(v, arrays, where))
    for k, v in (doc.get("parameters") or {}).items():
        m._parameters[k] = None if v is None else decode(v, arrays, where)
    for k, v in (doc.get("buffers") or {}).items():
        m._buffers[k] = None if v is None else decode(v, arrays, where)
    m._non_persistent_buffers_set.update(doc.get("non_persistent") or [])
    for k, v in (doc.get("modules") or {}).items():
        m._modules[k] = None if v is None else _decode_module(v, arrays, where)
    m.training = bool(doc.get("training", False))
    return m


def write_state(directory: str | os.PathLike, name: str, document: dict[str, Any],
                arrays: dict[str, np.ndarray]) -> tuple[Path, Path]:
    """Write ``DIR/NAME.npz`` (the arrays, uncompressed) then ``DIR/NAME.json`` (``document`` with the
    format tag), each atomically (:func:`zslkit.utils.outputs.atomic_path`: inside an open output
    directory they are recorded in its manifest, and a foreign file there is never replaced).
    The JSON comes last, so its presence means both files are complete."""
    from zslkit.utils.outputs import atomic_path, atomic_write_text

    d = Path(directory)
    npz, js = d / f"{name}.npz", d / f"{name}.json"
    with atomic_path(npz, suffix=".npz") as tmp:
        np.savez(tmp, **arrays)
    atomic_write_text(js, json.dumps({"format": STATE_FORMAT, **document}, indent=1, allow_nan=False) + "\n")
    return js, npz


def read_state(directory: str | os.PathLike, name: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The ``(document, arrays)`` :func:`write_state` wrote as ``DIR/NAME.json`` + ``DIR/NAME.npz``.

    Raises:
        ZSLDataError: a missing, unreadable or foreign file, naming it and what was expected.
    """
    d = Path(directory)
    js, npz = d / f"{name}.json", d / f"{name}.npz"
    if not js.is_file():
        raise ZSLDataError(f"{js}: not found")
    try:
        doc = json.loads(js.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ZSLDataError(f"{js}: unreadable ({exc}); expected the JSON document zslkit writes for a saved "
                           "model") from exc
    if not isinstance(doc, dict) or doc.get("format") != STATE_FORMAT:
        found = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise ZSLDataError(f"{js}: format {found!r}, expected {STATE_FORMAT!r} (a model saved by zslkit)")
    if not npz.is_file():
        raise ZSLDataError(f"{npz}: not found; expected the arrays of {js.name} beside it")
    try:
        with np.load(npz, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ZSLDataError(f"{npz}: unreadable ({exc}); expected the .npz arrays of a saved model (no pickles)") \
            from exc
    return doc, arrays
