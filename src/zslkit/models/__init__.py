"""Feature-level ZSL estimators (one file per family) sharing :class:`ZSLModel`'s interface."""

from zslkit.models.base import ZSLModel
from zslkit.models.eszsl import ESZSL

__all__ = ["ESZSL", "ZSLModel"]
