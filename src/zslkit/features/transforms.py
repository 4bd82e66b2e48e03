"""Per-block feature transforms: normalisation, explicit chi-squared feature maps, block weights.

Image features are often a concatenation of **feature blocks**: several histograms of different
kinds side by side (Lampert et al.'s AwA features: SIFT, SURF, local self-similarity and rg-SIFT
bags of words, PHOG). ``blocks`` lists them as ``[(name, width), ...]``: consecutive column ranges
whose widths sum to the feature dimension D (``None``: the whole vector is one block). For each
block b with columns x_b of an image x, :class:`BlockTransform` computes

1. a normalisation ``norm``:
   ``"none"``; ``"l1"``: x_b / sum_j |x_bj|; ``"l2"``: x_b / ||x_b||_2;
   ``"power"``: sign(x_b) * sqrt(|x_b|), then (``power_l2=True``) divided by its L2 norm — for a
   non-negative histogram that is sqrt(x_b / sum_j x_bj), the Hellinger map, whose dot product
   is the Bhattacharyya kernel of the L1-normalised histograms.
2. an explicit feature map ``map``, so that a linear model on the output is a kernel machine:
   ``"none"``;
   ``"additive_chi2"``: scikit-learn's :class:`~sklearn.kernel_approximation.AdditiveChi2Sampler`
   (``sample_steps``, ``sample_interval``), phi(x) . phi(y) ~= k(x, y) = sum_j 2 x_j y_j / (x_j + y_j),
   width x (2 * sample_steps - 1) columns;
   ``"exp_chi2"``: the Nystroem map of scikit-learn's :class:`~sklearn.kernel_approximation.Nystroem`
   with ``kernel="chi2"`` (computed by :class:`zslkit.features.chi2.ExpChi2Nystroem`: the same landmarks
   and output, distances about ten times faster): the exponentiated chi-squared kernel
   k(x, y) = exp(-chi2(x, y) / (bandwidth * m_b)), chi2(x, y) = sum_j (x_j - y_j)^2 / (x_j + y_j),
   where m_b is the median chi-squared distance between two disjoint random sets of ``median_rows``
   *training* images each (after normalisation; scikit-learn's ``additive_chi2_kernel``) — a
   chi-squared kernel per feature type with a bandwidth from training distances, as in Lampert et
   al.'s attribute classifiers (``benchmarks/notes_awa1_settings.md`` says what is known of their
   exact rule); ``n_components`` landmark images drawn from the training images, so
   phi(x) . phi(y) equals k on the landmarks and approximates it elsewhere.
   Both chi-squared maps need non-negative input (a :class:`ZSLDataError` names the block otherwise).
3. a weight w_b >= 0 (``weights``: a list aligned with ``blocks`` or a mapping name -> weight,
   missing names weigh 1): the block's output is multiplied by sqrt(w_b), so the dot product of
   two transformed images is the weighted sum of the per-block kernels, sum_b w_b k_b(x_b, y_b).
   A block of weight 0 is dropped from the output (nothing is computed for it).

Shapes: ``fit(X)`` takes the (N_train, D) training features only (the statistics of "exp_chi2" — the
median distance, the landmarks — come from them, never from test images); ``transform(X)`` maps
any (N, D) array to (N, D_out) float32, D_out = sum over kept blocks of the map's width
(``output_blocks_`` lists them). Rows are processed in chunks of ``chunk_rows``, so the only
full-size arrays are the input and the output (AWA1's 30,475 x 8,252 input needs no float64 copy).

Choice of map: "exp_chi2" (Nystroem) is the kernel the papers used and measured better than the
additive kernel on AWA1 validation classes (``benchmarks/notes_awa1_settings.md``); its cost is the
chi-squared distances to the landmarks (N x n_components x width per block). "additive_chi2" is
exact library code, cheap per image, but multiplies the width by 2 * sample_steps - 1.
"""

from __future__ import annotations

import hashlib
import weakref
from collections import OrderedDict
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from zslkit.data.zsldata import check_blocks
from zslkit.errors import ConfigError, ZSLDataError

NORMS = ("none", "l1", "l2", "power")
MAPS = ("none", "additive_chi2", "exp_chi2")
_TINY = 1e-12


def normalize_block(x: np.ndarray, norm: str, power_l2: bool = True) -> np.ndarray:
    """One block's normalisation (see module docstring) of a (n, w) float array; returns a new array."""
    x = np.asarray(x)
    if norm == "none":
        return x.copy()
    if norm == "l1":
        return x / np.maximum(np.abs(x).sum(axis=1, keepdims=True), _TINY)
    if norm == "l2":
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), _TINY)
    if norm == "power":
        y = np.sign(x) * np.sqrt(np.abs(x))
        if power_l2:
            y /= np.maximum(np.linalg.norm(y, axis=1, keepdims=True), _TINY)
        return y
    raise ConfigError(f"transform norm must be one of {list(NORMS)}, got {norm!r}")


class BlockTransform(TransformerMixin, BaseEstimator):
    """Per-block normalisation + explicit chi-squared map + block weights (see module docstring).

    Args:
        blocks: ``[(name, width), ...]`` column blocks of the input; None = one block (the pipeline
            fills it from :attr:`ZSLData.feature_blocks`).
        norm: "none" | "l1" | "l2" | "power" (signed square root).
        power_l2: with ``norm="power"``, L2-normalise after the square root (Hellinger map).
        map: "none" | "additive_chi2" | "exp_chi2".
        sample_steps, sample_interval: of :class:`~sklearn.kernel_approximation.AdditiveChi2Sampler`.
        n_components: landmarks per block of "exp_chi2" (at most the number of training images).
        bandwidth: "exp_chi2" kernel exp(-chi2 / (bandwidth * median training chi2 distance)).
        median_rows: size of the two random sets of training images whose distances give the median.
        weights: per-block kernel weights (list aligned with ``blocks``, or mapping name -> weight).
        seed: seeds the landmark and pair draws.
        chunk_rows: rows processed at a time.
        n_jobs: threads of the chi-squared distance computation ("exp_chi2"; None = the process's
            thread setting, ``OMP_NUM_THREADS``, else 1).
    """

    #: default search grid (none: transform settings are searched only when a grid names them)
    param_grid: ClassVar[dict[str, list]] = {}

    def __init__(self, blocks: list | None = None, norm: str = "l1", power_l2: bool = True, map: str = "none",
                 sample_steps: int = 2, sample_interval: float | None = None, n_components: int = 1000,
                 bandwidth: float = 1.0, median_rows: int = 64, weights: list | dict | None = None, seed: int = 0,
                 chunk_rows: int = 2048, n_jobs: int | None = None):
        self.blocks = blocks
        self.norm = norm
        self.power_l2 = power_l2
        self.map = map
        self.sample_steps = sample_steps
        self.sample_interval = sample_interval
        self.n_components = n_components
        self.bandwidth = bandwidth
        self.median_rows = median_rows
        self.weights = weights
        self.seed = seed
        self.chunk_rows = chunk_rows
        self.n_jobs = n_jobs

    # ------------------------------------------------------------------ checks
    def _check_settings(self) -> None:
        if self.norm not in NORMS:
            raise ConfigError(f"transform norm must be one of {list(NORMS)}, got {self.norm!r}")
        if self.map not in MAPS:
            raise ConfigError(f"transform map must be one of {list(MAPS)}, got {self.map!r}")
        for key, lo in (("sample_steps", 1), ("n_components", 1), ("median_rows", 1), ("chunk_rows", 1)):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
                raise ConfigError(f"transform {key} must be an integer >= {lo}, got {v!r}")
        if self.map == "additive_chi2" and self.sample_interval is None and self.sample_steps > 3:
            raise ConfigError(f"transform sample_steps={self.sample_steps} needs an explicit sample_interval "
                              "(scikit-learn has defaults for 1-3 steps only)")
        for key in ("bandwidth",) + (("sample_interval",) if self.sample_interval is not None else ()):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v) or v <= 0:
                raise ConfigError(f"transform {key} must be a finite number > 0, got {v!r}")

    def _weights(self, blocks: list[tuple[str, int]]) -> list[float]:
        w = self.weights
        names = [n for n, _ in blocks]
        if w is None:
            out = [1.0] * len(blocks)
        elif isinstance(w, dict):
            unknown = sorted(str(k) for k in set(w) - set(names))
            if unknown:
                raise ConfigError(f"transform weights name unknown block(s) {unknown}; blocks: {names}")
            out = [w.get(n, 1.0) for n in names]
        elif isinstance(w, (list, tuple)):
            if len(w) != len(blocks):
                raise ConfigError(f"transform weights has {len(w)} values for {len(blocks)} blocks {names}")
            out = list(w)
        else:
            raise ConfigError(f"transform weights must be a list or a mapping block -> weight, got {w!r}")
        for n, v in zip(names, out):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v) or v < 0:
                raise ConfigError(f"transform weight of block {n!r} must be a finite number >= 0, got {v!r}")
        if not any(v > 0 for v in out):
            raise ConfigError(f"transform weights {out}: at least one block needs a weight > 0")
        return [float(v) for v in out]

    @staticmethod
    def _check_x(X: Any, what: str) -> np.ndarray:
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[0] == 0:
            raise ZSLDataError(f"{what} must be a non-empty 2-D array (N x D), got shape {X.shape}")
        if not np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.complexfloating):
            raise ZSLDataError(f"{what} must hold real numbers, got dtype {X.dtype}")
        return X

    def _block_rows(self, X: np.ndarray, start: int, width: int, rows: slice | np.ndarray, name: str) -> np.ndarray:
        """Normalised float32 block of some rows; checks finiteness and (chi-squared maps) signs."""
        x = np.asarray(X[rows, start:start + width], dtype=np.float32)
        if not np.all(np.isfinite(x)):
            raise ZSLDataError(f"features of block {name!r} contain NaN or inf")
        y = normalize_block(x, self.norm, self.power_l2).astype(np.float32, copy=False)
        if self.map != "none" and y.size and y.min() < 0:
            raise ZSLDataError(f"block {name!r}: the {self.map} map needs non-negative features (after norm="
                               f"{self.norm!r}), found {float(y.min()):.4g}")
        return y

    @staticmethod
    def _check_rows(rows: Any, n: int) -> np.ndarray:
        rows = np.asarray(rows)
        if rows.ndim != 1 or (rows.size and not np.issubdtype(rows.dtype, np.integer)):
            raise ZSLDataError(f"transform rows must be a 1-D array of integer row indices, got {rows.dtype} "
                               f"{rows.shape}")
        if rows.size == 0:
            raise ZSLDataError("transform rows is empty: no images to fit or transform")
        if rows.min() < 0 or rows.max() >= n:
            raise ZSLDataError(f"transform rows out of range [0, {n}): [{rows.min()}, {rows.max()}]")
        return rows.astype(np.int64)

    # ------------------------------------------------------------------ fit / transform
    def _setup(self, X: Any, rows: Any) -> tuple[np.ndarray, np.ndarray, list[tuple[str, int]], list[float]]:
        """Checks shared by ``fit`` and :func:`fit_transform_rows`: (X, training rows, blocks, weights)."""
        self._check_settings()
        X = self._check_x(X, "transform input")
        rows = np.arange(X.shape[0]) if rows is None else self._check_rows(rows, X.shape[0])
        blocks = check_blocks(self.blocks, X.shape[1], "transform blocks") or [("all", X.shape[1])]
        weights = self._weights(blocks)
        for s in range(0, rows.size, self.chunk_rows):  # every map: the training rows must be finite
            if not np.all(np.isfinite(X[rows[s:s + self.chunk_rows]])):
                raise ZSLDataError("transform input (training rows) contains NaN or inf")
        return X, rows, blocks, weights

    def _fit_block(self, X: np.ndarray, rows: np.ndarray, b: int, start: int, width: int, name: str
                   ) -> tuple[Any, float | None, int]:
        """Fit block ``b`` (columns start:start+width) on the training rows: (mapper or None, median chi2
        distance or None, output width). Its random draws depend on (seed, b) only, so a block's map does
        not change when another block's weight does."""
        from sklearn.kernel_approximation import AdditiveChi2Sampler
        from sklearn.metrics.pairwise import additive_chi2_kernel

        from zslkit.features.chi2 import ExpChi2Nystroem

        n = rows.size
        if self.map == "additive_chi2":
            probe = self._block_rows(X, start, width, rows[:self.chunk_rows], name)
            mapper = AdditiveChi2Sampler(sample_steps=self.sample_steps, sample_interval=self.sample_interval)
            return mapper.fit(probe), None, width * (2 * self.sample_steps - 1)
        if self.map == "exp_chi2":
            if n < 2:
                raise ZSLDataError("the exp_chi2 map needs at least 2 training images")
            rng = np.random.default_rng([self.seed, b])
            xb = self._block_rows(X, start, width, rows, name)
            m = min(self.median_rows, n // 2)
            perm = rng.permutation(n)[:2 * m]
            med = float(np.median(-additive_chi2_kernel(xb[perm[:m]], xb[perm[m:]])))
            if not med > 0:
                raise ZSLDataError(f"block {name!r}: the median chi-squared distance between training images is "
                                   f"{med}: the images are (nearly) identical in this block")
            k = min(self.n_components, n)
            mapper = ExpChi2Nystroem(gamma=1.0 / (self.bandwidth * med), n_components=k,
                                     random_state=int(rng.integers(0, 2**31 - 1)), threads=self.n_jobs)
            return mapper.fit(xb), med, k
        return None, None, width

    def _set_fitted(self, X: np.ndarray, blocks: list[tuple[str, int]], weights: list[float],
                    fitted: list[tuple[Any, float | None, int] | None]) -> None:
        self.blocks_ = blocks
        self.weights_ = weights
        self.mappers_ = [f[0] if f else None for f in fitted]
        self.medians_ = [f[1] if f else None for f in fitted]
        self.scales_ = [float(np.sqrt(w)) for w in weights]
        self.output_blocks_ = [(name, f[2]) for (name, _), f in zip(blocks, fitted) if f]
        self.n_features_in_ = X.shape[1]
        self.n_features_out_ = sum(w for _, w in self.output_blocks_)

    def fit(self, X: np.ndarray, y: Any = None, rows: np.ndarray | None = None) -> "BlockTransform":
        """Learn what the map needs from the (N_train, D) training features (see class docstring);
        ``rows``: use only these rows of X (the training images of a larger matrix, without copying it)."""
        X, rows, blocks, weights = self._setup(X, rows)
        starts = np.cumsum([0] + [w for _, w in blocks])
        fitted = [self._fit_block(X, rows, b, int(starts[b]), width, name) if w > 0 else None
                  for b, ((name, width), w) in enumerate(zip(blocks, weights))]
        self._set_fitted(X, blocks, weights, fitted)
        return self

    def _transform_block(self, X: np.ndarray, rows: np.ndarray, start: int, width: int, name: str, mapper: Any,
                         out_width: int) -> np.ndarray:
        """One block's unweighted output for the given rows, ``chunk_rows`` rows at a time: (len(rows), out_width)."""
        out = np.empty((rows.size, out_width), dtype=np.float32)
        for s in range(0, rows.size, self.chunk_rows):
            xb = self._block_rows(X, start, width, rows[s:s + self.chunk_rows], name)
            out[s:s + xb.shape[0]] = xb if mapper is None else mapper.transform(xb)
        return out

    def transform(self, X: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """(N, D) -> (N, D_out) float32, block by block and chunk by chunk; ``rows``: transform only these
        rows of X (output row i is X[rows[i]]), without copying the input."""
        if not hasattr(self, "output_blocks_"):
            raise ZSLDataError("BlockTransform is not fitted yet: call fit() on the training features first")
        X = self._check_x(X, "transform input")
        if X.shape[1] != self.n_features_in_:
            raise ZSLDataError(f"transform input has {X.shape[1]} features, the transform was fitted on "
                               f"{self.n_features_in_}")
        rows = np.arange(X.shape[0]) if rows is None else self._check_rows(rows, X.shape[0])
        out = np.empty((rows.size, self.n_features_out_), dtype=np.float32)
        start, col, kept = 0, 0, iter(self.output_blocks_)
        for (name, width), w, mapper, scale in zip(self.blocks_, self.weights_, self.mappers_, self.scales_):
            if w > 0:
                k = next(kept)[1]
                for s in range(0, rows.size, self.chunk_rows):
                    xb = self._block_rows(X, start, width, rows[s:s + self.chunk_rows], name)
                    yb = xb if mapper is None else mapper.transform(xb)
                    out[s:s + xb.shape[0], col:col + k] = yb if scale == 1.0 else yb * scale
                col += k
            start += width
        return out

    def describe(self) -> dict[str, Any]:
        """What the fitted transform does, for run records (no arrays)."""
        d: dict[str, Any] = {k: v for k, v in self.get_params().items() if k not in ("blocks", "chunk_rows", "n_jobs")}
        if hasattr(self, "output_blocks_"):
            d["blocks"] = [list(b) for b in self.blocks_]
            d["output_blocks"] = [list(b) for b in self.output_blocks_]
            d["output_dim"] = int(self.n_features_out_)
            if self.map == "exp_chi2":
                d["median_chi2"] = {n: m for (n, _), m in zip(self.blocks_, self.medians_) if m is not None}
        return d


#: per-block results of the last few ``fit_transform_rows`` calls: (fitted block, unweighted output).
#: The exp_chi2 map of AWA1 costs minutes; a benchmark fits the same blocks on the same rows for
#: several models and block-weight settings.
_MEMO: "OrderedDict[tuple, tuple[Any, tuple[Any, float | None, int], np.ndarray]]" = OrderedDict()
#: bytes of block outputs kept (oldest dropped first): a grid worker on AWA1 (30,475 images, 5 blocks mapped
#: to 1000 columns each) reuses the trainval map and the validation-fold maps of 3 seeds (about 2.1 GB)
MEMO_BYTES = 3 << 30


def _digest(rows: np.ndarray | None) -> str | None:
    return None if rows is None else hashlib.sha1(np.ascontiguousarray(rows, dtype=np.int64).tobytes()).hexdigest()


#: parameters that do not change one block's fitted map or its unweighted output
_NOT_PER_BLOCK = ("blocks", "weights", "chunk_rows", "n_jobs")


def fit_transform_rows(transform: BlockTransform, X: np.ndarray, fit_rows: np.ndarray,
                       rows: np.ndarray | None = None) -> np.ndarray:
    """Fit ``transform`` on the rows ``fit_rows`` of X (the training images) and return the transformed
    rows ``rows`` (all rows when None): the same as ``transform.fit(X, rows=fit_rows).transform(X, rows=rows)``.

    Each block's fitted map and unweighted output are memoised (up to :data:`MEMO_BYTES` of outputs) for
    the same array object X (held by a weak reference), equal map parameters, the same block columns
    and equal row sets, so that other block weights or another model reuse them.
    """
    X, fit_rows, blocks, weights = transform._setup(X, fit_rows)
    rows_arr = None if rows is None else transform._check_rows(rows, X.shape[0])
    n_out = X.shape[0] if rows_arr is None else rows_arr.size
    params = repr(sorted((k, v) for k, v in transform.get_params().items() if k not in _NOT_PER_BLOCK))
    digests = (_digest(fit_rows), _digest(rows_arr))
    try:
        ref = weakref.ref(X)
    except TypeError:  # pragma: no cover - an array without weak references: not memoised
        ref = None
    starts = np.cumsum([0] + [w for _, w in blocks])
    fitted, outputs = [], []
    for b, ((name, width), w) in enumerate(zip(blocks, weights)):
        if w <= 0:
            fitted.append(None)
            continue
        key = (id(X), X.shape, params, b, name, int(starts[b]), width) + digests
        hit = _MEMO.get(key)
        if hit is not None and ref is not None and hit[0]() is X:
            _MEMO.move_to_end(key)
            fitted.append(hit[1])
            outputs.append(hit[2])
            continue
        f = transform._fit_block(X, fit_rows, b, int(starts[b]), width, name)
        out_b = transform._transform_block(X, np.arange(X.shape[0]) if rows_arr is None else rows_arr,
                                           int(starts[b]), width, name, f[0], f[2])
        out_b.flags.writeable = False
        fitted.append(f)
        outputs.append(out_b)
        if ref is not None:
            _MEMO[key] = (ref, f, out_b)
            while len(_MEMO) > 1 and sum(v[2].nbytes for v in _MEMO.values()) > MEMO_BYTES:
                _MEMO.popitem(last=False)
    transform._set_fitted(X, blocks, weights, fitted)
    out = np.empty((n_out, transform.n_features_out_), dtype=np.float32)
    col = 0
    for o, scale in zip(outputs, [s for s, w in zip(transform.scales_, weights) if w > 0]):
        out[:, col:col + o.shape[1]] = o if scale == 1.0 else o * scale
        col += o.shape[1]
    return out
