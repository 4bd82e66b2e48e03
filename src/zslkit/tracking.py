"""Experiment tracking: one small interface that every training run logs through.

An :class:`ExperimentLogger` receives what a run does, as it happens:

* :meth:`~ExperimentLogger.log_params`: the run's settings (once, at the start);
* :meth:`~ExperimentLogger.log_scalar` / :meth:`~ExperimentLogger.log_scalars`: numbers at a step (an epoch, a grid
  point), under a tag such as ``train/loss``;
* :meth:`~ExperimentLogger.log_text`: a text (Markdown), e.g. the table of the grid points searched.

What a run logs (:func:`zslkit.pipeline.train`; the tags):

* ``params`` (text): the run's configuration;
* ``search/val_T1``, ``search/val_H``, ``search/val_gamma`` at step i: the validation score of grid
  point i (``search/points``, a text, lists the points); ``search/pI/foldF/KEY`` at each epoch: the
  per-epoch losses of the fit of point I on validation fold F (iterative models);
* ``train/KEY`` at each epoch: the per-epoch losses of the final fit (``loss``, ``ce``, ``d_loss``, ...);
* ``test/T1``, ``test/U``, ``test/S``, ``test/H``, ``test/AUSUC`` (and ``test/H_gamma0``, ``test/oracle_H``,
  ``test/gamma``): the final metrics; ``time/PHASE``: seconds per phase;
* image-level runs: ``MODEL selection/KEY`` and ``MODEL final/KEY`` at each epoch (losses, validation
  scores), then the ``test/...`` metrics.

Backends: :class:`ExperimentLogger` itself logs nothing; :class:`MemoryLogger` keeps everything in lists
(tests, notebooks); :class:`TensorBoardLogger` writes TensorBoard event files with the ``tensorboard``
package alone (the ``tracking`` extra: ``pip install "zslkit[tracking]"``; neither torch nor
TensorFlow is imported). Models stay pure: they keep their per-epoch records (``history_``) and the
pipeline passes them on; nothing in a model writes files.
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
import os
import time
from pathlib import Path
from typing import Any, Iterable, Mapping

from zslkit.errors import ConfigError

__all__ = ["ExperimentLogger", "MemoryLogger", "TensorBoardLogger", "check_tensorboard", "log_metrics", "open_logger"]


def _number(value: Any) -> float | None:
    """``value`` as a float if it is a real number (Python or numpy; not a bool), else None."""
    import numpy as np

    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)):
        return float(value)
    return None


class ExperimentLogger:
    """The tracking interface; this base class logs nothing (a run without tracking).

    Subclasses implement :meth:`log_scalar`, :meth:`log_text` and, if they have resources,
    :meth:`close`; :meth:`log_params`, :meth:`log_scalars` and :meth:`log_history` are built on them.
    A logger is a context manager (``with TensorBoardLogger(dir) as t: ...``) that closes itself.
    """

    def log_scalar(self, tag: str, value: float, step: int = 0) -> None:
        """Record the number ``value`` under ``tag`` at ``step``."""

    def log_text(self, tag: str, text: str, step: int = 0) -> None:
        """Record a (Markdown) text under ``tag``."""

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Record the run's settings (``{name: value}``), as a text table under ``params``."""
        rows = "\n".join(f"| {k} | `{v!r}` |" for k, v in params.items())
        self.log_text("params", f"| setting | value |\n|---|---|\n{rows}")

    def log_scalars(self, values: Mapping[str, Any], step: int = 0, prefix: str = "") -> None:
        """Record every finite real number of ``values`` as ``prefix + key`` at ``step`` (other values, such as
        strings, None, NaN or bools, are skipped)."""
        for k, v in values.items():
            x = _number(v)
            if x is not None and math.isfinite(x):
                self.log_scalar(f"{prefix}{k}", x, step)

    def log_history(self, records: Iterable[Mapping[str, Any]], prefix: str, step_key: str = "epoch") -> None:
        """Record per-epoch records (a model's ``history_``: one dict per epoch) as ``prefix + key`` at the
        record's ``step_key`` (its 1-based position when it has none)."""
        for i, rec in enumerate(records):
            step = rec.get(step_key)
            step = int(step) if _number(step) is not None else i + 1
            self.log_scalars({k: v for k, v in rec.items() if k != step_key}, step, prefix)

    def close(self) -> None:
        """Flush and release what the logger holds (files); it logs nothing afterwards."""

    def __enter__(self) -> "ExperimentLogger":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class MemoryLogger(ExperimentLogger):
    """Keeps everything logged in memory: ``scalars`` (a list of ``(tag, value, step)``), ``texts``
    (``(tag, text, step)``) and ``params`` (the last :meth:`log_params` mapping)."""

    def __init__(self) -> None:
        self.scalars: list[tuple[str, float, int]] = []
        self.texts: list[tuple[str, str, int]] = []
        self.params: dict[str, Any] = {}

    def log_scalar(self, tag: str, value: float, step: int = 0) -> None:
        self.scalars.append((tag, float(value), int(step)))

    def log_text(self, tag: str, text: str, step: int = 0) -> None:
        self.texts.append((tag, str(text), int(step)))

    def log_params(self, params: Mapping[str, Any]) -> None:
        self.params = dict(params)
        super().log_params(params)

    def series(self, tag: str) -> list[tuple[int, float]]:
        """``[(step, value), ...]`` logged under ``tag``, in the order logged."""
        return [(s, v) for t, v, s in self.scalars if t == tag]

    def tags(self) -> list[str]:
        """The scalar tags logged, in first-logged order."""
        return list(dict.fromkeys(t for t, _, _ in self.scalars))


def check_tensorboard(option: str = "--tensorboard") -> None:
    """A :class:`ConfigError` unless the ``tensorboard`` package is installed (checked before a run starts)."""
    if importlib.util.find_spec("tensorboard") is None:
        raise ConfigError(f"{option} needs the tensorboard package, which is not installed: pip install "
                          "'zslkit[tracking]' (or pip install tensorboard)")


class TensorBoardLogger(ExperimentLogger):
    """Writes TensorBoard event files into ``log_dir`` (view them with ``tensorboard --logdir DIR``).

    The event file is written in place by TensorBoard's own writer, under a name of its own
    (``events.out.tfevents.TIME.HOST.PID.N``), so it never replaces a file. Within a directory zslkit
    writes (a run directory), ``log_dir`` becomes one of its folders and the event files are listed in
    its manifest; elsewhere ``log_dir`` is opened as a zslkit output folder of single files
    (:func:`zslkit.utils.outputs.output_dir` with ``scope="files"``: created if needed, the user's files
    beside the event files left alone, locked while the logger is open).

    Args:
        log_dir: the folder of the event files (created).
        purge_step: a resumed training: TensorBoard drops the earlier events from this step on (so that
            the epochs trained again are not shown twice).
    """

    def __init__(self, log_dir: str | os.PathLike, purge_step: int | None = None):
        check_tensorboard()
        self.log_dir = Path(log_dir)
        self.purge_step = purge_step
        self._writer: Any = None
        self._stack = contextlib.ExitStack()
        self._open()

    def _open(self) -> None:
        from tensorboard.summary.writer.event_file_writer import EventFileWriter

        from zslkit.utils.outputs import _active_for, adopt_new_files, output_dir

        try:
            if _active_for(self.log_dir) is None:  # not inside a directory this process writes: its own output
                self._stack.enter_context(output_dir(self.log_dir, None, scope="files", clean_temps=False))
            with adopt_new_files(self.log_dir):  # its event file, written in place, is listed as zslkit's
                self._writer = EventFileWriter(str(self.log_dir))
        except BaseException:
            self._stack.close()
            raise
        if self.purge_step is not None:
            from tensorboard.compat.proto import event_pb2

            self._writer.add_event(event_pb2.Event(wall_time=time.time(), step=int(self.purge_step),
                                                   session_log=event_pb2.SessionLog(status=event_pb2.SessionLog.START)))

    def log_scalar(self, tag: str, value: float, step: int = 0) -> None:
        if self._writer is None:
            return
        from tensorboard.compat.proto import event_pb2, summary_pb2

        value = summary_pb2.Summary.Value(tag=tag, simple_value=float(value))
        self._writer.add_event(event_pb2.Event(wall_time=time.time(), step=int(step),
                                               summary=summary_pb2.Summary(value=[value])))

    def log_text(self, tag: str, text: str, step: int = 0) -> None:
        if self._writer is None:
            return
        import numpy as np
        from tensorboard.compat.proto import event_pb2, summary_pb2
        from tensorboard.plugins.text.metadata import create_summary_metadata
        from tensorboard.util.tensor_util import make_tensor_proto

        value = summary_pb2.Summary.Value(tag=tag, metadata=create_summary_metadata("", ""),
                                          tensor=make_tensor_proto(np.array(str(text), dtype=object)))
        self._writer.add_event(event_pb2.Event(wall_time=time.time(), step=int(step),
                                               summary=summary_pb2.Summary(value=[value])))

    def flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._stack.close()


@contextlib.contextmanager
def open_logger(tensorboard: str | os.PathLike | None = None, logger: ExperimentLogger | None = None):
    """The logger of one run, closed at the end of the ``with`` block: ``logger`` if given (owned by the
    caller, not closed here), else a :class:`TensorBoardLogger` on ``tensorboard`` if that is set, else a
    :class:`ExperimentLogger` that logs nothing."""
    if logger is not None:
        yield logger
        return
    if tensorboard is None:
        yield ExperimentLogger()
        return
    with TensorBoardLogger(tensorboard) as t:
        yield t


#: the final metrics a run logs: tag under ``test/`` -> key path in :meth:`zslkit.evaluation.Metrics.to_dict`
METRIC_TAGS = {"T1": ("zsl", "T1"), "U": ("gzsl", "U"), "S": ("gzsl", "S"), "H": ("gzsl", "H"),
               "AUSUC": ("ausuc",), "gamma": ("gzsl", "gamma"), "H_gamma0": ("gzsl_uncalibrated", "H"),
               "oracle_H": ("gzsl_oracle", "H")}


def log_metrics(logger: ExperimentLogger, metrics: Mapping[str, Any], timings: Mapping[str, float] | None = None,
                step: int = 0) -> None:
    """Log a run's final metrics (its ``metrics.json`` mapping) as ``test/T1``, ``test/U``, ``test/S``,
    ``test/H``, ``test/AUSUC``, ... (:data:`METRIC_TAGS`) and its ``timings`` as ``time/PHASE``."""
    values = {}
    for tag, path in METRIC_TAGS.items():
        v: Any = metrics
        for k in path:
            v = v.get(k) if isinstance(v, Mapping) else None
        values[tag] = v
    logger.log_scalars(values, step, "test/")
    if timings:
        logger.log_scalars(timings, step, "time/")
