"""zslkit: a toolkit for zero-shot learning.

Packages, by concept:

* :mod:`zslkit.data` -- ``ZSLData``, xlsa17 readers/writers, surrogate data.
* :mod:`zslkit.embeddings` -- class-semantic sources (attributes, word vectors, files).
* :mod:`zslkit.vgse` -- VGSE discovery (patch clustering, class relation).
* :mod:`zslkit.models` -- ZSL estimators on features, AttentionNet.
* :mod:`zslkit.losses` -- ReMSE and ranking losses.
* :mod:`zslkit.evaluation` -- ZSL/GZSL protocol, AUSUC, imbalance analysis.
* :mod:`zslkit.predict` -- :func:`load_run`: the saved model of a run, ready to score new features.
* :mod:`zslkit.tracking` -- experiment tracking (TensorBoard) of every training run.
"""

from zslkit.errors import CheckpointError, ConfigError, ZSLDataError, ZSLKitError

__version__ = "0.1.0"

__all__ = ["CheckpointError", "ConfigError", "ZSLDataError", "ZSLKitError", "__version__", "load_run"]


def __getattr__(name: str):
    # imported on first use (PEP 562): ``import zslkit`` stays light
    if name == "load_run":
        from zslkit.predict import load_run

        return load_run
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
