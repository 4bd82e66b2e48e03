"""Episodic and random batch samplers: structure, determinism, distributed slicing, state."""

from __future__ import annotations

import numpy as np
import pytest

from zslkit.errors import ConfigError, ZSLDataError
from zslkit.training.samplers import EpisodeSampler, RandomBatchSampler, build_sampler

LABELS = np.repeat(np.arange(20), 5)  # 20 classes x 5 images
INDICES = np.arange(1000, 1100)  # dataset indices of those images


def test_episode_is_ways_classes_times_shots_distinct_images():
    s = EpisodeSampler(LABELS, ways=16, shots=2, indices=INDICES, seed=3)
    assert len(s) == 100 // 32 and s.batch_size == 32
    for batch in s:
        batch = np.asarray(batch)
        assert batch.size == 32 and np.all((batch >= 1000) & (batch < 1100))
        classes = LABELS[batch - 1000].reshape(16, 2)
        assert np.all(classes[:, 0] == classes[:, 1])  # the shots of a class are adjacent
        assert np.unique(classes[:, 0]).size == 16  # distinct classes
        assert np.unique(batch.reshape(16, 2), axis=1).shape[1] == 2  # distinct images per class


def test_official_setting_and_episodes_per_epoch():
    s = EpisodeSampler(LABELS, episodes_per_epoch=300)
    assert (s.ways, s.shots, len(s)) == (16, 2, 300)
    assert len(list(s)) == 300


def test_epochs_are_deterministic_and_differ():
    s = EpisodeSampler(LABELS, ways=4, shots=2, seed=0)
    s.set_epoch(1)
    a = list(s)
    s.set_epoch(2)
    b = list(s)
    s.set_epoch(1)
    assert list(s) == a and a != b
    other_seed = EpisodeSampler(LABELS, ways=4, shots=2, seed=1)
    other_seed.set_epoch(1)
    assert list(other_seed) != a


def test_replicas_partition_the_single_process_episode():
    single = EpisodeSampler(LABELS, ways=8, shots=2, seed=5, indices=INDICES)
    parts = [EpisodeSampler(LABELS, ways=8, shots=2, seed=5, indices=INDICES, num_replicas=2, rank=r) for r in (0, 1)]
    for s in (single, *parts):
        s.set_epoch(4)
    for whole, p0, p1 in zip(single, *parts):
        assert whole == p0 + p1  # same global episode, split by classes
        assert not set(p0) & set(p1)
    assert parts[0].batch_size == 8 and parts[0].global_batch_size == 16


def test_small_classes_are_sampled_with_replacement():
    labels = np.array([0, 1, 1, 1, 2, 2, 2])
    batches = list(EpisodeSampler(labels, ways=3, shots=3, episodes_per_epoch=2))
    assert all(len(b) == 9 for b in batches)
    assert all(b.count(0) == 3 for b in batches)  # class 0 has one image


def test_episode_sampler_errors():
    with pytest.raises(ConfigError, match="ways=30 exceeds"):
        EpisodeSampler(LABELS, ways=30)
    with pytest.raises(ConfigError, match="divisible by the number of processes"):
        EpisodeSampler(LABELS, ways=5, num_replicas=2, rank=0)
    with pytest.raises(ConfigError, match="rank"):
        EpisodeSampler(LABELS, ways=4, num_replicas=2, rank=2)
    with pytest.raises(ZSLDataError, match="integer class ids"):
        EpisodeSampler(LABELS.astype(float))
    with pytest.raises(ConfigError, match="shots"):
        EpisodeSampler(LABELS, shots=0)


def test_state_dict_round_trip():
    s = EpisodeSampler(LABELS, ways=4, seed=7)
    s.set_epoch(9)
    t = EpisodeSampler(LABELS, ways=4, seed=7)
    t.load_state_dict(s.state_dict())
    assert t.epoch == 9 and list(t) == list(s)
    assert all(isinstance(v, (int, str)) for v in s.state_dict().values())
    with pytest.raises(ConfigError, match="seed"):
        EpisodeSampler(LABELS, ways=4, seed=8).load_state_dict(s.state_dict())
    with pytest.raises(ConfigError, match="'episode' sampler, this one is 'random'"):
        RandomBatchSampler(INDICES).load_state_dict(s.state_dict())


def test_random_sampler_covers_each_image_once_per_epoch():
    s = RandomBatchSampler(INDICES, batch_size=10, seed=1)
    s.set_epoch(3)
    batches = list(s)
    assert len(batches) == 10 and sorted(sum(batches, [])) == INDICES.tolist()
    parts = [RandomBatchSampler(INDICES, batch_size=10, seed=1, num_replicas=2, rank=r) for r in (0, 1)]
    for p in parts:
        p.set_epoch(3)
    assert [a + b for a, b in zip(*parts)] == batches
    assert len(RandomBatchSampler(INDICES, batch_size=30)) == 3
    assert len(RandomBatchSampler(INDICES, batch_size=30, drop_last=False)) == 4
    with pytest.raises(ConfigError, match="divisible"):
        RandomBatchSampler(INDICES, batch_size=9, num_replicas=2)


def test_build_sampler():
    assert isinstance(build_sampler("episode", LABELS, INDICES, ways=4), EpisodeSampler)
    assert isinstance(build_sampler("random", LABELS, INDICES, batch_size=8), RandomBatchSampler)
    with pytest.raises(ConfigError, match="unknown sampler"):
        build_sampler("balanced", LABELS, INDICES)
