"""Evaluate discovered embeddings on the synthetic image world: an xlsa17 directory built from it.

After :func:`zslkit.vgse.discovery.discover` has run on the world's seen-class training
images, :func:`build_world_xlsa17` extracts one whole-image feature per image (every seen
train/test and unseen image) with the discovery's backbone and writes a dataset directory the
rest of the toolkit reads (:func:`zslkit.data.load_xlsa17`):

* ``res101.mat``: (N, D_f) features, labels, image files (flagged SURROGATE: synthetic images);
* ``att_splits.mat``: the world's ground-truth attributes (``att`` L2-normalised per class,
  ``original_att`` = 100 x the 0/1 attributes), ``trainval``/``test_seen``/``test_unseen`` locs;
* ``word2vec_splits.mat``: the class word vectors discovery used (from the word-vector file);
* ``VGSE_SMO.mat`` (from discovery) and ``VGSE_WAvg.mat`` (same seen rows, unseen rows from the
  weighted-average relation);
* class lists: ``trainvalclasses.txt``, ``testclasses.txt`` and ``n_folds`` seeded validation
  folds ``trainclassesK.txt`` / ``valclassesK.txt`` (each a 1/n_folds share of the seen classes).

**Synthetic-world data: nothing measured on it is a benchmark result.**
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from zslkit.data.images import ImageList, scan_image_folder
from zslkit.data.patches import PatchExtractor, PatchSpec
from zslkit.data.xlsa17 import write_att_splits, write_class_list, write_res101
from zslkit.vgse.backbone import state_fingerprint
from zslkit.vgse.discovery import DiscoveryResult, unseen_from_relation
from zslkit.vgse.export import write_embedding_mat
from zslkit.vgse.feature_cache import extract_features


@dataclass
class WorldDataset:
    """An xlsa17 directory built from the synthetic world.

    Attributes:
        root: the directory.
        semantics: name -> value of ``load_xlsa17(root, semantic=...)`` for ``att``, ``word2vec``,
            ``vgse`` (SMO relation) and ``vgse_wavg``.
        sizes: images per split.
    """

    root: Path
    semantics: dict[str, str]
    sizes: dict[str, int]


def world_global_features(world_root: str | Path, world: Any, backbone: torch.nn.Module, cache_dir: str | Path,
                          size: int, progress: bool = False) -> tuple[np.ndarray, np.ndarray, list[str],
                                                                      dict[str, np.ndarray]]:
    """Whole-image features of every world image (``train/`` and ``test/`` folders) and the splits.

    Returns:
        features (N, D_f) float32, labels (N,), image paths, locs {trainval, test_seen, test_unseen}
        (0-based indices; trainval = the seen-class ``train/`` images).
    """
    root = Path(world_root)
    names = world.class_names
    tr = scan_image_folder(root / "train", names, classes=[names[c] for c in world.seen])
    te = scan_image_folder(root / "test", names)
    paths = tr.paths + te.paths
    labels = np.concatenate([tr.labels, te.labels]).astype(np.int64)
    images = ImageList(paths, labels, names, str(root))
    spec = PatchSpec(rows=1, cols=1, overlap=0.0, size=size)  # one "patch" = the whole image
    cache = extract_features(images, PatchExtractor(spec), backbone, Path(cache_dir), state_fingerprint(backbone),
                             batch_size=128, progress=progress, desc="global features")
    feats = np.asarray(cache.features[:, 0, :], dtype=np.float32)
    n_tr = len(tr)
    unseen = np.isin(labels, world.unseen)
    after_train = np.arange(labels.size) >= n_tr
    locs = {"trainval": np.arange(n_tr), "test_seen": np.flatnonzero(~unseen & after_train),
            "test_unseen": np.flatnonzero(unseen)}
    return feats, labels, paths, locs


def build_world_xlsa17(out_dir: str | Path, world: Any, world_root: str | Path, result: DiscoveryResult,
                       backbone: torch.nn.Module, seed: int = 0, n_folds: int = 3,
                       progress: bool = False) -> WorldDataset:
    """Write the xlsa17 directory described in the module docstring; returns a :class:`WorldDataset`.

    Args:
        out_dir: the dataset directory to write.
        world, world_root: the :class:`~zslkit.data.synthetic_world.SyntheticWorld` and the folder it
            was written to (``train/``, ``test/``).
        result: the discovery run on that world (its word vectors and VGSE embeddings).
        backbone: the backbone of the discovery (e.g. the pre-trained tiny CNN).
        seed: seed of the validation class folds; n_folds: how many folds.
    """
    from zslkit.utils.outputs import output_dir

    with output_dir(out_dir, "dataset"):
        return _build_world_xlsa17(Path(out_dir), world, world_root, result, backbone, seed, n_folds, progress)


def _build_world_xlsa17(out: Path, world: Any, world_root: str | Path, result: DiscoveryResult,
                        backbone: torch.nn.Module, seed: int, n_folds: int, progress: bool) -> WorldDataset:
    names = world.class_names
    feats, labels, paths, locs = world_global_features(world_root, world, backbone, out / "global_cache",
                                                       world.config.image_size, progress=progress)
    att01 = np.asarray(world.attributes, dtype=np.float64)
    att = att01 / np.maximum(np.linalg.norm(att01, axis=1, keepdims=True), 1e-12)
    write_res101(out / "res101.mat", feats, labels, image_files=paths, surrogate=True)
    write_att_splits(out / "att_splits.mat", att, locs, class_names=names, original_att=att01 * 100, surrogate=True)
    write_att_splits(out / "word2vec_splits.mat", result.word_vectors, locs, class_names=names, surrogate=True)
    write_class_list(out / "trainvalclasses.txt", result.seen_names)
    write_class_list(out / "testclasses.txt", result.unseen_names)
    perm = np.random.default_rng([seed, 99]).permutation(len(result.seen_names))
    for k, part in enumerate(np.array_split(perm, n_folds), start=1):
        val = {result.seen_names[i] for i in part}
        write_class_list(out / f"trainclasses{k}.txt", [n for n in result.seen_names if n not in val])
        write_class_list(out / f"valclasses{k}.txt", [n for n in result.seen_names if n in val])
    sid = np.array([names.index(n) for n in result.seen_names])
    uid = np.array([names.index(n) for n in result.unseen_names])
    write_embedding_mat(out / "VGSE_SMO.mat", result.embeddings, names, result.seen_names, result.unseen_names,
                        result.relation)
    r_w, unseen_w = unseen_from_relation(result.word_vectors[sid], result.word_vectors[uid], result.seen_embeddings,
                                         "wavg", 0.0)
    emb_w = result.embeddings.copy()
    emb_w[uid] = unseen_w
    write_embedding_mat(out / "VGSE_WAvg.mat", emb_w, names, result.seen_names, result.unseen_names, r_w)
    return WorldDataset(root=out, semantics={"att": "att", "word2vec": "word2vec",
                                             "vgse": str(out / "VGSE_SMO.mat"),
                                             "vgse_wavg": str(out / "VGSE_WAvg.mat")},
                        sizes={k: int(v.size) for k, v in locs.items()})
