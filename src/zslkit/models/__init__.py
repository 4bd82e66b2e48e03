"""Feature-level ZSL estimators (one file per family) sharing :class:`ZSLModel`'s interface.

The estimator classes are imported on first use (PEP 562): ``from zslkit.models import ESZSL``
does not import torch, which only the iterative models need (importing it costs about 0.5 GB
of resident memory and seconds of start-up).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from zslkit.models.base import ZSLModel

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from zslkit.models.bilinear import ALE, SJE, BilinearRankingModel, DeViSE
    from zslkit.models.clswgan import CLSWGAN
    from zslkit.models.dap import DAP, IAP
    from zslkit.models.eszsl import ESZSL
    from zslkit.models.regressor import SemanticRegressor
    from zslkit.models.sae import SAE
    from zslkit.models.softmax_compat import SoftmaxCompat

_LAZY = {"ALE": "bilinear", "SJE": "bilinear", "DeViSE": "bilinear", "BilinearRankingModel": "bilinear",
         "CLSWGAN": "clswgan", "ESZSL": "eszsl", "SemanticRegressor": "regressor", "SAE": "sae",
         "SoftmaxCompat": "softmax_compat", "DAP": "dap", "IAP": "dap"}

__all__ = ["ALE", "CLSWGAN", "DAP", "IAP", "SAE", "SJE", "BilinearRankingModel", "DeViSE", "ESZSL",
           "SemanticRegressor", "SoftmaxCompat", "ZSLModel"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f"zslkit.models.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
