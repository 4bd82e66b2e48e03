"""VGSE discovery end to end: images -> patches -> features -> clusters -> class embeddings.

:func:`discover` takes a folder of seen-class images (one folder per class, or a
``res101.mat`` image list), the list of all class names, the list of unseen classes and a
word-vector file, and writes a class-embedding matrix for seen *and* unseen classes that
every model of the toolkit can use (``VGSE_SMO.mat`` in the authors' layout, ``.npy``,
``.csv``). Stages, each timed (``DiscoveryResult.timings``):

1. ``inputs``: class lists, class word vectors (:mod:`zslkit.embeddings.word_vectors`).
2. ``images``: the seen-class images (:mod:`zslkit.data.images`).
3. ``backbone``: a torchvision ResNet with local weights, or the ``tiny`` CNN (seeded, and
   briefly trained on seen classes with cross-entropy when ``tiny_pretrain_epochs > 0``;
   its weights are saved and reused on a rerun).
4. ``features``: patch features in a resumable memory-mapped cache
   (:mod:`zslkit.vgse.feature_cache`).
5. ``neighbours``: k nearest patches of other images (for the clustering objective).
6. ``clustering``: the PC module, checkpointed every epoch, resumed exactly
   (:mod:`zslkit.vgse.patch_clustering`).
7. ``embeddings``: per-patch assignments, image embeddings (mean over patches), seen-class
   embeddings (mean over images).
8. ``relation``: unseen-class embeddings ``R @ seen`` with R from word vectors
   (:mod:`zslkit.vgse.class_relation`, SMO by default, WAvg option).
9. ``export`` (+ ``plots``): embedding files, assignments, montage and t-SNE figures,
   ``metadata.json`` (config, timings, unreadable images, cluster usage, training history).

A run killed at any point and started again with the same config resumes: finished feature
batches and epochs are not recomputed, and the result equals that of an uninterrupted run.

:func:`discover_demo` runs the same pipeline on the synthetic image world
(:mod:`zslkit.data.synthetic_world`) with the tiny backbone: no files or weights needed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch

from zslkit.data.images import (
    BadImages,
    ImageList,
    ImageReadError,
    image_list_from_res101,
    scan_image_folder,
)
from zslkit.data.patches import PatchExtractor, PatchSpec
from zslkit.data.xlsa17 import read_class_list
from zslkit.errors import ConfigError, ZSLDataError
from zslkit.utils.outputs import atomic_path, atomic_write_json, atomic_write_text
from zslkit.utils.threads import torch_threads
from zslkit.vgse.backbone import (
    BACKBONES,
    build_backbone,
    pretrain_tiny,
    save_backbone,
    state_fingerprint,
)
from zslkit.vgse.export import export_embeddings, write_embedding_npy
from zslkit.vgse.feature_cache import extract_features, image_list_fingerprint
from zslkit.vgse.patch_clustering import (
    PCConfig,
    assign_patches,
    class_means,
    cluster_usage,
    mine_neighbours,
    train_patch_clustering,
)

log = logging.getLogger(__name__)

RELATIONS = ("smo", "wavg")


@dataclass
class DiscoverConfig:
    """Everything :func:`discover` needs (maps 1:1 onto ``config.json`` in the output folder).

    Inputs:
        images: folder of seen-class images, one sub-folder per class (CUB/AWA2/SUN layouts),
            or, with ``res101``, the root the ``image_files`` are relative to.
        classes: text file, all class names (seen and unseen), one a line.
        unseen: text file, the unseen class names (a subset of ``classes``).
        word_vectors: word2vec (text/binary) or GloVe file with the class-name words, or
            ``"wordllama"`` (:mod:`zslkit.embeddings.text_models`, the ``text`` extra).
        res101: optional ``res101.mat`` whose ``image_files``/``labels`` list the images.
        splits: optional ``att_splits.mat``; with ``res101`` only its ``trainval_loc`` images
            are used (never the test images).
        data: instead of images, an xlsa17 dataset directory (``res101.mat`` or features brought
            with ``zslkit data build --features``): the features of its ``trainval`` images are the
            patches, one per image (N_t = 1; no pixel is read, so there is no backbone), classes and
            unseen classes are the dataset's, and the word vectors its ``word2vec_splits.mat`` unless
            ``word_vectors`` names a file. An extension beyond the paper, which crops patches from
            images: here each image is one "patch".
        out: output folder (also holds the caches and checkpoints used to resume).
    Backbone and patches:
        backbone: resnet50 | resnet101 (| resnet18 | resnet34) with ``weights`` (a local
            torchvision state dict), or ``tiny`` (demo CNN; ``weights`` optional).
        tiny_pretrain_epochs: class-supervised pre-training epochs of the tiny CNN (0 = none).
        patch_grid, overlap, random_crops, patch_size: see :class:`PatchSpec`.
        extract_batch_size: images per feature-extraction batch.
    Patch clustering (see :class:`PCConfig`): n_clusters (D_v), hidden, temperature, w_cls,
        w_sem, w_cons, w_ent, k_neighbours, epochs, batch_size, lr, end_to_end (train the
        backbone too, with backbone_lr). neighbour_candidates: the nearest neighbours of the
        consistency term are searched exactly among at most this many patches drawn with the seed
        (all patches when fewer; None = always all, O(P^2 D) time: hours for AWA2's ~270k patches
        on a CPU).
    Class relation: relation ("smo" | "wavg"), alpha (lower bound of r in SMO), oov ("error":
        a class word missing from the vector file is an error; "skip": the word is dropped).
    Run: seed, device ("cpu" | "cuda"), threads (torch intra-op threads during the run, restored
        afterwards; None = leave torch's setting; 1 is often fastest for the tiny demo models on a
        busy machine), fail_fast (stop at the first unreadable image), plots (montage + t-SNE),
        progress (progress bars).
    """

    images: str | None = None
    classes: str | None = None
    unseen: str | None = None
    word_vectors: str | None = None
    out: str = "vgse-out"
    res101: str | None = None
    splits: str | None = None
    data: str | None = None
    backbone: str = "resnet101"
    weights: str | None = None
    tiny_pretrain_epochs: int = 5
    patch_grid: str = "3x3"
    overlap: float = 0.5
    random_crops: int = 0
    patch_size: int = 224
    extract_batch_size: int = 16
    n_clusters: int = 150
    hidden: int = 0
    temperature: float = 1.0
    w_cls: float = 1.0
    w_sem: float = 1.0
    w_cons: float = 1.0
    w_ent: float = 2.0
    k_neighbours: int = 10
    #: nearest neighbours are searched among at most this many patches drawn with the seed (exact
    #: search among all patches when there are fewer; None = always all: O(P^2) time)
    neighbour_candidates: int | None = 50_000
    epochs: int = 20
    batch_size: int = 256
    lr: float = 1e-3
    end_to_end: bool = False
    backbone_lr: float = 1e-4
    relation: str = "smo"
    alpha: float = 0.0
    oov: str = "error"
    seed: int = 0
    device: str = "cpu"
    threads: int | None = None
    fail_fast: bool = False
    plots: bool = True
    progress: bool = True

    def validate(self) -> "DiscoverConfig":
        from zslkit.config import check_fields

        # types first (a --param or YAML value of the wrong type would fail deep inside the run)
        check_fields(type(self), {f.name: getattr(self, f.name) for f in fields(self)}, "discover")
        if self.data is not None:
            given = [k for k in ("images", "classes", "unseen", "res101", "splits") if getattr(self, k)]
            if given:
                raise ConfigError(f"discover: data (a dataset directory) replaces {', '.join(given)}")
            if self.end_to_end:
                raise ConfigError("discover: end_to_end needs images (a backbone to train); data gives features")
        for k in ("images", "classes", "unseen", "word_vectors") if self.data is None else ():
            if not getattr(self, k):
                raise ConfigError(f"discover: {k} is required (or data: a dataset directory, or use the demo)")
        from zslkit.utils.seed import seed_error

        if seed_error(self.seed):
            raise ConfigError(f"discover: {seed_error(self.seed)}")
        if self.backbone not in BACKBONES:
            raise ConfigError(f"unknown backbone {self.backbone!r}; choose one of {list(BACKBONES)}")
        if self.relation not in RELATIONS:
            raise ConfigError(f"relation must be one of {RELATIONS}, got {self.relation!r}")
        if self.oov not in ("error", "skip"):
            raise ConfigError(f"oov must be 'error' or 'skip', got {self.oov!r}")
        if self.splits and not self.res101:
            raise ConfigError("splits (att_splits.mat) is only used together with res101")
        if self.extract_batch_size < 1:
            raise ConfigError(f"extract_batch_size must be >= 1, got {self.extract_batch_size}")
        if self.threads is not None and self.threads < 1:
            raise ConfigError(f"threads must be >= 1 or None, got {self.threads}")
        if self.tiny_pretrain_epochs < 0:
            raise ConfigError(f"tiny_pretrain_epochs must be >= 0, got {self.tiny_pretrain_epochs}")
        if self.neighbour_candidates is not None and self.neighbour_candidates < 2:
            raise ConfigError(f"neighbour_candidates must be >= 2 or None, got {self.neighbour_candidates}")
        self.patch_spec()
        self.pc_config().validate()
        return self

    def patch_spec(self) -> PatchSpec:
        return PatchSpec.parse_grid(self.patch_grid, overlap=self.overlap, n_random=self.random_crops,
                                    size=self.patch_size, seed=self.seed)

    def pc_config(self) -> PCConfig:
        return PCConfig(n_clusters=self.n_clusters, hidden=self.hidden, temperature=self.temperature,
                        w_cls=self.w_cls, w_sem=self.w_sem, w_cons=self.w_cons, w_ent=self.w_ent,
                        k_neighbours=self.k_neighbours, epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
                        backbone_lr=self.backbone_lr, seed=self.seed)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "DiscoverConfig":
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ConfigError(f"unknown discover settings {unknown}; known: {sorted(names)}")
        return cls(**d)


@dataclass
class DiscoveryResult:
    """What :func:`discover` produced.

    Attributes:
        class_names: all C classes in the order of the classes file.
        seen_names, unseen_names: the two groups, in class-file order.
        embeddings: (C, D_v) float32 VGSE class embeddings (rows = ``class_names``).
        seen_embeddings: (S, D_v); unseen_embeddings: (U, D_v).
        relation: (U, S) class-relation matrix R (rows sum to 1).
        word_vectors: (C, D_w) class word vectors used.
        timings: seconds per stage (``inputs``, ``images``, ``backbone``, ``features``,
            ``neighbours``, ``clustering``, ``embeddings``, ``relation``, ``export``, ``plots``).
        bad_images: ``[{"index", "path", "reason"}]`` images skipped as unreadable.
        files: name -> path of every output.
        history: per-epoch PC losses; cluster_stats: cluster usage diagnostics.
        image_embeddings: (N, D_v) per training image (zeros for bad ones), with ``images``.
    """

    class_names: list[str]
    seen_names: list[str]
    unseen_names: list[str]
    embeddings: np.ndarray
    seen_embeddings: np.ndarray
    unseen_embeddings: np.ndarray
    relation: np.ndarray
    word_vectors: np.ndarray
    timings: dict[str, float]
    bad_images: list[dict[str, Any]]
    files: dict[str, str]
    history: list[dict[str, float]]
    cluster_stats: dict[str, Any]
    image_embeddings: np.ndarray
    images: ImageList
    out: Path
    resumed: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        lines = [f"VGSE embeddings: {len(self.seen_names)} seen + {len(self.unseen_names)} unseen classes x "
                 f"{self.embeddings.shape[1]} clusters -> {self.files.get('mat')}",
                 "stage times: " + ", ".join(f"{k} {v:.1f}s" for k, v in self.timings.items()),
                 f"clusters used: {self.cluster_stats.get('clusters_used')}/{self.cluster_stats.get('n_clusters')}"]
        if self.bad_images:
            lines.append(f"{len(self.bad_images)} unreadable image(s) skipped (listed in metadata.json), e.g. "
                         f"{self.bad_images[0]['path']}: {self.bad_images[0]['reason']}")
        return "\n".join(lines)


# --------------------------------------------------------------------------- helpers

@contextlib.contextmanager
def _stage(name: str, timings: dict[str, float]) -> Iterator[None]:
    log.info("VGSE stage %s ...", name)
    t0 = time.perf_counter()
    yield
    timings[name] = time.perf_counter() - t0
    log.info("VGSE stage %s done in %.2fs", name, timings[name])


def _sha(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def read_classes(classes_file: str | Path, unseen_file: str | Path) -> tuple[list[str], list[str], list[str]]:
    """(all, seen, unseen) class names; unseen must be a proper subset of all."""
    names = read_class_list(classes_file)
    unseen = read_class_list(unseen_file)
    unknown = [u for u in unseen if u not in set(names)]
    if unknown:
        raise ZSLDataError(f"{unseen_file}: unseen classes {unknown[:10]} are not in the class list {classes_file}")
    u = set(unseen)
    seen = [n for n in names if n not in u]
    if not seen:
        raise ZSLDataError(f"{unseen_file}: every class of {classes_file} is unseen; need at least one seen class")
    return names, seen, [n for n in names if n in u]


def class_word_vectors(class_names: list[str], path: str | Path, oov: str = "error") -> np.ndarray:
    """(C, D_w) L2-normalised word vectors of the class names via
    :mod:`zslkit.embeddings.word_vectors` (a multi-word name uses its phrase token if the
    file has one, else the average of its words). The file is streamed once, keeping only
    the tokens these names can use. With ``oov="error"`` a missing word is a
    :class:`ZSLDataError` naming the class and the word."""
    from zslkit.embeddings.text_models import is_text_model, text_class_embeddings
    from zslkit.embeddings.word_vectors import (
        class_embeddings,
        load_word_vectors,
        words_for_class_names,
    )

    if is_text_model(path):  # "wordllama": an offline text model instead of a file (the text extra)
        return np.asarray(text_class_embeddings(class_names, str(path)), dtype=np.float32)
    vectors = load_word_vectors(path, words=words_for_class_names(class_names))
    return np.asarray(class_embeddings(class_names, vectors, oov=oov), dtype=np.float32)


def unseen_from_relation(word_seen: np.ndarray, word_unseen: np.ndarray, seen_emb: np.ndarray, method: str,
                         alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """(R (U x S), unseen embeddings R @ seen_emb) via :mod:`zslkit.vgse.class_relation`."""
    from zslkit.vgse.class_relation import ClassRelation

    rel = ClassRelation(method=method, alpha=alpha).fit(word_seen, word_unseen)
    unseen = np.asarray(rel.transform(seen_emb), dtype=np.float32)
    return np.asarray(rel.relation_, dtype=np.float32), unseen


def relation_validation_semantic(embeddings: np.ndarray, word_vectors: np.ndarray, train_classes: np.ndarray,
                                 val_classes: np.ndarray, method: str = "smo", alpha: float = 0.0) -> np.ndarray:
    """The VGSE matrix a validation fold should see: (C, D_v) with the ``val_classes`` rows
    re-predicted from the ``train_classes`` rows through the class relation.

    At test time unseen-class embeddings are ``R @ seen`` (smoother than the seen ones, which
    are measured on images); a validation fold that keeps the measured embeddings of its
    validation classes is easier than the test and picks a calibration gamma that is far too
    small (on the synthetic world: U = 0 on test). Selecting models with this matrix makes
    validation mimic the test. Other rows are returned unchanged.

    Args:
        embeddings: (C, D_v) VGSE class embeddings; word_vectors: (C, D_w).
        train_classes, val_classes: class ids of the fold (disjoint, both seen classes).
    """
    out = np.array(embeddings, dtype=np.float32, copy=True)
    tr, va = np.asarray(train_classes, dtype=np.int64), np.asarray(val_classes, dtype=np.int64)
    _, out[va] = unseen_from_relation(word_vectors[tr], word_vectors[va], out[tr], method, alpha)
    return out


def _load_images(cfg: DiscoverConfig, class_names: list[str], seen: list[str]) -> ImageList:
    if cfg.res101:
        imgs = image_list_from_res101(cfg.res101, cfg.images, class_names)
        if cfg.splits:
            from zslkit.data.xlsa17 import read_att_splits

            a = read_att_splits(cfg.splits)
            if a.class_names is not None and list(a.class_names) != list(class_names):
                raise ZSLDataError(f"{cfg.splits}: allclasses_names differ from {cfg.classes}")
            imgs = imgs.subset(np.sort(a.locs["trainval"]))
        seen_ids = [class_names.index(n) for n in seen]
        imgs = imgs.of_classes(seen_ids)
        empty = [class_names[c] for c in seen_ids if imgs.counts()[c] == 0]
        if empty:
            raise ZSLDataError(f"{cfg.res101}: no images for seen classes {empty[:10]}")
        return imgs
    return scan_image_folder(cfg.images, class_names, classes=seen)


def _image_arrays(images: ImageList, bad: BadImages) -> tuple[list[np.ndarray], np.ndarray]:
    arrays, labels = [], []
    for i in range(len(images)):
        try:
            arrays.append(np.asarray(images.load(i)))
            labels.append(images.labels[i])
        except ImageReadError as exc:
            bad.add(i, exc)
    return arrays, np.asarray(labels, dtype=np.int64)


def _backbone(cfg: DiscoverConfig, images: ImageList, out: Path, spec: PatchSpec, bad: BadImages,
              info: dict[str, Any]) -> tuple[torch.nn.Module, str]:
    """Build (and for ``tiny`` pre-train or reload) the backbone; returns (module, weights id)."""
    if cfg.backbone != "tiny" or cfg.weights is not None or cfg.tiny_pretrain_epochs == 0:
        model = build_backbone(cfg.backbone, cfg.weights, seed=cfg.seed)
        return model, state_fingerprint(model)
    key = _sha({"images": image_list_fingerprint(images), "seed": cfg.seed, "epochs": cfg.tiny_pretrain_epochs,
                "size": spec.size, "version": 1})
    path, meta_path = out / "backbone" / "tiny.pt", out / "backbone" / "tiny.json"
    with contextlib.suppress(OSError, ValueError):
        meta = json.loads(meta_path.read_text())
        if meta.get("key") == key and path.is_file():
            model = build_backbone("tiny", path)
            info["tiny_pretrain"] = {**meta, "reused": True}
            return model, state_fingerprint(model)
    model = build_backbone("tiny", seed=cfg.seed)
    arrays, labels = _image_arrays(images, bad)
    hist = pretrain_tiny(model, arrays, labels, size=spec.size, epochs=cfg.tiny_pretrain_epochs, seed=cfg.seed,
                         progress=cfg.progress, log_fn=log.info)
    save_backbone(model, path)
    meta = {"key": key, "history": hist, "note": "tiny CNN trained with cross-entropy on seen-class images only"}
    atomic_write_json(meta_path, meta)
    info["tiny_pretrain"] = {**meta, "reused": False}
    return model, state_fingerprint(model)


class _PixelEncoder:
    """End-to-end mode: flat patch index -> backbone features, with gradients.

    Patch ``p`` is patch ``p % N_t`` of the ``p // N_t``-th valid image; patch tensors are cut
    once per image and kept in memory (the demo world is small; a real dataset would want a
    bounded cache).
    """

    def __init__(self, images: ImageList, rows: np.ndarray, extractor: PatchExtractor, backbone: torch.nn.Module,
                 device: str):
        self.images, self.rows, self.extractor, self.backbone, self.device = images, rows, extractor, backbone, device
        self.t = extractor.num_patches
        self._cache: dict[int, torch.Tensor] = {}

    def patches(self, img_row: int) -> torch.Tensor:
        if img_row not in self._cache:
            i = int(self.rows[img_row])
            self._cache[img_row] = self.extractor(self.images.load(i), i)
        return self._cache[img_row]

    def pixels(self, flat: torch.Tensor) -> torch.Tensor:
        return torch.stack([self.patches(int(p) // self.t)[int(p) % self.t] for p in flat.tolist()])

    def __call__(self, flat: torch.Tensor) -> torch.Tensor:
        return self.backbone(self.pixels(flat).to(self.device)).float().cpu()

    @torch.no_grad()
    def all_features(self, batch: int = 512) -> torch.Tensor:
        self.backbone.eval()
        n = len(self.rows) * self.t
        return torch.cat([self(torch.arange(s, min(s + batch, n))) for s in range(0, n, batch)])


# --------------------------------------------------------------------------- the pipeline

def discover(config: DiscoverConfig, on_batch: Callable[[int, int], None] | None = None,
             on_epoch: Callable[[int, dict[str, float]], None] | None = None) -> DiscoveryResult:
    """Run VGSE discovery (module docstring); resumes from ``config.out`` when possible.

    ``on_batch`` / ``on_epoch`` are passed to the feature extraction and the PC trainer
    (progress hooks; tests use them to interrupt a run).

    Raises:
        ZSLDataError: bad inputs (missing class folder, unknown class word, unseen class not in
            the class list, an unreadable image with ``fail_fast``, a class without any readable
            image), each message naming the file / class / word.
        ConfigError: bad settings or backbone weights.
    """
    from zslkit.utils.outputs import output_dir

    cfg = config.validate()
    # zslkit's output folder (new, empty or its own), one process at a time; temp files of a killed run removed
    with torch_threads(cfg.threads), output_dir(cfg.out, "vgse"):
        return _discover(cfg, on_batch, on_epoch)


def _discover(cfg: DiscoverConfig, on_batch, on_epoch) -> DiscoveryResult:
    if cfg.data is not None:
        return _discover_from_dataset(cfg, on_epoch)
    out = Path(cfg.out)
    atomic_write_json(out / "config.json", asdict(cfg))
    timings: dict[str, float] = {}
    info: dict[str, Any] = {}
    bad = BadImages(fail_fast=cfg.fail_fast)
    spec = cfg.patch_spec()
    pc_cfg = cfg.pc_config()
    n_threads = torch.get_num_threads()

    with _stage("inputs", timings):
        class_names, seen, unseen = read_classes(cfg.classes, cfg.unseen)
        word = class_word_vectors(class_names, cfg.word_vectors, oov=cfg.oov)
        cid = {n: i for i, n in enumerate(class_names)}
        seen_ids = np.array([cid[n] for n in seen])
        unseen_ids = np.array([cid[n] for n in unseen])
    with _stage("images", timings):
        images = _load_images(cfg, class_names, seen)
        log.info("%d seen-class images in %d classes from %s", len(images), len(seen), cfg.images)
    with _stage("backbone", timings):
        backbone, backbone_id = _backbone(cfg, images, out, spec, bad, info)
        backbone = backbone.to(cfg.device)
    extractor = PatchExtractor(spec)
    with _stage("features", timings):
        cache = extract_features(images, extractor, backbone, out / "cache", backbone_id,
                                 batch_size=cfg.extract_batch_size, fail_fast=cfg.fail_fast, device=cfg.device,
                                 progress=cfg.progress, on_batch=on_batch)
        info["feature_cache"] = {"dir": str(cache.directory), "resumed_from_image": cache.resumed_from,
                                 "shape": list(cache.features.shape)}
    for b in cache.bad:  # the cache's list is authoritative; pre-training may have seen the same files
        if b["index"] not in {i for i, _, _ in bad.items}:
            bad.items.append((b["index"], b["path"], b["reason"]))
    valid = cache.valid
    rows = np.flatnonzero(valid)
    t = spec.num_patches
    feats, patch_img, patch_lab = _patch_rows(cache.features, rows, images, seen_ids, seen, cfg.images)
    with _stage("neighbours", timings):
        nb = _neighbours(cache.directory, feats, patch_img, pc_cfg.k_neighbours, cfg.neighbour_candidates, cfg.seed)
    encoder = _PixelEncoder(images, rows, extractor, backbone, cfg.device) if cfg.end_to_end else None
    fingerprint = _sha({"format": "zslkit-vgse-pc-v1", "cache": cache.fingerprint, "valid": rows.tolist(), "seen": seen,
                        "word": hashlib.sha256(word.tobytes()).hexdigest(), "end_to_end": cfg.end_to_end,
                        "pc": {k: v for k, v in asdict(pc_cfg).items() if k not in ("epochs", "keep_checkpoints")}})
    with _stage("clustering", timings):
        trained = train_patch_clustering(feats, patch_lab, torch.from_numpy(word[seen_ids]), nb, pc_cfg,
                                         checkpoint_dir=out / "checkpoints", fingerprint=fingerprint,
                                         encoder=encoder, encoder_module=backbone if cfg.end_to_end else None,
                                         progress=cfg.progress, on_epoch=on_epoch)
        info["clustering"] = {"resumed_from_epoch": trained.resumed_from_epoch, "epochs": pc_cfg.epochs}
    with _stage("embeddings", timings):
        final_feats = encoder.all_features() if encoder is not None else feats
        a = assign_patches(trained.model, final_feats).reshape(rows.size, t, -1)
        assign = np.zeros((len(images), t, a.shape[2]), dtype=np.float32)
        assign[rows] = a
        image_emb = assign.mean(axis=1)  # a_n = mean_t a_nt
        seen_emb = class_means(image_emb[rows], images.labels[rows], seen_ids, class_names)
        stats = cluster_usage(a.reshape(-1, a.shape[2]))
    with _stage("relation", timings):
        R, unseen_emb = unseen_from_relation(word[seen_ids], word[unseen_ids], seen_emb, cfg.relation, cfg.alpha)
        emb = np.zeros((len(class_names), seen_emb.shape[1]), dtype=np.float32)
        emb[seen_ids], emb[unseen_ids] = seen_emb, unseen_emb
    with _stage("export", timings):
        files = _export_all(cfg, out, emb, class_names, seen, unseen, R, assign, image_emb, images, valid,
                            backbone)
    if cfg.plots:
        with _stage("plots", timings):
            from zslkit.vgse.plots import cluster_montage, patch_tsne

            files["montage"] = str(cluster_montage(out / "figures" / "cluster_montage.png", assign, valid, images,
                                                   extractor, class_names=class_names))
            files["tsne"] = str(patch_tsne(out / "figures" / "patch_tsne.png", assign, valid, images.labels,
                                           seed=cfg.seed, class_names=class_names))
    bad_list = BadImages(items=sorted(bad.items)).to_list()
    if bad_list:
        log.warning("%s", BadImages(items=sorted(bad.items)).report())
    files["metadata"] = str(out / "metadata.json")
    atomic_write_json(out / "metadata.json", {
        "config": asdict(cfg), "timings_s": timings, "bad_images": bad_list, "num_images": len(images),
        "num_valid_images": int(rows.size), "patches_per_image": t, "feature_dim": int(backbone.out_dim),
        "classes": {"all": class_names, "seen": seen, "unseen": unseen}, "cluster_stats": stats,
        "history": trained.history, "files": files, "torch_threads": n_threads, **info})
    return DiscoveryResult(class_names=class_names, seen_names=seen, unseen_names=unseen, embeddings=emb,
                           seen_embeddings=seen_emb, unseen_embeddings=unseen_emb, relation=R, word_vectors=word,
                           timings=timings, bad_images=bad_list, files=files, history=trained.history,
                           cluster_stats=stats, image_embeddings=image_emb, images=images, out=out, resumed=info)


def _discover_from_dataset(cfg: DiscoverConfig, on_epoch) -> DiscoveryResult:
    """:func:`discover` on the ``trainval`` image features of a dataset directory, each image one patch
    (see :class:`DiscoverConfig` ``data``). Test images are never read into the clustering."""
    from zslkit.data.xlsa17 import load_xlsa17

    out = Path(cfg.out)
    atomic_write_json(out / "config.json", asdict(cfg))
    timings: dict[str, float] = {}
    pc_cfg = cfg.pc_config()
    with _stage("inputs", timings):
        # the dataset's class word vectors (word2vec_splits.mat), unless word_vectors names a file
        data = load_xlsa17(cfg.data, semantic="att" if cfg.word_vectors is not None and _has_att(cfg.data)
                           else "word2vec")
        class_names = data.class_names
        seen_ids, unseen_ids = data.seen_classes, data.unseen_classes
        seen, unseen = [class_names[i] for i in seen_ids], [class_names[i] for i in unseen_ids]
        if cfg.word_vectors is None:
            word = np.asarray(data.semantic, dtype=np.float32)  # the dataset's word2vec_splits.mat
        else:
            word = class_word_vectors(class_names, cfg.word_vectors, oov=cfg.oov)
        word = word / np.maximum(np.linalg.norm(word, axis=1, keepdims=True), 1e-12)
        rows = data.splits["trainval"]
        feats = torch.from_numpy(np.ascontiguousarray(data.features[rows], dtype=np.float32))
        seen_pos = {int(c): j for j, c in enumerate(seen_ids)}
        patch_lab = torch.from_numpy(np.array([seen_pos[int(c)] for c in data.labels[rows]], dtype=np.int64))
        patch_img = torch.arange(rows.size)
        log.info("VGSE on %s: %d trainval image features (%d-d), one patch per image, %d seen + %d unseen classes",
                 cfg.data, rows.size, feats.shape[1], len(seen), len(unseen))
    with _stage("neighbours", timings):
        nb = _neighbours(out / "cache", feats, patch_img, pc_cfg.k_neighbours, cfg.neighbour_candidates, cfg.seed)
    fingerprint = _sha({"format": "zslkit-vgse-pc-v1", "data": str(Path(cfg.data).resolve()),
                        "features": hashlib.sha256(feats.numpy().tobytes()).hexdigest(), "seen": seen,
                        "word": hashlib.sha256(word.tobytes()).hexdigest(),
                        "pc": {k: v for k, v in asdict(pc_cfg).items() if k not in ("epochs", "keep_checkpoints")}})
    with _stage("clustering", timings):
        trained = train_patch_clustering(feats, patch_lab, torch.from_numpy(word[seen_ids]), nb, pc_cfg,
                                         checkpoint_dir=out / "checkpoints", fingerprint=fingerprint,
                                         progress=cfg.progress, on_epoch=on_epoch)
    with _stage("embeddings", timings):
        a = assign_patches(trained.model, feats)  # (N, D_v): one patch per image, so a_n = a_n1
        seen_emb = class_means(a, data.labels[rows], seen_ids, class_names)
        stats = cluster_usage(a)
    with _stage("relation", timings):
        R, unseen_emb = unseen_from_relation(word[seen_ids], word[unseen_ids], seen_emb, cfg.relation, cfg.alpha)
        emb = np.zeros((len(class_names), seen_emb.shape[1]), dtype=np.float32)
        emb[seen_ids], emb[unseen_ids] = seen_emb, unseen_emb
    with _stage("export", timings):
        stem = "VGSE_SMO" if cfg.relation == "smo" else "VGSE_WAvg"
        files = {k: str(v) for k, v in export_embeddings(out, emb, class_names, seen, unseen, R, stem).items()}
        files["relation_csv"] = str(_write_relation_csv(out / "relation.csv", R, seen, unseen))
        files["image_embeddings"] = str(write_embedding_npy(out / "image_embeddings.npy", a))
    if cfg.plots:
        with _stage("plots", timings):
            from zslkit.vgse.plots import patch_tsne

            files["tsne"] = str(patch_tsne(out / "figures" / "patch_tsne.png", a[:, None, :],
                                           np.ones(rows.size, dtype=bool), data.labels[rows], seed=cfg.seed,
                                           class_names=class_names))
    files["metadata"] = str(out / "metadata.json")
    info = {"clustering": {"resumed_from_epoch": trained.resumed_from_epoch, "epochs": pc_cfg.epochs},
            "source": "dataset features, one patch per image (no pixels)"}
    atomic_write_json(out / "metadata.json", {
        "config": asdict(cfg), "timings_s": timings, "num_images": int(rows.size), "patches_per_image": 1,
        "feature_dim": int(feats.shape[1]), "classes": {"all": class_names, "seen": seen, "unseen": unseen},
        "cluster_stats": stats, "history": trained.history, "files": files, **info})
    paths = [data.image_files[i] for i in rows] if data.image_files else [f"image_{i}" for i in rows]
    images = ImageList(paths=paths, labels=data.labels[rows], class_names=class_names, root=str(cfg.data))
    return DiscoveryResult(class_names=class_names, seen_names=seen, unseen_names=unseen, embeddings=emb,
                           seen_embeddings=seen_emb, unseen_embeddings=unseen_emb, relation=R, word_vectors=word,
                           timings=timings, bad_images=[], files=files, history=trained.history,
                           cluster_stats=stats, image_embeddings=a, images=images, out=out, resumed=info)


def _has_att(root: str) -> bool:
    from zslkit.data.xlsa17 import available_semantics

    return "att" in available_semantics(Path(root))


def _patch_rows(features: np.ndarray, rows: np.ndarray, images: ImageList, seen_ids: np.ndarray, seen: list[str],
                where: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Flatten the valid images' patches: features (P, D_f), image row (P,), seen-class index (P,)
    with P = len(rows) * N_t, patch-major within each image."""
    if rows.size == 0:
        raise ZSLDataError(f"{where}: none of the {len(images)} images could be read")
    t = features.shape[1]
    seen_pos = {int(c): j for j, c in enumerate(seen_ids)}
    img_seen = np.array([seen_pos[int(c)] for c in images.labels[rows]], dtype=np.int64)
    missing = sorted(set(range(len(seen))) - set(img_seen.tolist()))
    if missing:
        raise ZSLDataError(f"seen classes without any readable image: {[seen[j] for j in missing][:10]}")
    feats = torch.from_numpy(np.ascontiguousarray(features[rows], dtype=np.float32).reshape(rows.size * t, -1))
    return feats, torch.from_numpy(np.repeat(np.arange(rows.size), t)), torch.from_numpy(np.repeat(img_seen, t))


def _neighbours(cache_dir: Path, feats: torch.Tensor, patch_img: torch.Tensor, k: int, n_candidates: int | None,
                seed: int) -> torch.Tensor:
    """k nearest patches of other images (among ``n_candidates`` seeded candidates when there are
    more patches), mined once and kept beside the feature cache."""
    p = feats.shape[0]
    cand = None
    name = f"neighbours_k{k}.npy"
    if n_candidates is not None and p > n_candidates:
        rng = np.random.default_rng([seed, 7])
        cand = torch.from_numpy(np.sort(rng.choice(p, size=n_candidates, replace=False)))
        name = f"neighbours_k{k}_c{n_candidates}_s{seed}.npy"
    path = cache_dir / name
    with contextlib.suppress(OSError, ValueError):
        arr = np.load(path, allow_pickle=False)
        if arr.shape[0] == p:
            return torch.from_numpy(arr)
    nb = mine_neighbours(feats, patch_img, k, candidates=cand)
    with atomic_path(path, suffix=".npy") as tmp:
        np.save(tmp, nb.numpy(), allow_pickle=False)
    return nb


def _export_all(cfg: DiscoverConfig, out: Path, emb: np.ndarray, class_names: list[str], seen: list[str],
                unseen: list[str], R: np.ndarray, assign: np.ndarray, image_emb: np.ndarray, images: ImageList,
                valid: np.ndarray, backbone: torch.nn.Module) -> dict[str, str]:
    """Every output file of a run (atomically); returns name -> path."""
    stem = "VGSE_SMO" if cfg.relation == "smo" else "VGSE_WAvg"
    files = {k: str(v) for k, v in export_embeddings(out, emb, class_names, seen, unseen, R, stem).items()}
    files["relation_csv"] = str(_write_relation_csv(out / "relation.csv", R, seen, unseen))
    files["patch_assignments"] = str(write_embedding_npy(out / "patch_assignments.npy", assign))
    files["image_embeddings"] = str(write_embedding_npy(out / "image_embeddings.npy", image_emb))
    files["images_csv"] = str(_write_images_csv(out / "images.csv", images, valid))
    if cfg.end_to_end:
        files["backbone"] = str(save_backbone(backbone, out / "backbone" / "end_to_end.pt"))
    return files


def _write_relation_csv(path: Path, R: np.ndarray, seen: list[str], unseen: list[str]) -> Path:
    lines = ["unseen\\seen," + ",".join(seen)]
    lines += [u + "," + ",".join(f"{v:.6g}" for v in row) for u, row in zip(unseen, R)]
    return atomic_write_text(path, "\n".join(lines) + "\n")


def _write_images_csv(path: Path, images: ImageList, valid: np.ndarray) -> Path:
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["index", "path", "class", "valid"])
    for i, (p, c) in enumerate(zip(images.paths, images.labels)):
        w.writerow([i, p, images.class_names[c], int(valid[i])])
    return atomic_write_text(path, buf.getvalue())


# --------------------------------------------------------------------------- demo

#: Demo settings: the synthetic world's images are 64 px, patches 32 px for the tiny CNN.
DEMO_SETTINGS: dict[str, Any] = {"backbone": "tiny", "patch_size": 32, "patch_grid": "3x3", "overlap": 0.5,
                                 "n_clusters": 48, "epochs": 15, "batch_size": 256, "tiny_pretrain_epochs": 8,
                                 "extract_batch_size": 64, "threads": 1}


def write_demo_world(root: str | Path, seed: int = 0, world_config: Any = None):
    """Write the synthetic world into ``root`` unless the same world (seed + config) is there.

    Skipping an identical world keeps file times unchanged, so feature caches stay valid
    and an interrupted demo resumes. Returns ``(world, files)``.
    """
    from zslkit.data.synthetic_world import WorldConfig, WorldFiles, make_world

    wcfg = world_config or WorldConfig()
    world = make_world(seed, wcfg)
    root = Path(root)
    meta = root / "world.json"
    with contextlib.suppress(OSError, ValueError):
        m = json.loads(meta.read_text())
        # compared as JSON: tuples in the config (per-part visibility) come back from world.json as lists
        if m.get("seed") == seed and m.get("config") == json.loads(json.dumps(asdict(wcfg))):
            return world, WorldFiles(root=root, train_dir=root / "train", test_dir=root / "test",
                                     classes=root / "classes.txt", unseen=root / "unseen.txt",
                                     word_vectors=root / "word_vectors.txt", attributes=root / "attributes.csv",
                                     meta=meta)
    return world, world.write(root)


def discover_demo(out: str | Path, seed: int = 0, world_config: Any = None, **overrides: Any) -> DiscoveryResult:
    """VGSE discovery on the synthetic image world with the tiny CNN (no inputs needed).

    Writes the world to ``out/world`` (images as one folder per class, class lists, word
    vectors in word2vec text format) and runs :func:`discover` on it into ``out`` itself (so
    ``out/VGSE_SMO.mat``, as with any ``--out``) through the same file-based path a user takes.
    ``overrides`` replace :data:`DEMO_SETTINGS` / :class:`DiscoverConfig` fields. **Synthetic-world results,
    not benchmark numbers.**
    """
    from zslkit.utils.outputs import output_dir

    out = Path(out)
    from zslkit.utils.seed import seed_error

    if seed_error(seed):
        raise ConfigError(seed_error(seed))
    with output_dir(out, "vgse"):  # a VGSE output folder that holds the world it was discovered from too
        _, files = write_demo_world(out / "world", seed, world_config)
        settings = {**DEMO_SETTINGS, "seed": seed, **overrides}
        cfg = DiscoverConfig(images=str(files.train_dir), classes=str(files.classes), unseen=str(files.unseen),
                             word_vectors=str(files.word_vectors), out=str(out), **settings)
        result = discover(cfg)
    result.resumed["synthetic"] = True
    return result
