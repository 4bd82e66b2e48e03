"""The training engine (:class:`Trainer`) and ReZSL's AttentionNet recipe (:func:`train_attention_net`).

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
* tqdm progress bars and a metrics log (``log.jsonl`` and ``metrics.csv``, rewritten
  atomically after every epoch from the history in the checkpoint, so that a resumed run's
  log has no duplicate or missing epochs; TensorBoard scalars under ``tensorboard/`` when
  the ``tensorboard`` package is installed).

Any iterative model can use it; :func:`train_attention_net` is the AttentionNet recipe:

1. **Selection on validation classes** (never test): AttentionNet is trained on the images
   of the train classes of ``data.validation_split(fold, holdout, seed)`` and evaluated on
   its validation classes after every epoch. The best epoch (by validation T1, or H) is
   kept, and the GZSL calibration gamma is
   :func:`zslkit.evaluation.protocol.validation_gamma` at that epoch. (The authors' trainer
   instead keeps the epoch with the best *test* H; zslkit does not.)
2. **Final training** on all trainval images for the selected number of epochs.
3. **Test evaluation** with the protocol (:func:`zslkit.evaluation.evaluate`) and the
   validation gamma; the oracle (test-chosen) gamma is reported separately, labelled.

Run directory (``out_dir``)::

    config.yaml        the configuration
    selection/         phase 1: checkpoints/, log.jsonl, metrics.csv (validation metrics per epoch)
    selection.json     chosen epoch and gamma, validation table, validation-split source
    checkpoints/       phase 2 checkpoints (epoch_NNNN.pt, newest ``keep_checkpoints``)
    log.jsonl, metrics.csv  phase 2 per-epoch log
    model.pt           final weights + model config (load with :func:`load_attention_net`)
    metrics.json       test metrics (validation gamma), selection, timings, throughput

``resume=True`` continues a killed run from the newest checkpoint of whichever phase it was in.
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
import warnings
import zlib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
import yaml
from torch import nn

from zslkit.errors import CheckpointError, ConfigError, ZSLDataError
from zslkit.evaluation.protocol import EvalSplit, Metrics, evaluate, prediction_arrays, validation_gamma
from zslkit.models.attention_net import RESNETS, AttentionNet, AttentionNetLoss, resnet_backbone
from zslkit.training.checkpoint import (
    capture_rng_state,
    checkpoint_path,
    config_differences,
    latest_checkpoint,
    load_checkpoint,
    prune_checkpoints,
    read_backbone_weights,
    restore_rng_state,
    save_checkpoint,
)
from zslkit.training.distributed import (
    DistContext,
    broadcast_file_bytes,
    init_distributed,
    resolve_device,
    shutdown_distributed,
)
from zslkit.training.feature_maps import AttentionData
from zslkit.training.samplers import build_sampler
from zslkit.utils.atomic import atomic_path, atomic_write_json, atomic_write_text, to_jsonable
from zslkit.utils.seed import seed_everything

log = logging.getLogger(__name__)

__all__ = [
    "AMP_MODES",
    "AmpSettings",
    "AttentionNetConfig",
    "AttentionRunResult",
    "Callback",
    "REZSL_PRESETS",
    "EvaluateCallback",
    "StopAfterEpochs",
    "Trainer",
    "analyze_attention",
    "evaluate_attention_net",
    "load_attention_net",
    "predict_semantics",
    "resolve_amp",
    "train_attention_net",
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
        progress: show tqdm progress bars (rank 0 only).
        desc: progress-bar label.
        grad_clip: max gradient norm, or None.
    """

    def __init__(self, model: nn.Module, step_fn: StepFn, optimizer: torch.optim.Optimizer, sampler: Any,
                 dataset: Any, labels: np.ndarray, *, epochs: int, scheduler: Any = None,
                 ctx: DistContext | None = None, device: str | torch.device = "cpu", amp: str = "off",
                 run_dir: str | Path | None = None, keep_checkpoints: int = 2, callbacks: Iterable[Callback] = (),
                 extra_state: dict[str, Any] | None = None, fingerprint: dict[str, Any] | None = None,
                 resume_ignore: tuple[str, ...] = ("epochs",), meta: dict[str, Any] | None = None,
                 num_workers: int = 0, progress: bool = True, desc: str = "train", grad_clip: float | None = None):
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
        if resume:
            self.start_epoch = self._resume()
        else:
            self._refuse_existing()
        self.net = self._wrap(self.model)
        for cb in self.callbacks:
            cb.on_train_start(self)
        writer = self._tensorboard()
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
            if writer is not None:
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
            from tqdm.auto import tqdm

            bar = tqdm(total=len(self.sampler), desc=f"{self.desc} {epoch + 1}/{self.epochs}", unit="step",
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
        if self.run_dir is None or not self.ctx.is_main or importlib.util.find_spec("tensorboard") is None:
            return None
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:  # pragma: no cover - tensorboard present but incompatible
            return None
        return SummaryWriter(log_dir=str(self.run_dir / "tensorboard"), purge_step=self.start_epoch + 1)

    def _write_logs(self, writer: Any, record: dict[str, Any]) -> None:
        if self.run_dir is None or not self.ctx.is_main:
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
        if writer is not None:
            for k, v in record.items():
                if k != "epoch" and isinstance(v, (int, float)) and not isinstance(v, bool):
                    writer.add_scalar(f"{self.desc}/{k}", v, record["epoch"])
            writer.flush()


def _json_line(record: dict[str, Any]) -> str:
    return json.dumps(to_jsonable(record), sort_keys=False)


def _fmt(record: dict[str, Any]) -> str:
    keep = [k for k in record if k not in ("epoch", "steps", "images")]
    return ", ".join(f"{k} {record[k]:.4g}" if isinstance(record[k], float) else f"{k} {record[k]}" for k in keep)


# --------------------------------------------------------------------------------------
# inference and evaluation
# --------------------------------------------------------------------------------------


@torch.no_grad()
def predict_semantics(model: AttentionNet, dataset: Any, indices: np.ndarray, *, ctx: DistContext | None = None,
                      batch_size: int = 64, amp: AmpSettings | None = None, device: str | torch.device = "cpu",
                      ) -> np.ndarray:
    """(len(indices), A) predicted semantic vectors, sharded over processes and gathered.

    Every process returns the full array, rows in the order of ``indices``.
    """
    ctx = ctx if ctx is not None else DistContext(device=torch.device(device))
    indices = np.asarray(indices, dtype=np.int64)
    shard = np.array_split(indices, ctx.world_size)[ctx.rank]
    was_training = model.training
    model.eval()
    outs = []
    autocast = amp.autocast() if amp is not None else contextlib.nullcontext()
    try:
        with autocast:
            for start in range(0, shard.size, batch_size):
                idx = shard[start:start + batch_size]
                x = fetch_batch(dataset, idx.tolist()).to(ctx.device, non_blocking=True)
                outs.append(model(x).semantic.float())
    finally:
        model.train(was_training)
    local = torch.cat(outs) if outs else torch.zeros((0, model.num_attributes), device=ctx.device)
    return ctx.gather_rows(local).cpu().numpy()


def _cosine_scores_fn(semantic: np.ndarray) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    def scores(X: np.ndarray, classes: np.ndarray) -> np.ndarray:
        a = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
        b = torch.from_numpy(np.ascontiguousarray(semantic[classes], dtype=np.float32))
        return (F.normalize(a, dim=1) @ F.normalize(b, dim=1).T).numpy()

    return scores


def _split_predictions(model: AttentionNet, data: AttentionData, split: EvalSplit, ctx: DistContext,
                       batch_size: int, amp: AmpSettings | None) -> np.ndarray:
    """Dense (N, A) predictions, filled at the split's images (zeros elsewhere, never read)."""
    idx = np.unique(np.concatenate([split.seen_idx, split.unseen_idx]).astype(np.int64))
    dense = np.zeros((data.num_images, data.num_attributes), dtype=np.float32)
    dense[idx] = predict_semantics(model, data.dataset, idx, ctx=ctx, batch_size=batch_size, amp=amp)
    return dense


class EvaluateCallback(Callback):
    """After every ``every`` epochs, run the protocol on ``split`` and add ``{prefix}_...`` to the record.

    Records T1, U/S/H at gamma 0 (``_U0``...), the split's own best gamma (``_gamma``,
    from :func:`validation_gamma`), H at that gamma (``_H``) and AUSUC. Use it on
    validation splits: on a validation split its best gamma *is* the validation gamma.
    """

    def __init__(self, data: AttentionData, split: EvalSplit, prefix: str = "val", every: int = 1,
                 batch_size: int = 64):
        self.data = data
        self.split = split
        self.prefix = prefix
        self.every = max(1, int(every))
        self.batch_size = batch_size

    def on_epoch_end(self, trainer: Trainer, record: dict[str, Any]) -> None:
        if record["epoch"] % self.every and record["epoch"] != trainer.epochs:
            return
        model = trainer.model
        feats = _split_predictions(model, self.data, self.split, trainer.ctx, self.batch_size, trainer.amp)
        scores_fn = _cosine_scores_fn(self.data.semantic)
        m = evaluate(scores_fn, feats, self.data.labels, self.split, gamma=0.0)
        g = validation_gamma(scores_fn, feats, self.data.labels, self.split) if len(self.split.seen_idx) else 0.0
        p = self.prefix
        record.update({f"{p}_T1": m.T1, f"{p}_U0": m.U0, f"{p}_S0": m.S0, f"{p}_H0": m.H0, f"{p}_gamma": float(g),
                       f"{p}_H": m.oracle_H, f"{p}_U": m.oracle_U, f"{p}_S": m.oracle_S, f"{p}_ausuc": m.ausuc})


# --------------------------------------------------------------------------------------
# AttentionNet recipe
# --------------------------------------------------------------------------------------


@dataclass
class AttentionNetConfig:
    """Settings of one AttentionNet training run (defaults: ReZSL's official recipe).

    Optimisation: ``optimizer`` "sgd" (momentum, weight decay) or "adam"; lr decays x
    ``lr_gamma`` every ``lr_step`` epochs (0 = constant); ``lr_step_first`` steps the schedule at
    the start of every epoch, as the authors' trainer does, so the first decay comes one epoch
    early (their 30-epoch runs: 9, 10, 10 and 1 epochs at lr x gamma^0..3). Sampling: ``sampler`` "episode"
    (``ways`` classes x ``shots`` images per step, *global* over processes;
    ``episodes_per_epoch`` None = about one pass over the images; ReZSL uses 300) or
    "random" (``batch_size`` images). Loss: cross-entropy over seen classes with scale
    ``scale`` + ``lambda1`` x (``loss`` "remse" with ``p``, ``p2``, ``remse_mode``, or
    "mse"). Model (:class:`~zslkit.models.attention_net.AttentionNet`): ``scale``, ``ratio``,
    ``hidden_dim`` (0 = no hidden layer), ``attention_dim`` (None = the authors' 1024, or 300
    for 85 attributes), ``fused`` (exact fast evaluation); ``backbone`` None for cached feature maps, or a ResNet name for images
    (``backbone_weights`` a local torchvision weight file; ``finetune_backbone``; ``sync_bn``:
    SyncBatchNorm when fine-tuning under DDP on GPUs).
    Selection: ``gamma`` None = chosen on validation classes; ``select_epochs`` picks the
    epoch count on validation classes (fold ``val_fold``, ``val_holdout`` of train-class
    images held out as validation seen images), by ``criterion`` "T1" or "H". Runtime:
    ``device`` "auto"/"cpu"/"cuda[:k]", ``amp`` (see :func:`resolve_amp`), ``out_dir``
    (None = write nothing), ``resume``, ``num_workers``, ``progress``.
    """

    out_dir: str | None = None
    epochs: int = 30
    lr: float = 5e-4
    optimizer: str = "sgd"
    momentum: float = 0.9
    weight_decay: float = 1e-5
    lr_step: int = 10
    lr_gamma: float = 0.1
    lr_step_first: bool = False
    sampler: str = "episode"
    ways: int = 16
    shots: int = 2
    episodes_per_epoch: int | None = None
    batch_size: int = 32
    lambda1: float = 0.25
    loss: str = "remse"
    p: float = 0.1
    p2: float = 0.75
    remse_mode: str = "in_batch"
    scale: float = 20.0
    ratio: float = 1.0
    hidden_dim: int = 0
    attention_dim: int | None = None
    fused: bool = True
    backbone: str | None = None
    backbone_weights: str | None = None
    finetune_backbone: bool = False
    sync_bn: bool = True
    seed: int = 0
    gamma: float | None = None
    select_epochs: bool = True
    val_fold: int = 1
    val_holdout: float = 0.2
    criterion: str = "T1"
    device: str = "auto"
    amp: str = "auto"
    grad_clip: float | None = None
    eval_batch_size: int = 64
    num_workers: int = 0
    keep_checkpoints: int = 2
    resume: bool = False
    progress: bool = True

    #: fields that do not change what is computed (excluded from the resume fingerprint)
    RUNTIME_FIELDS = ("out_dir", "resume", "progress", "num_workers", "eval_batch_size", "keep_checkpoints",
                      "device", "epochs")

    def validate(self) -> "AttentionNetConfig":
        _int("epochs", self.epochs, 1)
        _real("lr", self.lr, low=0.0, low_open=True)
        _choice("optimizer", self.optimizer, ("sgd", "adam"))
        _real("momentum", self.momentum, low=0.0, high=1.0, high_open=True)
        _real("weight_decay", self.weight_decay, low=0.0)
        _int("lr_step", self.lr_step, 0)
        _real("lr_gamma", self.lr_gamma, low=0.0, high=1.0, low_open=True)
        if not isinstance(self.lr_step_first, bool):
            raise ConfigError(f"config field lr_step_first must be true or false, got {self.lr_step_first!r}")
        _choice("sampler", self.sampler, ("episode", "random"))
        _int("ways", self.ways, 1)
        _int("shots", self.shots, 1)
        if self.episodes_per_epoch is not None:
            _int("episodes_per_epoch", self.episodes_per_epoch, 1)
        _int("batch_size", self.batch_size, 1)
        _real("lambda1", self.lambda1, low=0.0)
        _choice("loss", self.loss, ("remse", "mse"))
        _real("p", self.p, low=0.0)
        _real("p2", self.p2, low=0.0)
        _choice("remse_mode", self.remse_mode, ("in_batch", "cross_batch"))
        _real("scale", self.scale, low=0.0, low_open=True)
        _real("ratio", self.ratio)
        _int("hidden_dim", self.hidden_dim, 0)
        if self.attention_dim is not None:
            _int("attention_dim", self.attention_dim, 1)
        if not isinstance(self.fused, bool):
            raise ConfigError(f"config field fused must be true or false, got {self.fused!r}")
        if self.backbone is not None:
            _choice("backbone", self.backbone, tuple(RESNETS))
        elif self.backbone_weights is not None:
            raise ConfigError("backbone_weights given without backbone; name the ResNet (e.g. backbone='resnet101')")
        _int("seed", self.seed, 0)
        if self.gamma is not None:
            _real("gamma", self.gamma)
        _int("val_fold", self.val_fold, 1)
        _real("val_holdout", self.val_holdout, low=0.0, high=1.0, low_open=True, high_open=True)
        _choice("criterion", self.criterion, ("T1", "H"))
        _choice("amp", self.amp, AMP_MODES)
        if self.grad_clip is not None:
            _real("grad_clip", self.grad_clip, low=0.0, low_open=True)
        _int("eval_batch_size", self.eval_batch_size, 1)
        _int("num_workers", self.num_workers, 0)
        _int("keep_checkpoints", self.keep_checkpoints, 0)
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def fingerprint(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k not in self.RUNTIME_FIELDS}

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> "AttentionNetConfig":
        """The authors' settings for a dataset (:data:`REZSL_PRESETS`), with ``overrides`` on top."""
        key = str(name).lower()
        if key not in REZSL_PRESETS:
            raise ConfigError(f"unknown AttentionNet preset {name!r}; choose one of {sorted(REZSL_PRESETS)}")
        return cls.from_dict({**REZSL_PRESETS[key], **overrides})

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "AttentionNetConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown AttentionNet config fields {unknown}; known: {sorted(known)}")
        return cls(**values)


#: The authors' configs (ReZSL-TIP23 ``config/*_16w_2s_AttentionNet*.yaml``): 16 ways x 2 shots,
#: 300 episodes per epoch, 30 epochs, SGD momentum 0.9, weight decay 1e-5, lr x ``lr_gamma`` every
#: 10 epochs, backbone fine-tuned (ResNet-101 at 448 px, or ViT-B/16 at 224 px for ``*_vit``),
#: in-batch ReMSE (the ViT configs set p = p2 = 0: RegNorm'ed MSE). Their YAML seeds are listed
#: for reference; their code sets the seed before reading the YAML, so it never used them.
REZSL_PRESETS: dict[str, dict[str, Any]] = {
    name: {"epochs": 30, "episodes_per_epoch": 300, "ways": 16, "shots": 2, "optimizer": "sgd", "momentum": 0.9,
           "weight_decay": 1e-5, "lr_step": 10, "lr_step_first": True, "finetune_backbone": True,
           "remse_mode": "in_batch", **values}
    for name, values in {
        "awa2": {"lr": 1e-4, "lr_gamma": 0.5, "lambda1": 1.0, "p": 1.0, "p2": 0.1, "scale": 20.0, "hidden_dim": 4096,
                 "seed": 1514},
        "cub": {"lr": 5e-4, "lr_gamma": 0.1, "lambda1": 0.25, "p": 0.1, "p2": 0.75, "scale": 20.0, "hidden_dim": 0,
                "seed": 214},
        "sun": {"lr": 5e-4, "lr_gamma": 0.5, "lambda1": 0.1, "p": 0.1, "p2": 0.0, "scale": 25.0, "hidden_dim": 0,
                "seed": 214},
        "awa2_vit": {"lr": 1e-4, "lr_gamma": 0.5, "lambda1": 0.1, "p": 0.0, "p2": 0.0, "scale": 20.0,
                     "hidden_dim": 4096, "seed": 1514},
        "cub_vit": {"lr": 5e-4, "lr_gamma": 0.1, "lambda1": 0.1, "p": 0.0, "p2": 0.0, "scale": 20.0, "hidden_dim": 0,
                    "seed": 214},
        "sun_vit": {"lr": 5e-4, "lr_gamma": 0.5, "lambda1": 0.1, "p": 0.0, "p2": 0.0, "scale": 25.0, "hidden_dim": 0,
                    "seed": 214},
    }.items()
}


def _real(name: str, value: Any, low: float | None = None, high: float | None = None, low_open: bool = False,
          high_open: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(float(value)):
        raise ConfigError(f"config field {name} must be a finite number, got {value!r}")
    v = float(value)
    if (low is not None and (v <= low if low_open else v < low)) or \
            (high is not None and (v >= high if high_open else v > high)):
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        raise ConfigError(f"config field {name} must be in {'(' if low_open else '['}{lo}, {hi}"
                          f"{')' if high_open else ']'}, got {value!r}")


def _int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"config field {name} must be an integer >= {minimum}, got {value!r}")


def _choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"config field {name} must be one of {list(choices)}, got {value!r}")


@dataclass
class AttentionRunResult:
    """What :func:`train_attention_net` returns (the same on every process)."""

    config: AttentionNetConfig
    metrics: Metrics
    gamma: float
    gamma_source: str
    selection: dict[str, Any] | None
    history: list[dict[str, Any]]
    model: AttentionNet
    out_dir: Path | None
    world_size: int
    surrogate: bool
    dataset: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def throughput(self) -> float:
        """Training images per second (all processes) over the final phase's epochs."""
        imgs = sum(r["images"] for r in self.history)
        secs = sum(r["seconds"] for r in self.history)
        return imgs / secs if secs > 0 else float("nan")

    def to_dict(self) -> dict[str, Any]:
        d = self.metrics.to_dict(with_curve=True)
        d.update({
            "model": "attention_net",
            "surrogate": self.surrogate,
            "gamma_source": self.gamma_source,
            "selection": self.selection,
            "config": self.config.to_dict(),
            "world_size": self.world_size,
            "dataset": self.dataset,
            "train_images_per_s": self.throughput,
            "final_epochs": len(self.history),
            "final_loss": self.history[-1]["loss"] if self.history else None,
            "timings_s": self.timings,
        })
        if self.surrogate:
            d["warning"] = "SYNTHETIC/SURROGATE data: not a benchmark result for any real dataset"
        return d


def _data_fingerprint(data: AttentionData, train_idx: np.ndarray, classes: np.ndarray) -> dict[str, Any]:
    return {"num_images": data.num_images, "num_classes": data.num_classes, "num_attributes": data.num_attributes,
            "map_shape": list(data.map_shape) if data.map_shape else None, "kind": data.kind,
            "train_idx_crc32": zlib.crc32(np.asarray(train_idx, dtype=np.int64).tobytes()),
            "classes_crc32": zlib.crc32(np.asarray(classes, dtype=np.int64).tobytes()),
            "semantic_crc32": zlib.crc32(np.ascontiguousarray(data.semantic).tobytes())}


def _build_model(cfg: AttentionNetConfig, data: AttentionData) -> AttentionNet:
    vectors = torch.from_numpy(data.attribute_vectors)
    if cfg.backbone is None:
        if data.kind != "feature_maps":
            raise ConfigError("data holds images but config.backbone is None; name a ResNet backbone "
                              "(e.g. 'resnet101') or pass cached feature maps")
        channels = data.map_shape[0]  # type: ignore[index]
        return AttentionNet(vectors, channels, scale=cfg.scale, ratio=cfg.ratio, hidden_dim=cfg.hidden_dim,
                            attention_dim=cfg.attention_dim, fused=cfg.fused)
    if data.kind != "images":
        raise ConfigError(f"config.backbone={cfg.backbone!r} needs image inputs, but data holds feature maps; "
                          f"set backbone=None to train the head on the cached maps")
    weights = read_backbone_weights(cfg.backbone_weights) if cfg.backbone_weights else None
    if weights is None:
        log.warning("backbone %s starts from random weights (no backbone_weights file given)", cfg.backbone)
    backbone = resnet_backbone(cfg.backbone, weights)
    return AttentionNet(vectors, backbone=backbone, freeze_backbone=not cfg.finetune_backbone, scale=cfg.scale,
                        ratio=cfg.ratio, hidden_dim=cfg.hidden_dim, attention_dim=cfg.attention_dim, fused=cfg.fused)


def _run_phase(cfg: AttentionNetConfig, data: AttentionData, ctx: DistContext, *, classes: np.ndarray,
               train_idx: np.ndarray, epochs: int, run_dir: Path | None, phase: str,
               callbacks: Sequence[Callback]) -> tuple[AttentionNet, Trainer]:
    """Build model, loss, optimiser, sampler; train ``epochs`` (resuming if asked)."""
    seed_everything(cfg.seed)  # identical initialisation on every process
    model = _build_model(cfg, data)
    if cfg.finetune_backbone and cfg.sync_bn and ctx.is_distributed and ctx.device.type == "cuda":
        # BatchNorm statistics over the global batch, as in one process (SyncBatchNorm needs CUDA).
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    torch.manual_seed(cfg.seed + 1 + ctx.rank)  # per-process stream (augmentation, dropout)
    loss_fn = AttentionNetLoss(torch.from_numpy(data.semantic[classes]), lambda1=cfg.lambda1, loss=cfg.loss,
                               p=cfg.p, p2=cfg.p2, mode=cfg.remse_mode, scale=cfg.scale,
                               reduce_fn=ctx.all_reduce_sum if ctx.is_distributed else None).to(ctx.device)
    if ctx.is_distributed and cfg.loss == "remse" and cfg.remse_mode != "in_batch" and ctx.is_main:
        log.warning("remse_mode=%r under DDP: each process tracks ReMSE statistics of its own slice", cfg.remse_mode)
    to_local = torch.full((data.num_classes,), -1, dtype=torch.long)
    to_local[torch.from_numpy(np.asarray(classes, dtype=np.int64))] = torch.arange(len(classes))
    to_local = to_local.to(ctx.device)
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.optimizer == "sgd":
        optimizer: torch.optim.Optimizer = torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum,
                                                           weight_decay=cfg.weight_decay)
    else:
        optimizer = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg.lr_step, gamma=cfg.lr_gamma) \
        if cfg.lr_step > 0 else None
    if scheduler is not None and cfg.lr_step_first:
        # The authors call scheduler.step() before each epoch's updates; one step ahead of the
        # end-of-epoch steps reproduces their schedule exactly (a resumed run restores its state).
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler.step\(\)` before")
            scheduler.step()
    sampler = build_sampler(cfg.sampler, data.labels[train_idx], train_idx, ways=cfg.ways, shots=cfg.shots,
                            episodes_per_epoch=cfg.episodes_per_epoch, batch_size=cfg.batch_size, seed=cfg.seed,
                            num_replicas=ctx.world_size, rank=ctx.rank)

    def step_fn(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        return loss_fn(net(x).semantic, to_local[y])

    if ctx.device.type == "cuda" and data.kind == "images":
        torch.backends.cudnn.benchmark = True
    trainer = Trainer(model, step_fn, optimizer, sampler, data.dataset, data.labels, epochs=epochs,
                      scheduler=scheduler, ctx=ctx, amp=cfg.amp, run_dir=run_dir,
                      keep_checkpoints=cfg.keep_checkpoints, callbacks=callbacks, extra_state={"loss": loss_fn},
                      fingerprint={**cfg.fingerprint(), "phase": phase,
                                   **_data_fingerprint(data, train_idx, classes)},
                      meta={"model_config": model.config(), "phase": phase}, num_workers=cfg.num_workers,
                      progress=cfg.progress, desc=phase, grad_clip=cfg.grad_clip)
    trainer.fit(resume=cfg.resume)
    return model, trainer


def train_attention_net(config: AttentionNetConfig, data: AttentionData,
                        callbacks: Sequence[Callback] = ()) -> AttentionRunResult:
    """Train and evaluate AttentionNet (see module docstring); works under torchrun as is.

    Args:
        config: :class:`AttentionNetConfig`.
        data: :class:`~zslkit.training.feature_maps.AttentionData` (feature maps or images).
        callbacks: extra :class:`Callback` s for the final phase (e.g. :class:`StopAfterEpochs`).

    Returns an :class:`AttentionRunResult` (on every process). With ``out_dir``, global
    rank 0 writes the run directory described in the module docstring.

    Under torchrun the process group is created on entry and destroyed on return. To call
    this function several times in one process, create the group once yourself
    (``torch.distributed.init_process_group()``) before the first call: it is then reused and
    left alone (re-creating a default group under the same torchrun store is unreliable).
    """
    cfg = config.validate()
    ctx = init_distributed(cfg.device)
    try:
        return _train_attention_net(cfg, data, ctx, callbacks)
    finally:
        shutdown_distributed(ctx)


def _train_attention_net(cfg: AttentionNetConfig, data: AttentionData, ctx: DistContext,
                         callbacks: Sequence[Callback]) -> AttentionRunResult:
    out = Path(cfg.out_dir) if cfg.out_dir else None
    if cfg.resume and out is None:
        raise ConfigError("resume=True needs out_dir (the run directory to resume)")
    timings: dict[str, float] = {}
    amp = resolve_amp(cfg.amp, ctx.device)
    if ctx.is_main and out is not None:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / "config.yaml", yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    if ctx.is_main:
        log.info("AttentionNet: %d process(es), device %s, amp %s, data %s", ctx.world_size, ctx.device,
                 amp.describe(), "SYNTHETIC" if data.surrogate else data.kind)

    # -- phase 1: selection on validation classes -------------------------------------
    selection: dict[str, Any] | None = None
    epochs = cfg.epochs
    gamma = cfg.gamma
    if cfg.select_epochs or cfg.gamma is None:
        t0 = time.perf_counter()
        vs = data.validation_split(fold=cfg.val_fold, holdout=cfg.val_holdout, seed=cfg.seed)
        sel_fp = {**cfg.fingerprint(), "epochs": cfg.epochs, **_data_fingerprint(data, vs.train_idx, vs.train_classes)}
        sel_path = out / "selection.json" if out is not None else None
        if cfg.resume and sel_path is not None:
            found = None
            if ctx.is_main and sel_path.is_file():
                found = json.loads(sel_path.read_text(encoding="utf-8"))
            selection = ctx.broadcast_object(found)
            if selection is not None and config_differences(selection.get("fingerprint", {}), to_jsonable(sel_fp)):
                raise CheckpointError(f"cannot resume: {sel_path} was written for another configuration: "
                                      + "; ".join(config_differences(selection["fingerprint"], to_jsonable(sel_fp))[:8]))
        if selection is None:
            cb = EvaluateCallback(data, vs.eval, prefix="val", batch_size=cfg.eval_batch_size)
            _, trainer = _run_phase(cfg, data, ctx, classes=vs.train_classes, train_idx=vs.train_idx,
                                    epochs=cfg.epochs, run_dir=None if out is None else out / "selection",
                                    phase="selection", callbacks=[cb])
            table = [{k: v for k, v in r.items() if k == "epoch" or k == "loss" or k.startswith("val_")}
                     for r in trainer.history]
            key = "val_T1" if cfg.criterion == "T1" else "val_H"
            best = max(range(len(table)), key=lambda i: (table[i][key], -i))  # first best on ties
            selection = {
                "criterion": cfg.criterion, "best_epoch": int(table[best]["epoch"]),
                "gamma": float(table[best]["val_gamma"]), "val_at_best": table[best],
                "source": vs.source, "val_fold": cfg.val_fold, "num_train_classes": int(len(vs.train_classes)),
                "num_val_classes": int(len(vs.val_classes)), "table": table,
                "note": "epochs and gamma chosen on validation classes (seen classes only); never on test",
                "fingerprint": to_jsonable(sel_fp),
            }
            if ctx.is_main and sel_path is not None:
                atomic_write_json(sel_path, selection)
        timings["selection"] = time.perf_counter() - t0
        if cfg.select_epochs:
            epochs = int(selection["best_epoch"])
        if cfg.gamma is None:
            gamma = float(selection["gamma"])
    gamma_source = "fixed in config" if cfg.gamma is not None else "validation classes (validation_gamma)"

    # -- phase 2: all trainval images ---------------------------------------------------
    t0 = time.perf_counter()
    seen = data.seen_classes
    model, trainer = _run_phase(cfg, data, ctx, classes=seen, train_idx=data.splits["trainval"], epochs=epochs,
                                run_dir=out, phase="final", callbacks=callbacks)
    timings["final"] = time.perf_counter() - t0
    stopped_early = len(trainer.history) < epochs

    # -- test ---------------------------------------------------------------------------
    t0 = time.perf_counter()
    metrics, arrays = _test(model, data, ctx, cfg.eval_batch_size, amp, gamma)
    timings["evaluate"] = time.perf_counter() - t0
    summary = data.summary()
    summary.pop("provenance", None)
    result = AttentionRunResult(config=cfg, metrics=metrics, gamma=float(gamma or 0.0), gamma_source=gamma_source,
                                selection=None if selection is None else
                                {k: v for k, v in selection.items() if k != "fingerprint"},
                                history=trainer.history, model=model, out_dir=out, world_size=ctx.world_size,
                                surrogate=data.surrogate, dataset=summary, timings=timings)
    if ctx.is_main and out is not None and not stopped_early:
        _save_model(out / "model.pt", model, data, result.gamma)
        with atomic_path(out / "predictions.npz", suffix=".npz") as tmp:
            np.savez_compressed(tmp, **arrays)
        atomic_write_json(out / "metrics.json", result.to_dict())
    if ctx.is_main:
        log.info("%s", metrics.summary())
    ctx.barrier()
    return result


def _test(model: AttentionNet, data: AttentionData, ctx: DistContext, batch_size: int, amp: AmpSettings | None,
          gamma: float | None) -> tuple[Metrics, dict[str, np.ndarray]]:
    """The protocol on the test split, and the arrays of ``predictions.npz`` (with the predicted semantics)."""
    split = data.test_split()
    feats = _split_predictions(model, data, split, ctx, batch_size, amp)
    metrics = evaluate(_cosine_scores_fn(data.semantic), feats, data.labels, split, gamma=gamma)
    arrays = prediction_arrays(metrics, data.semantic, data.seen_classes, data.unseen_classes, data.class_names,
                               feats[metrics.predictions["gzsl_idx"]])
    return metrics, arrays


def _save_model(path: Path, model: AttentionNet, data: AttentionData, gamma: float) -> None:
    save_checkpoint(path, {"model": model.state_dict(), "meta": {"model_config": model.config()},
                           "class_names": data.class_names, "attribute_names": data.attribute_names, "gamma": gamma})


def evaluate_attention_net(model: AttentionNet, data: AttentionData, *, gamma: float | None = None,
                           out_dir: str | Path | None = None, source: dict[str, Any] | None = None,
                           device: str = "auto", batch_size: int = 64, amp: str = "auto") -> dict[str, Any]:
    """Evaluate a trained AttentionNet under zslkit's protocol and (optionally) write a run directory.

    For models trained elsewhere, e.g. the authors' released checkpoints loaded with
    :func:`zslkit.models.attention_net.load_rezsl_checkpoint`. Such a model was trained on all
    seen classes, so no validation classes are left to choose the calibration gamma on:
    ``gamma`` None reports the uncalibrated GZSL numbers (gamma 0) as the headline, a given
    ``gamma`` (e.g. the authors' 0.7) is used as fixed, and the test-oracle gamma (the figure the
    authors' evaluation reports) is always reported separately, labelled "oracle".

    ``data`` must hold what the model takes (feature maps from the backbone the model was
    trained with, or images when it has its backbone). ``out_dir`` receives ``config.yaml``
    (what was evaluated), ``model.pt`` (zslkit format), ``predictions.npz`` and ``metrics.json``,
    the layout of a ``zslkit train`` run, so that ``zslkit analyze`` reads it.
    Returns the ``metrics.json`` dict.
    """
    if gamma is not None:
        _real("gamma", gamma)
    if data.num_attributes != model.num_attributes:
        raise ZSLDataError(f"the model predicts {model.num_attributes} attributes, the data's class semantic matrix "
                           f"has {data.num_attributes}")
    ctx = DistContext(device=resolve_device(device))
    model = model.to(ctx.device).eval()
    t0 = time.perf_counter()
    metrics, arrays = _test(model, data, ctx, batch_size, resolve_amp(amp, ctx.device), gamma)
    summary = data.summary()
    summary.pop("provenance", None)
    result = metrics.to_dict(with_curve=True)
    result.update({"model": "attention_net", "evaluated": source or {}, "surrogate": data.surrogate,
                   "gamma_source": "fixed by the caller" if gamma is not None else
                   "none: uncalibrated (gamma 0); no validation classes are left for a model trained elsewhere",
                   "model_config": model.config(), "dataset": summary,
                   "timings_s": {"evaluate": time.perf_counter() - t0}})
    if data.surrogate:
        result["warning"] = "SYNTHETIC/SURROGATE data: not a benchmark result for any real dataset"
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / "config.yaml", yaml.safe_dump(to_jsonable({"evaluate": source or {}, "gamma": gamma,
                                                                           "batch_size": batch_size}), sort_keys=False))
        _save_model(out / "model.pt", model, data, float(gamma or 0.0))
        with atomic_path(out / "predictions.npz", suffix=".npz") as tmp:
            np.savez_compressed(tmp, **arrays)
        atomic_write_json(out / "metrics.json", result)
    return result


# --------------------------------------------------------------------------------------
# loading and attention figures
# --------------------------------------------------------------------------------------


def load_attention_net(path: str | Path, map_location: str | torch.device = "cpu",
                       backbone: nn.Module | None = None) -> tuple[AttentionNet, dict[str, Any]]:
    """Rebuild AttentionNet from ``model.pt``, a training checkpoint, or a run directory.

    Returns ``(model in eval mode, info)``; info holds ``gamma``, ``class_names``,
    ``attribute_names`` when present. Weights-only loading; :class:`CheckpointError` names the file.
    """
    p = Path(path)
    if p.is_dir():
        candidates = [p / "model.pt", latest_checkpoint(p / "checkpoints")]
        found = next((c for c in candidates if c is not None and c.is_file()), None)
        if found is None:
            raise CheckpointError(f"{p} holds neither model.pt nor checkpoints/epoch_*.pt")
        p = found
    state = load_checkpoint(p, map_location=map_location)
    cfg = (state.get("meta") or {}).get("model_config")
    if not isinstance(cfg, dict) or "model" not in state:
        raise CheckpointError(f"{p} has no AttentionNet model config / weights (meta.model_config, model)")
    model = AttentionNet.from_config(cfg, backbone=backbone)
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as exc:
        raise CheckpointError(f"weights in {p} do not fit the model config: {exc}") from exc
    info = {k: state.get(k) for k in ("gamma", "class_names", "attribute_names", "epoch")}
    return model.eval(), info


@torch.no_grad()
def analyze_attention(model: AttentionNet, data: AttentionData, indices: Sequence[int], out_path: str | Path, *,
                      images: np.ndarray | None = None, top_k: int = 6, device: str | torch.device = "cpu",
                      title: str | None = None) -> Path:
    """Render a PNG grid of per-attribute attention maps for the images ``indices``.

    For every image, the ``top_k`` attributes with the largest value in its class's
    semantic vector are shown (as the authors' tool shows the attributes the class has),
    each map upsampled onto the image (``images``: (n, H, W, 3) or (n, 3, H, W) arrays in
    [0, 1], one per index) or, without images, onto the input (feature maps: their mean
    activation). Panel captions give the predicted and true attribute values, both
    L2-normalised per image (RegNorm, the space of the regression loss).
    """
    from zslkit.evaluation.attention_maps import render_attention_grid

    idx = [int(i) for i in indices]
    if not idx:
        raise ConfigError("analyze_attention needs at least one image index")
    dev = torch.device(device)
    model = model.to(dev).eval()
    x = fetch_batch(data.dataset, idx).to(dev)
    out = model(x)
    attention = out.attention.float().cpu().numpy()  # (n, A, h, w)
    if images is None:  # feature maps: their mean activation; images: the (normalised) input, rescaled
        images = x.float().mean(dim=1).cpu().numpy() if data.kind == "feature_maps" else x.float().cpu().numpy()
    sem = data.semantic[data.labels[idx]]
    names = data.attribute_names or [f"attribute {a}" for a in range(data.num_attributes)]
    chosen = np.argsort(-sem, axis=1, kind="stable")[:, :top_k]
    # Shown values are L2-normalised per image (RegNorm), the space the regression loss compares.
    pred = F.normalize(out.semantic.float(), dim=1).cpu().numpy()
    sem = sem / np.maximum(np.linalg.norm(sem, axis=1, keepdims=True), 1e-12)
    captions = [data.class_names[data.labels[i]] for i in idx]
    return render_attention_grid(attention, chosen, out_path, images=images, attribute_names=names,
                                 row_titles=captions, values=pred, targets=sem, title=title)
