"""Data for AttentionNet training: cached backbone feature maps (or images) plus ZSL bookkeeping.

:class:`AttentionData` is what the image-level models train on (:mod:`zslkit.image_pipeline`):
per-image inputs (cached feature maps ``N x C x h x w``, or a dataset of image tensors),
labels, the class semantic matrix, the attribute-name word vectors and the xlsa17 splits.
Splits and validation folds reuse :class:`zslkit.data.ZSLData`'s logic exactly (through an
index-only ``ZSLData``), so model selection never touches test images.

A feature-map directory (:func:`save_feature_maps` / :func:`load_feature_maps`)::

    maps.npy               (N, C, h, w) float16 or float32, opened memory-mapped
    labels.npy             (N,) int64 class ids
    semantic.npy           (num_classes, A) float32 class semantic matrix (attributes)
    attribute_vectors.npy  (A, D_w) float32 word vectors of the attribute names
    splits.npz             trainval, test_seen, test_unseen (+ optional) index arrays
    meta.json              format tag, class/attribute names, class folds, surrogate flag,
                           provenance (backbone, image size, source paths)

Sizes: CUB (11,788 images) with ResNet-101 maps at 448 px (2048 x 14 x 14) is 9.3 GB in
float16; a CPU run reads it memory-mapped, batch by batch. :func:`extract_feature_maps`
writes ``maps.npy`` from any image dataset and backbone (on a GPU where there is one).

:func:`make_synthetic_feature_maps` builds a small SYNTHETIC feature-map world for tests
and benchmarks: every attribute is a spatial blob pattern in a few channels at a jittered,
attribute-specific location, with clutter and noise (see its docstring). Numbers on it are
not benchmark results for any real dataset.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from zslkit.data.zsldata import ValidationSplit, ZSLData
from zslkit.errors import ConfigError, ZSLDataError
from zslkit.evaluation.protocol import EvalSplit
from zslkit.utils.outputs import atomic_path, atomic_write_json

log = logging.getLogger(__name__)

__all__ = [
    "FEATURE_MAP_FORMAT",
    "AttentionData",
    "FeatureMapDataset",
    "ImageDataset",
    "extract_feature_maps",
    "image_transform",
    "is_feature_map_dir",
    "load_feature_maps",
    "load_image_data",
    "make_synthetic_feature_maps",
    "save_feature_maps",
]

FEATURE_MAP_FORMAT = "zslkit-feature-maps-v1"
KINDS = ("feature_maps", "images")


class FeatureMapDataset(torch.utils.data.Dataset):
    """Indexable view of an (N, C, h, w) array (ndarray, np.memmap or tensor) as float32 tensors.

    ``dataset[i]`` -> (C, h, w); ``dataset.get_batch(indices)`` -> (B, C, h, w), one read
    of the rows (the training loop uses it instead of stacking items).
    """

    def __init__(self, maps: Any):
        if isinstance(maps, torch.Tensor):
            maps = maps.detach().cpu().numpy()
        if not hasattr(maps, "shape") or len(maps.shape) != 4:
            raise ZSLDataError(f"feature maps must be a 4-D array (N, C, h, w), got shape "
                               f"{getattr(maps, 'shape', type(maps).__name__)}")
        if not np.issubdtype(maps.dtype, np.floating):
            raise ZSLDataError(f"feature maps must be floating point (float16/float32), got dtype {maps.dtype}")
        self.maps = maps

    def __len__(self) -> int:
        return int(self.maps.shape[0])

    def __getitem__(self, index: int) -> torch.Tensor:
        return torch.from_numpy(np.asarray(self.maps[index], dtype=np.float32))

    def get_batch(self, indices: Sequence[int]) -> torch.Tensor:
        idx = np.asarray(indices, dtype=np.int64)
        if idx.size > 1 and np.all(np.diff(idx) > 0):
            arr = self.maps[idx]
        else:  # memmaps read fastest in file order: read sorted, then restore the order
            order = np.argsort(idx, kind="stable")
            arr = np.empty((idx.size, *self.maps.shape[1:]), dtype=self.maps.dtype)
            arr[order] = self.maps[idx[order]]
        return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))

    @property
    def map_shape(self) -> tuple[int, int, int]:
        return tuple(int(v) for v in self.maps.shape[1:])  # type: ignore[return-value]


@dataclass
class AttentionData:
    """Inputs, labels, semantics and splits for AttentionNet.

    Attributes:
        inputs: ``kind="feature_maps"``: an (N, C, h, w) array (np.ndarray / np.memmap /
            tensor) of backbone feature maps. ``kind="images"``: a ``torch`` Dataset whose
            item i is image i as a (3, H, W) float tensor (or a tuple starting with it),
            already transformed (resize, crop, normalise, augmentation).
        labels: (N,) int class ids.
        class_names: one name per class (rows of ``semantic``).
        semantic: (num_classes, A) class semantic matrix (attributes).
        attribute_vectors: (A, D_w) word vectors of the attribute names (None for models that
            use none, e.g. BasicNet).
        splits: ``trainval``, ``test_seen``, ``test_unseen`` index arrays (as in ZSLData).
        attribute_names: A names (figures), optional.
        class_folds: (train_classes, val_classes) partitions of the seen classes (xlsa17
            ``trainclassesK``/``valclassesK``); empty = seeded partition.
        kind: "feature_maps" or "images".
        surrogate: True for synthetic data (numbers on it are not benchmark results).
        image_files: optional N image paths (attention-map figures).
        provenance: where everything came from.
        eval_inputs: images only: the same images with the test-time transform (no
            augmentation), used for every prediction; None = ``inputs``.
    """

    inputs: Any
    labels: np.ndarray
    class_names: list[str]
    semantic: np.ndarray
    attribute_vectors: np.ndarray | None
    splits: dict[str, np.ndarray]
    attribute_names: list[str] | None = None
    class_folds: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    kind: str = "feature_maps"
    surrogate: bool = False
    image_files: list[str] | None = None
    provenance: dict[str, Any] = field(default_factory=dict)
    eval_inputs: Any = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"AttentionData.kind must be one of {list(KINDS)}, got {self.kind!r}")
        if self.kind == "feature_maps":
            self._dataset: Any = self.inputs if isinstance(self.inputs, FeatureMapDataset) \
                else FeatureMapDataset(self.inputs)
        else:
            if not hasattr(self.inputs, "__getitem__") or not hasattr(self.inputs, "__len__"):
                raise ZSLDataError(f"image inputs must be an indexable dataset with a length, got "
                                   f"{type(self.inputs).__name__}")
            self._dataset = self.inputs
        n = len(self._dataset)
        if self.eval_inputs is None:
            self._eval_dataset = self._dataset
        elif self.kind == "feature_maps":
            raise ConfigError("eval_inputs is for image inputs (a test-time transform); feature maps are used as they are")
        else:
            if not hasattr(self.eval_inputs, "__getitem__") or len(self.eval_inputs) != n:
                raise ZSLDataError(f"eval_inputs must be an indexable dataset of the same {n} images")
            self._eval_dataset = self.eval_inputs
        labels = np.asarray(self.labels)
        if labels.shape != (n,):
            raise ZSLDataError(f"labels must have shape ({n},) (one per input), got {labels.shape}")
        # An index-only ZSLData (features: N x 1 zeros) validates labels, semantic and splits and
        # provides the validation folds and the test split with exactly ZSLData's rules.
        self._zsl = ZSLData(features=np.zeros((n, 1), dtype=np.float32), labels=labels,
                            class_names=list(self.class_names), semantic=self.semantic, splits=dict(self.splits),
                            class_folds=list(self.class_folds), surrogate=bool(self.surrogate),
                            provenance=dict(self.provenance))
        self.labels = self._zsl.labels
        self.class_names = self._zsl.class_names
        self.semantic = self._zsl.semantic
        self.splits = self._zsl.splits
        self.class_folds = self._zsl.class_folds
        if self.attribute_vectors is None:  # models without attribute queries (BasicNet) need none
            vec = None
        else:
            vec = self._check_vectors(np.asarray(self.attribute_vectors))
        self.attribute_vectors = vec
        if self.attribute_names is not None:
            self.attribute_names = [str(a) for a in self.attribute_names]
            if len(self.attribute_names) != self.num_attributes:
                raise ZSLDataError(f"attribute_names has {len(self.attribute_names)} names, expected "
                                   f"{self.num_attributes} (one per semantic column)")
        if self.image_files is not None and len(self.image_files) != n:
            raise ZSLDataError(f"image_files has {len(self.image_files)} entries, expected {n}")

    def _check_vectors(self, vec: np.ndarray) -> np.ndarray:
        if vec.ndim != 2 or vec.shape[0] != self.semantic.shape[1] or vec.shape[1] == 0:
            raise ZSLDataError(f"attribute_vectors must have shape ({self.semantic.shape[1]}, D_w): one word vector "
                               f"per attribute (column of the semantic matrix), got {vec.shape}")
        if not np.issubdtype(vec.dtype, np.number) or not np.all(np.isfinite(vec)):
            raise ZSLDataError("attribute_vectors must be finite numbers")
        if np.any(np.linalg.norm(vec, axis=1) == 0):
            # Published files have such rows (SUN's "man-made" is out of word2vec's vocabulary): the
            # models then query with the projection bias alone, as the authors' did. Allowed, said loudly.
            bad = np.flatnonzero(np.linalg.norm(vec, axis=1) == 0)[:10].tolist()
            names = [self.attribute_names[i] for i in bad] if self.attribute_names else bad
            log.warning("attribute_vectors rows %s are all zero (attribute names without a word vector: %s); "
                        "their attention queries come from the projection bias alone", bad, names)
        return vec.astype(np.float32)

    # -- views -------------------------------------------------------------------------

    @classmethod
    def from_zsldata(cls, zsl: ZSLData, inputs: Any, attribute_vectors: np.ndarray, *, kind: str = "feature_maps",
                     attribute_names: list[str] | None = None) -> "AttentionData":
        """Labels, classes, semantic matrix, splits and folds of ``zsl`` (e.g. from xlsa17) with new inputs."""
        return cls(inputs=inputs, labels=zsl.labels, class_names=zsl.class_names, semantic=zsl.semantic,
                   attribute_vectors=attribute_vectors, splits=zsl.splits, attribute_names=attribute_names,
                   class_folds=list(zsl.class_folds), kind=kind, surrogate=zsl.surrogate,
                   image_files=zsl.image_files, provenance=dict(zsl.provenance))

    @property
    def dataset(self) -> Any:
        """The per-image dataset the training loop reads (FeatureMapDataset or the image dataset)."""
        return self._dataset

    @property
    def eval_dataset(self) -> Any:
        """The dataset predictions are made on (images: the test-time transform; else :attr:`dataset`)."""
        return self._eval_dataset

    @property
    def zsl(self) -> ZSLData:
        """Index-only ZSLData (features are N x 1 zeros): splits, folds, class sets."""
        return self._zsl

    @property
    def num_images(self) -> int:
        return int(self.labels.shape[0])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def num_attributes(self) -> int:
        return int(self.semantic.shape[1])

    @property
    def seen_classes(self) -> np.ndarray:
        return self._zsl.seen_classes

    @property
    def unseen_classes(self) -> np.ndarray:
        return self._zsl.unseen_classes

    @property
    def map_shape(self) -> tuple[int, int, int] | None:
        """(C, h, w) of the feature maps; None for images."""
        return self._dataset.map_shape if isinstance(self._dataset, FeatureMapDataset) else None

    def validation_split(self, fold: int = 1, holdout: float = 0.2, seed: int = 0) -> ValidationSplit:
        """See :meth:`zslkit.data.ZSLData.validation_split` (seen classes only)."""
        return self._zsl.validation_split(fold=fold, holdout=holdout, seed=seed)

    def test_split(self) -> EvalSplit:
        return self._zsl.test_split()

    def summary(self) -> dict[str, Any]:
        s = self._zsl.summary()
        s.pop("feature_dim", None)
        s.update({"kind": self.kind, "map_shape": self.map_shape,
                  "word_dim": None if self.attribute_vectors is None else int(self.attribute_vectors.shape[1])})
        return s


# --------------------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------------------


def _save_npy(path: Path, arr: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        np.save(tmp, arr, allow_pickle=False)


def save_feature_maps(directory: str | os.PathLike, data: AttentionData, overwrite: bool = False) -> Path:
    """Write ``data`` (kind "feature_maps") as a feature-map directory (see module docstring), atomically per file.

    ``meta.json`` is written last: a directory without it is incomplete.
    """
    from zslkit.utils.outputs import output_dir

    if data.kind != "feature_maps":
        raise ConfigError("save_feature_maps needs AttentionData with kind='feature_maps'")
    out = Path(directory)
    with output_dir(out, "feature maps", overwrite=overwrite) as od:
        if od.owns("meta.json"):
            raise ConfigError(f"{out} already holds a feature-map dataset (meta.json); pass overwrite=True to "
                              "replace it")
        return _save_feature_maps(out, data)


def _save_feature_maps(out: Path, data: AttentionData) -> Path:
    maps = data.dataset.maps
    with atomic_path(out / "maps.npy") as tmp:
        mm = np.lib.format.open_memmap(tmp, mode="w+", dtype=maps.dtype, shape=maps.shape)
        step = max(1, (64 << 20) // max(1, int(np.prod(maps.shape[1:])) * maps.dtype.itemsize))
        for start in range(0, maps.shape[0], step):
            mm[start:start + step] = maps[start:start + step]
        mm.flush()
        del mm
    _save_npy(out / "labels.npy", data.labels.astype(np.int64))
    _save_npy(out / "semantic.npy", data.semantic.astype(np.float32))
    if data.attribute_vectors is not None:
        _save_npy(out / "attribute_vectors.npy", data.attribute_vectors.astype(np.float32))
    with atomic_path(out / "splits.npz") as tmp:
        np.savez(tmp, **{k: v.astype(np.int64) for k, v in data.splits.items()})
    meta = {
        "format": FEATURE_MAP_FORMAT,
        "shape": list(maps.shape),
        "dtype": str(maps.dtype),
        "class_names": data.class_names,
        "attribute_names": data.attribute_names,
        "class_folds": [[np.asarray(tr).tolist(), np.asarray(va).tolist()] for tr, va in data.class_folds],
        "surrogate": bool(data.surrogate),
        "image_files": data.image_files,
        "provenance": data.provenance,
    }
    atomic_write_json(out / "meta.json", meta)
    return out


def _load_npy(path: Path, field_name: str, mmap: bool = False) -> np.ndarray:
    if not path.is_file():
        raise ZSLDataError(f"feature-map directory is missing {path.name} ({field_name}): expected {path}")
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise ZSLDataError(f"cannot read {path} ({field_name}): {exc}") from exc


def is_feature_map_dir(directory: str | os.PathLike) -> bool:
    """Whether ``directory`` looks like a feature-map directory (has ``meta.json`` and ``maps.npy``)."""
    d = Path(directory)
    return (d / "meta.json").is_file() and (d / "maps.npy").is_file()


def load_feature_maps(directory: str | os.PathLike, mmap: bool = True) -> AttentionData:
    """Read a feature-map directory written by :func:`save_feature_maps` (maps memory-mapped by default)."""
    d = Path(directory)
    meta_path = d / "meta.json"
    if not meta_path.is_file():
        raise ZSLDataError(f"{d} is not a feature-map directory: {meta_path} is missing "
                           f"(write one with zslkit.training.feature_maps.save_feature_maps)")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ZSLDataError(f"cannot parse {meta_path}: {exc}") from exc
    if meta.get("format") != FEATURE_MAP_FORMAT:
        raise ZSLDataError(f"{meta_path}: field 'format' is {meta.get('format')!r}, expected {FEATURE_MAP_FORMAT!r}")
    for key in ("class_names",):
        if key not in meta:
            raise ZSLDataError(f"{meta_path}: field {key!r} is missing")
    maps = _load_npy(d / "maps.npy", "feature maps (N, C, h, w)", mmap=mmap)
    if list(maps.shape) != list(meta.get("shape", maps.shape)):
        raise ZSLDataError(f"{d / 'maps.npy'} has shape {list(maps.shape)} but {meta_path} says {meta.get('shape')}")
    splits_path = d / "splits.npz"
    if not splits_path.is_file():
        raise ZSLDataError(f"feature-map directory is missing splits.npz: expected {splits_path}")
    with np.load(splits_path, allow_pickle=False) as z:
        splits = {k: z[k] for k in z.files}
    folds = [(np.asarray(tr, dtype=np.int64), np.asarray(va, dtype=np.int64))
             for tr, va in meta.get("class_folds") or []]
    try:
        return AttentionData(
            inputs=maps, labels=_load_npy(d / "labels.npy", "labels (N,)"), class_names=meta["class_names"],
            semantic=_load_npy(d / "semantic.npy", "class semantic matrix (classes, A)"),
            attribute_vectors=_load_npy(d / "attribute_vectors.npy", "attribute word vectors (A, D_w)")
            if (d / "attribute_vectors.npy").is_file() else None,
            splits=splits, attribute_names=meta.get("attribute_names"), class_folds=folds, kind="feature_maps",
            surrogate=bool(meta.get("surrogate", False)), image_files=meta.get("image_files"),
            provenance={**(meta.get("provenance") or {}), "path": str(d)})
    except ZSLDataError as exc:
        raise ZSLDataError(f"feature-map directory {d}: {exc}") from exc


# --------------------------------------------------------------------------------------
# images
# --------------------------------------------------------------------------------------

#: ImageNet statistics the torchvision / timm backbones were trained with
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def image_transform(size: int, train: bool, augment: bool = True) -> Any:
    """The ReZSL / GEM-ZSL authors' image transforms at ``size`` px (448 for ResNets, 224 for ViTs).

    Training (``augment``): resize the short side to ``int(size * 8 / 7)``, random ``size`` crop,
    horizontal flip with probability 0.5. Test (and training without ``augment``): resize the
    short side to ``size``, centre crop. Then ImageNet normalisation.
    """
    from torchvision import transforms as T

    if train and augment:
        head = [T.Resize(int(size * 8.0 / 7.0)), T.RandomCrop(size), T.RandomHorizontalFlip(0.5)]
    else:
        head = [T.Resize(size), T.CenterCrop(size)]
    return T.Compose([*head, T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])


class ImageDataset(torch.utils.data.Dataset):
    """Image files read and transformed on access: ``dataset[i]`` -> (3, S, S) float tensor.

    Unreadable images raise :class:`zslkit.data.images.ImageReadError` naming the file. The
    random transforms draw from torch's global generator (or a DataLoader worker's), which the
    training engine seeds, so runs are deterministic with a seed.
    """

    def __init__(self, paths: Sequence[str], transform: Any):
        self.paths = [str(p) for p in paths]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> torch.Tensor:
        from zslkit.data.images import load_image

        return self.transform(load_image(self.paths[int(index)]))


def load_image_data(root: str | os.PathLike, images: str | os.PathLike, *, semantic: str = "att",
                    attribute_vectors: np.ndarray | None = None, attribute_names: Sequence[str] | None = None,
                    image_size: int = 448, augment: bool = True) -> AttentionData:
    """An xlsa17 directory with its images, for training image-level models end to end.

    The images are those named by ``res101.mat``'s ``image_files``, found under ``images`` by
    dropping the leading path components the published files carry
    (:func:`zslkit.data.images.resolve_image_paths`: ``/BS/.../JPEGImages/antelope/x.jpg`` ->
    ``IMAGES/JPEGImages/antelope/x.jpg`` or ``IMAGES/antelope/x.jpg``, whichever exists). Labels,
    classes, the semantic matrix (``semantic``), splits and validation folds are the xlsa17
    directory's. Training images get :func:`image_transform` with ``augment``, predictions the
    test transform. ``attribute_vectors`` (A x L): the attribute names' word vectors, for the
    models that query with them.
    """
    from zslkit.data.images import resolve_image_paths
    from zslkit.data.xlsa17 import load_xlsa17

    zsl = load_xlsa17(root, semantic=semantic)
    if not zsl.image_files:
        raise ZSLDataError(f"{root}: res101.mat has no image_files, so its images cannot be found")
    paths, dropped = resolve_image_paths(zsl.image_files, images, source=f"{Path(root) / 'res101.mat'}:image_files")
    missing = [p for p in paths if not Path(p).is_file()]
    if missing:
        raise ZSLDataError(f"{len(missing)} of {len(paths)} images named by {root}/res101.mat are missing under "
                           f"{images} (e.g. {missing[0]}); every image of the dataset is needed")
    return AttentionData(
        inputs=ImageDataset(paths, image_transform(image_size, True, augment)), labels=zsl.labels,
        class_names=zsl.class_names, semantic=zsl.semantic, attribute_vectors=attribute_vectors, splits=zsl.splits,
        attribute_names=attribute_names, class_folds=list(zsl.class_folds), kind="images", surrogate=zsl.surrogate,
        image_files=paths, eval_inputs=ImageDataset(paths, image_transform(image_size, False)),
        provenance={**zsl.provenance, "images": str(images), "image_path_components_dropped": dropped,
                    "image_size": image_size, "augment": augment, "dataset": Path(root).name})


@torch.no_grad()
def extract_feature_maps(backbone: torch.nn.Module, images: Any, out_path: str | os.PathLike, *,
                         batch_size: int = 32, device: str | torch.device = "cpu", dtype: Any = np.float16,
                         num_workers: int = 0, progress: bool = False) -> Path:
    """Run ``backbone`` (eval mode) over an image dataset; write (N, C, h, w) maps to ``out_path`` (.npy).

    ``images[i]`` is a (3, H, W) tensor or a tuple starting with one (e.g. torchvision's
    ImageFolder with a transform). Written into a memory-mapped temporary file, renamed
    into place when complete. float16 halves the size (ResNet maps are post-ReLU, O(1)).
    """
    from torch.utils.data import DataLoader

    dev = torch.device(device)
    backbone = backbone.to(dev).eval()
    loader = DataLoader(images, batch_size=batch_size, shuffle=False, num_workers=num_workers,
                        collate_fn=_stack_first, pin_memory=dev.type == "cuda")
    n = len(images)
    mm = None
    done = 0
    bar = None
    if progress:
        from zslkit.utils.progress import progress_bar

        bar = progress_bar(total=n, desc="feature maps", unit="img")
    with atomic_path(out_path) as tmp:
        for x in loader:
            fmap = backbone(x.to(dev, non_blocking=True)).float().cpu().numpy()
            if mm is None:
                mm = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.dtype(dtype), shape=(n, *fmap.shape[1:]))
            mm[done:done + fmap.shape[0]] = fmap
            done += fmap.shape[0]
            if bar is not None:
                bar.update(fmap.shape[0])
        if mm is None:
            raise ZSLDataError("the image dataset is empty: no feature maps to extract")
        mm.flush()
        del mm
    if bar is not None:
        bar.close()
    return Path(out_path)


def _stack_first(items: list[Any]) -> torch.Tensor:
    return torch.stack([it[0] if isinstance(it, (tuple, list)) else it for it in items])


# --------------------------------------------------------------------------------------
# synthetic feature-map world (tests, benchmarks)
# --------------------------------------------------------------------------------------


def make_synthetic_feature_maps(num_classes: int = 30, num_unseen: int = 8, images_per_class: int = 40,
                                num_attributes: int = 24, channels: int = 32, size: int = 7, word_dim: int = 50,
                                channels_per_attribute: int = 3, clutter: int = 3, noise: float = 0.3,
                                test_seen_share: float = 0.2, seed: int = 0,
                                dtype: Any = np.float32) -> AttentionData:
    """A SYNTHETIC ZSL world of feature maps in which attributes are spatial patterns.

    * Class semantics (num_classes x A): each class has each attribute with probability
      0.3 (at least 2 per class), strength U(0.5, 1); unseen classes are new combinations
      of the same attributes, so attribute prediction transfers.
    * Attribute a has a channel signature (``channels_per_attribute`` strong channels plus
      a weak dense part; signatures overlap between attributes), a preferred location on
      the size x size grid, and an amplitude U(0.4, 1.6) (some attributes are much harder
      to see than others, the imbalance ReMSE targets).
    * Image of class c: each attribute of c is present with probability 0.9 (others with
      0.05, at strength U(0.2, 0.5)), as a Gaussian blob (sigma 0.8) of its signature at its
      preferred location jittered by N(0, 1) cells, with strength s_c[a] x amplitude x
      (1 + 0.3 N(0,1)); plus ``clutter`` blobs with random dense signatures at random places,
      plus |N(0, noise)| background; everything clipped at 0 like post-ReLU maps.
    * Attribute word vectors: random Gaussian (A x word_dim), names ``attr_00``...
    * Splits: ``num_unseen`` random classes are unseen (all images in test_unseen); of each
      seen class's images ``test_seen_share`` go to test_seen, the rest to trainval.

    Returns :class:`AttentionData` with ``surrogate=True``.
    """
    for name, value, low in (("num_classes", num_classes, 3), ("num_unseen", num_unseen, 1),
                             ("images_per_class", images_per_class, 2), ("num_attributes", num_attributes, 2),
                             ("channels", channels, 1), ("size", size, 2), ("word_dim", word_dim, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
    if num_unseen > num_classes - 2:
        raise ConfigError(f"num_unseen={num_unseen} leaves fewer than 2 seen classes of {num_classes}")
    rng = np.random.default_rng(seed)
    c_, a_, k = num_classes, num_attributes, min(channels_per_attribute, channels)

    mask = rng.random((c_, a_)) < 0.3
    for c in range(c_):  # at least two attributes per class, and distinct classes
        if mask[c].sum() < 2:
            mask[c, rng.choice(a_, 2, replace=False)] = True
    semantic = (mask * rng.uniform(0.5, 1.0, (c_, a_))).astype(np.float32)

    signature = np.abs(rng.normal(0, 0.15, (a_, channels)))
    for a in range(a_):
        signature[a, rng.choice(channels, k, replace=False)] += rng.uniform(0.7, 1.0, k)
    signature /= np.linalg.norm(signature, axis=1, keepdims=True)
    centre = rng.uniform(1.0, size - 2.0, (a_, 2))
    amplitude = rng.uniform(0.4, 1.6, a_)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)

    def blob(cy: float, cx: float, sigma: float = 0.8) -> np.ndarray:
        return np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma**2))

    n = c_ * images_per_class
    labels = np.repeat(np.arange(c_), images_per_class)
    maps = np.empty((n, channels, size, size), dtype=np.float32)
    for i in range(n):
        c = labels[i]
        fmap = np.zeros((channels, size, size))
        present = np.where(mask[c], rng.random(a_) < 0.9, rng.random(a_) < 0.05)
        for a in np.flatnonzero(present):
            base = semantic[c, a] if mask[c, a] else rng.uniform(0.2, 0.5)
            strength = max(0.0, base * amplitude[a] * (1.0 + 0.3 * rng.normal()))
            cy, cx = np.clip(centre[a] + rng.normal(0, 1.0, 2), 0, size - 1)
            fmap += strength * signature[a][:, None, None] * blob(cy, cx)[None]
        for _ in range(clutter):
            sig = np.abs(rng.normal(0, 1, channels))
            sig /= np.linalg.norm(sig)
            cy, cx = rng.uniform(0, size - 1, 2)
            fmap += rng.uniform(0.3, 1.0) * sig[:, None, None] * blob(cy, cx)[None]
        fmap += np.abs(rng.normal(0, noise, fmap.shape)) * 0.5
        maps[i] = np.maximum(fmap, 0.0)

    perm = rng.permutation(c_)
    unseen = np.sort(perm[:num_unseen])
    is_unseen = np.isin(labels, unseen)
    trainval, test_seen = [], []
    for c in np.setdiff1d(np.arange(c_), unseen):
        idx = np.flatnonzero(labels == c)
        idx = idx[rng.permutation(idx.size)]
        k_test = max(1, int(round(test_seen_share * idx.size)))
        test_seen.append(idx[:k_test])
        trainval.append(idx[k_test:])
    splits = {"trainval": np.sort(np.concatenate(trainval)), "test_seen": np.sort(np.concatenate(test_seen)),
              "test_unseen": np.flatnonzero(is_unseen)}
    word_vectors = rng.normal(0, 1, (a_, word_dim)).astype(np.float32)
    return AttentionData(
        inputs=maps.astype(dtype), labels=labels, class_names=[f"class_{c:02d}" for c in range(c_)],
        semantic=semantic, attribute_vectors=word_vectors, splits=splits,
        attribute_names=[f"attr_{a:02d}" for a in range(a_)], kind="feature_maps", surrogate=True,
        provenance={"generator": "zslkit.training.feature_maps.make_synthetic_feature_maps", "seed": seed,
                    "notes": ["SYNTHETIC feature maps: attributes are blob patterns; not a real dataset"],
                    "attribute_centres": centre.round(3).tolist(), "attribute_amplitudes": amplitude.round(3).tolist()})
