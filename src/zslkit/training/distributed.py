"""Distributed data parallel (DDP) set-up for zslkit's training loop: one process per device.

The same training code runs in one process or in N processes launched by ``torchrun``;
:func:`init_distributed` reads the environment torchrun sets (``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``) and returns a :class:`DistContext`
that the loop uses for everything that differs between the two: which device a process
drives, which slice of every episode it trains on, reductions of metrics, and which
process writes files (global rank 0 only).

Backends: ``nccl`` when the processes drive CUDA devices (one GPU per process,
``cuda:LOCAL_RANK``), ``gloo`` on CPU. Without torchrun (no ``WORLD_SIZE`` or
``WORLD_SIZE=1``) no process group is created and every helper is a no-op.

What a run of N processes means (so that metrics are identical in meaning to one process):

* The episode is *global*: with ``ways=16, shots=2`` every optimisation step draws 16
  classes x 2 images in total, and each of the N processes trains on ``16/N`` of the
  classes (``ways`` must be divisible by N). All processes draw the episode from the same
  seeded generator, so one process with the same settings sees exactly the same images per
  step. To grow the batch with the number of GPUs instead, raise ``ways`` (and the lr).
* DDP averages gradients over processes; since every process holds the same number of
  images, that is the gradient of the mean loss over the global episode.
* ReMSE (``in_batch``) sums its per-class error statistics over processes before forming
  the weights, so the weights are those of the global episode, not of one process's slice.
* Logged losses are averaged over processes; images/s counts all processes; evaluation
  shards the images over processes and gathers the predictions, so metrics are computed on
  the full split.

Launching
---------
One machine, N processes (CPU: gloo; GPUs: nccl, one GPU per process)::

    torchrun --standalone --nproc_per_node=N -m zslkit train --model attention_net ...

Several machines (here 2 nodes x 4 GPUs). Run the same command on every node, changing
only ``--node_rank``; ``HOST0`` is an address of node 0 that every node can reach::

    torchrun --nnodes=2 --nproc_per_node=4 --node_rank=0 \\
        --master_addr=HOST0 --master_port=29500 -m zslkit train --model attention_net ...
    torchrun --nnodes=2 --nproc_per_node=4 --node_rank=1 \\
        --master_addr=HOST0 --master_port=29500 -m zslkit train --model attention_net ...

or, with elastic rendezvous (the same command on every node, no node ranks)::

    torchrun --nnodes=2 --nproc_per_node=4 --rdzv_backend=c10d \\
        --rdzv_endpoint=HOST0:29500 --rdzv_id=my_job -m zslkit train --model attention_net ...

Multi-node notes:

* Every node needs the code, the same zslkit/torch versions and the training data at the
  same path (each process reads its own images or feature maps).
* Only global rank 0 writes the run directory (checkpoints, logs, metrics). On resume,
  rank 0 reads the checkpoint and broadcasts it to the other processes, so the run
  directory only has to exist on node 0 (a shared filesystem is not required).
* The port (29500 above) must be open between the nodes. If the machines have several
  network interfaces, choose one with ``NCCL_SOCKET_IFNAME=eth0`` (GPU) or
  ``GLOO_SOCKET_IFNAME=eth0`` (CPU); ``NCCL_DEBUG=INFO`` helps when the job hangs at start.
* ``ways`` must be divisible by the total number of processes (nodes x nproc_per_node).
* Exact resume (bit-identical parameters) needs the same number of processes as the run
  that wrote the checkpoint; with a different number the run continues (with a warning)
  but the random streams of data augmentation differ.
* One training call per process is the normal use. A script that trains several times in one
  process should call ``torch.distributed.init_process_group()`` once itself: an existing
  group is reused and left alone, while destroying and re-creating the default group under
  the same torchrun store can hang.
* torchrun sets ``OMP_NUM_THREADS=1`` per process when ``nproc_per_node > 1``; on CPU,
  give each process ``cores / nproc_per_node`` threads via ``OMP_NUM_THREADS``.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import logging
import os
from dataclasses import dataclass
from typing import Any, Iterator

import torch
import torch.distributed as dist

from zslkit.errors import ConfigError

log = logging.getLogger(__name__)

__all__ = ["DistContext", "distributed_context", "init_distributed", "resolve_device", "shutdown_distributed"]

#: Environment variables torchrun sets for every process.
ENV_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"environment variable {name}={raw!r} must be an integer (set by torchrun)") from None
    if value < 0:
        raise ConfigError(f"environment variable {name}={raw!r} must be >= 0")
    return value


def resolve_device(device: str | torch.device = "auto", local_rank: int = 0) -> torch.device:
    """``"auto"`` -> ``cuda:LOCAL_RANK`` if CUDA is available else ``cpu``; otherwise parse ``device``.

    Raises :class:`ConfigError` for an unknown device string or a CUDA device that is absent.
    """
    if isinstance(device, torch.device):
        dev = device
    elif device == "auto":
        return torch.device("cuda", local_rank) if torch.cuda.is_available() else torch.device("cpu")
    else:
        try:
            dev = torch.device(device)
        except (RuntimeError, TypeError):
            raise ConfigError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:K', got {device!r}") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device {str(device)!r} asked for, but CUDA is not available on this machine")
        if dev.index is None:
            dev = torch.device("cuda", local_rank)
        if dev.index >= torch.cuda.device_count():
            raise ConfigError(f"device {str(dev)!r} does not exist: {torch.cuda.device_count()} CUDA device(s)")
    elif dev.type != "cpu":
        raise ConfigError(f"device type {dev.type!r} is not supported; use 'cpu' or 'cuda'")
    return dev


@dataclass(frozen=True)
class DistContext:
    """Where this process stands: rank, world size, device, backend; reductions and broadcasts.

    Every method works (as a no-op or identity) in a single, non-distributed process.
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    backend: str | None = None
    owns_group: bool = False  # True when init_distributed created the process group

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Global rank 0: the only process that writes files and shows progress bars."""
        return self.rank == 0

    def barrier(self) -> None:
        if self.is_distributed:
            if self.backend == "nccl":
                dist.barrier(device_ids=[self.device.index])
            else:
                dist.barrier()

    def all_reduce_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """Sum ``tensor`` over processes, in place; returns it. Identity when not distributed."""
        if self.is_distributed:
            dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor

    def mean_of(self, values: list[float]) -> list[float]:
        """Average a list of floats over processes (float64 on this process's device)."""
        if not self.is_distributed:
            return list(values)
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        self.all_reduce_sum(t)
        return (t / self.world_size).tolist()

    def sum_of(self, values: list[float]) -> list[float]:
        if not self.is_distributed:
            return list(values)
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        return self.all_reduce_sum(t).tolist()

    def broadcast_object(self, obj: Any, src: int = 0) -> Any:
        """The ``src`` process's ``obj`` on every process (pickled; for small objects and bytes)."""
        if not self.is_distributed:
            return obj
        box = [obj if self.rank == src else None]
        dist.broadcast_object_list(box, src=src, device=self._object_device())
        return box[0]

    def all_gather_object(self, obj: Any) -> list[Any]:
        """One entry per process, in rank order."""
        if not self.is_distributed:
            return [obj]
        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out

    def gather_rows(self, tensor: torch.Tensor) -> torch.Tensor:
        """Concatenate each process's rows (R_k x ...) in rank order, on every process.

        Row counts may differ between processes (they are padded for the collective).
        """
        if not self.is_distributed:
            return tensor
        local = tensor.to(self.device).contiguous()
        n = torch.tensor([local.shape[0]], dtype=torch.int64, device=self.device)
        counts = [torch.zeros_like(n) for _ in range(self.world_size)]
        dist.all_gather(counts, n)
        sizes = [int(c.item()) for c in counts]
        biggest = max(sizes)
        pad = local.new_zeros((biggest - local.shape[0], *local.shape[1:]))
        padded = torch.cat([local, pad]) if biggest > local.shape[0] else local
        parts = [torch.empty_like(padded) for _ in range(self.world_size)]
        dist.all_gather(parts, padded)
        return torch.cat([p[:s] for p, s in zip(parts, sizes)]).to(tensor.device)

    def _object_device(self) -> torch.device | None:
        return self.device if self.backend == "nccl" else None

    def describe(self) -> dict[str, Any]:
        return {"rank": self.rank, "world_size": self.world_size, "local_rank": self.local_rank,
                "device": str(self.device), "backend": self.backend}


def init_distributed(device: str | torch.device = "auto", backend: str | None = None,
                     timeout_s: float = 1800.0) -> DistContext:
    """Join the process group torchrun describes in the environment, or run single-process.

    Args:
        device: "auto" (``cuda:LOCAL_RANK`` when CUDA is available, else cpu), "cpu",
            "cuda" (= ``cuda:LOCAL_RANK``) or "cuda:K".
        backend: "nccl" / "gloo"; None picks nccl for CUDA devices and gloo for cpu.
        timeout_s: collective-operation timeout (evaluation of a large split on rank 0
            must finish within it).

    Returns a :class:`DistContext`. If a default process group already exists (e.g. the
    caller created it), it is reused and left for the caller to destroy.
    """
    world_size = _env_int("WORLD_SIZE", 1)
    rank = _env_int("RANK", 0)
    local_rank = _env_int("LOCAL_RANK", 0)
    if world_size > 1 and rank >= world_size:
        raise ConfigError(f"environment variable RANK={rank} must be < WORLD_SIZE={world_size}")
    dev = resolve_device(device, local_rank)
    if world_size <= 1:
        return DistContext(rank=0, world_size=1, local_rank=0, device=dev, backend=None)
    if not dist.is_available():
        raise ConfigError("WORLD_SIZE > 1 but this torch build has no torch.distributed support")
    if backend is None:
        backend = "nccl" if dev.type == "cuda" else "gloo"
    if backend not in ("nccl", "gloo"):
        raise ConfigError(f"distributed backend must be 'nccl' or 'gloo', got {backend!r}")
    if backend == "nccl" and dev.type != "cuda":
        raise ConfigError(f"backend 'nccl' needs CUDA devices, but device is {str(dev)!r}; use gloo on CPU")
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    owns = False
    if not dist.is_initialized():
        for name in ("MASTER_ADDR", "MASTER_PORT"):
            if not os.environ.get(name):
                raise ConfigError(f"WORLD_SIZE={world_size} but environment variable {name} is not set; "
                                  f"launch with torchrun (see zslkit.training.distributed)")
        kwargs: dict[str, Any] = {}
        if backend == "nccl":
            kwargs["device_id"] = dev
        dist.init_process_group(backend=backend, init_method="env://", world_size=world_size, rank=rank,
                                timeout=datetime.timedelta(seconds=timeout_s), **kwargs)
        owns = True
    else:
        backend = dist.get_backend()
        if dist.get_world_size() != world_size or dist.get_rank() != rank:
            raise ConfigError(f"existing process group (rank {dist.get_rank()} of {dist.get_world_size()}) does "
                              f"not match RANK={rank}, WORLD_SIZE={world_size}")
    log.debug("joined process group: rank %d/%d (local %d), %s, %s", rank, world_size, local_rank, dev, backend)
    return DistContext(rank=rank, world_size=world_size, local_rank=local_rank, device=dev, backend=backend,
                       owns_group=owns)


def shutdown_distributed(ctx: DistContext) -> None:
    """Destroy the process group if :func:`init_distributed` created it."""
    if ctx.owns_group and dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


@contextlib.contextmanager
def distributed_context(device: str | torch.device = "auto", backend: str | None = None,
                        timeout_s: float = 1800.0) -> Iterator[DistContext]:
    """``with distributed_context() as ctx:`` -- :func:`init_distributed`, then shut down on exit."""
    ctx = init_distributed(device=device, backend=backend, timeout_s=timeout_s)
    try:
        yield ctx
    finally:
        shutdown_distributed(ctx)


def broadcast_file_bytes(ctx: DistContext, path: str | os.PathLike | None) -> io.BytesIO | None:
    """Rank 0 reads ``path`` and sends its bytes to every process (no shared filesystem needed).

    Returns a BytesIO on every process, or None on every process when ``path`` is None on rank 0.
    """
    data = None
    if ctx.is_main and path is not None:
        with open(path, "rb") as fh:
            data = fh.read()
    data = ctx.broadcast_object(data)
    return None if data is None else io.BytesIO(data)
