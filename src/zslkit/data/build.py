"""Building an xlsa17 dataset directory from your own data: attribute tables, splits, writing.

This is the data half of ``zslkit data build`` (:func:`zslkit.build.build_xlsa17` adds the
image features); nothing here knows of backbones. Every function works on plain arrays and
files and raises :class:`ZSLDataError` naming the file, line, class or attribute at fault.

Attribute table (:func:`read_attribute_csv`), *long* format, one value a row::

    class,attribute,value          <- optional header (any column order when present)
    zebra,stripes,94.5
    zebra,black,58.1
    ...

or *wide* format, one class a row under a header naming the attributes (what the synthetic
world's ``attributes.csv`` holds)::

    class,stripes,black,...
    zebra,94.5,58.1,...

Separator: a tab if the first line holds one, else a comma, else ``;``. Blank lines and lines
starting with ``#`` are skipped. Every class of the class list needs a value for every
attribute (no holes, no duplicates, only numbers); the attribute order is the order of first
appearance. The raw values become ``original_att`` and each class vector, L2-normalised,
``att`` (the published convention: ``att`` columns have unit norm, stored K x C).

Class word vectors (``zslkit data build --word-vectors``, looked up in :mod:`zslkit.build`)
are written as ``word2vec_splits.mat`` in the published layout (``att`` D x C, unit-norm
columns, ``allclasses_names``, the same ``*_loc`` as ``att_splits.mat``). A build without an
attribute table writes an ``att_splits.mat`` without ``att``/``original_att`` (splits and
``allclasses_names`` only); :func:`zslkit.data.xlsa17.load_xlsa17` reads it with any semantic
but ``att``.

Splits (:func:`make_xlsa17_splits`), the xlsa17 way, all seeded (``numpy.random.default_rng``
with ``[seed, tag, ...]``, so a class's split does not change when other classes are added):

* each seen class's images: ``round(test_seen_fraction * n)`` of them (at least 1 and at most
  ``n - 1`` when the class has 2 or more images) go to ``test_seen``, the rest to ``trainval``;
* every image of an unseen class goes to ``test_unseen``;
* ``val_folds`` = K >= 2 validation class folds: the seen classes, shuffled, are cut into K
  disjoint chunks; fold k validates on chunk k (``valclassesk.txt``) and trains on the rest
  (``trainclassesk.txt``), so K = 3 holds out a third of the seen classes per fold, as xlsa17
  does for AWA2 and CUB (the published folds are drawn independently and overlap; ours are a
  K-fold partition: a *choice*). K = 0 writes no folds (zslkit then draws a seeded partition);
* ``train_loc`` / ``val_loc`` are the ``trainval`` images of fold 1's train / validation
  classes. Unlike the published ones they contain **no** ``test_seen`` image.

Indices are stored 1-based in the ``.mat`` files, as published.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from zslkit.data.xlsa17 import write_att_splits, write_class_list, write_res101
from zslkit.errors import ZSLDataError

log = logging.getLogger(__name__)

#: The file marking a finished build (written last).
BUILD_FILE = "BUILD.json"
#: Attribute names, one a line, in the column order of ``att`` (not part of the published layout).
ATTRIBUTE_NAMES_FILE = "attribute_names.txt"
#: Class word vectors in the published layout (field ``att``, same locs as ``att_splits.mat``).
WORD2VEC_FILE = "word2vec_splits.mat"
_FOLD_FILE = re.compile(r"^(train|val)classes(\d+)\.txt$")
_HEADER = ("class", "attribute", "value")


# --------------------------------------------------------------------------- attributes

@dataclass
class AttributeTable:
    """A class-attribute table: ``values[c, k]`` is attribute ``attribute_names[k]`` of class
    ``class_names[c]`` (the raw numbers, i.e. ``original_att`` as C x K)."""

    values: np.ndarray
    class_names: list[str]
    attribute_names: list[str]

    @property
    def att(self) -> np.ndarray:
        """Each class vector L2-normalised (C x K); an all-zero vector stays zero."""
        return l2_normalise_rows(self.values)


def l2_normalise_rows(m: np.ndarray) -> np.ndarray:
    """Rows of ``m`` divided by their L2 norm (rows of norm 0 are left at 0)."""
    m = np.asarray(m, dtype=np.float64)
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return m / np.where(norms > 0, norms, 1.0)


def _sniff_delimiter(line: str) -> str:
    for d in ("\t", ",", ";"):
        if d in line:
            return d
    return ","


def _is_wide(first_row: list[str]) -> bool:
    """A header ``class, <attribute>, <attribute>, ...`` (not the long format's class/attribute/value)."""
    low = [f.lower() for f in first_row]
    return len(low) >= 2 and low[0] == "class" and not set(_HEADER) <= set(low)


def _long_cells(p: Path, rows: list, delim: str) -> list[tuple[int, str, str, str]]:
    """(line, class, attribute, value text) of a long table: one value a row, optional header."""
    cols = (0, 1, 2)
    first = [f.lower() for f in rows[0][1]]
    if set(_HEADER) <= set(first):
        cols = tuple(first.index(h) for h in _HEADER)
        rows = rows[1:]
        width = len(first)
    else:
        width = 3
    cells = []
    for lineno, fields in rows:
        if len(fields) != width:
            raise ZSLDataError(f"{p}:{lineno}: expected {width} fields separated by {delim!r} "
                               f"(class, attribute, value), got {len(fields)}: {fields[:6]}")
        cls, attr, raw = (fields[c] for c in cols)
        if not cls or not attr:
            raise ZSLDataError(f"{p}:{lineno}: empty class or attribute name")
        cells.append((lineno, cls, attr, raw))
    return cells


def _wide_cells(p: Path, rows: list, delim: str) -> list[tuple[int, str, str, str]]:
    """(line, class, attribute, value text) of a wide table: header ``class,<attr>,...``, one class a row."""
    header = rows[0][1]
    attrs = header[1:]
    if any(not a for a in attrs):
        raise ZSLDataError(f"{p}:{rows[0][0]}: empty attribute name in the header")
    if len(set(attrs)) != len(attrs):
        twice = sorted({a for a in attrs if attrs.count(a) > 1})
        raise ZSLDataError(f"{p}:{rows[0][0]}: attribute(s) {twice[:5]} appear twice in the header")
    cells = []
    for lineno, fields in rows[1:]:
        if len(fields) != len(header):
            raise ZSLDataError(f"{p}:{lineno}: expected {len(header)} fields separated by {delim!r} (the class and "
                               f"one value per attribute of the header), got {len(fields)}")
        if not fields[0]:
            raise ZSLDataError(f"{p}:{lineno}: empty class name")
        cells += [(lineno, fields[0], a, raw) for a, raw in zip(attrs, fields[1:])]
    return cells


def read_attribute_csv(path: str | os.PathLike, class_names: Sequence[str],
                       class_list_name: str = "the class list", attribute_names: Sequence[str] | None = None
                       ) -> AttributeTable:
    """Read an attribute table (module docstring) for ``class_names``: long format (``class,attribute,value``,
    one value a row, optional header), wide (a header ``class,<attribute>,...`` and one row per class, as
    the synthetic world's ``attributes.csv``), or a bare numeric matrix (one row per class in the order of
    ``class_names``, values separated by commas, tabs or spaces, as the Animals with Attributes release's
    ``predicate-matrix-continuous.txt``; a ``.npy`` matrix too) whose columns are named by
    ``attribute_names`` (default ``a1``, ``a2``, ...).

    Args:
        path: the CSV/TSV file.
        class_names: all classes, in the order of the rows of the result.
        class_list_name: how to call the class list in messages (e.g. its path).
        attribute_names: names of the columns of a bare matrix.

    Raises:
        ZSLDataError: unreadable file, a row without 3 fields, a value that is not a finite
            number (file:line, class, attribute and the value), a (class, attribute) pair given
            twice, a class not in ``class_names``, a class without values, a missing pair.
    """
    p = Path(path)
    if p.suffix.lower() == ".npy":
        from zslkit.data.semantic_files import read_npy

        return _matrix_table(p, np.asarray(read_npy(p), dtype=np.float64), class_names, class_list_name,
                             attribute_names)
    try:
        text = p.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise ZSLDataError(f"{p}: attribute table not found") from None
    except IsADirectoryError:
        raise ZSLDataError(f"{p}: attribute table is a directory, expected a CSV file") from None
    except UnicodeDecodeError as exc:
        raise ZSLDataError(f"{p}: attribute table is not UTF-8 text ({exc})") from exc
    lines = [(i + 1, ln) for i, ln in enumerate(text.splitlines()) if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise ZSLDataError(f"{p}: attribute table is empty (expected rows 'class,attribute,value')")
    if _is_number_row(lines[0][1]):
        rows_num = []
        for lineno, ln in lines:
            fields = [f for f in re.split(r"[\s,;]+", ln.strip()) if f]
            try:
                rows_num.append([float(f) for f in fields])
            except ValueError:
                raise ZSLDataError(f"{p}:{lineno}: a numeric attribute matrix (one row per class) has a value that "
                                   f"is not a number: {fields[:6]}") from None
            if len(rows_num[-1]) != len(rows_num[0]):
                raise ZSLDataError(f"{p}:{lineno}: {len(rows_num[-1])} values, the first row has {len(rows_num[0])}")
        return _matrix_table(p, np.asarray(rows_num), class_names, class_list_name, attribute_names)
    delim = _sniff_delimiter(lines[0][1])
    rows = []
    for lineno, ln in lines:
        try:
            fields = next(csv.reader(io.StringIO(ln), delimiter=delim))
        except csv.Error as exc:  # e.g. a field over the csv module's 128 KiB limit
            raise ZSLDataError(f"{p}:{lineno}: not a readable CSV row ({exc})") from None
        rows.append((lineno, [f.strip() for f in fields]))
    cells = _long_cells(p, rows, delim) if not _is_wide(rows[0][1]) else _wide_cells(p, rows, delim)
    known = {n: i for i, n in enumerate(class_names)}
    attr_index: dict[str, int] = {}
    entries: dict[tuple[str, str], tuple[float, int]] = {}
    unknown: dict[str, int] = {}
    dups: list[str] = []
    for lineno, cls, attr, raw in cells:
        try:
            value = float(raw)
        except ValueError:
            raise ZSLDataError(f"{p}:{lineno}: value {raw!r} of class {cls!r}, attribute {attr!r} is not a number"
                               ) from None
        if not np.isfinite(value):
            raise ZSLDataError(f"{p}:{lineno}: value {raw!r} of class {cls!r}, attribute {attr!r} is not finite")
        if cls not in known:
            unknown.setdefault(cls, lineno)
            continue
        attr_index.setdefault(attr, len(attr_index))
        if (cls, attr) in entries:
            dups.append(f"{cls!r}/{attr!r} (lines {entries[(cls, attr)][1]} and {lineno})")
            continue
        entries[(cls, attr)] = (value, lineno)
    if unknown:
        some = [f"{c!r} (line {n})" for c, n in list(unknown.items())[:10]]
        raise ZSLDataError(f"{p}: {len(unknown)} class(es) not in {class_list_name}: {', '.join(some)}")
    if dups:
        raise ZSLDataError(f"{p}: {len(dups)} (class, attribute) pair(s) given twice, e.g. {'; '.join(dups[:5])}")
    if not entries:
        raise ZSLDataError(f"{p}: no attribute values (only a header?)")
    given = {c for c, _ in entries}
    absent = [n for n in class_names if n not in given]
    if absent:
        raise ZSLDataError(f"{p}: no attribute values for {len(absent)} class(es) of {class_list_name}: {absent[:10]}")
    values = np.full((len(class_names), len(attr_index)), np.nan)
    for (cls, attr), (v, _) in entries.items():
        values[known[cls], attr_index[attr]] = v
    holes = np.argwhere(np.isnan(values))
    if holes.size:
        names = list(attr_index)
        some = [f"{class_names[c]!r}/{names[k]!r}" for c, k in holes[:5]]
        raise ZSLDataError(f"{p}: {len(holes)} (class, attribute) value(s) missing, e.g. {', '.join(some)}; "
                           "every class needs a value for every attribute")
    return AttributeTable(values=values, class_names=list(class_names), attribute_names=list(attr_index))


def _is_number_row(line: str) -> bool:
    fields = [f for f in re.split(r"[\s,;]+", line.strip()) if f]
    try:
        [float(f) for f in fields]
    except ValueError:
        return False
    return bool(fields)


def _matrix_table(p: Path, values: np.ndarray, class_names: Sequence[str], class_list_name: str,
                  attribute_names: Sequence[str] | None) -> AttributeTable:
    """An :class:`AttributeTable` from a bare C x K matrix in the order of ``class_names``."""
    if values.ndim != 2 or values.shape[0] != len(class_names):
        raise ZSLDataError(f"{p}: a bare attribute matrix needs one row per class of {class_list_name} "
                           f"({len(class_names)}), got shape {values.shape}")
    if not np.all(np.isfinite(values)):
        r, k = np.argwhere(~np.isfinite(values))[0]
        raise ZSLDataError(f"{p}: value of class {class_names[r]!r}, attribute {k + 1} is not finite")
    names = list(attribute_names) if attribute_names is not None else [f"a{k + 1}" for k in range(values.shape[1])]
    if len(names) != values.shape[1]:
        raise ZSLDataError(f"{p}: {values.shape[1]} attribute columns but {len(names)} attribute names")
    return AttributeTable(values=values.astype(np.float64), class_names=list(class_names), attribute_names=names)


# --------------------------------------------------------------------------- splits

@dataclass
class Xlsa17Splits:
    """0-based image indices per split and validation class folds (class ids).

    ``locs`` has ``trainval``, ``test_seen``, ``test_unseen`` and, with folds, ``train`` and
    ``val`` (fold 1, inside ``trainval``); ``folds[k]`` is ``(train_class_ids, val_class_ids)``.
    """

    locs: dict[str, np.ndarray]
    folds: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    seen: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    unseen: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


def make_xlsa17_splits(labels: np.ndarray, unseen: Sequence[int], num_classes: int, seed: int = 0,
                       test_seen_fraction: float = 0.2, val_folds: int = 3) -> Xlsa17Splits:
    """Split images and seen classes as xlsa17 does (module docstring).

    Args:
        labels: (N,) 0-based class id of every image.
        unseen: the unseen class ids; every other class is seen.
        num_classes: C.
        seed: non-negative seed of all draws.
        test_seen_fraction: share of each seen class's images held out as ``test_seen``, in [0, 1).
        val_folds: number K of validation class folds (0, or 2..number of seen classes).

    Raises:
        ZSLDataError: a class without images, no seen or no unseen class, bad fraction / folds.
    """
    labels = np.asarray(labels, dtype=np.int64).ravel()
    unseen_ids = np.unique(np.asarray(list(unseen), dtype=np.int64))
    from zslkit.utils.seed import seed_error

    if seed_error(seed):
        raise ZSLDataError(seed_error(seed))
    if not 0.0 <= test_seen_fraction < 1.0:
        raise ZSLDataError(f"test_seen_fraction must be in [0, 1), got {test_seen_fraction}")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ZSLDataError(f"labels must lie in [0, {num_classes})")
    if unseen_ids.size and (unseen_ids.min() < 0 or unseen_ids.max() >= num_classes):
        raise ZSLDataError(f"unseen class ids must lie in [0, {num_classes})")
    counts = np.bincount(labels, minlength=num_classes)
    if np.any(counts == 0):
        raise ZSLDataError(f"classes with no images: ids {np.flatnonzero(counts == 0)[:10].tolist()}")
    seen_ids = np.setdiff1d(np.arange(num_classes), unseen_ids)
    if seen_ids.size == 0 or unseen_ids.size == 0:
        raise ZSLDataError(f"need at least one seen and one unseen class, got {seen_ids.size} seen and "
                           f"{unseen_ids.size} unseen")
    check_val_folds(val_folds, seen_ids.size)
    trainval, test_seen = [], []
    for c in seen_ids:
        idx = np.flatnonzero(labels == c)
        perm = idx[np.random.default_rng([seed, 1, int(c)]).permutation(idx.size)]
        k = int(np.floor(test_seen_fraction * idx.size + 0.5))
        if test_seen_fraction > 0 and idx.size >= 2:
            k = min(max(k, 1), idx.size - 1)
        else:
            k = 0
        test_seen.append(perm[:k])
        trainval.append(perm[k:])
    locs = {"trainval": np.sort(np.concatenate(trainval)), "test_seen": np.sort(np.concatenate(test_seen)),
            "test_unseen": np.flatnonzero(np.isin(labels, unseen_ids))}
    folds: list[tuple[np.ndarray, np.ndarray]] = []
    if val_folds:
        order = seen_ids[np.random.default_rng([seed, 2]).permutation(seen_ids.size)]
        for chunk in np.array_split(order, val_folds):
            va = np.sort(chunk)
            folds.append((np.setdiff1d(seen_ids, va), va))
        tv_labels = labels[locs["trainval"]]
        locs["train"] = locs["trainval"][np.isin(tv_labels, folds[0][0])]
        locs["val"] = locs["trainval"][np.isin(tv_labels, folds[0][1])]
    return Xlsa17Splits(locs=locs, folds=folds, seen=seen_ids, unseen=unseen_ids)


def check_val_folds(val_folds: int, num_seen: int) -> None:
    """``val_folds`` must be 0 (no folds) or in 2..``num_seen``."""
    if val_folds == 0:
        return
    if val_folds < 2:
        raise ZSLDataError(f"val_folds must be 0 (no class folds) or >= 2 (K disjoint validation class folds), "
                           f"got {val_folds}")
    if val_folds > num_seen:
        raise ZSLDataError(f"val_folds={val_folds} needs at least {val_folds} seen classes, have {num_seen} "
                           "(lower --val-folds, or 0 for none)")


# --------------------------------------------------------------------------- output directory

def write_xlsa17_dataset(out: str | os.PathLike, features: np.ndarray, labels: np.ndarray,
                         image_files: Sequence[str] | None, class_names: Sequence[str], table: AttributeTable | None,
                         splits: Xlsa17Splits, version: str = "v5", word_vectors: np.ndarray | None = None,
                         features_file: str = "res101.mat", blocks: Sequence[tuple[str, int]] | None = None
                         ) -> list[Path]:
    """Write a dataset directory in the published xlsa17 layout (all files atomically).

    Writes ``att_splits.mat`` (``att`` and ``original_att`` K x C, ``allclasses_names``, the
    1-based ``*_loc``; without a ``table`` no ``att``/``original_att``: an attribute-free
    dataset), ``word2vec_splits.mat`` when ``word_vectors`` are given (the C x D class word
    vectors as ``att`` D x C, ``allclasses_names`` and the same ``*_loc``, as published), the
    class lists (``allclasses.txt``, ``trainvalclasses.txt``, ``testclasses.txt``,
    ``trainclassesK.txt``/``valclassesK.txt``; stale fold lists of a previous build with more
    folds are removed), ``attribute_names.txt`` (with a table) and, last, ``res101.mat``
    (``features`` D x N single, ``labels`` N x 1 1-based, ``image_files``). A previous build's
    ``attribute_names.txt`` / ``word2vec_splits.mat`` that this build does not write are removed.
    ``BUILD.json`` is the caller's (it marks the build finished). ``out`` is a zslkit output
    directory (:func:`zslkit.utils.outputs.output_dir`): only files zslkit wrote are replaced or
    removed.

    Args:
        features: (N, D) image features; labels: (N,) 0-based class ids.
        table: the attribute table, or ``None`` for a dataset without attributes (then
            ``word_vectors`` are required).
        word_vectors: (C, D_w) class word vectors in the order of ``class_names``, or ``None``.
        version: ``"v5"`` or ``"v7.3"`` (needed when the features exceed 2 GB).
        features_file, blocks: the features' file name (``res101.mat`` for backbone features; precomputed
            features keep their own name) and its named column blocks (:func:`write_res101`).
    """
    from zslkit.utils.outputs import output_dir

    with output_dir(out, "dataset"):
        return _write_xlsa17_dataset(Path(out), features, labels, image_files, class_names, table, splits, version,
                                     word_vectors, features_file, blocks)


def _write_xlsa17_dataset(out: Path, features, labels, image_files, class_names, table, splits, version,
                          word_vectors, features_file, blocks) -> list[Path]:
    from zslkit.utils.outputs import remove_output

    names = list(class_names)
    if table is None and word_vectors is None:
        raise ZSLDataError("write_xlsa17_dataset: need an attribute table, class word vectors or both")
    if table is not None and (table.values.shape[0] != len(names) or table.class_names != names):
        raise ZSLDataError("write_xlsa17_dataset: the attribute table's classes differ from class_names")
    if word_vectors is not None:
        word_vectors = np.asarray(word_vectors, dtype=np.float64)
        if word_vectors.ndim != 2 or word_vectors.shape[0] != len(names):
            raise ZSLDataError(f"write_xlsa17_dataset: word_vectors must be C x D with C = {len(names)} classes, "
                               f"got shape {word_vectors.shape}")
    written = [write_att_splits(out / "att_splits.mat", None if table is None else table.att, splits.locs,
                                class_names=names, original_att=None if table is None else table.values,
                                version=version)]
    if word_vectors is not None:
        written.append(write_att_splits(out / WORD2VEC_FILE, word_vectors, splits.locs, class_names=names,
                                        version=version))
    written.append(write_class_list(out / "allclasses.txt", names))
    written.append(write_class_list(out / "trainvalclasses.txt", [names[i] for i in splits.seen]))
    written.append(write_class_list(out / "testclasses.txt", [names[i] for i in splits.unseen]))
    for k, (tr, va) in enumerate(splits.folds, start=1):
        written.append(write_class_list(out / f"trainclasses{k}.txt", [names[i] for i in tr]))
        written.append(write_class_list(out / f"valclasses{k}.txt", [names[i] for i in va]))
    for f in os.listdir(out):
        m = _FOLD_FILE.match(f)
        if m and int(m.group(2)) > len(splits.folds):
            remove_output(out / f)  # a stale fold list of an earlier build (refused if zslkit did not write it)
    if table is not None:
        written.append(write_class_list(out / ATTRIBUTE_NAMES_FILE, table.attribute_names))
    else:
        remove_output(out / ATTRIBUTE_NAMES_FILE)
    if word_vectors is None:
        remove_output(out / WORD2VEC_FILE)
    written.append(write_res101(out / features_file, features, labels, image_files=image_files, version=version,
                                blocks=blocks))
    return written
