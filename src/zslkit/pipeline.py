"""Run experiments: dataset + semantic source + model -> selection -> test metrics -> run directory.

:func:`train` is what ``zslkit train`` calls, for every model. Feature-level models (ESZSL, SAE,
ALE, ...): it loads an xlsa17 directory, chooses hyperparameters and the calibration gamma on
validation classes (:mod:`zslkit.training.selection`), refits on all trainval images and
evaluates on the test split. Image-level models (AttentionNet, GEM-ZSL, BasicNet;
:mod:`zslkit.image_pipeline`): the data is a feature-map directory, or an xlsa17 directory
plus ``images`` (the folder its ``image_files`` are under); epochs and gamma are chosen on
validation classes by the episodic engine. Both return a :class:`RunResult` that saves itself
as the same run directory (``config.yaml``, ``predictions.npz``, ``metrics.json``; feature-level
runs add their fitted model, ``model.json`` + ``model.npz``, which :func:`zslkit.predict.load_run`
reads back; image-level runs add ``model.pt`` and their checkpoints).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from zslkit.data.xlsa17 import load_xlsa17, read_class_semantic
from zslkit.data.zsldata import ZSLData
from zslkit.errors import ConfigError, ZSLDataError
from zslkit.evaluation.protocol import Metrics, evaluate, prediction_arrays
from zslkit.registry import get_model, is_image_model, parse_model_spec
from zslkit.training.selection import Selection, relation_fold_semantic, scores_fn_for, select
from zslkit.utils.outputs import atomic_path, atomic_write_json, atomic_write_text
from zslkit.utils.seed import seed_everything

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    """Settings of one feature-level experiment (maps 1:1 onto ``config.yaml``)."""

    data: str
    model: str = "eszsl"  # a registered name, or NAME(key=value, ...) with fixed hyperparameters
    semantic: str = "att"
    seed: int = 0
    params: dict[str, Any] = field(default_factory=dict)  # fixed hyperparameters (skip their search)
    grid: dict[str, list] | None = None  # search grid; None = the model's default grid
    tune: bool = True  # search the hyperparameter grid on validation classes
    val_folds: list[int] = field(default_factory=lambda: [1])
    val_holdout: float = 0.2
    criterion: str = "T1"
    gamma: float | None = None  # fixed calibration gamma; None = chosen on validation
    progress: bool = False  # progress bars of iterative models (the CLI turns them on)
    #: class matrix of the validation folds: "same" (data.semantic), "relation" (validation-class rows
    #: re-predicted from train-class rows through the VGSE class relation, as unseen rows are at test
    #: time) or "auto" ("relation" for VGSE embeddings, i.e. semantic "vgse" or a file named VGSE*)
    val_semantic: str = "auto"
    relation_word_vectors: str = "word2vec"  # semantic name or file the class relation is fitted on
    relation_method: str = "smo"  # "smo" (constrained least squares) or "wavg"
    relation_alpha: float = 0.0
    #: image-level models on an xlsa17 directory: the folder its ``image_files`` are under
    images: str | None = None
    #: image-level models: (A x L) attribute word vectors (.npy); None = the feature-map directory's
    attribute_vectors: str | None = None
    #: where torch models train: "cpu", "cuda", "cuda:K" or "auto"; None = the model's default (CPU)
    device: str | None = None
    #: feature transform fitted on the training images before the model (feature-level models):
    #: a spec such as "expchi2(norm=l1)" (:mod:`zslkit.features`), or None. Its parameters may be fixed
    #: or searched like the model's, prefixed "transform__" in ``params`` / ``grid``.
    transform: str | None = None
    #: write TensorBoard event files of the run into this folder (:mod:`zslkit.tracking`: the configuration,
    #: per-epoch losses, every grid point's validation scores, the final metrics); None = no tracking. Needs
    #: the ``tracking`` extra. It changes what is logged, not what is computed (a finished run is not redone)
    tensorboard: str | None = None

    def validate(self) -> "TrainConfig":
        """Check every setting before any work starts; raises :class:`ConfigError` naming it.

        Besides ranges (seed >= 0, folds >= 1, finite gamma, ...), the model, its fixed
        ``params`` and its search ``grid`` are checked against the model's constructor
        (:func:`zslkit.registry.check_hyperparameters`): unknown names, wrong types, NaN/inf,
        empty grid lists.
        """
        from zslkit.registry import check_hyperparameters

        from zslkit.utils.seed import seed_error

        if seed_error(self.seed):
            raise ConfigError(seed_error(self.seed))
        if not self.val_folds:
            raise ConfigError("val_folds must name at least one validation fold")
        bad = [f for f in self.val_folds if isinstance(f, bool) or not isinstance(f, int) or f < 1]
        if bad:
            raise ConfigError(f"validation folds are numbered from 1, got {bad[0]!r} in val_folds {self.val_folds}")
        if self.gamma is not None and (isinstance(self.gamma, bool) or not isinstance(self.gamma, (int, float))
                                       or not math.isfinite(self.gamma)):
            raise ConfigError(f"gamma (the fixed calibration constant) must be a finite number, got {self.gamma!r}")
        if not isinstance(self.val_holdout, (int, float)) or not 0.0 < self.val_holdout < 1.0:
            raise ConfigError(f"val_holdout must be in (0, 1), got {self.val_holdout}")
        if self.criterion not in ("T1", "H"):
            raise ConfigError(f"criterion must be 'T1' or 'H', got {self.criterion!r}")
        if not isinstance(self.relation_alpha, (int, float)) or not math.isfinite(self.relation_alpha):
            raise ConfigError(f"relation_alpha must be a finite number, got {self.relation_alpha!r}")
        from zslkit.features import check_transform_params, split_transform_params

        inline = parse_model_spec(self.model)[1]
        model_params, transform_params = split_transform_params(self.params)
        check_hyperparameters(self.model, {**inline, **model_params}, "params")
        model_grid, transform_grid = split_transform_params(self.grid)
        if self.grid is not None:
            check_hyperparameters(self.model, model_grid, "grid", grid=True)
        if self.transform is not None:
            if is_image_model(self.model):
                raise ConfigError(f"transform={self.transform!r}: feature transforms are for feature-level models, "
                                  f"not the image-level model {self.model!r}")
            check_transform_params(self.transform, {**parse_model_spec(self.transform)[1], **transform_params},
                                   "params")
            if transform_grid:
                check_transform_params(self.transform, transform_grid, "grid", grid=True)
        elif transform_params or transform_grid:
            keys = sorted(f"transform__{k}" for k in {**transform_params, **transform_grid})
            raise ConfigError(f"params/grid set {keys} but no transform is configured (set transform, e.g. "
                              "'expchi2(norm=l1)')")
        if self.val_semantic not in ("auto", "same", "relation"):
            raise ConfigError(f"val_semantic must be 'auto', 'same' or 'relation', got {self.val_semantic!r}")
        if self.relation_method not in ("smo", "wavg"):
            raise ConfigError(f"relation_method must be 'smo' or 'wavg', got {self.relation_method!r}")
        if self.tensorboard is not None:
            if not isinstance(self.tensorboard, str) or not self.tensorboard.strip():
                raise ConfigError(f"tensorboard must be a folder name, got {self.tensorboard!r}")
            from zslkit.tracking import check_tensorboard

            check_tensorboard("tensorboard (--tensorboard)")
        return self

    def uses_relation_validation(self) -> bool:
        """Whether validation folds re-predict their validation-class rows through the class relation."""
        if self.val_semantic != "auto":
            return self.val_semantic == "relation"
        return self.semantic.lower() == "vgse" or Path(self.semantic).name.lower().startswith("vgse")


@dataclass
class RunResult:
    """Everything one experiment produced."""

    config: TrainConfig
    metrics: Metrics
    selection: Selection | None
    params: dict[str, Any]
    surrogate: bool
    dataset: dict[str, Any]
    timings: dict[str, float]
    #: arrays for ``zslkit analyze`` (predictions, predicted semantics); saved as predictions.npz
    arrays: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    #: the trained model (image-level runs write model.pt themselves)
    model: Any = field(default=None, repr=False)
    #: feature-level runs: the fitted model with its transform, class matrix, class names and gamma, ready to
    #: score new features; :meth:`save` writes it as model.json + model.npz (:func:`zslkit.predict.load_run`)
    run_model: Any = field(default=None, repr=False)
    #: per-epoch records of iterative training (image-level models)
    history: list[dict[str, Any]] = field(default_factory=list, repr=False)
    #: further metrics.json entries (image-level models: model config, throughput, world size)
    extra: dict[str, Any] = field(default_factory=dict)
    #: the run directory the image-level engine wrote into (None: nothing written yet)
    out_dir: Path | None = None
    #: the data files the run read (checksummed into the provenance record when saved)
    data_files: list[str] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        """Training images per second (all processes) over the final training's epochs (image-level models)."""
        imgs = sum(r.get("images", 0) for r in self.history)
        secs = sum(r.get("seconds", 0.0) for r in self.history)
        return imgs / secs if secs > 0 else float("nan")

    @property
    def gamma(self) -> float:
        return float(self.metrics.gamma)

    @property
    def world_size(self) -> int:
        """Processes the model was trained on (image-level models under torchrun; else 1)."""
        return int(self.extra.get("world_size", 1))

    @property
    def gamma_source(self) -> str:
        if "gamma_source" in self.extra:
            return str(self.extra["gamma_source"])
        return "fixed in config" if self.config.gamma is not None else (
            "validation classes" if self.selection is not None else "none (0)")

    def to_dict(self, with_curve: bool = True) -> dict[str, Any]:
        """The ``metrics.json`` content (``with_curve``: the seen-unseen curve inline, as :meth:`save`
        writes it to ``curve.json`` instead)."""
        d = self.metrics.to_dict(with_curve=with_curve)
        d.update({
            "surrogate": self.surrogate,
            "dataset": self.dataset,
            "model": self.config.model,
            "semantic": self.config.semantic,
            "seed": self.config.seed,
            "params": self.params,
            "selection": self.selection if self.selection is None or isinstance(self.selection, dict)
            else self.selection.to_dict(),
            "val_semantic": (f"relation ({self.config.relation_method} on {self.config.relation_word_vectors})"
                             if self.config.uses_relation_validation() else "same"),
            "gamma_source": self.gamma_source,
            "timings_s": self.timings,
            "config": json.loads(json.dumps(asdict(self.config))),
        })
        d.update(self.extra)
        if self.surrogate:
            d["warning"] = "SURROGATE/SYNTHETIC data: not a benchmark result for any real dataset"
        return d

    def save(self, out_dir: str | Path, extra: dict[str, Any] | None = None) -> Path:
        """Write the run directory atomically into ``out_dir``, a zslkit output directory
        (:func:`zslkit.utils.outputs.output_dir`: new, empty or zslkit's; ``metrics.json`` comes last,
        so its presence marks a complete run):

        * ``config.yaml``: the :class:`TrainConfig`;
        * ``predictions.npz``: per-image predictions (and predicted semantic vectors) for ``zslkit analyze``;
        * ``curve.json``: the seen-unseen curve (gamma, U, S), kept out of ``metrics.json``;
        * ``history.json``: per-epoch losses of iterative models (when the model has them);
        * ``model.json`` + ``model.npz``: the fitted model of a feature-level run (:attr:`run_model`: estimator,
          feature transform, class matrix, class names, gamma; JSON and arrays, no pickle);
        * ``metrics.json``: the numbers, selection, timings, and ``provenance`` (versions, commit,
          command, time, host, threads, CPU, checksums of the data files), plus ``extra`` keys.
        """
        from zslkit.utils.provenance import provenance

        from zslkit.utils.outputs import output_dir

        out = Path(out_dir)
        with output_dir(out, "run"):  # zslkit's run directory (new, empty or its own; held by the caller or here)
            atomic_write_text(out / "config.yaml", yaml.safe_dump(asdict(self.config), sort_keys=False))
            if self.arrays:
                with atomic_path(out / "predictions.npz", suffix=".npz") as tmp:
                    np.savez_compressed(tmp, **self.arrays)
            atomic_write_json(out / "curve.json", self.metrics.curve)
            history = self.history or getattr(self.model, "history_", None)
            if history:
                atomic_write_json(out / "history.json", history)
            if self.run_model is not None:
                try:
                    self.run_model.save(out)
                except ConfigError as e:  # e.g. a user-registered model holding objects zslkit stores only by pickle
                    log.warning("the fitted model was not saved (%s); the run is complete, but `zslkit predict` "
                                "cannot use it", e)
            d = {**self.to_dict(with_curve=False), "provenance": provenance(self.data_files), **(extra or {})}
            atomic_write_json(out / "metrics.json", d)  # last: marks the run complete
        return out

    def plot(self, out_dir: str | Path, compare: tuple = ()) -> dict[str, str]:
        """Save the run into ``out_dir`` and draw its figures into ``out_dir/figures`` (AUSUC curve,
        GZSL/ZSL confusion matrices, per-attribute errors for regressors), overlaying the finished
        run directories in ``compare``; returns figure name -> PNG path."""
        from zslkit.report.analysis import analyze_run

        self.save(out_dir)
        return analyze_run(out_dir, compare)["figures"]


#: TrainConfig fields that change how a run is shown, not what it computes (ignored when resuming)
RUNTIME_FIELDS = ("progress", "tensorboard")


def _comparable(config: dict[str, Any] | TrainConfig) -> dict[str, Any]:
    d = json.loads(json.dumps(asdict(config) if isinstance(config, TrainConfig) else config))
    return {k: v for k, v in d.items() if k not in RUNTIME_FIELDS} if isinstance(d, dict) else {}


def finished_run(run_dir: str | Path, config: TrainConfig) -> dict[str, Any] | None:
    """The saved ``metrics.json`` of ``run_dir`` if it holds a complete run of ``config``, else None
    (no run, a file zslkit did not write or that changed since, or a run of another configuration):
    what resuming grids and demos check."""
    from zslkit.utils.outputs import owns

    if not owns(run_dir, "metrics.json"):
        return None  # missing, not written by zslkit, or changed since: never taken for a finished run
    try:
        saved = json.loads((Path(run_dir) / "metrics.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(saved, dict) or not isinstance(saved.get("config"), dict):
        return None
    return saved if _comparable(saved["config"]) == _comparable(config) else None


def _differences(saved: dict[str, Any], config: TrainConfig) -> str:
    a, b = _comparable(saved), _comparable(config)
    diff = [f"{k}: {a.get(k)!r} there, {b.get(k)!r} now" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    return "; ".join(diff[:4]) + (" ..." if len(diff) > 4 else "")


#: the files every run directory holds (image-level runs add model.pt, checkpoints, ...)
RUN_FILES = ("config.yaml", "metrics.json", "predictions.npz", "curve.json", "history.json", "run.log", "model.json",
             "model.npz")


def train_to_dir(config: TrainConfig, out: str | Path, overwrite: bool = False,
                 data: Any = None) -> tuple[dict[str, Any], bool]:
    """Train ``config`` into run directory ``out``, never losing a finished run and never touching a
    file zslkit did not write; what ``zslkit train`` and ``zslkit run`` do.

    ``out`` is opened as a zslkit output directory (:func:`zslkit.utils.outputs.output_dir`): locked
    for the run (a second process on it fails, naming this one), refused if it is not empty and not
    zslkit's, with temporary files of a killed earlier run removed. Then:

    * ``out`` holds a finished run of the same configuration: nothing is recomputed (resume);
    * it holds a finished run of another configuration: a :class:`ConfigError` saying what
      differs, unless ``overwrite``, which first removes what the earlier run wrote (its manifest's
      entries; anything else in the directory stays);
    * otherwise (new, or a run killed before its ``metrics.json``): the run is computed and saved.

    Returns:
        (the run's ``metrics.json`` dict, whether it was resumed rather than computed).
    """
    import os

    from zslkit.utils.outputs import output_dir

    cfg = config.validate()
    out = Path(out)
    image_level = is_image_model(cfg.model)
    # Under torchrun every rank runs this; only global rank 0 writes the run directory, so only it opens it.
    rank0 = os.environ.get("RANK", "0") == "0"
    with output_dir(out, "run", overwrite=overwrite) if rank0 else contextlib.nullcontext() as od:
        done = finished_run(out, cfg)
        if done is not None:
            log.info("%s holds a finished run of this configuration: nothing recomputed", out)
            return done, True
        if od is not None and od.owns("metrics.json"):
            try:
                saved = json.loads((out / "metrics.json").read_text()).get("config") or {}
                what = f"a finished run of another configuration ({_differences(saved, cfg)})"
            except (OSError, ValueError, AttributeError):
                what = "a metrics.json that zslkit cannot read"
            raise ConfigError(f"{out}: holds {what}; pass --overwrite (overwrite=True) to replace it, or choose "
                              "another --out")
        if od is not None:  # refused now rather than after the training if one of them is not zslkit's
            od.expect(*RUN_FILES)
        with _run_log(out / "run.log") if rank0 else contextlib.nullcontext():
            if image_level:  # the engine checkpoints into out while it trains, and saves the run itself
                return train(cfg, data=data, out_dir=out).to_dict(with_curve=False), False
            result = train(cfg, data=data)
            result.save(out)
            return result.to_dict(with_curve=False), False


@contextlib.contextmanager
def _run_log(path: Path):
    """Copy zslkit's log records (INFO and above) of the run into ``path`` (the run directory's ``run.log``);
    a run that fails writes its error there last (an error of the input as its one line, anything else with
    the traceback), so that the run directory says why it holds no result."""
    from zslkit.utils.outputs import claim_output

    claim_output(path, growing=True)  # appended to in place: declared in the run directory's manifest first
    handler = logging.FileHandler(path, mode="a", encoding="utf-8")
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("zslkit")
    old_level = logger.level
    if logger.getEffectiveLevel() > logging.INFO:
        # The file gets INFO even when the console shows warnings only (the CLI filters at its handler).
        logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield
    except BaseException as exc:
        from zslkit.errors import ZSLKitError

        if isinstance(exc, KeyboardInterrupt):
            message, exc_info = "run interrupted (KeyboardInterrupt); rerun the same command to start it again", None
        elif isinstance(exc, ZSLKitError):
            message, exc_info = f"run failed: {' '.join(str(exc).split())}", None
        else:
            message, exc_info = f"run failed: {type(exc).__name__}: {exc}", (type(exc), exc, exc.__traceback__)
        # into run.log only: the console shows the error once, where the command reports it
        handler.handle(log.makeRecord(log.name, logging.ERROR, __file__, 0, message, (), exc_info))
        raise
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        handler.close()


def _fold_semantic(cfg: TrainConfig, data: ZSLData):
    """The per-fold class matrix for relation-aware validation (None = ``data.semantic``)."""
    if not cfg.uses_relation_validation():
        return None
    root = data.provenance.get("root", cfg.data)
    try:
        wv, name, _ = read_class_semantic(root, cfg.relation_word_vectors, data.num_classes, data.class_names)
    except ZSLDataError as exc:
        raise ZSLDataError(f"relation-aware validation of {cfg.semantic!r} needs the word vectors the class "
                           f"relation is fitted on (relation_word_vectors={cfg.relation_word_vectors!r}): {exc}. "
                           "Set relation_word_vectors to the right file, or val_semantic: same to validate with "
                           "the measured rows (the chosen gamma is then usually far too small)") from exc
    log.info("relation-aware validation: validation-class rows re-predicted via the %s class relation on %s",
             cfg.relation_method, name)
    return relation_fold_semantic(wv, method=cfg.relation_method, alpha=cfg.relation_alpha)


def train(config: TrainConfig, data: Any = None, out_dir: str | Path | None = None, logger: Any = None) -> RunResult:
    """Run one experiment (see module docstring) and, with ``out_dir``, save its run directory.

    ``data`` skips loading when already in memory (a :class:`ZSLData` for feature-level models,
    an :class:`~zslkit.training.feature_maps.AttentionData` for image-level ones). Image-level
    models checkpoint into ``out_dir`` while they train (and resume from it with
    ``params={"resume": True}``); under torchrun only global rank 0 writes.

    ``logger`` (an :class:`zslkit.tracking.ExperimentLogger`, owned by the caller) receives the run's configuration,
    per-epoch losses, the validation score of every grid point and the final metrics; by default a
    :class:`~zslkit.tracking.TensorBoardLogger` on ``config.tensorboard`` when that is set.
    """
    import os

    from zslkit.tracking import log_metrics, open_logger

    cfg = config.validate()
    rank0 = os.environ.get("RANK", "0") == "0"
    with open_logger(cfg.tensorboard if rank0 else None, logger if rank0 else None) as tr:
        tr.log_params({k: v for k, v in asdict(cfg).items() if k not in RUNTIME_FIELDS})
        if is_image_model(cfg.model):
            from zslkit.image_pipeline import train_from_config

            # without a logger of the caller's the engine keeps its default (event files in out_dir/tensorboard)
            explicit = logger is not None or cfg.tensorboard is not None
            result = train_from_config(cfg, data=data, out_dir=out_dir, logger=tr if explicit else None)
        else:
            result = _train_features(cfg, data, tr)
            if out_dir is not None:
                result.save(out_dir)
        log_metrics(tr, result.to_dict(with_curve=False), result.timings)
    return result


def _train_features(cfg: TrainConfig, data: ZSLData | None, logger: Any = None) -> RunResult:
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    if data is None:
        data = load_xlsa17(cfg.data, semantic=cfg.semantic)
    data.check_learnable()  # degenerate features / semantics: an error, or a warning naming them
    timings["load"] = time.perf_counter() - t0
    seed_everything(cfg.seed)
    from zslkit.features import TRANSFORM_PREFIX, get_transform, split_transform_params

    model_params, transform_params = split_transform_params(cfg.params)
    transform = None
    if cfg.transform is not None:
        transform = get_transform(cfg.transform, **transform_params)
        if transform.blocks is None and data.feature_blocks is not None:
            transform.set_params(blocks=data.feature_blocks)
    # fixed = not searched: the model's and the transform's inline values and params
    inline_transform = parse_model_spec(cfg.transform)[1] if cfg.transform else {}
    fixed = {**parse_model_spec(cfg.model)[1], **cfg.params,
             **{TRANSFORM_PREFIX + k: v for k, v in inline_transform.items()}}
    model = get_model(cfg.model, **model_params)
    if "seed" in model.get_params() and "seed" not in fixed:  # iterative models: the run's seed drives them
        model.set_params(seed=cfg.seed)
    if "verbose" in model.get_params() and "verbose" not in fixed:
        model.set_params(verbose=cfg.progress)
    if cfg.device is not None and "device" not in fixed:
        if "device" in model.get_params():
            model.set_params(device=cfg.device)
            if hasattr(model, "_validate"):  # a device that is not there fails now, not after loading
                model._validate()
        elif cfg.device not in ("cpu", "auto"):
            raise ConfigError(f"device={cfg.device!r}: model {cfg.model!r} is computed with numpy on the CPU; "
                              f"devices are for the torch models")
    selection = None
    t0 = time.perf_counter()
    # Without tuning, validation still runs once (empty grid) to choose the calibration gamma.
    grid = (type(model).param_grid if cfg.grid is None else cfg.grid) if cfg.tune else {}
    grid = {k: v for k, v in grid.items() if k not in fixed}
    grid, transform_grid = split_transform_params(grid)
    if not (cfg.tune or cfg.gamma is None):  # no selection: still refuse folds the dataset does not have
        for fold in cfg.val_folds:
            data.validation_split(fold=fold, holdout=cfg.val_holdout, seed=cfg.seed)
    if cfg.tune or cfg.gamma is None:
        selection = select(model, data, grid=grid, folds=cfg.val_folds, holdout=cfg.val_holdout, seed=cfg.seed,
                           criterion=cfg.criterion, fold_semantic=_fold_semantic(cfg, data),
                           warn_edge=cfg.grid is not None,  # the built-in grids' edges are for the record only
                           progress=cfg.progress, transform=transform, transform_grid=transform_grid, logger=logger)
        chosen_model, chosen_transform = split_transform_params(selection.params)
        model.set_params(**chosen_model)
        if transform is not None:
            transform.set_params(**chosen_transform)
    timings["select"] = time.perf_counter() - t0
    gamma = cfg.gamma if cfg.gamma is not None else (selection.gamma if selection is not None else 0.0)
    extra: dict[str, Any] = {}
    if not math.isfinite(gamma):  # no validation fold had seen-class images to calibrate GZSL on
        log.warning("no validation fold has seen-class images (val_holdout=%s): GZSL is not calibrated "
                    "(gamma 0)", cfg.val_holdout)
        gamma = 0.0
        extra["gamma_source"] = "none (0): no seen-class images in the validation folds"
    tv = data.splits["trainval"]
    features = data.features
    if transform is not None:  # fitted on the trainval images only, then applied to every image
        t0 = time.perf_counter()
        from zslkit.features.transforms import fit_transform_rows

        features = fit_transform_rows(transform, data.features, tv)
        timings["transform"] = time.perf_counter() - t0
        extra["transform"] = {"spec": cfg.transform, **transform.describe()}
    t0 = time.perf_counter()
    model.fit(features[tv], data.labels[tv], data.semantic)
    timings["fit"] = time.perf_counter() - t0
    if logger is not None:
        logger.log_history(getattr(model, "history_", None) or [], "train/")
    t0 = time.perf_counter()
    metrics = evaluate(scores_fn_for(model, data.semantic), features, data.labels, data.test_split(),
                       gamma=gamma)
    timings["evaluate"] = time.perf_counter() - t0
    params = {k: v for k, v in model.get_params().items()}
    summary = data.summary()
    summary.pop("provenance", None)
    summary["path"] = str(cfg.data)
    summary["notes"] = data.provenance.get("notes", [])
    log.info("%s", metrics.summary())
    pred = None
    if hasattr(model, "predict_semantics"):  # regression models: enables the imbalance analysis
        pred = np.asarray(model.predict_semantics(features[metrics.predictions["gzsl_idx"]]), dtype=np.float32)
    arrays = prediction_arrays(metrics, data.semantic, data.seen_classes, data.unseen_classes, data.class_names, pred)
    from zslkit.predict import RunModel

    run_model = RunModel(model=model, transform=transform, semantic=np.asarray(data.semantic),
                         class_names=list(data.class_names), seen_classes=np.asarray(data.seen_classes),
                         unseen_classes=np.asarray(data.unseen_classes), gamma=float(gamma),
                         n_features=int(data.features.shape[1]),
                         info={"model": cfg.model, "transform": cfg.transform, "semantic": cfg.semantic,
                               "data": str(cfg.data), "seed": cfg.seed, "params": params})
    return RunResult(config=cfg, metrics=metrics, selection=selection, params=params, surrogate=data.surrogate,
                     dataset=summary, timings=timings, arrays=arrays, model=model, data_files=_data_files(cfg, data),
                     extra=extra, run_model=run_model)


#: the file each named semantic is read from (``att``/``original_att`` are in att_splits.mat)
_SEMANTIC_FILES = {"word2vec": "word2vec_splits.mat", "sent": "sent_splits.mat", "vgse": "VGSE_SMO.mat"}


def _data_files(cfg: TrainConfig, data: ZSLData) -> list[str]:
    """The files a feature-level run read: res101.mat, att_splits.mat, the semantic file(s)."""
    pv = data.provenance or {}
    files = [pv[k] for k in ("res101", "att_splits") if pv.get(k)]
    root = Path(pv.get("root", cfg.data))
    for sem in (cfg.semantic, cfg.relation_word_vectors if cfg.uses_relation_validation() else None):
        if sem is None or sem in ("att", "original_att"):
            continue
        files.append(str(root / _SEMANTIC_FILES[sem]) if sem in _SEMANTIC_FILES else str(sem))
    return files

