"""zslkit.losses: losses for ZSL models.

* :class:`ReMSELoss` / :func:`remse_loss` -- ReZSL's re-balanced MSE (Ye et al., TIP 2023).
* :func:`remse_weights`, :func:`weights_from_error`, :func:`class_error_stats` -- the
  weight matrix and per-class error statistics behind it, for analysis.

Ranking losses (ALE / SJE / DeViSE) live in :mod:`zslkit.losses.ranking`.
"""

from zslkit.losses.remse import (
    ReMSELoss,
    class_error_stats,
    regnorm,
    remse_loss,
    remse_weights,
    weights_from_error,
)

__all__ = [
    "ReMSELoss",
    "class_error_stats",
    "regnorm",
    "remse_loss",
    "remse_weights",
    "weights_from_error",
]
