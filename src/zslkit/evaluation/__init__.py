"""Evaluation: per-class accuracy, ZSL T1, GZSL U/S/H, calibrated stacking and AUSUC."""

from zslkit.evaluation.metrics import (
    GZSLSweep,
    calibrated_predictions,
    gzsl_sweep,
    harmonic_mean,
    per_class_accuracies,
    per_class_accuracy,
)
from zslkit.evaluation.protocol import EvalSplit, Metrics, choose_gamma, evaluate, validation_gamma

__all__ = [
    "EvalSplit", "GZSLSweep", "Metrics", "calibrated_predictions", "choose_gamma", "evaluate", "gzsl_sweep",
    "harmonic_mean", "per_class_accuracies", "per_class_accuracy", "validation_gamma",
]
