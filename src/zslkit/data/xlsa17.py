"""Readers and writers for the xlsa17 layout (Xian et al., "proposed splits" v2.0).

A dataset directory holds:

* ``res101.mat``: ``features`` (D x N), ``labels`` (N x 1, 1-based), ``image_files`` (N x 1 cell).
* ``att_splits.mat``: ``att`` (K x C, columns L2-normalised), ``original_att`` (K x C),
  ``allclasses_names`` (C x 1 cell), ``trainval_loc``, ``test_seen_loc``, ``test_unseen_loc``
  and sometimes ``train_loc``/``val_loc`` (all N-space, 1-based). A dataset without human
  attributes (``zslkit data build --word-vectors`` without ``--attributes``) has no ``att``: its
  ``att_splits.mat`` holds only the splits and ``allclasses_names``, and its class semantics
  come from the other files (``word2vec_splits.mat``) or a semantic file.
* class lists ``trainvalclasses.txt``, ``testclasses.txt``, ``trainclasses{1,2,3}.txt``,
  ``valclasses{1,2,3}.txt`` (one name a line).
* optionally other semantic files with the att_splits layout (``word2vec_splits.mat``,
  ``sent_splits.mat``, ``VGSE_SMO.mat``).

In memory zslkit uses N x D features, 0-based labels/indices and C x K semantics; the
conversions happen here and nowhere else.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from zslkit.data.matfile import load_mat, mat_strings, save_mat
from zslkit.data.semantic_files import orient_class_matrix, read_semantic_matrix
from zslkit.data.zsldata import ZSLData, check_split_indices
from zslkit.errors import ZSLDataError, did_you_mean
from zslkit.utils.finite import all_finite
from zslkit.utils.provenance import file_sha256

log = logging.getLogger(__name__)

LOC_FIELDS = ("trainval_loc", "test_seen_loc", "test_unseen_loc", "train_loc", "val_loc")
SURROGATE_FIELD = "zslkit_surrogate"
#: semantic name -> file in the dataset directory holding it (as field ``att``)
SEMANTIC_FILES = {"att": "att_splits.mat", "original_att": "att_splits.mat", "word2vec": "word2vec_splits.mat",
                  "sent": "sent_splits.mat", "vgse": "VGSE_SMO.mat"}


@dataclass
class Res101:
    """Contents of a ``res101.mat``: features (N x D float32), labels (N,) 0-based."""

    features: np.ndarray
    labels: np.ndarray
    image_files: list[str] | None
    surrogate: bool = False
    notes: list[str] = field(default_factory=list)
    #: named column blocks ``[(name, width), ...]`` of files written by ``zslkit data build --features``
    blocks: list[tuple[str, int]] | None = None


@dataclass
class AttSplits:
    """Contents of an ``att_splits.mat``-style file, converted to zslkit conventions.

    ``att``/``original_att`` are C x K; ``locs`` maps ``trainval``/``test_seen``/... to 0-based
    index arrays; ``class_names`` is ``None`` for files without ``allclasses_names`` (FLO).
    ``att`` is ``None`` for an attribute-free dataset's ``att_splits.mat`` (no ``att`` field; the
    class count then comes from ``allclasses_names``).
    """

    att: np.ndarray | None
    class_names: list[str] | None
    locs: dict[str, np.ndarray]
    original_att: np.ndarray | None = None
    surrogate: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def num_classes(self) -> int:
        """C: rows of ``att``, else the number of ``allclasses_names``."""
        if self.att is not None:
            return int(self.att.shape[0])
        return len(self.class_names or [])

    @property
    def has_att(self) -> bool:
        return self.att is not None


def _finite(arr: np.ndarray, where: str) -> None:
    if not all_finite(arr):  # exact; no full-size boolean temporary on the 37k x 2048 features
        bad = np.argwhere(~np.isfinite(arr))
        raise ZSLDataError(f"{where}: {len(bad)} NaN/inf values (first at index {tuple(bad[0])})")


def _numeric(value: Any, where: str) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ZSLDataError(f"{where}: expected a numeric matrix, got {arr.dtype} data")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise ZSLDataError(f"{where}: complex values ({arr.dtype}) are not supported; expected a real matrix "
                           "(zslkit never drops imaginary parts silently)")
    return arr


def _index_vector(value: Any, where: str, one_based: bool = True) -> np.ndarray:
    arr = _numeric(value, where)
    if arr.ndim > 2 or (arr.ndim == 2 and min(arr.shape) > 1):
        raise ZSLDataError(f"{where}: expected a vector of indices, got shape {arr.shape}")
    arr = arr.ravel()
    if arr.size and np.issubdtype(arr.dtype, np.floating):
        _finite(arr, where)
        if not np.all(arr == np.round(arr)):
            raise ZSLDataError(f"{where}: indices must be whole numbers")
    arr = arr.astype(np.int64)
    if one_based:
        if arr.size and arr.min() < 1:
            raise ZSLDataError(f"{where}: 1-based indices expected (MATLAB), found value {arr.min()}")
        arr = arr - 1
    return arr


def _flag(m: dict, default: bool = False) -> bool:
    v = m.get(SURROGATE_FIELD)
    if v is None:
        return default
    return bool(np.asarray(v).ravel()[0]) if np.asarray(v).size else default


def read_res101(path: str | os.PathLike, layout: str = "auto") -> Res101:
    """Read a ``res101.mat`` (v5 or v7.3).

    Args:
        path: the file.
        layout: ``"DxN"`` (the published layout), ``"NxD"``, or ``"auto"``: the layout is
            detected from the number of labels; a transposed (N x D) file is accepted with a
            warning (logged and recorded in ``notes``), a square matrix must be given explicitly.
    """
    p = Path(path)
    m = load_mat(p, ["features", "labels", "image_files", SURROGATE_FIELD, *BLOCK_FIELDS])
    for k in ("features", "labels"):
        if k not in m:
            raise ZSLDataError(f"{p}: field {k!r} is missing (a res101.mat needs 'features' D x N and 'labels' N x 1)")
    labels = _index_vector(m["labels"], f"{p}:labels")
    feats = _numeric(m["features"], f"{p}:features")
    if feats.ndim != 2:
        raise ZSLDataError(f"{p}:features must be 2-D (D x N), got shape {feats.shape}")
    n = labels.size
    notes: list[str] = []
    if layout not in ("auto", "DxN", "NxD"):
        raise ZSLDataError(f"layout must be 'auto', 'DxN' or 'NxD', got {layout!r}")
    if layout == "auto":
        if feats.shape[0] == feats.shape[1]:
            raise ZSLDataError(f"{p}:features is square {feats.shape}; pass layout='DxN' or 'NxD' explicitly")
        if feats.shape[1] == n:
            layout = "DxN"
        elif feats.shape[0] == n:
            layout = "NxD"
            msg = (f"{p}:features is stored N x D {feats.shape} (published files are D x N); "
                   "read as one row per image because it matches the number of labels")
            log.warning(msg)
            notes.append(msg)
        else:
            raise ZSLDataError(f"{p}: features shape {feats.shape} does not match the {n} labels in either "
                               "orientation (expected D x N)")
    feats = feats.T if layout == "DxN" else feats
    if feats.shape[0] != n:
        raise ZSLDataError(f"{p}: features have {feats.shape[0]} images in layout {layout}, labels have {n}")
    feats = np.ascontiguousarray(feats, dtype=np.float32)
    _finite(feats, f"{p}:features")
    files = None
    if "image_files" in m:
        files = mat_strings(m["image_files"], f"{p}:image_files")
        if len(files) != n:
            raise ZSLDataError(f"{p}:image_files has {len(files)} entries, expected {n} (one per label)")
    return Res101(features=feats, labels=labels, image_files=files, surrogate=_flag(m), notes=notes,
                  blocks=_read_blocks(m, feats.shape[1], p))


#: fields of a features file naming its column blocks: names (cell array) and widths (1 x B)
BLOCK_FIELDS = ("feature_blocks", "feature_block_dims")


def _read_blocks(m: dict[str, Any], dim: int, p: Path) -> list[tuple[str, int]] | None:
    if not any(k in m for k in BLOCK_FIELDS):
        return None
    if not all(k in m for k in BLOCK_FIELDS):
        raise ZSLDataError(f"{p}: has one of {BLOCK_FIELDS} without the other")
    names = mat_strings(m["feature_blocks"], f"{p}:feature_blocks")
    dims = np.asarray(m["feature_block_dims"]).ravel()
    if not np.issubdtype(dims.dtype, np.number) or dims.size != len(names) or np.any(dims < 1) or \
            np.any(dims != np.round(dims)) or int(dims.sum()) != dim:
        raise ZSLDataError(f"{p}:feature_block_dims {dims.tolist()} must be {len(names)} positive integer widths "
                           f"summing to the feature dimension {dim}")
    return [(n, int(d)) for n, d in zip(names, dims)]


def label_dtype(max_label: int) -> np.dtype:
    """The unsigned integer type ``res101.mat`` stores 1-based labels up to ``max_label`` in.

    MATLAB saves an integer-valued double array in the smallest integer storage type that holds its
    values, and ``scipy.io.loadmat`` returns that storage type (the published ``att_splits.mat``
    index fields are MATLAB doubles stored as uint16 and load as ``uint16``). zslkit writes the same
    storage type as a plain integer array: uint8 up to 255 labels (AWA2, CUB), uint16 up to 65535
    (SUN), uint32 beyond.
    """
    for dt in (np.uint8, np.uint16, np.uint32):
        if max_label <= np.iinfo(dt).max:
            return np.dtype(dt)
    return np.dtype(np.uint64)


def write_res101(path: str | os.PathLike, features: np.ndarray, labels: np.ndarray,
                 image_files: Sequence[str] | None = None, surrogate: bool = False, version: str = "v5",
                 blocks: Sequence[tuple[str, int]] | None = None) -> Path:
    """Write features (N x D) and 0-based labels in the published layout (D x N, 1-based).

    ``blocks`` (``[(name, width), ...]``, widths summing to D) names the column blocks of features
    brought from several files (``feature_blocks``, ``feature_block_dims``; not part of the published
    format, ignored by readers that do not know them).

    Features are stored as single precision (MATLAB ``single``); files above 2 GB need
    ``version="v7.3"``. Labels are stored as the smallest unsigned integer type that holds them
    (:func:`label_dtype`): the published files hold MATLAB doubles saved in integer storage, which
    ``scipy.io.loadmat`` returns as unsigned integers, and readers index arrays with them directly
    (a float64 ``labels`` field makes those readers fail with "arrays used as indices must be of
    integer type").
    """
    features = np.asarray(features, dtype=np.float32)
    labels = np.asarray(labels).astype(np.int64).ravel()
    if features.ndim != 2 or features.shape[0] != labels.size:
        raise ZSLDataError(f"write_res101: features {features.shape} must be N x D with N = {labels.size} labels")
    if labels.size and labels.min() < 0:
        raise ZSLDataError(f"write_res101: labels must be 0-based class ids >= 0, found {labels.min()}")
    top = int(labels.max()) + 1 if labels.size else 1
    out: dict[str, Any] = {"features": np.ascontiguousarray(features.T),
                           "labels": (labels + 1).astype(label_dtype(top)).reshape(-1, 1)}
    if image_files is not None:
        if len(image_files) != labels.size:
            raise ZSLDataError(f"write_res101: {len(image_files)} image_files for {labels.size} labels")
        out["image_files"] = list(image_files)
    if surrogate:
        out[SURROGATE_FIELD] = np.array([[1]], dtype=np.uint8)
    if blocks is not None:
        if sum(int(d) for _, d in blocks) != features.shape[1]:
            raise ZSLDataError(f"write_res101: block widths {[d for _, d in blocks]} do not sum to the feature "
                               f"dimension {features.shape[1]}")
        out["feature_blocks"] = [str(n) for n, _ in blocks]
        out["feature_block_dims"] = np.array([[int(d) for _, d in blocks]], dtype=np.float64)
    return save_mat(path, out, version=version)


def read_att_splits(path: str | os.PathLike, field: str = "att") -> AttSplits:
    """Read an ``att_splits.mat``-style file (also ``word2vec_splits.mat``, ``sent_splits.mat``,
    ``VGSE_SMO.mat``): the semantic matrix in ``field`` (stored K x C) and the split indices.

    With the default ``field="att"`` the field may be absent when the file has
    ``allclasses_names`` (an attribute-free dataset): ``att`` is then ``None``. Any other missing
    ``field``, or neither ``att`` nor ``allclasses_names``, is an error.
    """
    p = Path(path)
    m = load_mat(p)
    names = mat_strings(m["allclasses_names"], f"{p}:allclasses_names") if "allclasses_names" in m else None
    if field not in m and not (field == "att" and names is not None):
        hint = " (an att_splits.mat without attributes needs 'allclasses_names')" if field == "att" else ""
        raise ZSLDataError(f"{p}: field {field!r} is missing{hint} (have {sorted(m)})")
    locs = {}
    for k in LOC_FIELDS:
        if k in m:
            locs[k.removesuffix("_loc")] = _index_vector(m[k], f"{p}:{k}")
    notes: list[str] = []
    att = None
    if field in m:
        att = _numeric(m[field], f"{p}:{field}").astype(np.float64)
        att, note = orient_class_matrix(att, len(names) if names else None, f"{p}:{field}", stored="KxC")
        if note:
            notes.append(note)
        _finite(att, f"{p}:{field}")
    num_classes = att.shape[0] if att is not None else len(names)  # type: ignore[arg-type]
    orig = None
    if "original_att" in m and field != "original_att":
        orig, _ = orient_class_matrix(_numeric(m["original_att"], f"{p}:original_att").astype(np.float64),
                                      num_classes, f"{p}:original_att", stored="KxC")
    if names is not None and len(set(names)) != len(names):
        dup = sorted({x for x in names if names.count(x) > 1})
        raise ZSLDataError(f"{p}:allclasses_names has duplicate names {dup[:10]}")
    return AttSplits(att=None if att is None else att.astype(np.float32), class_names=names, locs=locs,
                     original_att=None if orig is None else orig.astype(np.float32), surrogate=_flag(m), notes=notes)


def write_att_splits(path: str | os.PathLike, att: np.ndarray | None, locs: dict[str, np.ndarray],
                     class_names: Sequence[str] | None = None, original_att: np.ndarray | None = None,
                     surrogate: bool = False, extra: dict[str, Any] | None = None, version: str = "v5") -> Path:
    """Write a semantic matrix (C x K, stored K x C) and 0-based split indices (stored 1-based).

    ``att=None`` writes an attribute-free ``att_splits.mat`` (splits and ``allclasses_names``
    only, no ``att`` field); ``class_names`` are then required, since they give the class count.
    """
    out: dict[str, Any] = {}
    if att is not None:
        att = np.asarray(att, dtype=np.float64)
        if att.ndim != 2:
            raise ZSLDataError(f"write_att_splits: att must be C x K, got shape {att.shape}")
        out["att"] = np.ascontiguousarray(att.T)
        num_classes = att.shape[0]
    elif class_names is None:
        raise ZSLDataError("write_att_splits: without att, class_names are required (they give the class count)")
    else:
        num_classes = len(class_names)
    if original_att is not None:
        original_att = np.asarray(original_att, dtype=np.float64)
        if original_att.ndim != 2 or original_att.shape[0] != num_classes:
            raise ZSLDataError(f"write_att_splits: original_att must be C x K with C = {num_classes}, got shape "
                               f"{original_att.shape}")
        out["original_att"] = np.ascontiguousarray(original_att.T)
    if class_names is not None:
        if len(class_names) != num_classes:
            raise ZSLDataError(f"write_att_splits: {len(class_names)} class names for {num_classes} rows of att")
        out["allclasses_names"] = list(class_names)
    for k, v in locs.items():
        key = k if k.endswith("_loc") else f"{k}_loc"
        out[key] = (np.asarray(v, dtype=np.int64).reshape(-1, 1) + 1).astype(np.float64)
    if surrogate:
        out[SURROGATE_FIELD] = np.array([[1]], dtype=np.uint8)
    out.update(extra or {})
    return save_mat(path, out, version=version)


def read_class_list(path: str | os.PathLike) -> list[str]:
    """One class name per line (blank lines ignored, surrounding whitespace stripped). Lines numbered
    ``1 name``, ``2 name``, ... in order (the Animals with Attributes release's ``classes.txt`` and
    ``predicates.txt``) give the names without their numbers."""
    p = Path(path)
    try:
        text = p.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ZSLDataError(f"{p}: class list not found") from None
    except UnicodeDecodeError as exc:
        raise ZSLDataError(f"{p}: not UTF-8 text ({exc})") from exc
    text = text.removeprefix("\ufeff")  # a UTF-8 byte-order mark (Windows editors) is not part of the first name
    names = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if not names:
        raise ZSLDataError(f"{p}: class list is empty")
    numbered = [ln.split(None, 1) for ln in names]
    if all(len(f) == 2 and f[0] == str(i) for i, f in enumerate(numbered, start=1)):
        names = [f[1].strip() for f in numbered]
    if len(set(names)) != len(names):
        dup = sorted({x for x in names if names.count(x) > 1})
        raise ZSLDataError(f"{p}: duplicate class names {dup[:10]}")
    return names


def write_class_list(path: str | os.PathLike, names: Sequence[str]) -> Path:
    from zslkit.utils.outputs import atomic_write_text

    return atomic_write_text(path, "".join(f"{n}\n" for n in names))


def _ids(names: list[str], index: dict[str, int], where: Path) -> np.ndarray:
    missing = [n for n in names if n not in index]
    if missing:
        raise ZSLDataError(f"{where}: classes not in allclasses_names: {missing[:10]}")
    return np.array(sorted(index[n] for n in names), dtype=np.int64)


def read_class_folds(root: Path, class_names: list[str], seen: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Validation folds from ``trainclassesK.txt``/``valclassesK.txt`` (K = 1, 2, ...)."""
    index = {n: i for i, n in enumerate(class_names)}
    folds = []
    k = 1
    while (root / f"trainclasses{k}.txt").is_file() and (root / f"valclasses{k}.txt").is_file():
        tr = _ids(read_class_list(root / f"trainclasses{k}.txt"), index, root / f"trainclasses{k}.txt")
        va = _ids(read_class_list(root / f"valclasses{k}.txt"), index, root / f"valclasses{k}.txt")
        if np.setdiff1d(np.union1d(tr, va), seen).size or np.setdiff1d(seen, np.union1d(tr, va)).size:
            raise ZSLDataError(f"{root}: trainclasses{k}.txt + valclasses{k}.txt do not partition the "
                               "seen (trainval) classes of the dataset")
        folds.append((tr, va))
        k += 1
    return folds


def sha256_file(path: str | os.PathLike) -> str:
    """SHA-256 of a file, for provenance records (:func:`zslkit.utils.provenance.file_sha256`, cached)."""
    return file_sha256(path)


def available_semantics(root: str | os.PathLike, att_splits: AttSplits | None = None,
                        splits: str = "att_splits.mat") -> list[str]:
    """The semantic names of :data:`SEMANTIC_FILES` a dataset directory can load: ``att`` (and
    ``original_att``) when ``att_splits.mat`` has them, then every other semantic whose file
    exists (``word2vec``, ``sent``, ``vgse``)."""
    root = Path(root)
    a = att_splits if att_splits is not None else read_att_splits(root / splits)
    out = []
    if a.att is not None:
        out.append("att")
    if a.original_att is not None:
        out.append("original_att")
    out += [k for k, f in SEMANTIC_FILES.items() if f != "att_splits.mat" and (root / f).is_file()]
    return out


def _no_attributes_error(root: Path, splits: str, a: AttSplits, semantic: str) -> ZSLDataError:
    have = available_semantics(root, a, splits)
    files = ", ".join(f"{k} ({SEMANTIC_FILES[k]})" for k in have) or "none in the directory"
    return ZSLDataError(f"{root / splits}: this dataset has no attributes (no 'att' field: it was built without "
                        f"an attribute table), so semantic={semantic!r} cannot be loaded; its semantics: {files}. "
                        "Pass one of those (e.g. --semantic word2vec) or a class-embedding file "
                        "(--semantic PATH.mat/.npy/.csv)")


def read_class_semantic(root: str | os.PathLike, semantic: str, num_classes: int,
                        class_names: Sequence[str] | None = None, att_splits: AttSplits | None = None,
                        splits: str = "att_splits.mat") -> tuple[np.ndarray, str, list[str]]:
    """One class matrix of an xlsa17 directory without loading the features.

    Args:
        root: the dataset directory.
        semantic: a name of :func:`load_xlsa17` (``att``, ``original_att``, ``word2vec``, ``sent``,
            ``vgse``) or a path to a ``.mat``/``.npy``/``.csv`` class matrix.
        num_classes: C; class_names: rows of files that carry names are matched to these.
        att_splits: the already-read ``att_splits.mat`` (read from ``root / splits`` when needed).

    Returns:
        (C x K float matrix, its name, reader notes).
    """
    root = Path(root)
    notes: list[str] = []
    name = semantic
    if semantic in ("att", "original_att"):
        a = att_splits if att_splits is not None else read_att_splits(root / splits)
        if a.att is None and (semantic == "att" or a.original_att is None):
            raise _no_attributes_error(root, splits, a, semantic)
        if semantic == "att":
            sem = a.att
        else:
            if a.original_att is None:
                raise ZSLDataError(f"{root / splits}: field 'original_att' is missing")
            sem = a.original_att
    else:
        if semantic in SEMANTIC_FILES:
            sem_path = root / SEMANTIC_FILES[semantic]
            if not sem_path.is_file():
                raise ZSLDataError(f"{sem_path}: semantic file for {semantic!r} not found")
        else:
            sem_path = Path(semantic)
            if not sem_path.is_file():
                raise ZSLDataError(f"semantic {semantic!r}{did_you_mean(semantic, SEMANTIC_FILES)} is neither one of "
                                   f"{sorted(SEMANTIC_FILES)} nor an existing file")
            name = sem_path.name
        sem, note = read_semantic_matrix(sem_path, num_classes, class_names=class_names)
        notes += [note] if note else []
    if sem.shape[0] != num_classes:
        raise ZSLDataError(f"semantic {semantic!r}: {sem.shape[0]} class rows, expected {num_classes}")
    return sem, name, notes


def features_file(root: str | os.PathLike) -> str:
    """The name of the features file of dataset directory ``root``: ``res101.mat`` when present (the
    published layout), else the file its ``BUILD.json`` names (``zslkit data build --features`` stores
    precomputed features under their own name, e.g. ``features.mat``)."""
    root = Path(root)
    if (root / "res101.mat").is_file():
        return "res101.mat"
    build = root / "BUILD.json"
    if build.is_file():
        import json

        try:
            name = (json.loads(build.read_text(encoding="utf-8")).get("features") or {}).get("file")
        except (OSError, ValueError, AttributeError) as exc:
            raise ZSLDataError(f"{build}: unreadable ({exc})") from exc
        if isinstance(name, str) and name and Path(name).name == name and (root / name).is_file():
            return name
    mats = sorted(p.name for p in root.glob("*.mat"))
    raise ZSLDataError(f"{root}: no res101.mat (image features), and no features file named by a BUILD.json; "
                       f"found {mats[:10]}")


#: what an xlsa17 dataset directory is, as error messages say it
DATASET_DIR = "an xlsa17 dataset directory (a folder holding res101.mat, or the features zslkit data build wrote, " \
              "and att_splits.mat)"


def check_dataset_dir(root: str | os.PathLike) -> Path:
    """``root`` as a :class:`Path` if it is a directory; else a :class:`ZSLDataError` naming what was given (a
    file, or nothing there) and what is expected, with the file's folder when that looks like a dataset."""
    root = Path(root)
    if root.is_dir():
        return root
    if root.is_file():
        hint = f"; its folder {root.parent} looks like one" if (root.parent / "att_splits.mat").is_file() else ""
        raise ZSLDataError(f"{root}: is a file, not a directory; expected {DATASET_DIR}{hint}")
    raise ZSLDataError(f"{root}: not found; expected {DATASET_DIR}")


def load_xlsa17(root: str | os.PathLike, semantic: str = "att", res101: str | None = None,
                splits: str = "att_splits.mat", layout: str = "auto") -> ZSLData:
    """Load an xlsa17 dataset directory into a :class:`ZSLData`.

    Args:
        root: directory with ``res101.mat`` and ``att_splits.mat`` (and optional class lists).
        semantic: ``"att"``, ``"original_att"``, ``"word2vec"`` (``word2vec_splits.mat``),
            ``"sent"`` (``sent_splits.mat``), ``"vgse"`` (``VGSE_SMO.mat``) or a path to any
            ``.mat``/``.npy``/``.csv`` class matrix (see :func:`read_semantic_matrix`). A
            dataset without attributes (``att_splits.mat`` without ``att``) takes its class
            count from ``allclasses_names`` and loads any semantic but ``att``/``original_att``
            (those raise a :class:`ZSLDataError` listing what it has).
        res101, splits: file names inside ``root``; ``res101`` None: :func:`features_file` (``res101.mat``,
            or the precomputed features a ``BUILD.json`` names).
        layout: feature layout of ``res101`` (see :func:`read_res101`).
    """
    root = Path(root)
    check_dataset_dir(root)
    res101 = res101 or features_file(root)
    r = read_res101(root / res101, layout=layout)
    a = read_att_splits(root / splits)
    n = r.labels.size
    c = int(r.labels.max()) + 1 if n else 0
    what = "att" if a.att is not None else "allclasses_names"
    if a.num_classes < c:
        raise ZSLDataError(f"{root / splits}: {what} has {a.num_classes} classes but {root / res101} labels go up "
                           f"to {c}")
    c = a.num_classes
    names = a.class_names or [f"class_{i + 1:03d}" for i in range(c)]
    for k in ("trainval", "test_seen", "test_unseen"):
        if k not in a.locs:
            raise ZSLDataError(f"{root / splits}: field '{k}_loc' is missing")
    for k, idx in a.locs.items():
        if idx.size and idx.max() >= n:
            raise ZSLDataError(f"{root / splits}:{k}_loc has index {idx.max() + 1} but {root / res101} "
                               f"has only {n} images")
    # empty, repeated or overlapping splits, named by file and field (ZSLData checks them again)
    check_split_indices(a.locs, n, name=lambda k: f"{root / splits}:{k}_loc")
    notes = r.notes + a.notes
    counts = np.bincount(r.labels, minlength=c)
    # The published train_loc/val_loc leak test_seen images; keep them only for inspection.
    if "train" in a.locs and "val" in a.locs:
        leak = np.intersect1d(np.union1d(a.locs["train"], a.locs["val"]), a.locs["test_seen"]).size
        if leak:
            notes.append(f"published train_loc/val_loc contain {leak} test_seen images; zslkit never uses them "
                         "for model selection (validation comes from class lists)")
    sem, sem_name, sem_notes = read_class_semantic(root, semantic, c, a.class_names, att_splits=a,
                                                   splits=splits)
    notes += sem_notes
    data = ZSLData(features=r.features, labels=r.labels, class_names=names, semantic=sem,
                   splits=a.locs, semantic_name=sem_name, surrogate=r.surrogate or a.surrogate,
                   image_files=r.image_files, feature_blocks=r.blocks,
                   provenance={"root": str(root.resolve()), "res101": str((root / res101).resolve()),
                               "att_splits": str((root / splits).resolve()),
                               "att_splits_sha256": sha256_file(root / splits), "notes": notes})
    empty = [names[i] for i in range(c) if counts[i] == 0]
    if empty:
        raise ZSLDataError(f"{root}: classes with no images: {empty[:10]}")
    if a.class_names is not None:
        data.class_folds.extend(read_class_folds(root, names, data.seen_classes))
    return data
