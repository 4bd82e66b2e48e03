"""``zslkit.utils.finite.all_finite`` (the fast path of every NaN/inf check on features) must give
exactly numpy's answer, ``bool(np.all(np.isfinite(a)))``, on every kind of input."""

import numpy as np
import pytest

from zslkit.utils.finite import all_finite


def _reference(a):
    return bool(np.all(np.isfinite(a)))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.complex64, np.complex128])
@pytest.mark.parametrize("bad", [None, np.nan, np.inf, -np.inf, "both_infs"])
@pytest.mark.parametrize("shape", [(0,), (1,), (7,), (37, 64), (3, 4, 5)])
def test_matches_numpy(dtype, bad, shape):
    rng = np.random.default_rng(0)
    a = rng.standard_normal(shape).astype(dtype)
    if a.size and bad is not None:
        flat = a.reshape(-1)
        if bad == "both_infs":  # inf + -inf: the sum is NaN, still caught
            flat[0], flat[-1] = np.inf, -np.inf
        else:
            flat[rng.integers(a.size)] = bad
    assert all_finite(a) is _reference(a)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_finite_values_whose_sum_overflows_are_finite(dtype):
    big = np.finfo(dtype).max
    a = np.full((64, 8), big, dtype=dtype)  # the sum overflows to inf, but every entry is finite
    with np.errstate(over="ignore"):
        assert not np.isfinite(a.sum())
    assert all_finite(a) is True is _reference(a)
    a[3, 5] = np.nan
    assert all_finite(a) is False is _reference(a)


def test_views_integers_and_bools():
    rng = np.random.default_rng(1)
    a = rng.random((50, 40)).astype(np.float32)
    a[10, 3] = np.nan
    for view in (a.T, a[::2], a[:, ::3], a[11:], a[[1, 10, 20]]):
        assert all_finite(view) is _reference(view)
    for arr in (np.arange(10), np.array([True, False]), np.zeros((0, 3), dtype=np.float32)):
        assert all_finite(arr) is True is _reference(arr)
    assert all_finite([1.0, float("inf")]) is False  # array-likes are accepted


def test_no_full_size_temporary():
    """The point of the fast path: no boolean array as large as the input (tracked by tracemalloc)."""
    import tracemalloc

    a = np.random.default_rng(2).random((2000, 512)).astype(np.float32)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        assert all_finite(a)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < a.size // 10  # np.isfinite would allocate a.size bytes
