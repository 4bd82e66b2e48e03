"""A synthetic image world: classes as combinations of visual part attributes, rendered small.

No real images or pretrained weights can be had here, so VGSE discovery is exercised on a
world whose ground truth is known. **Numbers measured on it are synthetic-world results,
not benchmark results.**

The world (all draws from ``seed``):

* Every object has ``len(PARTS)`` parts (head, body, tail); each part has a colour
  (``COLOURS``), a shape (``SHAPES``) and a texture (``TEXTURES``). A class is one such
  combination; its ground-truth attribute vector is the concatenation of one-hot codes scaled
  by the part's salience (below), so ``K = parts * (colours + shapes + textures)`` (39 by
  default) and every row has exactly ``3 * parts`` non-zero entries.
* Unseen classes are new combinations of the same attribute values: every (part, value)
  pair used by an unseen class is also used by at least one seen class.
* Parts differ in how visible they are and classes in how salient each part is, which gives the
  attribute errors the imbalance ReZSL is about: part ``p`` is hidden in an image with
  probability ``1 - part_keep[p]`` (by default the tail is often hidden, the head rarely), and
  each class has a salience ``s_cp`` in ``[salience_min, 1]`` per part (drawn once): its
  ground-truth attribute values for that part are ``s_cp`` instead of 1, and the part is drawn
  smaller and with its colour faded towards the background in proportion. Errors then depend
  on the attribute (hidden tails, faint parts) and grow with the attribute's value (a hidden
  or faint part costs more the larger its value), differently for each class.
* An image of class c (``image_size`` pixels square, 64 by default): a random light
  background with pixel noise and a class-private tint (appearance the attributes do not
  describe, as real classes have), the parts drawn around fixed anchors with position, size
  and colour jitter, a random horizontal flip, and each part hidden as above.
* Class names are invented words (some two-word names joined by ``+`` like AWA2's
  ``grizzly+bear``). Their "word vectors" are only partly related to the attributes, like
  real word2vec: the class vector is

      w_c = rho * u(A_c G) + sqrt(1 - rho^2) * u(n_c) + common * m

  with ``u`` = unit-norm, ``A_c`` the centred attribute row, ``G`` a random Gaussian
  projection, ``n_c`` a class-specific Gaussian, ``m`` a direction shared by all classes.
  For a two-word name the two word vectors are ``w_c +- d`` so that their average is ``w_c``.

:meth:`SyntheticWorld.write` lays the world out as a user's data: ``train/<class>/*.png``
(seen classes' training images: the folder VGSE discovers from), ``test/<class>/*.png``
(held-out seen images and all unseen images), ``classes.txt``, ``unseen.txt``,
``word_vectors.txt`` (word2vec text format, with distractor words), ``attributes.csv``
(ground truth) and ``world.json``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from zslkit.errors import ConfigError
from zslkit.utils.outputs import atomic_path, atomic_write_json, atomic_write_text

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (215, 40, 40), "green": (40, 165, 60), "blue": (45, 75, 215),
    "yellow": (235, 205, 35), "purple": (140, 55, 185), "orange": (240, 130, 25),
}
SHAPES = ("circle", "square", "triangle", "diamond")
TEXTURES = ("solid", "stripes", "dots")
PARTS = ("head", "body", "tail")
#: part anchors as fractions of the image side (x, y) and base diameter
ANCHORS = {"head": (0.27, 0.28, 0.34), "body": (0.68, 0.42, 0.40), "tail": (0.36, 0.74, 0.30)}

_SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]


@dataclass
class WorldConfig:
    """Size and difficulty of a synthetic world (defaults: 40 seen + 16 unseen classes, 64 px)."""

    n_seen: int = 40
    n_unseen: int = 16
    images_per_class: int = 32
    test_seen_fraction: float = 0.25  # share of each seen class's images held out as test_seen
    image_size: int = 64
    part_keep: float | tuple[float, ...] = (0.95, 0.9, 0.6)  # probability that a part is visible (per part)
    salience_min: float = 0.35  # each class's per-part salience is uniform in [salience_min, 1] (1: all 1)
    position_jitter: float = 0.06  # fraction of the side
    size_jitter: float = 0.15  # relative
    colour_jitter: int = 18  # per RGB channel
    private_tint: float = 22.0  # class-private background tint strength (RGB units)
    pixel_noise: float = 10.0
    w2v_dim: int = 300  # as GoogleNews word2vec
    w2v_rho: float = 0.5  # share of attribute signal in the word vectors
    w2v_common: float = 0.5
    two_word_share: float = 0.25  # share of class names made of two words
    n_distractor_words: int = 40

    def validate(self) -> "WorldConfig":
        if self.n_seen < 2 or self.n_unseen < 1:
            raise ConfigError(f"need >= 2 seen and >= 1 unseen classes, got {self.n_seen} and {self.n_unseen}")
        if self.images_per_class < 2:
            raise ConfigError(f"images_per_class must be >= 2, got {self.images_per_class}")
        if not 0.0 < self.test_seen_fraction < 1.0:
            raise ConfigError(f"test_seen_fraction must be in (0, 1), got {self.test_seen_fraction}")
        if self.image_size < 16:
            raise ConfigError(f"image_size must be >= 16, got {self.image_size}")
        if not 0.0 <= self.w2v_rho <= 1.0:
            raise ConfigError(f"w2v_rho must be in [0, 1], got {self.w2v_rho}")
        keep = self.keep_per_part()
        if len(keep) != len(PARTS) or not all(0.0 < k <= 1.0 for k in keep):
            raise ConfigError(f"part_keep must be one probability in (0, 1] or one per part {PARTS}, "
                              f"got {self.part_keep!r}")
        if not 0.0 < self.salience_min <= 1.0:
            raise ConfigError(f"salience_min must be in (0, 1], got {self.salience_min}")
        return self

    def keep_per_part(self) -> tuple[float, ...]:
        """``part_keep`` as one visibility probability per part."""
        if isinstance(self.part_keep, (int, float)):
            return (float(self.part_keep),) * len(PARTS)
        return tuple(float(k) for k in self.part_keep)


@dataclass
class WorldFiles:
    """Where :meth:`SyntheticWorld.write` put things."""

    root: Path
    train_dir: Path
    test_dir: Path
    classes: Path
    unseen: Path
    word_vectors: Path
    attributes: Path
    meta: Path


@dataclass
class SyntheticWorld:
    """A generated world (see module docstring); build with :func:`make_world`.

    Attributes:
        config, seed: how it was made.
        class_names: C names (seen and unseen interleaved in generation order).
        parts: (C, P, 3) int codes (colour, shape, texture) of every class's parts.
        attributes: (C, K) float32 ground-truth class-attribute matrix: one-hot codes scaled by the
            part's salience (values in [salience_min, 1] or 0).
        attribute_names: K names ``part:value``.
        unseen: sorted ids of unseen classes; ``seen`` the others.
        word_vectors: (C, D_w) float32 class word vectors (average over the name's words).
        words: word -> (D_w,) vector, for every word of every class name plus distractors.
        tints: (C, 3) class-private background tints.
        salience: (C, P) per-class part salience in [salience_min, 1].
    """

    config: WorldConfig
    seed: int
    class_names: list[str]
    parts: np.ndarray
    attributes: np.ndarray
    attribute_names: list[str]
    unseen: np.ndarray
    word_vectors: np.ndarray
    words: dict[str, np.ndarray]
    tints: np.ndarray
    salience: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def seen(self) -> np.ndarray:
        return np.setdiff1d(np.arange(len(self.class_names)), self.unseen)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def split_of(self, class_id: int, i: int) -> str:
        """``trainval``, ``test_seen`` or ``test_unseen`` for image ``i`` of class ``class_id``."""
        if class_id in set(self.unseen.tolist()):
            return "test_unseen"
        n_test = max(1, int(round(self.config.test_seen_fraction * self.config.images_per_class)))
        return "test_seen" if i >= self.config.images_per_class - n_test else "trainval"

    # ----------------------------------------------------------------- rendering
    def render(self, class_id: int, i: int) -> Image.Image:
        """Image ``i`` of class ``class_id`` (RGB, ``image_size`` square); same seed, same pixels."""
        cfg = self.config
        rng = np.random.default_rng([self.seed, 7, int(class_id), int(i)])
        s = cfg.image_size
        bg = rng.uniform(150, 225, size=3) + self.tints[class_id]
        arr = np.clip(bg + rng.normal(0, cfg.pixel_noise, size=(s, s, 3)), 0, 255).astype(np.uint8)
        img = Image.fromarray(arr, "RGB")
        flip = rng.random() < 0.5
        keep = cfg.keep_per_part()
        for p, part in enumerate(PARTS):
            visible = rng.random() < keep[p]
            ax, ay, ad = ANCHORS[part]
            jx, jy = rng.uniform(-cfg.position_jitter, cfg.position_jitter, size=2)
            d = ad * (1 + rng.uniform(-cfg.size_jitter, cfg.size_jitter)) * s
            cx, cy = (1 - ax if flip else ax) + jx, ay + jy
            colour_code, shape_code, tex_code = self.parts[class_id, p]
            sal = float(self.salience[class_id, p])
            d *= 0.6 + 0.4 * sal  # a less salient part is smaller ...
            base = np.array(list(COLOURS.values())[colour_code], dtype=float)
            col = np.clip(base + rng.integers(-cfg.colour_jitter, cfg.colour_jitter + 1, size=3), 0, 255)
            col = sal * col + (1.0 - sal) * bg  # ... and fainter (faded towards the background)
            phase = int(rng.integers(0, 6))
            if visible:  # draws are made even when hidden so that later parts get the same random numbers
                _draw_part(img, SHAPES[shape_code], TEXTURES[tex_code], tuple(int(c) for c in col),
                           cx * s, cy * s, d, phase)
        return img

    def image_ids(self, split: str) -> list[tuple[int, int]]:
        """``(class_id, i)`` of every image in ``split`` (trainval / test_seen / test_unseen)."""
        return [(c, i) for c in range(self.num_classes) for i in range(self.config.images_per_class)
                if self.split_of(c, i) == split]

    # ----------------------------------------------------------------- files
    def write(self, root: str | Path) -> WorldFiles:
        """Write the world as a user's dataset (module docstring); every file atomically.

        Re-writing an existing world of the same seed and config replaces files in place.
        """
        from zslkit.data.xlsa17 import write_class_list

        root = Path(root)
        files = WorldFiles(root=root, train_dir=root / "train", test_dir=root / "test",
                           classes=root / "classes.txt", unseen=root / "unseen.txt",
                           word_vectors=root / "word_vectors.txt", attributes=root / "attributes.csv",
                           meta=root / "world.json")
        for c, name in enumerate(self.class_names):
            for i in range(self.config.images_per_class):
                folder = files.train_dir if self.split_of(c, i) == "trainval" else files.test_dir
                with atomic_path(folder / name / f"{_file_stem(name)}_{i:04d}.png") as tmp:
                    self.render(c, i).save(tmp, format="PNG")
        write_class_list(files.classes, self.class_names)
        write_class_list(files.unseen, [self.class_names[i] for i in self.unseen])
        atomic_write_text(files.word_vectors, word2vec_text(self.words))
        header = "class," + ",".join(self.attribute_names)
        rows = [f"{n}," + ",".join(f"{v:.4g}" for v in row) for n, row in zip(self.class_names, self.attributes)]
        atomic_write_text(files.attributes, "\n".join([header, *rows]) + "\n")
        atomic_write_json(files.meta, {
            "synthetic": True,
            "warning": "SYNTHETIC image world: numbers measured on it are not benchmark results",
            "seed": self.seed, "config": asdict(self.config), "class_names": self.class_names,
            "unseen": [self.class_names[i] for i in self.unseen],
            "attribute_names": self.attribute_names,
            "images": {k: len(self.image_ids(k)) for k in ("trainval", "test_seen", "test_unseen")},
        })
        return files


def _file_stem(name: str) -> str:
    return name.replace("+", "_")


def word2vec_text(words: dict[str, np.ndarray]) -> str:
    """word2vec text format: a ``V D`` header, then ``word v_1 ... v_D`` lines."""
    dim = len(next(iter(words.values()))) if words else 0
    lines = [f"{len(words)} {dim}"]
    lines += [w + " " + " ".join(f"{x:.6f}" for x in v) for w, v in words.items()]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- drawing

def _shape_polygon(shape: str, cx: float, cy: float, r: float) -> list[tuple[float, float]] | None:
    if shape == "triangle":
        return [(cx, cy - r), (cx + r * 0.95, cy + r * 0.8), (cx - r * 0.95, cy + r * 0.8)]
    if shape == "diamond":
        return [(cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy)]
    return None


def _draw_part(img: Image.Image, shape: str, texture: str, colour: tuple[int, int, int], cx: float, cy: float,
               d: float, phase: int) -> None:
    """Draw one textured shape of diameter ``d`` centred at (cx, cy) onto ``img`` in place."""
    s = img.width
    r = d / 2
    mask = Image.new("L", img.size, 0)
    md = ImageDraw.Draw(mask)
    box = [cx - r, cy - r, cx + r, cy + r]
    if shape == "circle":
        md.ellipse(box, fill=255)
    elif shape == "square":
        md.rectangle([cx - r * 0.85, cy - r * 0.85, cx + r * 0.85, cy + r * 0.85], fill=255)
    else:
        md.polygon(_shape_polygon(shape, cx, cy, r), fill=255)
    fill = Image.new("RGB", img.size, colour)
    dark = tuple(int(c * 0.3) for c in colour)
    fd = ImageDraw.Draw(fill)
    if texture == "stripes":  # diagonal stripes, 3 px wide every 6 px
        for k in range(-2 * s, 2 * s, 6):
            o = k + phase
            fd.line([(o, 0), (o + s, s)], fill=dark, width=3)
    elif texture == "dots":
        step = 6
        for y in range(phase % step, s, step):
            for x in range((phase * 2) % step, s, step):
                fd.ellipse([x - 1.5, y - 1.5, x + 1.5, y + 1.5], fill=dark)
    img.paste(fill, (0, 0), mask)


# --------------------------------------------------------------------------- generation

def _pseudo_words(rng: np.random.Generator, n: int) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        w = "".join(rng.choice(_SYLLABLES, size=int(rng.integers(2, 4))))
        if w not in seen:
            seen.add(w)
            out.append(w)
    return out


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True).clip(1e-12)


def make_world(seed: int = 0, config: WorldConfig | None = None) -> SyntheticWorld:
    """Generate a :class:`SyntheticWorld` (classes, attributes, names, word vectors) from ``seed``."""
    cfg = (config or WorldConfig()).validate()
    rng = np.random.default_rng([seed, 1])
    n_cls = cfg.n_seen + cfg.n_unseen
    n_val = (len(COLOURS), len(SHAPES), len(TEXTURES))
    # Seen classes: distinct random combinations. Unseen classes: new combinations drawn, per
    # (part, attribute), from the values the seen classes show, so each is a recombination.
    n_attr = len(PARTS) * 3
    combos: list[tuple[int, ...]] = []
    while len(combos) < cfg.n_seen:
        c = tuple(int(rng.integers(0, n_val[a % 3])) for a in range(n_attr))
        if c not in combos:
            combos.append(c)
    shown = [sorted({c[a] for c in combos}) for a in range(n_attr)]
    n_new = math.prod(len(v) for v in shown) - cfg.n_seen
    if n_new < cfg.n_unseen:
        raise ConfigError(f"only {n_new} new combinations of the seen classes' attribute values exist; "
                          f"add seen classes or ask for fewer than {cfg.n_unseen} unseen")
    new_combos: list[tuple[int, ...]] = []
    while len(new_combos) < cfg.n_unseen:
        c = tuple(int(rng.choice(shown[a])) for a in range(n_attr))
        if c not in combos and c not in new_combos:
            new_combos.append(c)
    order = rng.permutation(n_cls)  # interleave seen and unseen classes in the class list
    all_combos = [(combos + new_combos)[i] for i in order]
    parts = np.array(all_combos, dtype=np.int64).reshape(n_cls, len(PARTS), 3)
    unseen = np.sort(np.flatnonzero(order >= cfg.n_seen))
    names_per_value = (list(COLOURS), list(SHAPES), list(TEXTURES))
    attr_names = [f"{part}:{v}" for part in PARTS for vals in names_per_value for v in vals]
    offsets = np.cumsum([0, *n_val])[:-1]
    k_part = sum(n_val)
    att = np.zeros((n_cls, len(PARTS) * k_part), dtype=np.float32)
    for c in range(n_cls):
        for p in range(len(PARTS)):
            for a in range(3):
                att[c, p * k_part + offsets[a] + parts[c, p, a]] = 1.0
    # Names: invented words, some classes with two-word names.
    n_two = int(round(cfg.two_word_share * n_cls))
    vocab = _pseudo_words(rng, n_cls + n_two + cfg.n_distractor_words)
    two = set(rng.choice(n_cls, size=n_two, replace=False).tolist()) if n_two else set()
    names, it = [], iter(vocab)
    for c in range(n_cls):
        names.append(f"{next(it)}+{next(it)}" if c in two else next(it))
    distractors = list(it)
    # Word vectors partly correlated with the attributes (module docstring).
    centred = att - att.mean(axis=0, keepdims=True)
    proj = _unit(centred @ rng.standard_normal((att.shape[1], cfg.w2v_dim)))
    noise = _unit(rng.standard_normal((n_cls, cfg.w2v_dim)))
    common = _unit(rng.standard_normal(cfg.w2v_dim))
    w2v = (cfg.w2v_rho * proj + math.sqrt(1 - cfg.w2v_rho ** 2) * noise + cfg.w2v_common * common).astype(np.float32)
    words: dict[str, np.ndarray] = {}
    for c, name in enumerate(names):
        parts_of_name = name.split("+")
        if len(parts_of_name) == 1:
            words[name] = w2v[c]
        else:
            delta = 0.5 * np.linalg.norm(w2v[c]) * _unit(rng.standard_normal(cfg.w2v_dim)).astype(np.float32)
            words[parts_of_name[0]], words[parts_of_name[1]] = w2v[c] + delta, w2v[c] - delta
    for w in distractors:
        words[w] = (0.8 * _unit(rng.standard_normal(cfg.w2v_dim)) + cfg.w2v_common * common).astype(np.float32)
    # Class-private background tints (appearance outside the attribute vocabulary).
    tints = (cfg.private_tint * _unit(rng.standard_normal((n_cls, 3)))).astype(np.float32)
    # Per-class part salience scales that part's attribute values (drawn last: the draws above, and so
    # the classes, names and word vectors, are those of a world without salience).
    salience = rng.uniform(cfg.salience_min, 1.0, size=(n_cls, len(PARTS))).astype(np.float32)
    att = att * np.repeat(salience, k_part, axis=1)
    return SyntheticWorld(config=cfg, seed=int(seed), class_names=names, parts=parts, attributes=att,
                          attribute_names=attr_names, unseen=unseen.astype(np.int64), word_vectors=w2v,
                          words=words, tints=tints, salience=salience)
