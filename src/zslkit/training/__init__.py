"""Training procedures: model selection on validation classes (more to come: loops, samplers, DDP)."""

from zslkit.training.selection import Selection, select

__all__ = ["Selection", "select"]
