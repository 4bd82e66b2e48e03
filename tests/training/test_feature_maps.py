"""AttentionData, feature-map directories, extraction, and the synthetic feature-map world."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from zslkit.errors import ConfigError, ZSLDataError
from zslkit.training.feature_maps import (
    AttentionData,
    FeatureMapDataset,
    extract_feature_maps,
    load_feature_maps,
    save_feature_maps,
)


def test_synthetic_world_is_a_valid_zsl_problem(tiny_maps):
    d = tiny_maps
    assert d.surrogate and d.kind == "feature_maps"
    assert d.map_shape == (8, 4, 4) and d.num_attributes == 8 and d.attribute_vectors.shape == (8, 6)
    assert d.seen_classes.size == 8 and d.unseen_classes.size == 4
    assert not np.intersect1d(d.seen_classes, d.unseen_classes).size
    assert (d.dataset.maps >= 0).all()  # post-ReLU-like maps
    assert "SYNTHETIC" in d.provenance["notes"][0]
    vs = d.validation_split()
    assert not np.intersect1d(vs.train_idx, d.splits["test_seen"]).size
    assert set(vs.val_classes) <= set(d.seen_classes)


def test_batches_keep_the_requested_order(tiny_maps):
    ds = tiny_maps.dataset
    idx = [7, 3, 3, 50, 0]
    batch = ds.get_batch(idx)
    assert batch.dtype == torch.float32 and batch.shape == (5, 8, 4, 4)
    for row, i in zip(batch, idx):
        assert torch.equal(row, ds[i])


def test_directory_round_trip_is_memory_mapped(tiny_maps, tmp_path):
    save_feature_maps(tmp_path / "fm", tiny_maps)
    with pytest.raises(ConfigError, match="overwrite"):
        save_feature_maps(tmp_path / "fm", tiny_maps)
    d = load_feature_maps(tmp_path / "fm")
    assert isinstance(d.dataset.maps, np.memmap)
    assert np.array_equal(np.asarray(d.dataset.maps), tiny_maps.dataset.maps)
    assert np.array_equal(d.labels, tiny_maps.labels) and np.array_equal(d.semantic, tiny_maps.semantic)
    assert d.class_names == tiny_maps.class_names and d.attribute_names == tiny_maps.attribute_names
    assert d.surrogate and all(np.array_equal(d.splits[k], tiny_maps.splits[k]) for k in tiny_maps.splits)
    assert not [p for p in (tmp_path / "fm").iterdir() if ".tmp-" in p.name]  # no temporary files left


def test_directory_errors_name_the_file(tiny_maps, tmp_path):
    with pytest.raises(ZSLDataError, match="meta.json is missing"):
        load_feature_maps(tmp_path)
    save_feature_maps(tmp_path / "fm", tiny_maps)
    (tmp_path / "fm" / "labels.npy").unlink()
    with pytest.raises(ZSLDataError, match="labels.npy"):
        load_feature_maps(tmp_path / "fm")
    meta = json.loads((tmp_path / "fm" / "meta.json").read_text())
    meta["format"] = "other"
    (tmp_path / "fm" / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ZSLDataError, match="field 'format'"):
        load_feature_maps(tmp_path / "fm")


def test_attention_data_validation(tiny_maps, caplog):
    d = tiny_maps
    kw = dict(labels=d.labels, class_names=d.class_names, semantic=d.semantic, splits=d.splits)
    with pytest.raises(ZSLDataError, match=r"attribute_vectors must have shape \(8, D_w\)"):
        AttentionData(inputs=d.dataset.maps, attribute_vectors=np.ones((7, 6)), **kw)
    vectors = d.attribute_vectors.copy()
    vectors[3] = 0.0  # as SUN's "man-made" in the published vectors: allowed, with a warning naming the row
    with caplog.at_level("WARNING"):
        assert AttentionData(inputs=d.dataset.maps, attribute_vectors=vectors, **kw).attribute_vectors is not None
    assert "rows [3] are all zero" in caplog.text
    assert AttentionData(inputs=d.dataset.maps, attribute_vectors=None, **kw).attribute_vectors is None
    with pytest.raises(ZSLDataError, match="4-D"):
        AttentionData(inputs=d.dataset.maps[:, 0], attribute_vectors=d.attribute_vectors, **kw)
    with pytest.raises(ZSLDataError, match="labels must have shape"):
        AttentionData(inputs=d.dataset.maps[:5], attribute_vectors=d.attribute_vectors, **kw)
    with pytest.raises(ConfigError, match="kind"):
        AttentionData(inputs=d.dataset.maps, attribute_vectors=d.attribute_vectors, kind="video", **kw)


def test_extract_feature_maps(tmp_path):
    images = [(torch.rand(3, 8, 8), i % 2) for i in range(5)]  # ImageFolder-like items
    backbone = torch.nn.Conv2d(3, 4, kernel_size=2, stride=2)
    out = extract_feature_maps(backbone, images, tmp_path / "maps.npy", batch_size=2)
    maps = np.load(out)
    assert maps.shape == (5, 4, 4, 4) and maps.dtype == np.float16
    with torch.no_grad():
        ref = backbone(torch.stack([x for x, _ in images])).numpy()
    np.testing.assert_allclose(maps, ref, rtol=2e-3, atol=2e-3)
    assert isinstance(FeatureMapDataset(maps)[0], torch.Tensor)
