"""zslkit.losses: losses for ZSL models.

* :class:`ReMSELoss` / :func:`remse_loss` -- ReZSL's re-balanced MSE (Ye et al., TIP 2023).
* :func:`remse_weights`, :func:`weights_from_error`, :func:`class_error_stats` -- the
  weight matrix and per-class error statistics behind it, for analysis.

* :func:`ale_loss`, :func:`sje_loss`, :func:`devise_loss` -- ranking losses of the bilinear
  compatibility models (:mod:`zslkit.losses.ranking`).
"""

from zslkit.losses.ranking import RANKING_LOSSES, ale_loss, devise_loss, margin_violations, rank_weight, sje_loss
from zslkit.losses.remse import (
    ReMSELoss,
    class_error_stats,
    regnorm,
    remse_loss,
    remse_weights,
    weights_from_error,
)

__all__ = [
    "RANKING_LOSSES",
    "ReMSELoss",
    "ale_loss",
    "devise_loss",
    "margin_violations",
    "rank_weight",
    "sje_loss",
    "class_error_stats",
    "regnorm",
    "remse_loss",
    "remse_weights",
    "weights_from_error",
]
