"""Batch samplers for the training loop: episodic (N ways x K shots) and plain random batches.

Both are *batch samplers*: iterating yields one list of dataset indices per optimisation
step, and both work unchanged in one process or in a distributed run:

* Every epoch is drawn from its own generator, ``numpy.random.default_rng([seed, epoch])``,
  so the sampler's whole random state is ``(seed, epoch)``: resuming at epoch e reproduces
  the batches of an uninterrupted run exactly, without storing a generator state.
* The *global* batch is drawn identically on every process (same seed); process ``rank`` of
  ``num_replicas`` keeps its own contiguous slice of it. One process with the same settings
  therefore sees exactly the images that N processes see together, step for step.

:class:`EpisodeSampler` is ReZSL's episodic sampler (the authors' ``CategoriesSampler`` /
``DCategoriesSampler``): each episode draws ``ways`` distinct classes, then ``shots``
distinct images of each (official setting 16 x 2, 300 episodes per epoch). Differences
from the authors' code, by design: ``ways`` counts the classes of the *global* episode and
is split across processes (theirs draws ``ways x replicas`` classes, so the global batch
grows with the number of GPUs), and a class with fewer than ``shots`` images is sampled
with replacement instead of raising.
"""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from zslkit.errors import ConfigError, ZSLDataError

__all__ = ["EpisodeSampler", "RandomBatchSampler", "build_sampler"]


def _check_pos_int(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_replicas(num_replicas: Any, rank: Any) -> tuple[int, int]:
    num_replicas = _check_pos_int("num_replicas", num_replicas)
    rank = _check_pos_int("rank", rank, minimum=0)
    if rank >= num_replicas:
        raise ConfigError(f"rank must be in [0, num_replicas={num_replicas}), got {rank}")
    return num_replicas, rank


class _EpochSeeded:
    """Shared state handling: (seed, epoch) is the whole random state."""

    seed: int
    epoch: int
    kind: str

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose batches the next iteration yields (0-based)."""
        self.epoch = _check_pos_int("epoch", epoch, minimum=0)

    def _rng(self) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch])

    def state_dict(self) -> dict[str, Any]:
        """Plain types only (loadable with ``torch.load(weights_only=True)``)."""
        return {"kind": self.kind, "seed": self.seed, "epoch": self.epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("kind") != self.kind:
            raise ConfigError(f"sampler state is for a {state.get('kind')!r} sampler, this one is {self.kind!r}")
        if int(state["seed"]) != self.seed:
            raise ConfigError(f"sampler state has seed {state['seed']}, this sampler has seed {self.seed}")
        self.set_epoch(int(state["epoch"]))


class EpisodeSampler(_EpochSeeded):
    """Episodes of ``ways`` classes x ``shots`` images; this process's slice of each.

    Args:
        labels: (N,) class id of every candidate image, aligned with ``indices``.
        indices: (N,) dataset indices the labels belong to (default ``arange(N)``); the
            sampler yields these.
        ways: classes per global episode (16 in ReZSL); divisible by ``num_replicas``.
        shots: images per class (2 in ReZSL).
        episodes_per_epoch: episodes (= steps) per epoch; None means
            ``max(1, N // (ways * shots))``, about one pass over the images (ReZSL's
            configs use 300).
        seed: seed of every draw.
        num_replicas, rank: number of processes and this process's rank.

    Yields lists of ``ways / num_replicas * shots`` indices, class by class (the ``shots``
    images of a class are adjacent).
    """

    kind = "episode"

    def __init__(self, labels: np.ndarray, ways: int = 16, shots: int = 2, episodes_per_epoch: int | None = None,
                 seed: int = 0, num_replicas: int = 1, rank: int = 0, indices: np.ndarray | None = None):
        labels = np.asarray(labels)
        if labels.ndim != 1 or labels.size == 0:
            raise ZSLDataError(f"labels must be a non-empty 1-D array of class ids, got shape {labels.shape}")
        if not np.issubdtype(labels.dtype, np.integer):
            raise ZSLDataError(f"labels must hold integer class ids, got dtype {labels.dtype}")
        indices = np.arange(labels.size) if indices is None else np.asarray(indices, dtype=np.int64)
        if indices.shape != labels.shape:
            raise ZSLDataError(f"indices must have the shape of labels {labels.shape}, got {indices.shape}")
        self.ways = _check_pos_int("ways", ways)
        self.shots = _check_pos_int("shots", shots)
        self.seed = _check_pos_int("seed", seed, minimum=0)
        self.num_replicas, self.rank = _check_replicas(num_replicas, rank)
        self.classes = np.unique(labels)
        if self.ways > self.classes.size:
            raise ConfigError(f"ways={self.ways} exceeds the number of training classes ({self.classes.size})")
        if self.ways % self.num_replicas:
            raise ConfigError(f"ways={self.ways} must be divisible by the number of processes ({self.num_replicas}): "
                              f"each process trains on ways / processes classes of every episode")
        self.class_indices = [indices[labels == c] for c in self.classes]
        if episodes_per_epoch is None:
            episodes_per_epoch = max(1, labels.size // (self.ways * self.shots))
        self.episodes_per_epoch = _check_pos_int("episodes_per_epoch", episodes_per_epoch)
        self.epoch = 0

    @property
    def local_ways(self) -> int:
        return self.ways // self.num_replicas

    @property
    def batch_size(self) -> int:
        """Images per step on this process."""
        return self.local_ways * self.shots

    @property
    def global_batch_size(self) -> int:
        return self.ways * self.shots

    def __len__(self) -> int:
        return self.episodes_per_epoch

    def episode(self, rng: np.random.Generator) -> list[np.ndarray]:
        """One global episode: ``ways`` arrays of ``shots`` dataset indices (consumes rng)."""
        chosen = rng.choice(self.classes.size, size=self.ways, replace=False)
        out = []
        for c in chosen:
            pool = self.class_indices[c]
            out.append(rng.choice(pool, size=self.shots, replace=pool.size < self.shots))
        return out

    def __iter__(self) -> Iterator[list[int]]:
        rng = self._rng()
        lo = self.rank * self.local_ways
        for _ in range(self.episodes_per_epoch):
            ep = self.episode(rng)
            yield np.concatenate(ep[lo:lo + self.local_ways]).tolist()

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state.update({"ways": self.ways, "shots": self.shots, "episodes_per_epoch": self.episodes_per_epoch,
                      "num_replicas": self.num_replicas})
        return state


class RandomBatchSampler(_EpochSeeded):
    """Shuffled batches of ``batch_size`` images (global), split evenly across processes.

    Args:
        indices: (N,) dataset indices to draw from.
        batch_size: images per global step; divisible by ``num_replicas``.
        drop_last: drop the final incomplete batch (default True, so that every step has
            the same size on every process and the mean loss means the same everywhere).
        seed, num_replicas, rank: as in :class:`EpisodeSampler`.
    """

    kind = "random"

    def __init__(self, indices: np.ndarray, batch_size: int = 32, drop_last: bool = True, seed: int = 0,
                 num_replicas: int = 1, rank: int = 0):
        self.indices = np.asarray(indices, dtype=np.int64).ravel()
        if self.indices.size == 0:
            raise ZSLDataError("no training images to sample from (indices is empty)")
        self.batch_size_global = _check_pos_int("batch_size", batch_size)
        self.seed = _check_pos_int("seed", seed, minimum=0)
        self.num_replicas, self.rank = _check_replicas(num_replicas, rank)
        if self.batch_size_global % self.num_replicas:
            raise ConfigError(f"batch_size={batch_size} must be divisible by the number of processes "
                              f"({self.num_replicas})")
        self.drop_last = bool(drop_last)
        if self.drop_last and self.indices.size < self.batch_size_global:
            raise ConfigError(f"batch_size={batch_size} exceeds the {self.indices.size} training images "
                              f"(with drop_last every batch would be dropped)")
        self.epoch = 0

    @property
    def batch_size(self) -> int:
        return self.batch_size_global // self.num_replicas

    @property
    def global_batch_size(self) -> int:
        return self.batch_size_global

    def __len__(self) -> int:
        n, b = self.indices.size, self.batch_size_global
        return n // b if self.drop_last else -(-n // b)

    def __iter__(self) -> Iterator[list[int]]:
        perm = self.indices[self._rng().permutation(self.indices.size)]
        b = self.batch_size_global
        for step in range(len(self)):
            batch = perm[step * b:(step + 1) * b]
            # An incomplete last batch (drop_last=False) is split as evenly as possible.
            yield np.array_split(batch, self.num_replicas)[self.rank].tolist()

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state.update({"batch_size": self.batch_size_global, "drop_last": self.drop_last,
                      "num_replicas": self.num_replicas})
        return state


def build_sampler(kind: str, labels: np.ndarray, indices: np.ndarray, *, ways: int = 16, shots: int = 2,
                  episodes_per_epoch: int | None = None, batch_size: int = 32, seed: int = 0,
                  num_replicas: int = 1, rank: int = 0) -> EpisodeSampler | RandomBatchSampler:
    """``"episode"`` -> :class:`EpisodeSampler`, ``"random"`` -> :class:`RandomBatchSampler`."""
    if kind == "episode":
        return EpisodeSampler(labels, ways=ways, shots=shots, episodes_per_epoch=episodes_per_epoch, seed=seed,
                              num_replicas=num_replicas, rank=rank, indices=indices)
    if kind == "random":
        return RandomBatchSampler(indices, batch_size=batch_size, seed=seed, num_replicas=num_replicas, rank=rank)
    raise ConfigError(f"unknown sampler {kind!r}; choose 'episode' or 'random'")
