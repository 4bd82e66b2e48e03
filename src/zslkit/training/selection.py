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

from zslkit.data.zsldata import ValidationSplit, ZSLData
from zslkit.errors import ConfigError
from zslkit.evaluation.protocol import EvalSplit, evaluate, zsl_accuracy
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


def fold_features(data: ZSLData, vs: ValidationSplit, transform: Any = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, EvalSplit]:
    """The arrays one validation fold works on: (X_train, y_train, features, labels, eval split).

    Without ``transform``: the dataset's own arrays (the eval split indexes ``data.features``). With a
    transform (:class:`zslkit.features.BlockTransform`, unfitted): it is fitted on the fold's training
    images only (``vs.train_idx``), then applied to those and the fold's evaluation images, which are
    returned as one compact matrix with the eval split's indices remapped into it.
    """
    if transform is None:
        return data.features[vs.train_idx], data.labels[vs.train_idx], data.features, data.labels, vs.eval
    ev = vs.eval
    idx = np.unique(np.concatenate([vs.train_idx, ev.seen_idx, ev.unseen_idx]))
    from zslkit.features.transforms import fit_transform_rows

    feats = fit_transform_rows(transform, data.features, vs.train_idx, idx)
    pos = lambda a: np.searchsorted(idx, np.asarray(a, dtype=np.int64))  # noqa: E731
    local = EvalSplit(seen_idx=pos(ev.seen_idx), unseen_idx=pos(ev.unseen_idx), seen_classes=ev.seen_classes,
                      unseen_classes=ev.unseen_classes, name=ev.name)
    labels = data.labels[idx]
    tr = pos(vs.train_idx)
    return feats[tr], labels[tr], feats, labels, local


def select(model: ZSLModel, data: ZSLData, grid: dict[str, Sequence] | None = None, folds: Sequence[int] = (1,),
           holdout: float = 0.2, seed: int = 0, criterion: str = "T1",
           fold_semantic: FoldSemantic | None = None, warn_edge: bool = True, progress: bool = False,
           transform: Any = None, transform_grid: dict[str, Sequence] | None = None, logger: Any = None) -> Selection:
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
        transform: an unfitted feature transform (:class:`zslkit.features.BlockTransform`) applied
            before the model; per fold it is fitted on the fold's training images only
            (:func:`fold_features`), once per point of ``transform_grid`` and shared by the model's grid.
        transform_grid: ``{transform_param: [values]}`` searched together with ``grid``; the chosen
            values come back in ``Selection.params`` prefixed ``transform__``.
        logger: an :class:`zslkit.tracking.ExperimentLogger` receiving the per-epoch losses of every fit
            (``search/pI/foldF/KEY``, I the grid point) and every point's validation scores
            (``search/val_T1``, ``search/val_H``, ``search/val_gamma`` at step I; ``search/points`` lists them).

    With ``criterion="T1"`` the grid points are compared by validation T1 alone (cheap: no GZSL
    sweep); the exact GZSL sweep that gives the calibration gamma runs once, for the chosen point
    (with one fold its fitted model is kept; with several it is refitted once per fold). The table
    then has ``val_H`` / ``val_gamma`` for the chosen point only (None elsewhere). With
    ``criterion="H"`` every point gets the full protocol.
    """
    if criterion not in ("T1", "H"):
        raise ConfigError(f"selection criterion must be 'T1' or 'H', got {criterion!r}")
    from sklearn.base import clone

    from zslkit.features import TRANSFORM_PREFIX

    grid = type(model).param_grid if grid is None else grid
    mpoints = list(ParameterGrid(grid)) if grid else [{}]
    tpoints = list(ParameterGrid(transform_grid)) if transform is not None and transform_grid else [{}]
    # one search point = a transform setting x a model setting; the table shows them as one mapping
    points = [{**mp, **{TRANSFORM_PREFIX + k: v for k, v in tp.items()}} for tp in tpoints for mp in mpoints]
    n_fits = len(points) * len(folds)
    log.info("searching %d setting(s) x %d fold(s) + final fit: %d fits", len(points), len(folds), n_fits + 1)
    bar = _fit_bar(n_fits, progress, type(model).__name__)
    t1s: list[list[float]] = [[] for _ in points]
    full: list[list[Any]] = [[] for _ in points]  # criterion H: every point's Metrics
    folds_data = []
    best_model: tuple[float, int, ZSLModel] | None = None  # one fold: the running best fitted model
    fold_names = []
    t_start = time.perf_counter()

    def arrays(vs: ValidationSplit, tp: dict[str, Any]):
        t = None if transform is None else clone(transform).set_params(**tp)
        return fold_features(data, vs, t)

    try:
        for fold in folds:
            vs = data.validation_split(fold=fold, holdout=holdout, seed=seed)
            fold_names.append(vs.source)
            sem = data.semantic if fold_semantic is None else np.asarray(
                fold_semantic(data.semantic, vs.train_classes, vs.val_classes), dtype=data.semantic.dtype)
            if sem.shape != data.semantic.shape:
                raise ConfigError(f"fold_semantic returned shape {sem.shape}, expected {data.semantic.shape}")
            kept = None
            for ti, tp in enumerate(tpoints):
                X, y, feats, labels, ev = arrays(vs, tp)
                if len(tpoints) == 1:  # kept for the chosen point's GZSL sweep (else recomputed for it)
                    kept = (X, y, feats, labels, ev)
                for mi, (params, fitted) in enumerate(model.fit_grid(X, y, sem, mpoints)):
                    i = ti * len(mpoints) + mi
                    fn = scores_fn_for(fitted, sem)
                    if criterion == "H":
                        m = evaluate(fn, feats, labels, ev)
                        full[i].append(m)
                        t1s[i].append(m.T1)
                    else:
                        t1s[i].append(zsl_accuracy(fn, feats, labels, ev))
                        if len(folds) == 1 and (best_model is None or t1s[i][0] > best_model[0]):
                            best_model = (t1s[i][0], i, fitted)
                    log.debug("fold %s params %s: T1 %.2f", fold, points[i], t1s[i][-1])
                    if logger is not None:
                        logger.log_history(getattr(fitted, "history_", None) or [], f"search/p{i}/fold{fold}/")
                    bar.update(1)
                del X, y, feats, labels, ev
            folds_data.append((vs, sem, kept))
    finally:
        bar.close()
    log.info("%d validation fit(s) in %.1f s", n_fits, time.perf_counter() - t_start)
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
        tp_best, mp_best = tpoints[best // len(mpoints)], mpoints[best % len(mpoints)]
        for vs, sem, kept in folds_data:
            X, y, feats, labels, ev = kept if kept is not None else arrays(vs, tp_best)
            if best_model is not None and best_model[1] == best:
                fitted = best_model[2]
            else:
                fitted = next(iter(model.fit_grid(X, y, sem, [mp_best])))[1]
            ms.append(evaluate(scores_fn_for(fitted, sem), feats, labels, ev))
        table[best]["val_H"] = _finite_mean([m.oracle_H for m in ms])
        table[best]["val_gamma"] = _finite_mean([m.oracle_gamma for m in ms])
    if logger is not None:
        _log_search(logger, table)
    edge = []
    searched = {**(grid or {}), **{TRANSFORM_PREFIX + k: v for k, v in (transform_grid or {}).items()}}
    for name, values in searched.items():
        vals = list(values)
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals)
        if numeric and len(vals) > 2 and points[best][name] in (min(vals), max(vals)):
            edge.append(name)
    if edge:
        from zslkit.registry import grid_option

        for name in edge:
            chosen = points[best][name]
            log.log(logging.WARNING if warn_edge else logging.INFO,
                    "selected %s=%r at the edge of its grid: widen the grid, e.g. %s (zslkit train / benchmark; in a "
                    "YAML config the grid: or grids: mapping)", name, chosen,
                    grid_option(name, widen_grid(searched[name], chosen)))
    return Selection(params=dict(points[best]), gamma=table[best]["val_gamma"], criterion=criterion, table=table,
                     folds=fold_names, at_grid_edge=edge)


def _log_search(logger: Any, table: list[dict[str, Any]]) -> None:
    """The validation scores of every grid point (step = its index) and a text listing the points."""
    rows = []
    for i, row in enumerate(table):
        logger.log_scalars({k: row[k] for k in ("val_T1", "val_H", "val_gamma")}, i, "search/")
        rows.append(f"| {i} | `{row['params']}` | {row['val_T1']:.2f} |")
    logger.log_text("search/points", "| point | setting | val_T1 |\n|---|---|---|\n" + "\n".join(rows))


def widen_grid(values: Sequence[Any], chosen: Any) -> list[Any]:
    """``values`` (numbers) sorted, with one more value beyond the end ``chosen`` lies at: the next step of a
    geometric grid (all values positive: the ratio of the two values at that end) or else of an arithmetic
    one; integers stay integers. What the edge-of-grid warning suggests searching next."""
    vals = sorted(values)
    if len(vals) < 2 or chosen not in (vals[0], vals[-1]):
        return vals
    top = chosen == vals[-1]
    a, b = (vals[-2], vals[-1]) if top else (vals[1], vals[0])  # b: the edge, a: its neighbour
    new = b * (b / a) if all(v > 0 for v in vals) else b + (b - a)
    if all(isinstance(v, int) for v in vals):
        new = int(round(new))
        if new == b:
            new = b + (1 if top else -1)
    else:
        new = float(f"{new:.6g}")
    return [*vals, new] if top else [new, *vals]


def _finite_mean(values: list[float]) -> float:
    """Mean over the folds that have a value (a fold without seen-class images has no GZSL: NaN);
    NaN, without numpy's empty-slice warning, when none has."""
    finite = [float(v) for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def _fit_bar(total: int, progress: bool, desc: str):
    """A progress reporter over the search's fits (:func:`zslkit.utils.progress.progress_bar`; a silent stand-in
    when not wanted). Its remaining time is measured over the fits after the first, which pays for start-up."""
    from zslkit.utils.progress import progress_bar

    return progress_bar(total=total, desc=f"{desc} validation search", unit="fit",
                        disable=not progress or total <= 1, position=0, leave=False)
