"""Bring your own dataset: images + class lists + attributes and/or word vectors -> an xlsa17 directory.

:func:`build_xlsa17` is what ``zslkit data build`` runs:

1. read the class list, the unseen classes, the long-format attribute table
   (:mod:`zslkit.data.build`) and/or the class word vectors (a word2vec binary/text or GloVe
   file, :mod:`zslkit.embeddings.word_vectors`: a multi-word class name takes its phrase vector
   when the file has one, else the mean of its words; each class vector L2-normalised), find
   one image folder per class (:mod:`zslkit.data.images`); every input error (an
   out-of-vocabulary word included) is raised here, before any feature is computed;
2. extract one global feature per image with a backbone (:mod:`zslkit.vgse.backbone`:
   a torchvision ResNet with a *local* weight file, or the seeded ``tiny`` CNN): the whole
   image resized to ``image_size`` x ``image_size`` (no crop, aspect ratio not kept), ImageNet
   mean/std normalisation, globally average-pooled last stage (2048-d for ResNet-50/101).
   Features go through the memory-mapped, resumable cache of
   :mod:`zslkit.vgse.feature_cache` (a 1 x 1 "patch grid" is the whole image), so an
   interrupted build resumes where it stopped; a progress bar shows progress;
3. split images and seen classes the xlsa17 way, seeded (:func:`make_xlsa17_splits`);
4. write ``res101.mat``, ``att_splits.mat`` (without ``att`` when no attribute table is
   given), ``word2vec_splits.mat`` (with word vectors), the class lists and, last,
   ``BUILD.json`` (provenance: backbone, weight and word-vector checksums, preprocessing, seed,
   counts, skipped images), every file atomically; then read the directory back with
   :func:`load_xlsa17` as a check.

Without attributes (the VGSE use case: images, class names and a word-vector file only) the
directory is loaded with ``semantic="word2vec"`` or a class-embedding file such as the
``VGSE_SMO.mat`` of ``zslkit vgse discover``; its ``word2vec_splits.mat`` is also what
relation-aware validation of VGSE embeddings fits the class relation on.

Unreadable images: by default the build fails with a :class:`ZSLDataError` listing every
unreadable file and the reason (after the readable ones are cached, so fixing them or
rerunning with ``skip_bad=True`` costs nothing more); with ``skip_bad=True`` they are left
out of the dataset and listed in ``BUILD.json`` and the report.

These features are **not** the published xlsa17 features (Caffe ResNet-101); results on a
built directory are comparable between methods run on the same directory, not with papers
(README, "Use your own data").

The module sits beside :mod:`zslkit.pipeline` because it joins the data layer to a backbone
(``zslkit.data`` knows nothing of models).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zslkit.data.build import (
    BUILD_FILE,
    check_val_folds,
    make_xlsa17_splits,
    read_attribute_csv,
    write_xlsa17_dataset,
)
from zslkit.data.images import (
    IMAGE_SUFFIXES,
    ImageList,
    match_class_folders,
    scan_image_folder,
)
from zslkit.data.xlsa17 import load_xlsa17, read_class_list, sha256_file
from zslkit.embeddings.text_models import is_text_model
from zslkit.errors import ConfigError, ZSLDataError
from zslkit.utils.outputs import atomic_write_json, copy_output, output_dir, owns, remove_output
from zslkit.utils.threads import torch_threads

log = logging.getLogger(__name__)

BUILD_FORMAT = "zslkit-xlsa17-build-v1"
CACHE_DIR = ".feature-cache"
#: v5 MAT-files cannot hold a variable above 2 GB; larger feature matrices are written as v7.3.
_V5_LIMIT = 2 ** 31 - 2 ** 24
COMPARABILITY = ("Features extracted by zslkit with the backbone and weights named here, not the published xlsa17 "
                 "features (Caffe ResNet-101, ImageNet, whole image resized to 224 x 224 without cropping). Numbers "
                 "measured on this directory compare methods with each other on these features; they are not "
                 "comparable with numbers in papers.")


@dataclass
class BuildConfig:
    """Inputs and settings of :func:`build_xlsa17`.

    Inputs:
        images: folder with one sub-folder of images per class (CUB / AWA2 / SUN layouts,
            see :func:`zslkit.data.images.scan_image_folder`).
        classes: text file, every class name (seen and unseen), one a line; its order is the
            class order of the dataset.
        unseen: text file, the unseen class names (a subset of ``classes``).
        attributes: long-format CSV ``class,attribute,value`` (see :mod:`zslkit.data.build`),
            written as ``att``/``original_att`` of ``att_splits.mat``.
        word_vectors: word2vec binary/text or GloVe file (format detected), or ``"wordllama"``
            (WordLlama embeddings of the class names, :mod:`zslkit.embeddings.text_models`); the
            class-name vectors are written as ``word2vec_splits.mat``. At least one of ``attributes`` /
            ``word_vectors`` is required; without ``attributes`` the dataset has no ``att``.
        oov: ``"error"`` (a class-name word missing from ``word_vectors`` fails the build, naming
            it) or ``"skip"`` (average the words found; a class with none found still fails).
        out: output directory.
    Features:
        backbone: ``resnet101`` | ``resnet50`` (| ``resnet18`` | ``resnet34``) with ``weights``, a
            local torchvision state dict (nothing is downloaded), or ``tiny`` (a small seeded
            CNN, randomly initialised unless ``weights`` names a saved one: for tests/demos).
        image_size: side the whole image is resized to (default 224; 64 for ``tiny``).
        batch_size: images per forward pass (a resumed build keeps the batch size it began with).
        device: ``cpu`` or ``cuda``; threads: torch threads during the build (None = unchanged).
        skip_bad: leave unreadable images out (listed in ``BUILD.json``) instead of failing.
        cache_dir: where the feature cache lives (default ``OUT/.feature-cache``, deleted after a
            successful build unless ``keep_cache``; a cache_dir you name is always kept).
    Splits:
        seed: seed of the splits, the class folds and the ``tiny`` initialisation.
        test_seen_fraction: share of each seen class's images held out as ``test_seen``.
        val_folds: validation class folds (0, or 2..number of seen classes).
    Other:
        overwrite: replace a finished build in ``out``; progress: progress bar.
    """

    images: str
    classes: str
    unseen: str
    out: str
    attributes: str | None = None
    word_vectors: str | None = None
    oov: str = "error"
    backbone: str = "resnet101"
    weights: str | None = None
    image_size: int | None = None
    batch_size: int = 32
    device: str = "cpu"
    threads: int | None = None
    skip_bad: bool = False
    cache_dir: str | None = None
    keep_cache: bool = False
    seed: int = 0
    test_seen_fraction: float = 0.2
    val_folds: int = 3
    overwrite: bool = False
    progress: bool = True
    #: class embeddings given directly instead of ``word_vectors`` (.npy + names file, .mat with allclasses_names,
    #: .csv with names; rows matched by class name) -> word2vec_splits.mat
    class_embeddings: str | None = None
    class_embedding_names: str | None = None

    def validate(self) -> BuildConfig:
        from zslkit.vgse.backbone import BACKBONES

        _check_class_embeddings(self)
        if self.attributes is None and self.word_vectors is None and self.class_embeddings is None:
            raise ConfigError("class semantics are required: an attribute table (--attributes CSV with rows "
                              "class,attribute,value), a word-vector file (--word-vectors FILE, word2vec or GloVe; "
                              "written as word2vec_splits.mat), or both")
        if self.oov not in ("error", "skip"):
            raise ConfigError(f"oov must be 'error' or 'skip', got {self.oov!r}")
        if self.backbone not in BACKBONES:
            raise ConfigError(f"unknown backbone {self.backbone!r}; choose one of {list(BACKBONES)}")
        if self.backbone != "tiny" and self.weights is None:
            raise ConfigError(f"backbone {self.backbone!r} needs --weights FILE, a local torchvision state dict "
                              "(e.g. resnet101-63fe2227.pth); nothing is downloaded")
        if self.image_size is not None and self.image_size < 8:
            raise ConfigError(f"image_size must be >= 8 pixels, got {self.image_size}")
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {self.batch_size}")
        from zslkit.utils.seed import seed_error

        if seed_error(self.seed):
            raise ConfigError(seed_error(self.seed))
        if not 0.0 <= self.test_seen_fraction < 1.0:
            raise ConfigError(f"test_seen_fraction must be in [0, 1), got {self.test_seen_fraction}")
        if self.val_folds < 0 or self.val_folds == 1:
            raise ConfigError(f"val_folds must be 0 (none) or >= 2, got {self.val_folds}")
        if self.threads is not None and self.threads < 1:
            raise ConfigError(f"threads must be >= 1, got {self.threads}")
        return self

    @property
    def size(self) -> int:
        return self.image_size or (64 if self.backbone == "tiny" else 224)


@dataclass
class BuildReport:
    """What :func:`build_xlsa17` wrote: sizes, splits, skipped images and the provenance record."""

    out: Path
    num_images: int
    feature_dim: int
    num_seen: int
    num_unseen: int
    num_attributes: int
    splits: dict[str, int]
    val_folds: int
    skipped: list[dict[str, Any]] = field(default_factory=list)
    resumed_from: int = 0
    seconds: float = 0.0
    word_vector_dim: int = 0
    provenance: dict[str, Any] = field(default_factory=dict)
    #: True when ``out`` already held this build (same fingerprint) and nothing was recomputed
    already_built: bool = False

    def summary(self) -> str:
        b = self.provenance.get("backbone", {})
        pre = self.provenance.get("features") or {}
        what = (f"{pre.get('file')}: " + " + ".join(f"{x['name']} {x['dim']}" for x in pre.get("blocks", []))
                if pre else f"{b.get('name')}, {b.get('image_size')} px")
        lines = [f"{'kept' if self.already_built else 'wrote'} xlsa17 dataset {self.out}"
                 + (" (already built from the same inputs and settings: nothing recomputed)"
                    if self.already_built else ""),
                 (f"  {self.num_images} images x {self.feature_dim} dims ({what}), "
                  f"{self.num_seen} seen + {self.num_unseen} unseen classes, "
                  + (f"{self.num_attributes} attributes" if self.num_attributes else "no attributes")
                  + (f", {self.word_vector_dim}-d class word vectors (word2vec_splits.mat)"
                     if self.word_vector_dim else "")),
                 f"  splits {self.splits}, {self.val_folds} validation class fold(s)"]
        oov = (self.provenance.get("word_vectors") or {}).get("oov_skipped")
        if oov:
            lines.append(f"  {len(oov)} class name(s) with out-of-vocabulary words left out of their average "
                         "(--oov skip): " + "; ".join(f"{c}: {w}" for c, w in list(oov.items())[:5])
                         + (" ..." if len(oov) > 5 else ""))
        found = self.num_images + len(self.skipped)
        if self.already_built:
            pass
        elif self.resumed_from >= found:
            lines.append("  features of all images taken from the feature cache")
        elif self.resumed_from:
            lines.append(f"  resumed feature extraction at image {self.resumed_from} of {found}")
        if self.skipped:
            lines.append(f"  {len(self.skipped)} unreadable image(s) skipped (listed in {BUILD_FILE}):")
            lines += [f"    {s['path']}: {s['reason']}" for s in self.skipped[:10]]
            if len(self.skipped) > 10:
                lines.append(f"    ... and {len(self.skipped) - 10} more")
        if pre:
            lines.append(f"  note: precomputed features ({pre.get('description')}); numbers on them compare with papers "
                         "that used the same features and splits only")
        else:
            lines.append("  note: these are not the published xlsa17 features; compare methods on this directory, "
                         "not with papers")
        return "\n".join(lines)


def _find_images(root: str, class_names: list[str]) -> ImageList:
    """All images of all classes; a class without an image folder is an error naming it."""
    found = match_class_folders(root, class_names, required=[])
    missing = [n for n in class_names if n not in found]
    if missing:
        raise ZSLDataError(f"{root}: no images for {len(missing)} class(es) {missing[:10]}: no folder below {root} "
                           f"holding image files ({', '.join(IMAGE_SUFFIXES)}) matches these names (empty folders "
                           "count as missing); expected one folder per class named like the class")
    return scan_image_folder(root, class_names)


def _relative(path: str, root: Path) -> str:
    try:
        return Path(os.path.relpath(path, root)).as_posix()
    except ValueError:  # pragma: no cover - another drive on Windows
        return Path(path).as_posix()


def build_xlsa17(config: BuildConfig, on_batch: Callable[[int, int], None] | None = None) -> BuildReport:
    """Build an xlsa17 dataset directory from an image folder (module docstring).

    ``on_batch(done, total)`` is passed to the feature extraction (progress hook; tests use it
    to interrupt a build). Rerunning an interrupted build with the same inputs resumes the
    feature extraction.

    Raises:
        ZSLDataError: a bad input, each message naming the file / line / class / image: an unseen
            class not in the class list, a class without images, a class in the attribute table
            that is not in the class list, a class without attributes, a non-numeric value,
            a class-name word missing from the word-vector file (with ``oov="error"``),
            unreadable images (without ``skip_bad``).
        ForeignFileError: the output directory holds files zslkit did not write (and no zslkit manifest).
        ConfigError: bad settings or backbone weights.
    """
    cfg = config.validate()
    with torch_threads(cfg.threads), contextlib.ExitStack() as stack:
        return _build(cfg, on_batch, stack)


#: BuildConfig fields that do not change what a build writes (left out of its fingerprint)
_NOT_FINGERPRINTED = ("out", "progress", "overwrite", "keep_cache", "cache_dir", "threads")


def _source_id(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"{name} {version(name)}"
    except PackageNotFoundError:
        return name


def build_fingerprint(cfg: BuildConfig, images: ImageList) -> str:
    """SHA-256 of everything a build's output depends on: the settings, the contents of the class
    lists, attribute table, word-vector and weight files, and the image list (relative path, size and
    modification time of every image). Stored in ``BUILD.json``; a rerun with the same fingerprint
    finds its work done."""
    import hashlib
    import json

    record: dict[str, Any] = {k: v for k, v in asdict(cfg).items() if k not in _NOT_FINGERPRINTED}
    for k in ("classes", "unseen", "attributes", "word_vectors", "weights", "class_embeddings",
              "class_embedding_names"):
        path = getattr(cfg, k)
        # a named embedding source ("wordllama") is not a file: its name (and the package version) is the input
        record[k] = None if path is None else sha256_file(path) if Path(path).is_file() else _source_id(str(path))
    root = Path(cfg.images)
    listing = hashlib.sha256()
    for path, label in zip(images.paths, images.labels.tolist()):
        st = os.stat(path)
        listing.update(f"{_relative(path, root)}\0{label}\0{st.st_size}\0{st.st_mtime_ns}\n".encode("utf-8",
                                                                                                   "surrogatepass"))
    record["images"] = [str(root.resolve()), listing.hexdigest()]
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()


def _finished_build(cfg: BuildConfig, fingerprint: str) -> BuildReport | None:
    """The report of the finished build in ``cfg.out`` when it was made from the same inputs and
    settings (same fingerprint), after completing what a build killed at its very end left undone
    (the default feature cache removed, the directory read back); else None."""
    out = Path(cfg.out)
    prov = _build_record(out, fingerprint)
    if prov is None:
        return None
    if not (cfg.keep_cache or cfg.cache_dir) and owns(out, CACHE_DIR):
        remove_output(out / CACHE_DIR)  # zslkit's cache of this build (never a folder of the user's)
    return _report_from_record(out, prov, 0.0, already=True)


def _check_class_embeddings(cfg: Any) -> None:
    if cfg.class_embeddings is not None and cfg.word_vectors is not None:
        raise ConfigError("--word-vectors and --class-embeddings both give word2vec_splits.mat: choose one")
    if cfg.class_embedding_names is not None and cfg.class_embeddings is None:
        raise ConfigError("--class-embedding-names names the rows of a --class-embeddings .npy file")


def _class_word_vectors(cfg: BuildConfig, class_names: list[str]) -> tuple[np.ndarray, dict[str, Any]]:
    """(C x D unit-norm class word vectors, provenance record) from ``cfg.word_vectors``, or from
    ``cfg.class_embeddings`` (a class-embedding file whose rows are matched to the classes by name).

    The file is streamed keeping only the tokens these names can use; a missing word raises a
    :class:`ZSLDataError` naming the class and the word (``oov="error"``), or is left out of
    the class's average (``oov="skip"``, listed in the record).
    """
    from zslkit.embeddings.word_vectors import (
        class_embeddings,
        load_word_vectors,
        words_for_class_names,
    )

    from zslkit.embeddings.text_models import text_class_embeddings

    if cfg.class_embeddings is not None:
        from zslkit.embeddings.class_files import resolve_class_embeddings

        matrix, info = resolve_class_embeddings(cfg.class_embeddings, class_names, len(class_names),
                                                names_file=cfg.class_embedding_names)
        return np.asarray(matrix, dtype=np.float32), {**info, "dim": int(matrix.shape[1]),
                                                      "written_to": "word2vec_splits.mat"}
    if is_text_model(cfg.word_vectors):  # an offline text model instead of a file (the text extra)
        matrix, info = text_class_embeddings(class_names, str(cfg.word_vectors), return_info=True)  # type: ignore
        return np.asarray(matrix, dtype=np.float32), {**info, "written_to": "word2vec_splits.mat"}
    path = Path(cfg.word_vectors)  # type: ignore[arg-type]
    if not path.is_file():
        raise ZSLDataError(f"{path}: word-vector file not found (--word-vectors: a word2vec .bin/.txt or GloVe file)")
    vectors = load_word_vectors(path, words=words_for_class_names(class_names))
    try:
        matrix, report = class_embeddings(class_names, vectors, oov=cfg.oov, return_report=True)  # type: ignore
    except ZSLDataError as exc:
        hint = " (--oov skip on the command line)" if "oov='skip'" in str(exc) else ""
        raise ZSLDataError(f"{exc}{hint}") from None
    oov_skipped = {n: m for n, m in zip(report.class_names, report.missing) if m}
    if oov_skipped:
        log.warning("%d class name(s) with words not in %s, averaged over the words found: %s", len(oov_skipped),
                    path, oov_skipped)
    info = {"file": str(path.resolve()), "sha256": sha256_file(path), "format": vectors.fmt, "dim": vectors.dim,
            "oov": cfg.oov, "written_to": "word2vec_splits.mat", "phrase_vectors": int(sum(report.phrase)),
            "oov_skipped": oov_skipped, "tokens": {n: u for n, u in zip(report.class_names, report.used)}}
    return np.asarray(matrix, dtype=np.float32), info


def _build(cfg: BuildConfig, on_batch, stack: contextlib.ExitStack) -> BuildReport:
    from zslkit import __version__
    from zslkit.data.patches import PatchExtractor, PatchSpec
    from zslkit.vgse.backbone import build_backbone, state_fingerprint
    from zslkit.vgse.feature_cache import extract_features

    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    # 1. inputs, all checked before any feature is computed
    class_names = read_class_list(cfg.classes)
    unseen_names = read_class_list(cfg.unseen)
    unknown = [u for u in unseen_names if u not in set(class_names)]
    if unknown:
        raise ZSLDataError(f"{cfg.unseen}: unseen class(es) {unknown[:10]} are not in the class list {cfg.classes}")
    cid = {n: i for i, n in enumerate(class_names)}
    unseen_ids = np.array(sorted(cid[n] for n in unseen_names), dtype=np.int64)
    num_seen = len(class_names) - unseen_ids.size
    if num_seen == 0:
        raise ZSLDataError(f"{cfg.unseen}: every class of {cfg.classes} is unseen; need at least one seen class")
    check_val_folds(cfg.val_folds, num_seen)
    table = None
    if cfg.attributes is not None:
        table = read_attribute_csv(cfg.attributes, class_names, class_list_name=f"the class list {cfg.classes}")
    words, word_info = (None, None) if cfg.word_vectors is None and cfg.class_embeddings is None else \
        _class_word_vectors(cfg, class_names)
    images = _find_images(cfg.images, class_names)
    backbone = build_backbone(cfg.backbone, cfg.weights, seed=cfg.seed)  # bad weights: ConfigError, nothing written
    fingerprint = build_fingerprint(cfg, images)
    # zslkit's dataset directory (new, empty or its own), one process at a time; --overwrite removes what the
    # earlier build wrote (and only that); temp files of a killed earlier build are removed
    od = stack.enter_context(output_dir(cfg.out, "dataset", overwrite=cfg.overwrite))
    done = _finished_build(cfg, fingerprint) if od.owns(BUILD_FILE) else None
    if done is not None:
        log.info("%s already holds this build (same inputs and settings): nothing recomputed", cfg.out)
        done.seconds = time.perf_counter() - t_start
        return done
    if od.owns(BUILD_FILE):
        raise ZSLDataError(f"{cfg.out}: already holds a dataset built from other inputs or settings ({BUILD_FILE}); "
                           "pass overwrite=True (--overwrite) to rebuild it (the same command again keeps it)")
    out = Path(cfg.out)
    od.expect(BUILD_FILE, "res101.mat", "att_splits.mat", "allclasses.txt")
    timings["inputs"] = time.perf_counter() - t_start
    log.info("%d images of %d classes (%d unseen) from %s", len(images), len(class_names), unseen_ids.size,
             cfg.images)

    # 2. features: whole image, resized, through the resumable cache
    t0 = time.perf_counter()
    state_sha = state_fingerprint(backbone)
    spec = PatchSpec(rows=1, cols=1, overlap=0.0, size=cfg.size, normalize=True)
    cache_root = Path(cfg.cache_dir) if cfg.cache_dir else out / CACHE_DIR
    cache = extract_features(images, PatchExtractor(spec), backbone, cache_root, f"{cfg.backbone}:{state_sha}",
                             batch_size=cfg.batch_size, fail_fast=False, device=cfg.device, progress=cfg.progress,
                             on_batch=on_batch, desc="image features")
    timings["features"] = time.perf_counter() - t0
    bad = sorted(cache.bad, key=lambda b: b["index"])
    if bad and not cfg.skip_bad:
        listed = "; ".join(f"{b['path']} ({b['reason']})" for b in bad[:10])
        more = f"; ... and {len(bad) - 10} more" if len(bad) > 10 else ""
        raise ZSLDataError(f"{len(bad)} unreadable image(s) in {cfg.images}: {listed}{more}. Fix or remove them, or "
                           f"pass --skip-bad (skip_bad=True) to build without them (features of the readable images "
                           f"are cached in {cache.directory})")
    keep = cache.valid
    rows = np.flatnonzero(keep)
    labels = images.labels[rows]
    counts = np.bincount(labels, minlength=len(class_names))
    empty = [class_names[i] for i in np.flatnonzero(counts == 0)]
    if empty:
        raise ZSLDataError(f"{cfg.images}: class(es) {empty[:10]} have no readable image")
    features = np.ascontiguousarray(np.asarray(cache.features[rows, 0, :], dtype=np.float32))
    resumed_from = int(cache.resumed_from)  # images whose features came from the cache (all: a finished cache)
    cache_dir = cache.directory
    del cache

    # 3. splits
    splits = make_xlsa17_splits(labels, unseen_ids, len(class_names), seed=cfg.seed,
                                test_seen_fraction=cfg.test_seen_fraction, val_folds=cfg.val_folds)

    # 4. files
    t0 = time.perf_counter()
    root = Path(cfg.images)
    files = [_relative(images.paths[i], root) for i in rows]
    version = "v7.3" if features.nbytes > _V5_LIMIT else "v5"
    write_xlsa17_dataset(out, features, labels, files, class_names, table, splits, version=version,
                         word_vectors=words)
    timings["write"] = time.perf_counter() - t0
    split_sizes = {k: int(v.size) for k, v in splits.locs.items()}
    provenance: dict[str, Any] = {
        "format": BUILD_FORMAT,
        "fingerprint": fingerprint,
        "zslkit_version": __version__,
        "comparability": COMPARABILITY,
        "inputs": {
            "images": str(root.resolve()),
            "classes": str(Path(cfg.classes).resolve()), "classes_sha256": sha256_file(cfg.classes),
            "unseen": str(Path(cfg.unseen).resolve()), "unseen_sha256": sha256_file(cfg.unseen),
            "attributes": None if cfg.attributes is None else str(Path(cfg.attributes).resolve()),
            "attributes_sha256": None if cfg.attributes is None else sha256_file(cfg.attributes),
            "word_vectors": None if cfg.word_vectors is None else (
                str(cfg.word_vectors) if is_text_model(cfg.word_vectors) else str(Path(cfg.word_vectors).resolve())),
        },
        "semantics": (["att", "original_att"] if table is not None else []) + (["word2vec"] if words is not None
                                                                                else []),
        "word_vectors": word_info,
        "backbone": {
            "name": cfg.backbone,
            "weights": None if cfg.weights is None else str(Path(cfg.weights).resolve()),
            "weights_sha256": None if cfg.weights is None else sha256_file(cfg.weights),
            "state_sha256": state_sha,
            "initialisation": ("random, seeded" if cfg.backbone == "tiny" and cfg.weights is None else "weights file"),
            "feature_dim": int(features.shape[1]),
            "image_size": cfg.size,
            "preprocessing": (f"whole image (no crop) converted to RGB and resized to {cfg.size}x{cfg.size} "
                              "(bilinear, antialiased; aspect ratio not kept), scaled to [0, 1], ImageNet mean/std "
                              "normalisation; global average pooling of the last stage"),
            "device": cfg.device,
        },
        "settings": {k: v for k, v in asdict(cfg).items() if k in ("seed", "test_seen_fraction", "val_folds",
                                                                  "batch_size", "skip_bad")},
        "counts": {
            "images": int(labels.size), "images_found": len(images), "skipped": len(bad),
            "classes": len(class_names), "seen": int(splits.seen.size), "unseen": int(splits.unseen.size),
            "attributes": 0 if table is None else len(table.attribute_names), "splits": split_sizes,
            "images_per_class": {class_names[i]: int(counts[i]) for i in range(len(class_names))},
        },
        "splits_note": "train_loc/val_loc are fold 1's train/validation classes inside trainval_loc; unlike the "
                       "published files they hold no test_seen image",
        "skipped_images": [{"path": b["path"], "reason": b["reason"]} for b in bad],
        "files": {"mat_version": version, "image_files": "relative to inputs.images"},
        "feature_cache": {"dir": str(cache_dir), "images_from_cache": resumed_from,
                          "kept": bool(cfg.keep_cache or cfg.cache_dir)},
        "timings_s": timings,
    }
    atomic_write_json(out / BUILD_FILE, provenance)
    del features
    for sem in provenance["semantics"][:1] + (["word2vec"] if table is not None and words is not None else []):
        load_xlsa17(out, semantic=sem)  # the directory must read back (raises on any inconsistency)
    if not (cfg.keep_cache or cfg.cache_dir):
        remove_output(out / CACHE_DIR)
    if bad:
        log.warning("%d unreadable image(s) left out of %s (listed in %s)", len(bad), out, BUILD_FILE)
    return BuildReport(out=out, num_images=int(labels.size), feature_dim=provenance["backbone"]["feature_dim"],
                       num_seen=int(splits.seen.size), num_unseen=int(splits.unseen.size),
                       num_attributes=0 if table is None else len(table.attribute_names), splits=split_sizes,
                       val_folds=len(splits.folds), word_vector_dim=0 if words is None else int(words.shape[1]),
                       skipped=provenance["skipped_images"], resumed_from=resumed_from,
                       seconds=time.perf_counter() - t_start, provenance=provenance)


# --------------------------------------------------------------------------- precomputed features

FEATURES_FORMAT = "zslkit-xlsa17-features-v1"


@dataclass
class FeatureBuildConfig:
    """Inputs and settings of :func:`build_from_features` (``zslkit data build --features``).

    Inputs:
        features: ``{block name: file}``, in column order; each file one N x D matrix (``.npy``,
            ``.npz`` with one array, ``.mat``, ``.h5``/``.hdf5``, ``.csv``; any numeric dtype), one row
            per image, the same images in the same order in every file
            (:mod:`zslkit.data.feature_files`).
        labels: one class per image: 1-based indices into the class list (``.npy`` or one integer a
            line) or class names (one a line).
        att_splits: an xlsa17 ``att_splits.mat`` whose class names, attributes and split indices
            (1-based image indices into the same image order) are taken as they are, with the class
            lists beside it (``trainvalclasses.txt``, ``trainclassesK.txt``, ...). Or, instead:
        classes, unseen, attributes (long or wide CSV, or a bare matrix with ``attribute_names``):
            as :class:`BuildConfig`; the splits are then made as ``data build`` makes them (seeded).
        word_vectors, oov, class_embeddings, class_embedding_names: class vectors written as
            ``word2vec_splits.mat`` (as :class:`BuildConfig`).
        feature_name: the features file is ``<feature_name>.mat`` (never ``res101.mat``, which means
            ResNet-101 features in the published layout); BUILD.json records what it holds.
        description: what the features are (recorded in BUILD.json, shown by ``data inspect``).
    """

    features: dict[str, str]
    labels: str
    out: str
    att_splits: str | None = None
    classes: str | None = None
    unseen: str | None = None
    attributes: str | None = None
    attribute_names: str | None = None
    word_vectors: str | None = None
    oov: str = "error"
    class_embeddings: str | None = None
    class_embedding_names: str | None = None
    feature_name: str = "features"
    description: str = "precomputed features"
    seed: int = 0
    test_seen_fraction: float = 0.2
    val_folds: int = 3
    overwrite: bool = False
    progress: bool = True

    def validate(self) -> "FeatureBuildConfig":
        import re

        if not self.features:
            raise ConfigError("--features NAME=FILE is required (repeatable: one per feature block)")
        bad = [n for n in self.features if not re.fullmatch(r"[A-Za-z0-9_.+-]+", str(n))]
        if bad:
            raise ConfigError(f"feature block name {bad[0]!r}: use letters, digits and _ . + - only")
        if self.att_splits is None:
            missing = [o for o, v in (("--classes", self.classes), ("--unseen", self.unseen)) if v is None]
            if missing:
                raise ConfigError(f"--features needs --att-splits FILE (classes, attributes and splits taken from "
                                  f"it) or {' and '.join(missing)} (with --attributes and/or --word-vectors)")
            if self.attributes is None and self.word_vectors is None and self.class_embeddings is None:
                raise ConfigError("class semantics are required: --attributes and/or --word-vectors / "
                                  "--class-embeddings (or --att-splits)")
        elif any(v is not None for v in (self.classes, self.unseen, self.attributes)):
            raise ConfigError("--att-splits gives the classes, attributes and splits: leave out --classes, --unseen "
                              "and --attributes")
        if not re.fullmatch(r"[A-Za-z0-9_.+-]+", self.feature_name) or self.feature_name.lower() == "res101":
            raise ConfigError(f"--feature-name {self.feature_name!r}: a plain file stem other than 'res101' "
                              "(res101.mat means ResNet-101 features in the published layout)")
        if self.oov not in ("error", "skip"):
            raise ConfigError(f"oov must be 'error' or 'skip', got {self.oov!r}")
        _check_class_embeddings(self)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed < 2 ** 32:
            raise ConfigError(f"seed must be an integer in [0, 2**32), got {self.seed!r}")
        if not 0.0 <= self.test_seen_fraction < 1.0:
            raise ConfigError(f"test_seen_fraction must be in [0, 1), got {self.test_seen_fraction}")
        if self.val_folds < 0 or self.val_folds == 1:
            raise ConfigError(f"val_folds must be 0 (none) or >= 2, got {self.val_folds}")
        return self


def _feature_fingerprint(cfg: FeatureBuildConfig) -> str:
    import hashlib
    import json

    record: dict[str, Any] = {k: v for k, v in asdict(cfg).items() if k not in ("out", "progress", "overwrite")}
    record["features"] = {n: sha256_file(p) for n, p in cfg.features.items()}
    for k in ("labels", "att_splits", "classes", "unseen", "attributes", "attribute_names", "word_vectors",
              "class_embeddings", "class_embedding_names"):
        path = getattr(cfg, k)
        record[k] = None if path is None else sha256_file(path) if Path(path).is_file() else _source_id(str(path))
    if cfg.att_splits is not None:
        record["class_lists"] = {f.name: sha256_file(f) for f in _class_lists_beside(cfg.att_splits)}
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()


def _class_lists_beside(att_splits: str) -> list[Path]:
    """The xlsa17 class lists in the folder of ``att_splits`` (``allclasses.txt``, ``trainvalclasses.txt``,
    ``testclasses.txt``, ``trainclassesK.txt`` / ``valclassesK.txt``)."""
    import re

    root = Path(att_splits).parent
    pattern = re.compile(r"^(all|trainval|test)classes\.txt$|^(train|val)classes\d+\.txt$")
    return sorted(p for p in root.iterdir() if pattern.match(p.name) and p.is_file())


def build_from_features(config: FeatureBuildConfig) -> BuildReport:
    """Build an xlsa17 dataset directory from precomputed image features (``zslkit data build --features``).

    Every input is checked before anything is written: the same number of rows in every block and in
    the labels, labels inside the class list, finite values, no empty block, every class with an image,
    and with ``att_splits`` that its split indices fit the images and keep seen and unseen classes
    apart. The directory then holds ``<feature_name>.mat`` (``features`` D x N single, ``labels``,
    ``feature_blocks`` / ``feature_block_dims``), ``att_splits.mat`` and the class lists (copied from
    ``att_splits``' folder, or made and written as ``data build`` does), ``word2vec_splits.mat`` with
    word vectors, and ``BUILD.json`` (last: the record of what the features are, block by block, with
    checksums). :func:`zslkit.data.xlsa17.load_xlsa17` reads it like any xlsa17 directory.

    Raises:
        ZSLDataError: bad inputs, each message naming the file and the problem.
        ForeignFileError: ``out`` holds files zslkit did not write.
    """
    from zslkit import __version__
    from zslkit.data.feature_files import read_feature_blocks, read_labels, stack_blocks
    from zslkit.data.xlsa17 import check_split_indices, read_att_splits, write_att_splits, write_res101

    cfg = config.validate()
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    # 1. classes, labels, features, semantics, splits: all checked before anything is written
    a = None
    if cfg.att_splits is not None:
        a = read_att_splits(cfg.att_splits)
        if a.class_names is None:
            raise ZSLDataError(f"{cfg.att_splits}: has no allclasses_names; the labels need class names")
        class_names = a.class_names
    else:
        class_names = read_class_list(cfg.classes)  # type: ignore[arg-type]
    labels = read_labels(cfg.labels, class_names)
    blocks = read_feature_blocks(cfg.features, num_images=labels.size)
    timings["read"] = time.perf_counter() - t_start
    counts = np.bincount(labels, minlength=len(class_names))
    empty = [class_names[i] for i in np.flatnonzero(counts == 0)]
    if empty:
        raise ZSLDataError(f"{cfg.labels}: {len(empty)} class(es) have no image: {empty[:10]}")
    table = None
    if a is not None:
        locs = check_split_indices(a.locs, labels.size, name=lambda k: f"{cfg.att_splits}:{k}_loc")
        seen = np.unique(labels[locs["trainval"]])
        unseen_ids = np.unique(labels[locs["test_unseen"]])
        both = np.intersect1d(seen, unseen_ids)
        if both.size:
            raise ZSLDataError(f"{cfg.att_splits}: with the labels of {cfg.labels}, trainval_loc and test_unseen_loc "
                               f"share classes {[class_names[i] for i in both[:5]]}: the features are not in the "
                               "image order of this att_splits.mat")
        stray = np.setdiff1d(np.unique(labels[locs["test_seen"]]), seen)
        if stray.size:
            raise ZSLDataError(f"{cfg.att_splits}: test_seen_loc holds images of classes without trainval images "
                               f"({[class_names[i] for i in stray[:5]]}): not the image order of this file")
        split_sizes = {k: int(v.size) for k, v in locs.items()}
        folds = len([f for f in _class_lists_beside(cfg.att_splits) if f.name.startswith("valclasses")])
    else:
        unseen_names = read_class_list(cfg.unseen)  # type: ignore[arg-type]
        unknown = [u for u in unseen_names if u not in set(class_names)]
        if unknown:
            raise ZSLDataError(f"{cfg.unseen}: unseen class(es) {unknown[:10]} are not in the class list {cfg.classes}")
        cid = {n: i for i, n in enumerate(class_names)}
        unseen_ids = np.array(sorted(cid[n] for n in unseen_names), dtype=np.int64)
        if unseen_ids.size == len(class_names):
            raise ZSLDataError(f"{cfg.unseen}: every class of {cfg.classes} is unseen; need at least one seen class")
        check_val_folds(cfg.val_folds, len(class_names) - unseen_ids.size)
        if cfg.attributes is not None:
            attr_names = read_class_list(cfg.attribute_names) if cfg.attribute_names else None
            table = read_attribute_csv(cfg.attributes, class_names, class_list_name=f"the class list {cfg.classes}",
                                       attribute_names=attr_names)
        splits = make_xlsa17_splits(labels, unseen_ids, len(class_names), seed=cfg.seed,
                                    test_seen_fraction=cfg.test_seen_fraction, val_folds=cfg.val_folds)
        seen = splits.seen
        split_sizes = {k: int(v.size) for k, v in splits.locs.items()}
        folds = len(splits.folds)
    words, word_info = (None, None) if cfg.word_vectors is None and cfg.class_embeddings is None else \
        _class_word_vectors(cfg, class_names)
    fingerprint = _feature_fingerprint(cfg)
    feature_file = f"{cfg.feature_name}.mat"
    with output_dir(cfg.out, "dataset", overwrite=cfg.overwrite) as od:
        out = Path(cfg.out)
        if od.owns(BUILD_FILE):
            done = _finished_feature_build(out, fingerprint)
            if done is not None:
                log.info("%s already holds this build (same inputs and settings): nothing recomputed", out)
                done.seconds = time.perf_counter() - t_start
                return done
            raise ZSLDataError(f"{out}: already holds a dataset built from other inputs or settings ({BUILD_FILE}); "
                               "pass overwrite=True (--overwrite) to rebuild it (the same command again keeps it)")
        od.expect(BUILD_FILE, feature_file, "att_splits.mat")
        # 2. files (the features last but BUILD.json, which marks the build finished)
        t0 = time.perf_counter()
        dims = [(b.name, b.dim) for b in blocks]
        block_info = [{"name": b.name, "dim": b.dim, "file": str(b.path.resolve()), "sha256": sha256_file(b.path),
                       "stored_dtype": b.dtype} for b in blocks]
        features = stack_blocks(blocks)
        del blocks
        version = "v7.3" if features.nbytes > _V5_LIMIT else "v5"
        if a is not None:
            copy_output(cfg.att_splits, out / "att_splits.mat")  # type: ignore[arg-type]
            for f in _class_lists_beside(cfg.att_splits):  # type: ignore[arg-type]
                copy_output(f, out / f.name)
            if words is not None:
                write_att_splits(out / "word2vec_splits.mat", words, a.locs, class_names=class_names, version="v5")
            write_res101(out / feature_file, features, labels, version=version, blocks=dims)
        else:
            write_xlsa17_dataset(out, features, labels, None, class_names, table, splits, version=version,
                                 word_vectors=words, features_file=feature_file, blocks=dims)
        timings["write"] = time.perf_counter() - t0
        n, d = features.shape
        del features
        provenance: dict[str, Any] = {
            "format": FEATURES_FORMAT,
            "fingerprint": fingerprint,
            "zslkit_version": __version__,
            "features": {"file": feature_file, "kind": "precomputed", "description": cfg.description,
                         "dim": int(d), "blocks": block_info},
            "comparability": (f"Precomputed features ({cfg.description}) brought by the user; numbers measured on "
                              "this directory are comparable with papers that used these same features and splits, "
                              "not with results on other features (e.g. the xlsa17 ResNet-101 res101.mat)."),
            "inputs": {"labels": str(Path(cfg.labels).resolve()), "labels_sha256": sha256_file(cfg.labels),
                       "att_splits": None if a is None else str(Path(cfg.att_splits).resolve()),  # type: ignore
                       "classes": None if cfg.classes is None else str(Path(cfg.classes).resolve()),
                       "unseen": None if cfg.unseen is None else str(Path(cfg.unseen).resolve()),
                       "attributes": None if cfg.attributes is None else str(Path(cfg.attributes).resolve()),
                       "word_vectors": cfg.word_vectors},
            "semantics": ((["att", "original_att"] if (a is not None and a.att is not None) or table is not None
                           else []) + (["word2vec"] if words is not None else [])),
            "word_vectors": word_info,
            "splits": "from att_splits.mat" if a is not None else "made by zslkit (seeded)",
            "settings": {k: getattr(cfg, k) for k in ("seed", "test_seen_fraction", "val_folds")},
            "counts": {"images": int(n), "classes": len(class_names), "seen": int(seen.size),
                       "unseen": int(unseen_ids.size), "splits": split_sizes,
                       "attributes": 0 if table is None and (a is None or a.att is None) else
                       int((table.values if table is not None else a.att).shape[1]),  # type: ignore[union-attr]
                       "images_per_class": {class_names[i]: int(counts[i]) for i in range(len(class_names))}},
            "timings_s": timings,
        }
        atomic_write_json(out / BUILD_FILE, provenance)
        for sem in provenance["semantics"][:1]:
            load_xlsa17(out, semantic=sem)  # the directory must read back (raises on any inconsistency)
        return _report_from_record(out, provenance, time.perf_counter() - t_start)


def _report_from_record(out: Path, prov: dict[str, Any], seconds: float, already: bool = False) -> BuildReport:
    """The :class:`BuildReport` of a build from its BUILD.json record (an image build records its feature
    width under "backbone", a build from precomputed features under "features")."""
    counts = prov.get("counts", {})
    dim = prov["backbone"].get("feature_dim", 0) if "backbone" in prov else prov.get("features", {}).get("dim", 0)
    return BuildReport(out=out, num_images=int(counts.get("images", 0)), feature_dim=int(dim),
                       num_seen=int(counts.get("seen", 0)), num_unseen=int(counts.get("unseen", 0)),
                       num_attributes=int(counts.get("attributes", 0)), splits=dict(counts.get("splits", {})),
                       val_folds=int(prov.get("settings", {}).get("val_folds", 0)),
                       skipped=list(prov.get("skipped_images", [])),
                       word_vector_dim=int((prov.get("word_vectors") or {}).get("dim", 0)),
                       provenance=prov, already_built=already, seconds=seconds)


def _finished_feature_build(out: Path, fingerprint: str) -> BuildReport | None:
    prov = _build_record(out, fingerprint)
    return None if prov is None else _report_from_record(out, prov, 0.0, already=True)


def _build_record(out: Path, fingerprint: str) -> dict[str, Any] | None:
    """``out``'s BUILD.json when it records a build of ``fingerprint`` (the same inputs and settings) and the
    directory reads back (raises on any inconsistency); else None."""
    import json

    try:
        prov = json.loads((out / BUILD_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(prov, dict) or prov.get("fingerprint") != fingerprint:
        return None
    for sem in prov.get("semantics", [])[:1]:
        load_xlsa17(out, semantic=sem)
    return prov
