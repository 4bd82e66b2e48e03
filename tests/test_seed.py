"""Seeds: an integer in [0, 2**32 - 1] wherever one is taken (zslkit.utils.seed.seed_error and its users)."""

from __future__ import annotations

import numpy as np
import pytest

from zslkit.errors import ConfigError, ZSLDataError
from zslkit.utils.seed import MAX_SEED, seed_error

BAD = [2**32, 2**64, -1, 1.5, True, "3"]


def test_seed_error():
    assert MAX_SEED == 4294967295
    for ok in (0, 1, MAX_SEED, np.int64(7), np.uint32(MAX_SEED)):
        assert seed_error(ok) is None
    for bad in BAD:
        assert seed_error(bad, "--seed") == (f"--seed must be an integer >= 0 and <= 4294967295 (2**32 - 1), got "
                                            f"{bad!r}")


@pytest.mark.parametrize("seed", [2**32, 2**64])
def test_library_entry_points_refuse_seeds_above_2_32_minus_1(seed, toy_data, tmp_path):
    """Seeds 0 and 2**32 would seed numpy's global state alike (seed % 2**32): two 'seeds', one run."""
    from zslkit.build import BuildConfig
    from zslkit.data.build import make_xlsa17_splits
    from zslkit.data.surrogate import generate_surrogate
    from zslkit.pipeline import TrainConfig
    from zslkit.vgse.discovery import DiscoverConfig, discover_demo

    match = r"seed must be an integer >= 0 and <= 4294967295"
    with pytest.raises(ConfigError, match=match):
        TrainConfig(data="x", model="eszsl", seed=seed).validate()
    with pytest.raises(ZSLDataError, match=match):
        toy_data.validation_split(fold=1, seed=seed)
    with pytest.raises(ZSLDataError, match=match):
        make_xlsa17_splits(np.repeat(np.arange(4), 5), [3], 4, seed=seed)
    with pytest.raises(ConfigError, match=match):
        BuildConfig(images="i", classes="c", unseen="u", attributes="a", out="o", backbone="tiny", seed=seed).validate()
    with pytest.raises(ConfigError, match="discover: " + match):
        DiscoverConfig(images="i", classes="c", unseen="u", word_vectors="w", out="o", seed=seed).validate()
    with pytest.raises(ConfigError, match=match):
        discover_demo(tmp_path / "d", seed=seed)
    assert not (tmp_path / "d").exists()
    with pytest.raises(ZSLDataError, match=match):
        generate_surrogate(toy_data.provenance["root"] + "/att_splits.mat", seed=seed)
