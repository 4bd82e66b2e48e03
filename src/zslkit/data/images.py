"""Image datasets over the folder layouts users have, and over a ``res101.mat`` image list.

An :class:`ImageList` is the list of ``(path, class id)`` pairs a pipeline reads; it is
built from

* :func:`scan_image_folder`: one folder per class, found anywhere below ``root`` and matched
  to the class names by (normalised) name. Layouts covered: CUB
  (``images/001.Black_footed_Albatross/x.jpg``, class ``001.Black_footed_Albatross``),
  AWA2 (``JPEGImages/grizzly+bear/x.jpg``), SUN's letter buckets and nested scene folders
  (``a/abbey/x.jpg`` -> ``abbey``; ``a/apartment_building/outdoor/x.jpg`` ->
  ``apartment_building_outdoor``);
* :func:`image_list_from_res101`: the ``image_files`` of a ``res101.mat``, whose absolute
  paths point at the authors' machine (``/BS/xian/work/data/CUB_200_2011/...``): the leading
  path components are dropped until the paths resolve under the user's image root.

Reading goes through :func:`load_image`, which raises :class:`ImageReadError` naming the file
and the reason. High bit depth (*decision*): PIL's own conversion to RGB clips 16-bit and float
pixels to 255 (a 16-bit photo becomes white), so :func:`load_image` scales them itself:
16-bit images (modes ``I;16*``, and mode ``I`` whose values lie in 0..65535, which is how PIL
opens 16-bit PGM and some PNG/TIFF) by 255 / 65535, the full scale of 16 bits (a dark image stays
dark); float images (mode ``F``) with values in [0, 1] by 255; other 32-bit integer or float
images, whose full scale is unknown, are stretched from their own minimum..maximum to 0..255.
NaN or infinite pixels are an :class:`ImageReadError`.

Paths of a ``res101.mat``'s ``image_files`` come from a file, so they must stay under the image
root (:func:`resolve_image_paths`): a ``..`` component, or a path whose real location (symbolic
links followed) lies outside the root, is refused with one message that does not depend on
whether the outside file exists. Absolute paths are never read as such: their leading
components are dropped until they resolve under the root. Folders scanned by
:func:`scan_image_folder` are the user's own tree and may link class folders from elsewhere.

Pipelines do not stop at the first bad file: they collect failures in a
:class:`BadImages` record (path + reason), skip the image, and report the list at the end and
in their metadata; ``fail_fast=True`` raises at the first one instead.

This module knows nothing of models; it returns PIL images.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from PIL import Image, UnidentifiedImageError

from zslkit.errors import ZSLDataError

#: File suffixes (lower case) taken as images when scanning folders.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


class ImageReadError(ZSLDataError):
    """One image could not be read; ``path`` and ``reason`` say which and why."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"{self.path}: unreadable image ({reason})")


@dataclass
class BadImages:
    """Images skipped by a pipeline: ``items`` is a list of ``(index, path, reason)``.

    ``fail_fast=True`` makes :meth:`add` raise the error instead of recording it.
    """

    fail_fast: bool = False
    items: list[tuple[int, str, str]] = field(default_factory=list)

    def add(self, index: int, error: ImageReadError) -> None:
        if self.fail_fast:
            raise error
        self.items.append((int(index), error.path, error.reason))

    def __len__(self) -> int:
        return len(self.items)

    def to_list(self) -> list[dict]:
        """JSON-ready ``[{"index", "path", "reason"}, ...]`` for metadata files."""
        return [{"index": i, "path": p, "reason": r} for i, p, r in self.items]

    def report(self, limit: int = 20) -> str:
        """Human-readable summary: count and the first ``limit`` paths with their reasons."""
        if not self.items:
            return "no unreadable images"
        lines = [f"{len(self.items)} unreadable image(s) skipped:"]
        lines += [f"  {p}: {r}" for _, p, r in self.items[:limit]]
        if len(self.items) > limit:
            lines.append(f"  ... and {len(self.items) - limit} more")
        return "\n".join(lines)


def load_image(path: str | os.PathLike) -> Image.Image:
    """Open an image file fully decoded as RGB.

    Raises:
        ImageReadError: missing file, not an image, truncated/corrupt data, ... (names the path).
    """
    p = Path(path)
    if not p.is_file():
        raise ImageReadError(p, "file not found")
    try:
        with warnings.catch_warnings():
            # PIL only warns between MAX_IMAGE_PIXELS and twice that, then decodes hundreds of MB: refuse
            # every image above its limit (a "decompression bomb": a few KB of PNG claiming 10^8+ pixels)
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(p) as im:
                im.load()  # decode now: a truncated JPEG only fails here, not at open()
                return _to_rgb(im, p)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageReadError(p, f"decompression bomb refused: {exc}") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, MemoryError) as exc:  # PIL raises all of these
        raise ImageReadError(p, f"{type(exc).__name__}: {exc}") from exc


#: PIL modes of 16-bit single-channel images
_MODES_16BIT = ("I;16", "I;16L", "I;16B", "I;16N")


def _to_rgb(im: Image.Image, path: Path) -> Image.Image:
    """``im`` as 8-bit RGB; 16-bit, 32-bit integer and float images scaled to 0..255 (module docstring),
    not clipped by PIL's conversion."""
    if im.mode not in _MODES_16BIT + ("I", "F"):
        return im.convert("RGB")
    a = np.asarray(im)
    if a.ndim != 2:  # pragma: no cover - PIL's I/F/I;16 modes are single-channel
        raise ImageReadError(path, f"mode {im.mode} with shape {a.shape}: expected one channel")
    a = a.astype(np.float64)
    if not np.isfinite(a).all():
        raise ImageReadError(path, f"mode {im.mode} image with NaN or infinite pixels")
    lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
    if im.mode in _MODES_16BIT or (im.mode == "I" and lo >= 0 and hi <= 65535):
        scaled = a * (255.0 / 65535.0)
    elif im.mode == "F" and lo >= 0 and hi <= 1:
        scaled = a * 255.0
    else:  # no known full scale: the image's own range
        scaled = (a - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(a)
    grey = Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8), mode="L")
    return grey.convert("RGB")


@dataclass
class ImageList:
    """Images of a dataset: ``paths[i]`` has class ``labels[i]`` (index into ``class_names``).

    Attributes:
        paths: N file paths (strings).
        labels: (N,) int64 class ids into ``class_names``.
        class_names: the dataset's class names (all classes, also those without images here).
        root: the folder the paths were found under (for messages and metadata).
        class_folders: class name -> folder it was read from (folder datasets only).
    """

    paths: list[str]
    labels: np.ndarray
    class_names: list[str]
    root: str = ""
    class_folders: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.labels = np.asarray(self.labels, dtype=np.int64).ravel()
        if self.labels.size != len(self.paths):
            raise ZSLDataError(f"ImageList: {len(self.paths)} paths but {self.labels.size} labels")
        if self.labels.size and (self.labels.min() < 0 or self.labels.max() >= len(self.class_names)):
            raise ZSLDataError(f"ImageList: labels must index the {len(self.class_names)} class names")

    def __len__(self) -> int:
        return len(self.paths)

    def load(self, i: int) -> Image.Image:
        """The ``i``-th image as RGB (raises :class:`ImageReadError`)."""
        return load_image(self.paths[i])

    def subset(self, idx: Sequence[int] | np.ndarray) -> "ImageList":
        idx = np.asarray(idx, dtype=np.int64)
        return ImageList([self.paths[i] for i in idx], self.labels[idx], list(self.class_names), self.root,
                         dict(self.class_folders))

    def of_classes(self, class_ids: Iterable[int]) -> "ImageList":
        """The images whose label is one of ``class_ids`` (order kept)."""
        keep = np.isin(self.labels, np.asarray(list(class_ids), dtype=np.int64))
        return self.subset(np.flatnonzero(keep))

    def counts(self) -> np.ndarray:
        """(C,) number of images per class."""
        return np.bincount(self.labels, minlength=len(self.class_names))


# --------------------------------------------------------------------------- folder layouts

def _norm(name: str) -> str:
    """Comparison key: lower case, any run of separators (space / _ - + .) as one ``_``."""
    return re.sub(r"[\s_\-/\\+]+", "_", name.strip().lower()).strip("_")


def _strip_number(name: str) -> str:
    """``001.Black_footed_Albatross`` -> ``Black_footed_Albatross`` (CUB folders keep the number)."""
    return re.sub(r"^\d+\.", "", name)


def _is_image(name: str) -> bool:
    return name.lower().endswith(IMAGE_SUFFIXES) and not name.startswith(".")


def _leaf_folders(root: Path) -> dict[tuple[str, ...], list[str]]:
    """Every folder below ``root`` (root itself excluded) that directly holds image files,
    as relative path parts -> sorted image file names. Hidden folders are skipped."""
    out: dict[tuple[str, ...], list[str]] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        rel = Path(dirpath).relative_to(root).parts
        imgs = sorted(f for f in filenames if _is_image(f))
        if rel and imgs:
            out[rel] = imgs
    return out


def _folder_keys(parts: tuple[str, ...]) -> dict[str, int]:
    """Names a folder may be called by, with how many path parts each uses (more = more specific).

    Every suffix of the relative path, joined (so ``a/apartment_building/outdoor`` answers to
    ``outdoor``, ``apartment_building_outdoor`` and ``a_apartment_building_outdoor``), also
    without a CUB-style ``NNN.`` number on the last part.
    """
    keys: dict[str, int] = {}
    for i in range(len(parts)):
        sub = parts[i:]
        for variant in (sub, sub[:-1] + (_strip_number(sub[-1]),)):
            k = _norm("_".join(variant))
            if k:
                keys[k] = max(keys.get(k, 0), len(sub))
    return keys


def match_class_folders(root: str | os.PathLike, class_names: Sequence[str], required: Sequence[str] | None = None,
                        ) -> dict[str, Path]:
    """Find the image folder of each class below ``root``.

    A class matches a folder holding images when its normalised name equals the normalised
    relative path of the folder or one of its suffixes (see :func:`_folder_keys`); of several
    matching folders the one matched with the most path parts wins; a remaining tie is an error.

    Args:
        root: the image root (e.g. ``CUB_200_2011/images``, ``AWA2/JPEGImages``, ``SUN/images``).
        class_names: the classes to look for.
        required: classes that must have a folder (default: all of ``class_names``).

    Returns:
        class name -> folder, for the classes found.

    Raises:
        ZSLDataError: ``root`` missing, a required class has no folder (the message names the
            classes and a few folder names that exist), or a name matches two folders equally.
    """
    root = Path(root)
    if not root.is_dir():
        raise ZSLDataError(f"{root}: image folder not found")
    leaves = _leaf_folders(root)
    if not leaves:
        raise ZSLDataError(f"{root}: no sub-folder holds image files ({', '.join(IMAGE_SUFFIXES)}); "
                           "expected one folder per class")
    index: dict[str, list[tuple[int, tuple[str, ...]]]] = {}
    for parts in leaves:
        for k, depth in _folder_keys(parts).items():
            index.setdefault(k, []).append((depth, parts))
    found: dict[str, Path] = {}
    for name in class_names:
        cands = index.get(_norm(name)) or index.get(_norm(_strip_number(name))) or []
        if not cands:
            continue
        best = max(d for d, _ in cands)
        top = sorted({p for d, p in cands if d == best})
        if len(top) > 1:
            raise ZSLDataError(f"{root}: class {name!r} matches several folders equally well: "
                               f"{['/'.join(p) for p in top[:5]]}; rename one or pass a more specific root")
        found[name] = root.joinpath(*top[0])
    need = list(class_names) if required is None else list(required)
    missing = [n for n in need if n not in found]
    if missing:
        some = sorted("/".join(p) for p in leaves)[:8]
        raise ZSLDataError(f"{root}: no image folder for {len(missing)} class(es): {missing[:10]} "
                           f"(folders found include {some}); expected one folder per class named like the class")
    used: dict[Path, str] = {}
    for name, folder in found.items():
        if folder in used:
            raise ZSLDataError(f"{root}: classes {used[folder]!r} and {name!r} both resolve to folder {folder}")
        used[folder] = name
    return found


def scan_image_folder(root: str | os.PathLike, class_names: Sequence[str], classes: Sequence[str] | None = None,
                      ) -> ImageList:
    """Images of ``classes`` (default: all ``class_names``) from a one-folder-per-class tree.

    Labels index ``class_names`` (the full class list), so seen-class images of a dataset keep
    the ids of the dataset's class order. Files are sorted by class order then file name, so
    the list (and everything cached from it) is the same on every machine.

    Raises:
        ZSLDataError: see :func:`match_class_folders`; also a class folder without images.
    """
    wanted = list(class_names) if classes is None else list(classes)
    unknown = [c for c in wanted if c not in class_names]
    if unknown:
        raise ZSLDataError(f"classes {unknown[:10]} are not in the class list")
    folders = match_class_folders(root, wanted)
    cid = {n: i for i, n in enumerate(class_names)}
    paths: list[str] = []
    labels: list[int] = []
    for name in wanted:
        files = sorted(f for f in os.listdir(folders[name]) if _is_image(f))
        if not files:  # pragma: no cover - _leaf_folders only returns folders with images
            raise ZSLDataError(f"{folders[name]}: class folder of {name!r} holds no images")
        paths += [str(folders[name] / f) for f in files]
        labels += [cid[name]] * len(files)
    return ImageList(paths, np.asarray(labels, dtype=np.int64), list(class_names), str(root),
                     {n: str(folders[n]) for n in wanted})


# --------------------------------------------------------------------------- res101 image lists

def _outside_message(source: str, path: str, root: Path) -> str:
    # one message whether or not the outside file exists: nothing about it is looked up
    return (f"{source}: {path!r} leads outside the image root {root} (a '..' component or a symbolic link out of "
            "it); image files must lie under the image root")


def resolve_image_paths(paths: Sequence[str], image_root: str | os.PathLike, probe: int = 20,
                        source: str = "image_files") -> tuple[list[str], int]:
    """Map foreign absolute paths onto ``image_root`` by dropping leading components.

    The number of leading components to drop is the smallest that makes most of the first
    ``probe`` paths exist under ``image_root``; the same number is then used for every path,
    so a file missing on disk stays missing (and is reported as a bad image) rather than being
    matched somewhere else. Every resolved path stays under ``image_root``: an entry with a
    ``..`` component is refused before anything is looked up, and one whose real location
    (symbolic links followed) is outside the root is refused with the same message, whether or
    not that outside file exists. ``source`` names the list in messages (e.g.
    ``res101.mat:image_files``).

    Returns:
        (resolved paths, number of components dropped).

    Raises:
        ZSLDataError: an entry leads outside the root, or no number of dropped components makes
        any probed path exist.
    """
    root = Path(image_root)
    if not root.is_dir():
        raise ZSLDataError(f"{root}: image root not found")
    if not paths:
        return [], 0
    split = [[s for s in re.split(r"[\\/]+", p) if s and s != "."] for p in paths]
    for p, parts in zip(paths, split):
        if ".." in parts:
            raise ZSLDataError(_outside_message(source, p, root))
    real_root = os.path.realpath(root)

    def inside(candidate: Path) -> bool:
        real = os.path.realpath(candidate)
        return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)

    sample = split[: max(1, probe)]
    depth = max(len(s) for s in sample)
    best, best_hits = None, 0
    for k in range(depth):
        hits = sum(1 for s in sample if len(s) > k and inside(root.joinpath(*s[k:]))
                   and root.joinpath(*s[k:]).is_file())
        if hits > best_hits:
            best, best_hits = k, hits
        if hits * 2 > len(sample):  # a majority: good enough, and the smallest such k
            break
    if best is None:
        raise ZSLDataError(f"{root}: none of the first {len(sample)} image_files (e.g. {paths[0]!r}) exists under the "
                           "image root after dropping leading path components; pass the folder the paths are "
                           "relative to")
    resolved = [root.joinpath(*s[best:]) if len(s) > best else root / "__missing__" for s in split]
    for p, r in zip(paths, resolved):
        if not inside(r):
            raise ZSLDataError(_outside_message(source, p, root))
    return [str(r) for r in resolved], best


def image_list_from_res101(res101_path: str | os.PathLike, image_root: str | os.PathLike,
                           class_names: Sequence[str] | None = None) -> ImageList:
    """The images of a ``res101.mat`` (``image_files`` + 1-based ``labels``) under ``image_root``.

    Only ``image_files`` and ``labels`` are read (not the features). ``class_names`` defaults
    to ``class_001..`` when the caller has no ``allclasses_names`` at hand.
    """
    from zslkit.data.matfile import load_mat, mat_strings

    p = Path(res101_path)
    m = load_mat(p, ["image_files", "labels"])
    for k in ("image_files", "labels"):
        if k not in m:
            raise ZSLDataError(f"{p}: field {k!r} is missing (needed to list the images)")
    files = mat_strings(m["image_files"], f"{p}:image_files")
    labels = np.asarray(m["labels"]).ravel()
    if labels.size != len(files):
        raise ZSLDataError(f"{p}: {len(files)} image_files but {labels.size} labels")
    if labels.size and labels.min() < 1:
        raise ZSLDataError(f"{p}:labels must be 1-based, found {labels.min()}")
    labels = labels.astype(np.int64) - 1
    c = int(labels.max()) + 1 if labels.size else 0
    names = list(class_names) if class_names is not None else [f"class_{i + 1:03d}" for i in range(c)]
    if len(names) < c:
        raise ZSLDataError(f"{p}: labels go up to {c} but only {len(names)} class names were given")
    resolved, _ = resolve_image_paths(files, image_root, source=f"{p}:image_files")
    return ImageList(resolved, labels, names, str(image_root))
