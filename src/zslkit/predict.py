"""Apply the model of a feature-level run to new features: :class:`RunModel`, :func:`load_run`.

Every feature-level run directory (``zslkit train --out RUN``) holds its fitted model as
``model.json`` + ``model.npz`` (:mod:`zslkit.models.io`: parameters and structure as JSON, arrays
in the ``.npz``, no pickle): the estimator, the fitted feature transform when the run used one
(``--transform``), the class semantic matrix the run scored with, the class names, which classes
were seen in training, and the calibration gamma chosen on validation classes. :func:`load_run`
reads it back as a :class:`RunModel`, whose :meth:`~RunModel.scores` equal the scores of the
model in memory at the end of the run (the same arrays, the same code).

Candidate classes (``classes``): ``"unseen"`` (ZSL: the run's test classes, the default),
``"seen"``, ``"all"`` (GZSL: seen then unseen, the order the run evaluated them in; calibrated
stacking subtracts the run's gamma from the seen classes' scores), or a list of class names or ids.
A candidate set that holds seen and unseen classes is calibrated unless ``calibrated=False``.

:func:`predict_file` is ``zslkit predict``: features from a file (the formats ``zslkit data build
--features`` reads) or a dataset directory, predictions to a CSV file.
"""

from __future__ import annotations

import csv
import io
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from zslkit.errors import ConfigError, ZSLDataError

__all__ = ["MODEL_FILE", "RunModel", "load_run", "predict_file", "read_class_selection"]

#: the saved model of a feature-level run: MODEL_FILE.json + MODEL_FILE.npz in the run directory
MODEL_FILE = "model"
#: what a candidate set may be named by, besides a list of classes
CLASS_SETS = ("unseen", "seen", "all")


@dataclass
class RunModel:
    """The fitted model of a feature-level run with everything needed to score new features.

    Attributes:
        model: the fitted estimator (:class:`zslkit.models.ZSLModel`).
        transform: the fitted feature transform (:class:`zslkit.features.BlockTransform`), or None.
        semantic: (C x K) class semantic matrix the run scored with, one row per class.
        class_names: the C class names, in the order of the rows of ``semantic``.
        seen_classes, unseen_classes: ids (rows of ``semantic``) of the classes the model was trained
            on and of the run's test classes.
        gamma: the calibration constant chosen on validation classes (subtracted from seen-class
            scores when a candidate set holds seen and unseen classes).
        n_features: D, the width of the features the run was trained on (before the transform).
        info: what the run was (``model``, ``transform``, ``semantic`` specs, ``data``, ``seed``).
        path: the run directory it was loaded from (None: built in memory).
    """

    model: Any
    transform: Any
    semantic: np.ndarray
    class_names: list[str]
    seen_classes: np.ndarray
    unseen_classes: np.ndarray
    gamma: float
    n_features: int
    info: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    # ------------------------------------------------------------------ files
    @property
    def where(self) -> str:
        """How messages name this model: its ``model.json``, or "the run's model" in memory."""
        return str(self.path / f"{MODEL_FILE}.json") if self.path is not None else "the run's model"

    def save(self, run_dir: str | os.PathLike) -> Path:
        """Write ``run_dir/model.json`` and ``run_dir/model.npz`` (atomically; inside an open output
        directory they are recorded in its manifest); returns the ``.json`` path."""
        from zslkit import __version__
        from zslkit.models.io import encode, write_state
        from zslkit.utils.outputs import to_jsonable

        est, arrays = encode(self.model, "model")
        doc: dict[str, Any] = {"kind": "feature-level run model", "zslkit_version": __version__,
                               "info": to_jsonable(self.info),
                               "n_features": int(self.n_features), "gamma": float(self.gamma),
                               "class_names": [str(c) for c in self.class_names],
                               "seen_classes": [int(c) for c in self.seen_classes],
                               "unseen_classes": [int(c) for c in self.unseen_classes],
                               "semantic": "classes.semantic", "model": est, "transform": None}
        arrays["classes.semantic"] = np.asarray(self.semantic)
        if self.transform is not None:
            doc["transform"], t_arrays = encode(self.transform, "transform")
            arrays.update(t_arrays)
        js, _ = write_state(run_dir, MODEL_FILE, doc, arrays)
        return js

    @classmethod
    def load(cls, run_dir: str | os.PathLike) -> "RunModel":
        """The model saved in the run directory ``run_dir`` (see :func:`load_run`)."""
        from zslkit.models.io import decode, read_state

        root = Path(run_dir)
        if not root.is_dir():
            raise ZSLDataError(f"{root}: {'is a file, not' if root.exists() else 'no such'} run directory; expected "
                               "the directory zslkit train --out wrote")
        if not (root / f"{MODEL_FILE}.json").is_file():
            if (root / "model.pt").is_file():
                raise ZSLDataError(f"{root}: holds an image-level run (model.pt); zslkit predict applies feature-level "
                                   "models (evaluate image-level ones with zslkit evaluate)")
            if (root / "metrics.json").is_file():
                raise ZSLDataError(f"{root}: a run without a saved model ({MODEL_FILE}.json): it was written by an "
                                   "older zslkit, it is not finished, or its model holds objects zslkit stores only by "
                                   "pickle (the run's log says so); rerun its zslkit train with --overwrite to save the "
                                   "model")
            raise ZSLDataError(f"{root}: not a zslkit run directory (no {MODEL_FILE}.json or metrics.json); expected "
                               "the directory zslkit train --out wrote")
        doc, arrays = read_state(root, MODEL_FILE)
        where = str(root / f"{MODEL_FILE}.json")
        try:
            semantic = np.asarray(arrays[doc["semantic"]])
            names = [str(c) for c in doc["class_names"]]
            seen = np.asarray(doc["seen_classes"], dtype=np.int64)
            unseen = np.asarray(doc["unseen_classes"], dtype=np.int64)
            gamma, n_features = float(doc["gamma"]), int(doc["n_features"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ZSLDataError(f"{where}: incomplete saved model ({type(exc).__name__}: {exc}); expected the "
                               "document zslkit train writes") from exc
        c = semantic.shape[0] if semantic.ndim == 2 else -1
        if c < 1 or len(names) != c or any(not 0 <= i < c for i in (*seen.tolist(), *unseen.tolist())):
            raise ZSLDataError(f"{where}: inconsistent classes ({len(names)} names, semantic matrix "
                               f"{semantic.shape}, class ids outside it); expected one name and one row per class")
        model = decode(doc.get("model"), arrays, where)
        transform = decode(doc.get("transform"), arrays, where)
        params = model.get_params() if hasattr(model, "get_params") else {}
        if params.get("device") not in (None, "cpu"):
            model.set_params(device="cpu")  # a loaded model scores on the CPU, wherever it was trained
        return cls(model=model, transform=transform, semantic=semantic, class_names=names, seen_classes=seen,
                   unseen_classes=unseen, gamma=gamma, n_features=n_features, info=dict(doc.get("info") or {}),
                   path=root)

    # ------------------------------------------------------------------ scoring
    def candidates(self, classes: str | Sequence[str | int] = "unseen") -> np.ndarray:
        """Class ids (rows of :attr:`semantic`) of a candidate set: ``"unseen"``, ``"seen"``, ``"all"``
        (seen then unseen) or a list of class names or ids (in that order; repeats are refused)."""
        if isinstance(classes, str):
            if classes == "unseen":
                return self.unseen_classes.copy()
            if classes == "seen":
                return self.seen_classes.copy()
            if classes == "all":
                return np.concatenate([self.seen_classes, self.unseen_classes])
            raise ConfigError(f"classes={classes!r}: expected one of {list(CLASS_SETS)} or a list of class names")
        index = {n: i for i, n in enumerate(self.class_names)}
        ids = []
        for c in classes:
            if isinstance(c, (int, np.integer)) and not isinstance(c, bool):
                if not 0 <= int(c) < len(self.class_names):
                    raise ConfigError(f"class id {c} is out of range: the run has {len(self.class_names)} classes "
                                      f"(ids 0..{len(self.class_names) - 1})")
                ids.append(int(c))
            elif str(c) in index:
                ids.append(index[str(c)])
            else:
                from zslkit.errors import did_you_mean

                raise ConfigError(f"unknown class {c!r}{did_you_mean(c, self.class_names)}; the run's classes: "
                                  f"{', '.join(self.class_names[:8])}{' ...' if len(self.class_names) > 8 else ''}")
        if not ids:
            raise ConfigError("the candidate class list is empty")
        if len(set(ids)) != len(ids):
            dup = next(self.class_names[i] for i in ids if ids.count(i) > 1)
            raise ConfigError(f"class {dup!r} is listed twice among the candidate classes")
        return np.asarray(ids, dtype=np.int64)

    def check_features(self, X: Any, where: str = "features") -> np.ndarray:
        """``X`` as a float32 (N x D) array, D the width the run was trained on, N >= 1, finite values; else a
        :class:`ZSLDataError` naming ``where`` (the input) and the expected width."""
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != self.n_features or X.shape[0] == 0:
            raise ZSLDataError(f"{where}: features of shape {X.shape}, expected N x {self.n_features} (N >= 1): the "
                               f"width the run was trained on ({self.where})")
        if not np.all(np.isfinite(X)):
            raise ZSLDataError(f"{where}: features contain NaN or inf")
        return X

    def features(self, X: Any, where: str = "features") -> np.ndarray:
        """The (N x D) features ``X`` as the model takes them (N x D', D' the transform's output width):
        checked (:meth:`check_features`) and passed through the run's fitted transform, if any."""
        X = self.check_features(X, where)
        return X if self.transform is None else self.transform.transform(X)

    def scores(self, X: Any, classes: str | Sequence[str | int] = "unseen", calibrated: bool = True) -> np.ndarray:
        """(N x C') scores of features ``X`` (N x D) against the candidate classes (columns in the order of
        :meth:`candidates`), the seen classes' lowered by :attr:`gamma` when the set mixes seen and unseen
        classes and ``calibrated``."""
        ids = self.candidates(classes)
        s = np.asarray(self.model.scores(self.features(X), self.semantic[ids]), dtype=np.float64)
        seen = np.isin(ids, self.seen_classes)
        if calibrated and seen.any() and not seen.all():
            s = s - self.gamma * seen[None, :]
        return s

    def top_k(self, X: Any, k: int = 1, classes: str | Sequence[str | int] = "unseen",
              calibrated: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best classes of each image: (class ids (N x k), their scores (N x k)), best first; ties go
        to the class listed first (as ``argmax``)."""
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ConfigError(f"k (--top-k) must be an integer >= 1, got {k!r}")
        ids = self.candidates(classes)
        s = self.scores(X, classes, calibrated=calibrated)
        k = min(int(k), ids.size)
        order = np.argsort(-s, axis=1, kind="stable")[:, :k]
        return ids[order], np.take_along_axis(s, order, axis=1)

    def predict(self, X: Any, classes: str | Sequence[str | int] = "unseen", calibrated: bool = True) -> np.ndarray:
        """(N,) the name of the best class of each image among the candidate classes."""
        ids, _ = self.top_k(X, 1, classes, calibrated)
        return np.asarray(self.class_names, dtype=object)[ids[:, 0]].astype(str)


def load_run(run_dir: str | os.PathLike) -> RunModel:
    """The fitted model of the feature-level run directory ``run_dir``, ready to score new features
    (``load_run("runs/eszsl").predict(X)``; see :class:`RunModel`).

    Raises:
        ZSLDataError: no such directory, an image-level run, a run without a saved model, or damaged
            model files (each message names the file and what was expected).
    """
    return RunModel.load(run_dir)


def read_class_selection(value: str, run: RunModel) -> str | list[str]:
    """``--classes``: ``unseen``, ``seen``, ``all``, or a text file of class names (one a line; blank lines
    and ``#`` comments skipped)."""
    if value in CLASS_SETS:
        return value
    p = Path(value)
    if not p.is_file():
        raise ConfigError(f"--classes {value!r}: expected unseen, seen, all or a file of class names (one a line)")
    try:
        names = [line.strip() for line in p.read_text(encoding="utf-8").splitlines()]
    except (OSError, UnicodeDecodeError) as exc:
        raise ZSLDataError(f"{p}: unreadable ({exc}); expected class names, one a line") from exc
    names = [n for n in names if n and not n.startswith("#")]
    if not names:
        raise ZSLDataError(f"{p}: no class names; expected one class name a line")
    try:
        run.candidates(names)
    except ConfigError as exc:
        raise ZSLDataError(f"{p}: {exc}") from None
    return names


def _read_inputs(features: str | os.PathLike | None, data: str | os.PathLike | None
                 ) -> tuple[np.ndarray, list[str], Path]:
    """(N x D features, N image names, the file read) from a feature file or a dataset directory."""
    if (features is None) == (data is None):
        raise ConfigError("give the images to predict as exactly one of --features FILE or --data DIR")
    if features is not None:
        from zslkit.data.feature_files import read_feature_file

        X, _ = read_feature_file(features)
        return X, [str(i) for i in range(X.shape[0])], Path(features)
    from zslkit.data.xlsa17 import check_dataset_dir, features_file, read_res101

    root = check_dataset_dir(data)
    path = root / features_file(root)
    res = read_res101(path)
    names = list(res.image_files) if res.image_files else [str(i) for i in range(res.features.shape[0])]
    return res.features, names, path


def predict_file(run_dir: str | os.PathLike, out: str | os.PathLike, *, features: str | os.PathLike | None = None,
                 data: str | os.PathLike | None = None, classes: str = "unseen", top_k: int = 1,
                 calibrated: bool = True) -> dict[str, Any]:
    """``zslkit predict``: apply the run's model to the images of a feature file (``features``: .npy, .npz,
    .mat, .h5, .csv, one image a row) or of a dataset directory (``data``: its features file, rows named by
    its image files), and write ``out`` (a CSV file): ``image`` (row number or image file), ``predicted`` and
    ``score``, then ``class_2``, ``score_2``, ... up to ``top_k``.

    ``out`` is written atomically and only where zslkit may write
    (:func:`zslkit.utils.outputs.output_file`: never over a file zslkit did not write, nor over an input).
    Returns a summary (``images``, ``classes``, ``out``, ``counts``: images per predicted class).
    """
    from zslkit.utils.outputs import output_file

    run = load_run(run_dir)
    selection = read_class_selection(classes, run)
    X, names, src = _read_inputs(features, data)
    run.check_features(X, str(src))
    ids, scores = run.top_k(X, top_k, selection, calibrated)
    header = ["image", "predicted", "score"] + [c for j in range(2, ids.shape[1] + 1) for c in (f"class_{j}",
                                                                                                 f"score_{j}")]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for name, row_ids, row_scores in zip(names, ids, scores):
        cells = [name]
        for c, s in zip(row_ids, row_scores):
            cells += [run.class_names[c], f"{s:.6g}"]
        w.writerow(cells)
    inputs = (src, run.path / f"{MODEL_FILE}.json", run.path / f"{MODEL_FILE}.npz")
    with output_file(out, inputs=inputs) as tmp:
        Path(tmp).write_text(buf.getvalue(), encoding="utf-8")
    counts = dict(Counter(run.class_names[c] for c in ids[:, 0]).most_common())
    return {"images": int(X.shape[0]), "classes": int(run.candidates(selection).size), "out": str(out),
            "counts": counts}

