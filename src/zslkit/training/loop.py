"""The training engine: :class:`Trainer`, mixed precision, callbacks.

:class:`Trainer` is model-agnostic: a model, a ``step_fn(model, inputs, labels) -> (loss,
parts)``, an optimiser (+ optional epoch-wise scheduler), a batch sampler
(:mod:`zslkit.training.samplers`), a dataset and callbacks. It provides

* mixed precision (``amp="auto"``: bf16 on GPUs that support it, else fp16 with a
  GradScaler; off on CPU, where ``"bf16"`` may be asked for explicitly);
* a checkpoint after every epoch, written atomically by global rank 0, holding model,
  optimiser, scheduler, GradScaler, sampler and extra (e.g. a loss with buffers) states,
  the RNG states of every process (tensors) and the metrics history; loadable with
  ``torch.load(weights_only=True)``;
* exact resume: training resumed from the checkpoint of epoch k continues bit-identically
  to an uninterrupted run (on CPU; on GPUs as far as their kernels are deterministic). The
  configuration fingerprint must match (``epochs`` may grow);
* DistributedDataParallel when launched by torchrun (:mod:`zslkit.training.distributed`):
  rank-0-only I/O and progress bars, losses averaged over processes;
* progress bars (:mod:`zslkit.utils.progress`) and a metrics log (``log.jsonl`` and ``metrics.csv``, rewritten
  atomically after every epoch from the history in the checkpoint, so that a resumed run's
  log has no duplicate or missing epochs); each epoch's record goes to a
  :class:`zslkit.tracking.ExperimentLogger` as ``DESC/KEY`` scalars: the one given (``logger``), else
  TensorBoard event files under ``RUN_DIR/tensorboard/`` when the ``tensorboard`` package is installed.

The recipe of the image-level models (AttentionNet, GEM-ZSL, BasicNet: selection on
validation classes, final training, test) is :mod:`zslkit.image_pipeline`.
"""

from __future__ import annotations

import contextlib
import csv
import importlib.util
import io
import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np
import torch
from torch import nn

from zslkit.errors import CheckpointError, ConfigError, ZSLDataError
from zslkit.training.checkpoint import (
    capture_rng_state,
    checkpoint_path,
    config_differences,
    latest_checkpoint,
    load_checkpoint,
    prune_checkpoints,
    restore_rng_state,
    save_checkpoint,
)
from zslkit.training.distributed import DistContext, broadcast_file_bytes
from zslkit.utils.outputs import atomic_write_text, to_jsonable

log = logging.getLogger(__name__)

__all__ = [
    "AMP_MODES",
    "AmpSettings",
    "Callback",
    "StopAfterEpochs",
    "Trainer",
    "fetch_batch",
    "resolve_amp",
]

AMP_MODES = ("auto", "off", "fp16", "bf16")

StepFn = Callable[[nn.Module, torch.Tensor, torch.Tensor], "tuple[torch.Tensor, dict[str, torch.Tensor]]"]


# --------------------------------------------------------------------------------------
# mixed precision
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AmpSettings:
    """Resolved mixed-precision settings: autocast dtype (None = off) and whether a GradScaler is used."""

    dtype: torch.dtype | None
    scaler: bool
    device_type: str

    @property
    def enabled(self) -> bool:
        return self.dtype is not None

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device_type, dtype=self.dtype)

    def describe(self) -> str:
        return "off" if self.dtype is None else f"{str(self.dtype).replace('torch.', '')}" + \
            (" + GradScaler" if self.scaler else "")


def resolve_amp(amp: str, device: torch.device) -> AmpSettings:
    """``"auto"``: bf16 on a GPU that supports it, fp16 + GradScaler on older GPUs, off on CPU.

    ``"fp16"`` needs CUDA; ``"bf16"`` works on CPU and GPU; ``"off"`` disables autocast.
    """
    if amp not in AMP_MODES:
        raise ConfigError(f"amp must be one of {list(AMP_MODES)}, got {amp!r}")
    cuda = device.type == "cuda"
    if amp == "off" or (amp == "auto" and not cuda):
        return AmpSettings(None, False, device.type)
    if amp == "auto":
        amp = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if amp == "fp16":
        if not cuda:
            raise ConfigError("amp='fp16' needs a CUDA device; use 'bf16' or 'off' on CPU")
        return AmpSettings(torch.float16, True, "cuda")
    return AmpSettings(torch.bfloat16, False, device.type)


# --------------------------------------------------------------------------------------
# callbacks
# --------------------------------------------------------------------------------------


class Callback:
    """Hooks called by :class:`Trainer` on every process (collective work is allowed)."""

    def on_train_start(self, trainer: "Trainer") -> None:
        """After resume, before the first epoch of this run."""

    def on_epoch_end(self, trainer: "Trainer", record: dict[str, Any]) -> None:
        """After an epoch's optimisation, before its checkpoint; may add plain values to ``record``."""


class StopAfterEpochs(Callback):
    """Stop this run after ``n`` epochs (its checkpoint is written first); for interruptions and tests."""

    def __init__(self, n: int):
        self.n = int(n)
        self._done = 0

    def on_epoch_end(self, trainer: "Trainer", record: dict[str, Any]) -> None:
        self._done += 1
        if self._done >= self.n:
            trainer.should_stop = True


# --------------------------------------------------------------------------------------
# batches
# --------------------------------------------------------------------------------------


def fetch_batch(dataset: Any, indices: Sequence[int]) -> torch.Tensor:
    """Inputs of ``indices`` as one (B, ...) tensor: ``dataset.get_batch`` or stacked items."""
    if hasattr(dataset, "get_batch"):
        return dataset.get_batch(indices)
    items = [dataset[int(i)] for i in indices]
    return torch.stack([it[0] if isinstance(it, (tuple, list)) else it for it in items])


class _Indexed(torch.utils.data.Dataset):
    """Dataset wrapper whose batched fetch returns (indices, inputs), for DataLoader workers."""

    def __init__(self, dataset: Any):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> Any:  # pragma: no cover - the loader uses __getitems__
        return [i], fetch_batch(self.dataset, [i])

    def __getitems__(self, indices: list[int]) -> tuple[list[int], torch.Tensor]:
        return list(indices), fetch_batch(self.dataset, indices)


def _identity(batch: Any) -> Any:
    return batch


def _plain(value: Any) -> Any:
    """numpy scalars -> Python numbers (checkpoints must be weights-only loadable)."""
    return to_jsonable(value) if isinstance(value, (np.generic, np.ndarray)) else value


# --------------------------------------------------------------------------------------
# the trainer
# --------------------------------------------------------------------------------------


class Trainer:
    """Epoch-based training with checkpoints, exact resume, AMP, DDP and logs.

    Args:
        model: the module to train (moved to ``ctx.device``; wrapped in DDP when distributed).
        step_fn: ``step_fn(model, inputs, labels) -> (loss, parts)``; parts are detached
            scalars logged per epoch (means over steps and processes).
        optimizer: over the model's trainable parameters.
        sampler: batch sampler with ``set_epoch``, ``state_dict``, ``load_state_dict``
            (:mod:`zslkit.training.samplers`); yields dataset indices.
        dataset: ``get_batch(indices)`` or ``dataset[i]`` -> input tensor (or tuple starting with it).
        labels: (N,) labels of the whole dataset; batches get ``labels[indices]``.
        epochs: total epochs (a resumed run continues up to it).
        scheduler: stepped once per epoch (e.g. StepLR), or None.
        ctx: distributed context; None = single process on ``device``.
        device: device when ``ctx`` is None.
        amp: "auto", "off", "fp16", "bf16" (see :func:`resolve_amp`).
        run_dir: where checkpoints (``checkpoints/``) and logs go; None = nothing written.
        keep_checkpoints: how many epoch checkpoints to keep (<= 0: all).
        callbacks: :class:`Callback` instances.
        extra_state: name -> object with ``state_dict``/``load_state_dict`` to checkpoint
            (e.g. a loss module with running statistics).
        fingerprint: plain dict describing the configuration; resume refuses a checkpoint
            whose fingerprint differs (except in ``resume_ignore`` fields).
        meta: plain dict stored verbatim in every checkpoint (e.g. the model config).
        num_workers: DataLoader workers (0: batches are read in the main process).
        progress: report progress (rank 0 only; :func:`zslkit.utils.progress.progress_bar`).
        desc: progress-bar label.
        grad_clip: max gradient norm, or None.
        logger: an :class:`zslkit.tracking.ExperimentLogger` receiving every epoch's record (rank 0; owned by the
            caller); None = TensorBoard event files under ``run_dir/tensorboard`` when the ``tensorboard``
            package is installed.
    """

    def __init__(self, model: nn.Module, step_fn: StepFn, optimizer: torch.optim.Optimizer, sampler: Any,
                 dataset: Any, labels: np.ndarray, *, epochs: int, scheduler: Any = None,
                 ctx: DistContext | None = None, device: str | torch.device = "cpu", amp: str = "off",
                 run_dir: str | Path | None = None, keep_checkpoints: int = 2, callbacks: Iterable[Callback] = (),
                 extra_state: dict[str, Any] | None = None, fingerprint: dict[str, Any] | None = None,
                 resume_ignore: tuple[str, ...] = ("epochs",), meta: dict[str, Any] | None = None,
                 num_workers: int = 0, progress: bool = True, desc: str = "train", grad_clip: float | None = None,
                 logger: Any = None):
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise ConfigError(f"epochs must be an integer >= 1, got {epochs!r}")
        self.ctx = ctx if ctx is not None else DistContext(device=torch.device(device))
        self.device = self.ctx.device
        self.model = model.to(self.device)
        self.step_fn = step_fn
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.sampler = sampler
        self.dataset = dataset
        self.labels = np.asarray(labels)
        self.epochs = epochs
        self.amp = resolve_amp(amp, self.device)
        self.scaler = torch.amp.GradScaler("cuda") if self.amp.scaler else None
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.keep_checkpoints = int(keep_checkpoints)
        self.callbacks = list(callbacks)
        self.extra_state = dict(extra_state or {})
        self.fingerprint = dict(fingerprint or {})
        self.resume_ignore = tuple(resume_ignore)
        self.meta = dict(meta or {})
        self.num_workers = int(num_workers)
        self.progress = bool(progress)
        self.desc = desc
        self.grad_clip = grad_clip
        self.logger = logger
        self.history: list[dict[str, Any]] = []
        self.should_stop = False
        self.start_epoch = 0
        self.resumed_from: str | None = None
        self.net: nn.Module = self.model

    # -- paths -------------------------------------------------------------------------

    @property
    def checkpoint_dir(self) -> Path | None:
        return None if self.run_dir is None else self.run_dir / "checkpoints"

    # -- public ------------------------------------------------------------------------

    def fit(self, resume: bool = False) -> list[dict[str, Any]]:
        """Train up to ``epochs``; with ``resume``, first continue from the newest checkpoint.

        Returns the per-epoch history (including epochs restored from the checkpoint).
        """
        from zslkit.utils.outputs import output_dir

        # the main process writes run_dir: a zslkit output directory (its own, or a folder of the caller's run)
        with output_dir(self.run_dir, "run") if self.run_dir is not None and self.ctx.is_main \
                else contextlib.nullcontext():
            return self._fit(resume)

    def _fit(self, resume: bool) -> list[dict[str, Any]]:
        if resume:
            self.start_epoch = self._resume()
        else:
            self._refuse_existing()
        self.net = self._wrap(self.model)
        for cb in self.callbacks:
            cb.on_train_start(self)
        writer, own_writer = (self.logger, False) if self.logger is not None else (self._tensorboard(), True)
        try:
            for epoch in range(self.start_epoch, self.epochs):
                record = self._train_epoch(epoch)
                for cb in self.callbacks:
                    cb.on_epoch_end(self, record)
                record = {k: _plain(v) for k, v in record.items()}
                self.history.append(record)
                self._checkpoint(epoch + 1)
                self._write_logs(writer, record)
                if self.ctx.is_main:
                    log.info("%s epoch %d/%d: %s", self.desc, epoch + 1, self.epochs, _fmt(record))
                if self.should_stop:
                    break
        finally:
            if writer is not None and own_writer:
                writer.close()
        return self.history

    # -- internals ---------------------------------------------------------------------

    def _wrap(self, model: nn.Module) -> nn.Module:
        if not self.ctx.is_distributed or not any(p.requires_grad for p in model.parameters()):
            return model
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DDP(model, device_ids=ids, output_device=ids[0] if ids else None)

    def _batches(self) -> Iterator[tuple[Sequence[int], torch.Tensor]]:
        if self.num_workers <= 0:
            for idx in self.sampler:
                yield idx, fetch_batch(self.dataset, idx)
            return
        loader = torch.utils.data.DataLoader(_Indexed(self.dataset), batch_sampler=self.sampler,
                                             num_workers=self.num_workers, collate_fn=_identity,
                                             pin_memory=self.device.type == "cuda")
        yield from loader

    def _train_epoch(self, epoch: int) -> dict[str, Any]:
        self.sampler.set_epoch(epoch)
        self.net.train()
        lr = float(self.optimizer.param_groups[0]["lr"])
        sums: dict[str, torch.Tensor] = {}
        steps = images = 0
        bar = None
        if self.progress and self.ctx.is_main:
            from zslkit.utils.progress import progress_bar

            bar = progress_bar(total=len(self.sampler), desc=f"{self.desc} {epoch + 1}/{self.epochs}", unit="step",
                               leave=False, dynamic_ncols=True)
        t0 = time.perf_counter()
        for idx, x in self._batches():
            x = x.to(self.device, non_blocking=True)
            y = torch.as_tensor(self.labels[np.asarray(idx, dtype=np.int64)], device=self.device)
            with self.amp.autocast():
                loss, parts = self.step_fn(self.net, x, y)
            self.optimizer.zero_grad(set_to_none=True)
            if self.scaler is not None:
                self.scaler.scale(loss).backward()
                if self.grad_clip:
                    self.scaler.unscale_(self.optimizer)
                    nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
                self.scaler.step(self.optimizer)
                self.scaler.update()
            else:
                loss.backward()
                if self.grad_clip:
                    nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
                self.optimizer.step()
            for name, value in (("loss", loss), *parts.items()):
                v = value.detach().float()
                sums[name] = sums[name] + v if name in sums else v
            steps += 1
            images += len(idx)
            if bar is not None:
                bar.update(1)
                if steps % 10 == 1:
                    bar.set_postfix(loss=f"{loss.item():.4f}")
        if self.scheduler is not None:
            self.scheduler.step()
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        seconds = time.perf_counter() - t0
        if bar is not None:
            bar.close()
        if steps == 0:
            raise ZSLDataError(f"epoch {epoch + 1} had no batches: the sampler yielded nothing")
        names = sorted(sums)
        means = self.ctx.mean_of([sums[k].item() / steps for k in names])
        total_images = int(self.ctx.sum_of([float(images)])[0])
        seconds = max(self.ctx.all_gather_object(seconds)) if self.ctx.is_distributed else seconds
        record: dict[str, Any] = {"epoch": epoch + 1, **dict(zip(names, means)), "lr": lr, "steps": steps,
                                  "images": total_images, "seconds": seconds,
                                  "images_per_s": total_images / max(seconds, 1e-9)}
        if not math.isfinite(record["loss"]):
            raise ZSLDataError(f"{self.desc}: training diverged at epoch {epoch + 1} (mean loss {record['loss']}); "
                               f"lower the learning rate (now {lr:g})")
        return record

    def _checkpoint(self, epoch_done: int) -> None:
        if self.checkpoint_dir is None:
            return
        rng = self.ctx.all_gather_object(capture_rng_state())
        if self.ctx.is_main:
            state = {
                "epoch": epoch_done,
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
                "scaler": self.scaler.state_dict() if self.scaler is not None else None,
                "sampler": self.sampler.state_dict(),
                "extra": {k: v.state_dict() for k, v in self.extra_state.items()},
                "rng": rng,
                "world_size": self.ctx.world_size,
                "history": self.history,
                "fingerprint": self.fingerprint,
                "meta": self.meta,
            }
            save_checkpoint(checkpoint_path(self.checkpoint_dir, epoch_done), state)
            prune_checkpoints(self.checkpoint_dir, self.keep_checkpoints)
        self.ctx.barrier()

    def _refuse_existing(self) -> None:
        if self.checkpoint_dir is None:
            return
        found = latest_checkpoint(self.checkpoint_dir) if self.ctx.is_main else None
        found = self.ctx.broadcast_object(None if found is None else str(found))
        if found is not None:
            raise CheckpointError(f"{self.checkpoint_dir} already holds checkpoint {Path(found).name}; pass "
                                  f"resume=True to continue that run, or choose another output directory")

    def _resume(self) -> int:
        if self.checkpoint_dir is None:
            raise CheckpointError("resume asked for, but no run directory was given")
        path = latest_checkpoint(self.checkpoint_dir) if self.ctx.is_main else None
        name = self.ctx.broadcast_object(None if path is None else str(path))
        if name is None:
            if self.ctx.is_main:
                log.info("%s: no checkpoint in %s, starting from scratch", self.desc, self.checkpoint_dir)
            return 0
        buf = broadcast_file_bytes(self.ctx, path)
        state = load_checkpoint(buf, map_location="cpu", name=name)
        diffs = config_differences(state.get("fingerprint", {}), self.fingerprint, ignore=self.resume_ignore)
        if diffs:
            raise CheckpointError(f"cannot resume from {name}: its configuration differs from this run's: "
                                  + "; ".join(diffs[:8]))
        done = int(state["epoch"])
        if done > self.epochs:
            raise CheckpointError(f"{name} is at epoch {done}, beyond the {self.epochs} epochs asked for")
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            if self.scheduler is not None:
                if state.get("scheduler") is None:
                    raise CheckpointError(f"{name} has no scheduler state but this run uses a scheduler")
                self.scheduler.load_state_dict(state["scheduler"])
            if self.scaler is not None and state.get("scaler") is not None:
                self.scaler.load_state_dict(state["scaler"])
            self.sampler.load_state_dict(state["sampler"])
            for key, obj in self.extra_state.items():
                obj.load_state_dict(state["extra"][key])
        except (KeyError, RuntimeError, ValueError) as exc:
            raise CheckpointError(f"cannot restore training state from {name}: {type(exc).__name__}: {exc}") from exc
        rng = list(state.get("rng") or [])
        if rng:
            if len(rng) != self.ctx.world_size and self.ctx.is_main:
                log.warning("%s was written by %d process(es), this run has %d: parameters resume exactly, random "
                            "streams (augmentation) do not", name, len(rng), self.ctx.world_size)
            restore_rng_state(rng[self.ctx.rank % len(rng)])
        self.history = list(state.get("history") or [])
        self.resumed_from = name
        if self.ctx.is_main:
            log.info("%s: resumed from %s (epoch %d of %d)", self.desc, name, done, self.epochs)
        return done

    def _tensorboard(self) -> Any:
        """The default logger: event files in ``run_dir/tensorboard`` (when tensorboard is installed)."""
        if self.run_dir is None or not self.ctx.is_main or importlib.util.find_spec("tensorboard") is None:
            return None
        from zslkit.tracking import TensorBoardLogger

        # a resumed run: TensorBoard drops the earlier events of the epochs trained again
        return TensorBoardLogger(self.run_dir / "tensorboard", purge_step=self.start_epoch + 1)

    def _write_logs(self, writer: Any, record: dict[str, Any]) -> None:
        if not self.ctx.is_main:
            return
        if writer is not None:
            writer.log_scalars({k: v for k, v in record.items() if k != "epoch"}, record["epoch"], f"{self.desc}/")
            if hasattr(writer, "flush"):
                writer.flush()
        if self.run_dir is None:
            return
        lines = "".join(_json_line(r) + "\n" for r in self.history)
        atomic_write_text(self.run_dir / "log.jsonl", lines)
        columns: list[str] = []
        for r in self.history:
            columns.extend(k for k in r if k not in columns)
        out = io.StringIO()
        w = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
        w.writeheader()
        for r in self.history:
            w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in columns})
        atomic_write_text(self.run_dir / "metrics.csv", out.getvalue())


def _json_line(record: dict[str, Any]) -> str:
    return json.dumps(to_jsonable(record), sort_keys=False)


def _fmt(record: dict[str, Any]) -> str:
    keep = [k for k in record if k not in ("epoch", "steps", "images")]
    return ", ".join(f"{k} {record[k]:.4g}" if isinstance(record[k], float) else f"{k} {record[k]}" for k in keep)
