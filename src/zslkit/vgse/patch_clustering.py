r"""VGSE's Patch Clustering (PC) module: clustering layer H, heads Q and S, objective, trainer.

Model (Xu et al., CVPR 2022; ``docs/METHODS.md``). For a patch feature :math:`f = \theta(x_{nt})`
(D_f, z-scored per dimension with the training features' statistics, so that the clustering
depends neither on the feature scale nor on the large common component of ReLU features):

* clustering layer :math:`a_{nt} = \mathrm{softmax}(H(f) / \tau)` in the D_v-simplex; H is
  linear (``hidden = 0``) or a one-hidden-layer MLP;
* cluster-to-class head :math:`Q: R^{D_v} \to R^{|Y^s|}` (linear), trained with the
  cross-entropy :math:`L_{cls} = -\log \mathrm{softmax}(Q a_{nt})_{y_n}` (the usual CE on
  the logits; the paper's formula writes a softmax of probabilities, which we read as this);
* cluster-to-semantic head :math:`S: R^{D_v} \to R^{D_w}` (linear), regressing the L2-normalised
  class word vector: :math:`L_{sem} = \| S a_{nt} - \bar\phi^w(y_n) \|_2^2` (squared, for a
  smooth gradient; mean over the batch);
* clustering objective (*choice*, the paper gives none; SCAN, Van Gansbeke et al. 2020):
  consistency with a nearest neighbour :math:`j` of the patch in backbone-feature space,
  :math:`L_{cons} = -\log \langle a_i, a_j \rangle`, plus an entropy term on the mean
  assignment of the batch :math:`\bar a`, :math:`L_{ent} = \sum_k \bar a_k \log \bar a_k`
  (= minus its entropy), which stops all patches from collapsing into a few clusters.
  Neighbours are the ``k`` most cosine-similar patches of *other* images (patches of the same
  image overlap and would make the consistency trivial); one of the ``k`` is drawn per step.

Total: :math:`L = w_{cls} L_{cls} + w_{sem} L_{sem} + w_{cons} L_{cons} + w_{ent} L_{ent}`
(defaults 1, 1, 1, 2). Image embedding :math:`a_n = \frac1{N_t}\sum_t a_{nt}`; class embedding
= mean of :math:`a_n` over the class's images (:func:`class_means`).

Training (:func:`train_patch_clustering`) runs on cached features (``encoder=None``) or end
to end through the backbone (an ``encoder`` mapping flat patch indices to features with
gradients). It checkpoints after every epoch (state dicts of the module, the optimiser,
the backbone when trained, torch's global RNG and the trainer's generator, history) with
``torch.save`` into a temporary file renamed into place, and resumes from the newest
checkpoint with ``torch.load(weights_only=True)``; the resumed run is bit-for-bit the
uninterrupted one (same batches, same neighbour draws, same optimiser state).
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from zslkit.errors import CheckpointError, ConfigError, ZSLDataError
from zslkit.utils.outputs import atomic_path, remove_output

log = logging.getLogger(__name__)

CKPT_RE = re.compile(r"^pc_epoch_(\d{4,})\.pt$")


@dataclass
class PCConfig:
    """Hyperparameters of the PC module and its training (defaults are *choices*)."""

    n_clusters: int = 150  # D_v
    hidden: int = 0  # 0: H is linear; else width of one hidden ReLU layer
    temperature: float = 1.0  # tau of the cluster softmax
    w_cls: float = 1.0
    w_sem: float = 1.0
    w_cons: float = 1.0
    w_ent: float = 2.0
    k_neighbours: int = 10
    epochs: int = 20
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-4
    backbone_lr: float = 1e-4  # end-to-end only
    seed: int = 0
    keep_checkpoints: int = 2

    def validate(self) -> "PCConfig":
        if self.n_clusters < 2:
            raise ConfigError(f"n_clusters (D_v) must be >= 2, got {self.n_clusters}")
        for k in ("epochs", "batch_size", "k_neighbours", "keep_checkpoints"):
            if int(getattr(self, k)) < 1:
                raise ConfigError(f"{k} must be >= 1, got {getattr(self, k)}")
        if self.hidden < 0:
            raise ConfigError(f"hidden must be >= 0, got {self.hidden}")
        for k in ("w_cls", "w_sem", "w_cons", "w_ent", "weight_decay"):
            if float(getattr(self, k)) < 0:
                raise ConfigError(f"loss weight {k} must be >= 0, got {getattr(self, k)}")
        for k in ("temperature", "lr", "backbone_lr"):
            if not float(getattr(self, k)) > 0:
                raise ConfigError(f"{k} must be > 0, got {getattr(self, k)}")
        return self


class PatchClustering(nn.Module):
    """H, Q and S of VGSE's PC module.

    ``forward(f)`` with ``f`` (B, D_f) returns ``(a, logits, sem)``: assignments (B, D_v)
    on the simplex, class logits (B, |Y^s|) and predicted word vectors (B, D_w).
    """

    def __init__(self, in_dim: int, n_clusters: int, n_classes: int, sem_dim: int, hidden: int = 0,
                 temperature: float = 1.0):
        super().__init__()
        # z-scoring statistics of the input features (set by set_feature_stats; identity until then)
        self.register_buffer("feat_mean", torch.zeros(in_dim))
        self.register_buffer("feat_std", torch.ones(in_dim))
        self.H = nn.Linear(in_dim, n_clusters) if hidden == 0 else nn.Sequential(
            nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, n_clusters))
        self.Q = nn.Linear(n_clusters, n_classes)
        self.S = nn.Linear(n_clusters, sem_dim)
        self.temperature = float(temperature)

    @torch.no_grad()
    def set_feature_stats(self, features: torch.Tensor) -> None:
        """Per-dimension mean and std of the training features (P, D_f), for z-scoring."""
        self.feat_mean.copy_(features.mean(dim=0))
        self.feat_std.copy_(features.std(dim=0).clamp_min(1e-6))

    def assign(self, f: torch.Tensor) -> torch.Tensor:
        """Cluster probabilities a = softmax(H((f - mean) / std) / tau), (B, D_v)."""
        return torch.softmax(self.H((f - self.feat_mean) / self.feat_std) / self.temperature, dim=1)

    def forward(self, f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        a = self.assign(f)
        return a, self.Q(a), self.S(a)


def pc_losses(a: torch.Tensor, logits: torch.Tensor, sem: torch.Tensor, a_nb: torch.Tensor, y: torch.Tensor,
              w2v: torch.Tensor, cfg: PCConfig) -> dict[str, torch.Tensor]:
    """The four terms and their weighted sum (module docstring).

    Args:
        a, logits, sem: outputs for the batch's patches (B, D_v), (B, C_s), (B, D_w).
        a_nb: assignments of one neighbour per patch (B, D_v).
        y: (B,) seen-class index (0..C_s-1) of each patch's image.
        w2v: (C_s, D_w) L2-normalised seen-class word vectors.
    """
    eps = 1e-8
    cls = F.cross_entropy(logits, y)
    sem_l = ((sem - w2v[y]) ** 2).sum(dim=1).mean()
    cons = -torch.log((a * a_nb).sum(dim=1).clamp_min(eps)).mean()
    mean_a = a.mean(dim=0)
    ent = (mean_a * torch.log(mean_a.clamp_min(eps))).sum()
    total = cfg.w_cls * cls + cfg.w_sem * sem_l + cfg.w_cons * cons + cfg.w_ent * ent
    return {"loss": total, "cls": cls, "sem": sem_l, "cons": cons, "ent": ent}


def mine_neighbours(features: torch.Tensor, image_ids: torch.Tensor, k: int, max_block: int = 50_000_000,
                    candidates: torch.Tensor | None = None) -> torch.Tensor:
    """Indices (P, k) of each patch's ``k`` most cosine-similar patches of other images.

    Exact search in blocks of rows so that a block's similarity matrix holds at most
    ``max_block`` entries. Ties are broken by torch.topk (deterministic on CPU).

    Args:
        features: (P, D) patch features; image_ids: (P,) image of each patch.
        candidates: optional (M,) patch indices to search among (exact within them, O(P M D)
            instead of O(P^2 D)); the returned indices are still indices into ``features``.
    """
    p = features.shape[0]
    cand = torch.arange(p) if candidates is None else torch.as_tensor(candidates, dtype=torch.int64)
    cand_img = image_ids[cand]
    other = int(cand.numel() - torch.bincount(cand_img).max()) if cand.numel() else 0
    if other < 1:
        raise ZSLDataError("nearest neighbours need patches from at least two images")
    k = min(int(k), other)
    fn = F.normalize(features.float(), dim=1)
    fc = fn[cand]
    rows = max(1, max_block // max(cand.numel(), 1))
    out = torch.empty((p, k), dtype=torch.int64)
    for s in range(0, p, rows):
        sim = fn[s:s + rows] @ fc.T
        sim.masked_fill_(image_ids[s:s + rows, None] == cand_img[None, :], float("-inf"))
        out[s:s + rows] = cand[sim.topk(k, dim=1).indices]
    return out


@torch.no_grad()
def assign_patches(model: PatchClustering, features: torch.Tensor | np.ndarray, batch: int = 8192) -> np.ndarray:
    """Cluster assignments of every row of ``features`` (P, D_f) -> (P, D_v) float32."""
    model.eval()
    out = []
    for s in range(0, features.shape[0], batch):
        f = torch.as_tensor(np.asarray(features[s:s + batch], dtype=np.float32))
        out.append(model.assign(f).numpy())
    return np.concatenate(out) if out else np.zeros((0, model.Q.in_features), np.float32)


def class_means(image_emb: np.ndarray, labels: np.ndarray, classes: np.ndarray, names: list[str] | None = None,
                ) -> np.ndarray:
    """(len(classes), D) mean image embedding of each class in ``classes``.

    Raises:
        ZSLDataError: a class has no (readable) image.
    """
    out = np.zeros((len(classes), image_emb.shape[1]), dtype=np.float64)
    for r, c in enumerate(classes):
        m = labels == c
        if not m.any():
            name = names[c] if names is not None else str(c)
            raise ZSLDataError(f"class {name!r} has no readable image: cannot compute its VGSE embedding")
        out[r] = image_emb[m].mean(axis=0)
    return out.astype(np.float32)


# --------------------------------------------------------------------------- checkpoints

def checkpoint_files(directory: Path) -> list[tuple[int, Path]]:
    """``(epoch, path)`` of the PC checkpoints in ``directory``, oldest first."""
    if not directory.is_dir():
        return []
    found = [(int(m.group(1)), directory / f) for f in (p.name for p in directory.iterdir())
             if (m := CKPT_RE.match(f))]
    return sorted(found)


def save_checkpoint(path: Path, payload: dict[str, Any]) -> Path:
    """``torch.save(payload)`` atomically (temporary file beside ``path``, then rename)."""
    with atomic_path(path, suffix=".pt") as tmp:
        torch.save(payload, tmp)
    return path


def load_checkpoint(path: Path) -> dict[str, Any]:
    """``torch.load(path, weights_only=True)`` with a clear error for a foreign/damaged file."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types here
        raise CheckpointError(f"{path}: unreadable checkpoint ({type(exc).__name__}: {exc})") from exc


# --------------------------------------------------------------------------- training

@dataclass
class PCTrainResult:
    model: PatchClustering
    history: list[dict[str, float]]
    resumed_from_epoch: int
    seconds: float


def train_patch_clustering(features: torch.Tensor, labels: torch.Tensor,
                           class_w2v: torch.Tensor, neighbours: torch.Tensor, cfg: PCConfig,
                           checkpoint_dir: str | Path | None = None, fingerprint: str = "",
                           encoder: Callable[[torch.Tensor], torch.Tensor] | None = None,
                           encoder_module: nn.Module | None = None, progress: bool = True,
                           on_epoch: Callable[[int, dict[str, float]], None] | None = None) -> PCTrainResult:
    """Train the PC module (module docstring) and return it with its per-epoch history.

    Args:
        features: (P, D_f) cached patch features (row = one patch; P = images * N_t).
        labels: (P,) seen-class index 0..C_s-1 of each patch.
        class_w2v: (C_s, D_w) seen-class word vectors (L2-normalised here).
        neighbours: (P, k) from :func:`mine_neighbours`.
        checkpoint_dir: where ``pc_epoch_NNNN.pt`` go; ``None`` disables checkpoints/resume.
        fingerprint: identifies data + config; a checkpoint with another one is refused.
        encoder: end-to-end mode: maps flat patch indices (B,) to features (B, D_f) with
            gradients through ``encoder_module`` (the backbone, trained with ``backbone_lr``).
        on_epoch: called as ``on_epoch(epoch, record)`` after the epoch's checkpoint is saved.
    """
    cfg = cfg.validate()
    # The whole run uses torch's global RNG only inside this fork, seeded from cfg.seed (and
    # restored from a checkpoint on resume): the caller's random state is left untouched.
    from zslkit.utils.outputs import output_dir

    # checkpoints go into a folder zslkit owns (its own, or one of the discovery's output): pruning them
    # never reaches a file zslkit did not write
    with torch.random.fork_rng(devices=[]), (output_dir(checkpoint_dir, "checkpoints")
                                             if checkpoint_dir is not None else contextlib.nullcontext()):
        torch.manual_seed(cfg.seed)
        return _train(features, labels, class_w2v, neighbours, cfg, checkpoint_dir, fingerprint, encoder,
                      encoder_module, progress, on_epoch)


def _train(features, labels, class_w2v, neighbours, cfg, checkpoint_dir, fingerprint, encoder, encoder_module,
           progress, on_epoch) -> PCTrainResult:
    from zslkit.utils.progress import progress_bar

    p, d_f = features.shape
    n_classes = int(class_w2v.shape[0])
    w2v = F.normalize(class_w2v.float(), dim=1)
    model = PatchClustering(d_f, cfg.n_clusters, n_classes, w2v.shape[1], cfg.hidden, cfg.temperature)
    model.set_feature_stats(features)
    params = [{"params": model.parameters(), "lr": cfg.lr}]
    if encoder_module is not None:
        params.append({"params": encoder_module.parameters(), "lr": cfg.backbone_lr})
    opt = torch.optim.Adam(params, weight_decay=cfg.weight_decay)
    gen = torch.Generator().manual_seed(cfg.seed)
    history: list[dict[str, float]] = []
    start = 0
    ckpt_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
    if ckpt_dir is not None:
        ckpts = checkpoint_files(ckpt_dir)
        if ckpts:
            epoch, path = ckpts[-1]
            state = load_checkpoint(path)
            if state.get("fingerprint") != fingerprint:
                raise CheckpointError(f"{path}: checkpoint belongs to another configuration or dataset "
                                      f"(fingerprint {str(state.get('fingerprint'))[:12]} != {fingerprint[:12]}); "
                                      "use a new output folder or delete the checkpoints")
            if int(state["epoch"]) > cfg.epochs:
                raise CheckpointError(f"{path}: checkpoint is at epoch {state['epoch']} but only {cfg.epochs} epochs "
                                      "were asked for; use a new output folder (or ask for at least as many epochs)")
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            if encoder_module is not None:
                if state.get("backbone") is None:
                    raise CheckpointError(f"{path}: end-to-end run but the checkpoint has no backbone state")
                encoder_module.load_state_dict(state["backbone"])
            gen.set_state(state["generator"])
            torch.set_rng_state(state["torch_rng"])
            history = list(state["history"])
            start = int(state["epoch"])
            log.info("resuming patch clustering from %s (epoch %d of %d)", path, start, cfg.epochs)
    t0 = time.perf_counter()
    for epoch in range(start, cfg.epochs):
        te = time.perf_counter()
        model.train()
        if encoder_module is not None:
            encoder_module.train()
        order = torch.randperm(p, generator=gen)
        sums = {"loss": 0.0, "cls": 0.0, "sem": 0.0, "cons": 0.0, "ent": 0.0}
        steps = 0
        bar = progress_bar(range(0, p, cfg.batch_size), disable=not progress,
                           desc=f"PC epoch {epoch + 1}/{cfg.epochs}", leave=False)
        for s in bar:
            idx = order[s:s + cfg.batch_size]
            pick = torch.randint(0, neighbours.shape[1], (idx.numel(),), generator=gen)
            nb = neighbours[idx, pick]
            if encoder is None:
                f, f_nb = features[idx], features[nb]
            else:
                both = encoder(torch.cat([idx, nb]))
                f, f_nb = both[: idx.numel()], both[idx.numel():]
            a, logits, sem = model(f)
            a_nb = model.assign(f_nb)
            terms = pc_losses(a, logits, sem, a_nb, labels[idx], w2v, cfg)
            opt.zero_grad(set_to_none=True)
            terms["loss"].backward()
            opt.step()
            for k in sums:
                sums[k] += float(terms[k].detach())
            steps += 1
        record = {k: v / max(steps, 1) for k, v in sums.items()}
        record.update(epoch=epoch + 1, seconds=time.perf_counter() - te)
        history.append(record)
        log.info("PC epoch %d/%d: loss %.4f (cls %.3f sem %.3f cons %.3f ent %.3f)", epoch + 1, cfg.epochs,
                 record["loss"], record["cls"], record["sem"], record["cons"], record["ent"])
        if ckpt_dir is not None:
            payload = {"format": "zslkit-vgse-pc-v1", "epoch": epoch + 1, "fingerprint": fingerprint,
                       "config": asdict(cfg), "model": model.state_dict(), "optimizer": opt.state_dict(),
                       "backbone": None if encoder_module is None else encoder_module.state_dict(),
                       "generator": gen.get_state(), "torch_rng": torch.get_rng_state(), "history": history}
            save_checkpoint(ckpt_dir / f"pc_epoch_{epoch + 1:04d}.pt", payload)
            for _, old in checkpoint_files(ckpt_dir)[: -cfg.keep_checkpoints]:
                remove_output(old)  # only a checkpoint zslkit wrote
        if on_epoch is not None:
            on_epoch(epoch + 1, record)
    model.eval()
    if encoder_module is not None:
        encoder_module.eval()
    return PCTrainResult(model, history, start, time.perf_counter() - t0)




def cluster_usage(assign: np.ndarray) -> dict[str, float]:
    """Diagnostics of an (P, D_v) assignment: clusters used by argmax, perplexity of the mean."""
    hard = np.bincount(assign.argmax(1), minlength=assign.shape[1])
    mean = assign.mean(0)
    ent = float(-(mean * np.log(np.clip(mean, 1e-12, None))).sum())
    return {"clusters_used": int((hard > 0).sum()), "n_clusters": int(assign.shape[1]),
            "mean_assignment_perplexity": float(math.exp(ent)), "mean_max_prob": float(assign.max(1).mean())}
