"""Feature-level ZSL estimators (one file per family) sharing :class:`ZSLModel`'s interface."""

from zslkit.models.base import ZSLModel
from zslkit.models.bilinear import ALE, SJE, BilinearRankingModel, DeViSE
from zslkit.models.clswgan import CLSWGAN
from zslkit.models.eszsl import ESZSL
from zslkit.models.regressor import SemanticRegressor
from zslkit.models.sae import SAE

__all__ = ["ALE", "CLSWGAN", "SAE", "SJE", "BilinearRankingModel", "DeViSE", "ESZSL", "SemanticRegressor",
           "ZSLModel"]
