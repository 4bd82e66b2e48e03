"""Model selection on validation classes (never on test data).

For each validation fold (xlsa17 class lists), the model is fitted on the images of the
fold's train classes and scored as a small ZSL problem on its validation classes; the
hyperparameters with the best mean validation criterion (ZSL T1 by default) win. The GZSL
calibration gamma is the one maximising H on the same validation splits (mean over folds),
and is then applied unchanged to the test split.

Class matrices whose unseen rows are *predicted* from the seen ones (VGSE: unseen = R @ seen
through the class relation) need validation to mimic that: ``fold_semantic`` gives each fold
its own class matrix (see :func:`relation_fold_semantic`), otherwise validation classes keep
measured rows, validation is easier than the test and the chosen gamma is far too small.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
from sklearn.model_selection import ParameterGrid

from zslkit.data.zsldata import ZSLData
from zslkit.errors import ConfigError
from zslkit.evaluation.protocol import evaluate, zsl_accuracy
from zslkit.models.base import ZSLModel

log = logging.getLogger(__name__)


@dataclass
class Selection:
    """Outcome of :func:`select`: chosen params, gamma, and every grid point's val metrics."""

    params: dict[str, Any]
    gamma: float
    criterion: str
    table: list[dict[str, Any]] = field(default_factory=list)
    folds: list[str] = field(default_factory=list)
    at_grid_edge: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"params": self.params, "gamma": self.gamma, "criterion": self.criterion, "folds": self.folds,
                "at_grid_edge": self.at_grid_edge, "table": self.table}


#: ``(semantic (C, K), train_classes, val_classes) -> (C, K)``: the class matrix one validation fold sees.
FoldSemantic = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def relation_fold_semantic(word_vectors: np.ndarray, method: str = "smo", alpha: float = 0.0) -> FoldSemantic:
    """A :data:`FoldSemantic` re-predicting each fold's validation-class rows from its train-class rows
    through the VGSE class relation fitted on ``word_vectors`` (C, D_w), as unseen rows are at test time
    (:func:`zslkit.vgse.discovery.relation_validation_semantic`)."""
    from zslkit.vgse.discovery import relation_validation_semantic

    wv = np.asarray(word_vectors, dtype=np.float64)

    def fold_semantic(semantic: np.ndarray, train_classes: np.ndarray, val_classes: np.ndarray) -> np.ndarray:
        if wv.shape[0] != semantic.shape[0]:
            raise ConfigError(f"relation validation: word vectors have {wv.shape[0]} rows, the class matrix "
                              f"{semantic.shape[0]}")
        return relation_validation_semantic(semantic, wv, train_classes, val_classes, method=method, alpha=alpha)

    return fold_semantic


def scores_fn_for(model: ZSLModel, semantic: np.ndarray):
    """Adapter from ``model.scores(X, S)`` to the protocol's ``scores_fn(X, class_ids)``."""
    return lambda X, classes: model.scores(X, semantic[classes])


def select(model: ZSLModel, data: ZSLData, grid: dict[str, Sequence] | None = None, folds: Sequence[int] = (1,),
           holdout: float = 0.2, seed: int = 0, criterion: str = "T1",
           fold_semantic: FoldSemantic | None = None, warn_edge: bool = True, progress: bool = False) -> Selection:
    """Choose hyperparameters and the calibration gamma on validation classes.

    Args:
        model: an unfitted estimator; its constructor values are the defaults.
        data: the dataset (only trainval images are touched).
        grid: ``{param: [values]}``; defaults to ``type(model).param_grid``; empty = no search.
        folds: validation folds to average over (1-based).
        holdout: share of train-class images held out to measure S on validation.
        seed: seed of the held-out draw (and of seeded class partitions).
        criterion: "T1" (ZSL accuracy on validation classes, xlsa17's convention) or "H".
        fold_semantic: the class matrix each fold fits and scores with (default: ``data.semantic``);
            :func:`relation_fold_semantic` for class-relation embeddings such as VGSE.
        warn_edge: log a warning when a chosen value lies at the edge of its grid (a grid the user
            chose); False logs it at INFO level (a built-in default grid). It is recorded in
            ``Selection.at_grid_edge`` either way.
        progress: one progress bar over every fit of the search (iterative models nest their own).

    With ``criterion="T1"`` the grid points are compared by validation T1 alone (cheap: no GZSL
    sweep); the exact GZSL sweep that gives the calibration gamma runs once, for the chosen point
    (with one fold its fitted model is kept; with several it is refitted once per fold). The table
    then has ``val_H`` / ``val_gamma`` for the chosen point only (None elsewhere). With
    ``criterion="H"`` every point gets the full protocol.
    """
    if criterion not in ("T1", "H"):
        raise ConfigError(f"selection criterion must be 'T1' or 'H', got {criterion!r}")
    grid = type(model).param_grid if grid is None else grid
    points = list(ParameterGrid(grid)) if grid else [{}]
    n_fits = len(points) * len(folds)
    log.info("searching %d setting(s) x %d fold(s) + final fit: %d fits", len(points), len(folds), n_fits + 1)
    bar = _fit_bar(n_fits, progress, type(model).__name__)
    t1s: list[list[float]] = [[] for _ in points]
    full: list[list[Any]] = [[] for _ in points]  # criterion H: every point's Metrics
    folds_data = []
    best_model: tuple[float, int, ZSLModel] | None = None  # one fold: the running best fitted model
    fold_names = []
    t_start = time.perf_counter()
    try:
        for fold in folds:
            vs = data.validation_split(fold=fold, holdout=holdout, seed=seed)
            fold_names.append(vs.source)
            X = data.features[vs.train_idx]
            y = data.labels[vs.train_idx]
            sem = data.semantic if fold_semantic is None else np.asarray(
                fold_semantic(data.semantic, vs.train_classes, vs.val_classes), dtype=data.semantic.dtype)
            if sem.shape != data.semantic.shape:
                raise ConfigError(f"fold_semantic returned shape {sem.shape}, expected {data.semantic.shape}")
            folds_data.append((vs, X, y, sem))
            for i, (params, fitted) in enumerate(model.fit_grid(X, y, sem, points)):
                fn = scores_fn_for(fitted, sem)
                if criterion == "H":
                    m = evaluate(fn, data.features, data.labels, vs.eval)
                    full[i].append(m)
                    t1s[i].append(m.T1)
                else:
                    t1s[i].append(zsl_accuracy(fn, data.features, data.labels, vs.eval))
                    if len(folds) == 1 and (best_model is None or t1s[i][0] > best_model[0]):
                        best_model = (t1s[i][0], i, fitted)
                log.debug("fold %s params %s: T1 %.2f", fold, params, t1s[i][-1])
                bar.update(1)
                if bar.n == 1 and n_fits > 1:
                    dt = time.perf_counter() - t_start
                    log.info("first fit took %.1f s: the search needs about %.0f s more", dt, dt * (n_fits - 1))
    finally:
        bar.close()
    if criterion == "H":
        table = [{"params": p, "val_T1": float(np.mean([m.T1 for m in ms])),
                  "val_H": _finite_mean([m.oracle_H for m in ms]),
                  "val_gamma": _finite_mean([m.oracle_gamma for m in ms])} for p, ms in zip(points, full)]
        best = max(range(len(table)), key=lambda i: table[i]["val_H"])  # first best on ties: deterministic
    else:
        table = [{"params": p, "val_T1": float(np.mean(v)), "val_H": None, "val_gamma": None}
                 for p, v in zip(points, t1s)]
        best = max(range(len(table)), key=lambda i: table[i]["val_T1"])
        # The exact GZSL sweep for the chosen point only: it gives the calibration gamma.
        ms = []
        for vs, X, y, sem in folds_data:
            if best_model is not None and best_model[1] == best:
                fitted = best_model[2]
            else:
                fitted = next(iter(model.fit_grid(X, y, sem, [points[best]])))[1]
            ms.append(evaluate(scores_fn_for(fitted, sem), data.features, data.labels, vs.eval))
        table[best]["val_H"] = _finite_mean([m.oracle_H for m in ms])
        table[best]["val_gamma"] = _finite_mean([m.oracle_gamma for m in ms])
    edge = []
    for name, values in (grid or {}).items():
        vals = list(values)
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals)
        if numeric and len(vals) > 2 and points[best][name] in (min(vals), max(vals)):
            edge.append(name)
    if edge:
        log.log(logging.WARNING if warn_edge else logging.INFO,
                "selected %s at the edge of its grid: consider widening the grid", edge)
    return Selection(params=dict(points[best]), gamma=table[best]["val_gamma"], criterion=criterion, table=table,
                     folds=fold_names, at_grid_edge=edge)


def _finite_mean(values: list[float]) -> float:
    """Mean over the folds that have a value (a fold without seen-class images has no GZSL: NaN);
    NaN, without numpy's empty-slice warning, when none has."""
    finite = [float(v) for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def _fit_bar(total: int, progress: bool, desc: str):
    """A tqdm bar over the search's fits (a silent stand-in when not wanted)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=f"{desc} validation search", unit="fit", disable=not progress or total <= 1,
                position=0, leave=False)
