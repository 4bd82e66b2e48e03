"""Precomputed features and labels from files (zslkit.data.feature_files) and `data build --features`."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
import scipy.io
from click.testing import CliRunner

from zslkit.build import FeatureBuildConfig, build_from_features
from zslkit.data.feature_files import read_feature_blocks, read_feature_file, read_labels, stack_blocks
from zslkit.data.xlsa17 import features_file, load_xlsa17, read_att_splits
from zslkit.errors import ConfigError, ZSLDataError


@pytest.fixture
def mat(rng):
    return (rng.random((7, 5)) * 100).astype(np.uint16)


@pytest.mark.parametrize("fmt", ["npy", "npz", "npz_named", "mat", "h5", "csv"])
def test_every_format_reads_the_same_matrix_as_float32(tmp_path, mat, fmt):
    p = tmp_path / f"f.{fmt.split('_')[0]}"
    if fmt == "npy":
        np.save(p, mat)
    elif fmt == "npz":
        np.savez(p, x=mat)
    elif fmt == "npz_named":
        np.savez(p, features=mat, other=np.zeros(3))
    elif fmt == "mat":
        scipy.io.savemat(p, {"feat": mat.astype(np.float64), "name": "a string, not a matrix"})
    elif fmt == "h5":
        with h5py.File(p, "w") as f:
            f.create_dataset("group/features", data=mat)
    else:
        np.savetxt(p, mat, delimiter=",", fmt="%d")
    x, stored = read_feature_file(p)
    assert x.dtype == np.float32 and x.shape == (7, 5)
    np.testing.assert_array_equal(x, mat.astype(np.float32))


def test_bad_feature_files_are_named(tmp_path):
    bad = np.ones((4, 3))
    bad[2, 1] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    with pytest.raises(ZSLDataError, match=r"nan.npy: 1 NaN or infinite value\(s\), the first in image 2"):
        read_feature_file(tmp_path / "nan.npy")
    np.save(tmp_path / "cube.npy", np.ones((2, 3, 4)))
    with pytest.raises(ZSLDataError, match=r"cube.npy: expected a 2-D matrix.*\(2, 3, 4\)"):
        read_feature_file(tmp_path / "cube.npy")
    np.save(tmp_path / "empty.npy", np.ones((5, 0)))
    with pytest.raises(ZSLDataError, match="empty.npy: empty block"):
        read_feature_file(tmp_path / "empty.npy")
    np.savez(tmp_path / "two.npz", a=np.ones((2, 2)), b=np.ones((2, 2)))
    with pytest.raises(ZSLDataError, match="two.npz: holds 2 arrays.*one named 'features'"):
        read_feature_file(tmp_path / "two.npz")
    np.save(tmp_path / "c.npy", np.ones((2, 2), dtype=np.complex64))
    with pytest.raises(ZSLDataError, match="c.npy: complex"):
        read_feature_file(tmp_path / "c.npy")
    (tmp_path / "x.parquet").write_text("x")
    with pytest.raises(ZSLDataError, match="unknown feature file type .parquet"):
        read_feature_file(tmp_path / "x.parquet")
    with pytest.raises(ZSLDataError, match="feature file not found"):
        read_feature_file(tmp_path / "missing.npy")


def test_blocks_must_agree_on_the_images_and_stack_in_order(tmp_path, rng):
    np.save(tmp_path / "a.npy", rng.random((6, 3)))
    np.save(tmp_path / "b.npy", rng.random((6, 2)))
    np.save(tmp_path / "short.npy", rng.random((5, 2)))
    blocks = read_feature_blocks({"a": tmp_path / "a.npy", "b": tmp_path / "b.npy"}, num_images=6)
    x = stack_blocks(blocks)
    assert [(b.name, b.dim) for b in blocks] == [("a", 3), ("b", 2)] and x.shape == (6, 5)
    np.testing.assert_array_equal(x[:, 3:], np.load(tmp_path / "b.npy").astype(np.float32))
    with pytest.raises(ZSLDataError, match="short.npy: block 'b' has 5 rows \\(images\\), the labels have 6"):
        read_feature_blocks({"a": tmp_path / "a.npy", "b": tmp_path / "short.npy"}, num_images=6)
    with pytest.raises(ZSLDataError, match="block 'b' has 5 rows.*block 'a'"):
        read_feature_blocks({"a": tmp_path / "a.npy", "b": tmp_path / "short.npy"})


def test_labels_as_indices_or_names(tmp_path):
    names = ["cat", "dog", "giant+panda"]
    np.save(tmp_path / "l.npy", np.array([1, 3, 2, 3], dtype=np.uint8))
    (tmp_path / "l.txt").write_text("1\n3\n2\n3\n")
    (tmp_path / "n.txt").write_text("cat\ngiant+panda\ndog\ngiant+panda\n")
    for f in ("l.npy", "l.txt", "n.txt"):
        assert read_labels(tmp_path / f, names).tolist() == [0, 2, 1, 2]
    np.save(tmp_path / "zero.npy", np.array([0, 1]))
    with pytest.raises(ZSLDataError, match=r"zero.npy: label 0 of image 0 .* outside 1..3"):
        read_labels(tmp_path / "zero.npy", names)
    (tmp_path / "big.txt").write_text("1\n4\n")
    with pytest.raises(ZSLDataError, match=r"big.txt:2: label 4 is outside 1..3"):
        read_labels(tmp_path / "big.txt", names)
    (tmp_path / "bad.txt").write_text("cat\nwolf\n")
    with pytest.raises(ZSLDataError, match=r"bad.txt:2: label 'wolf' is not in the class list"):
        read_labels(tmp_path / "bad.txt", names)
    np.save(tmp_path / "f.npy", np.array([1.5, 2.0]))
    with pytest.raises(ZSLDataError, match="labels must be integers"):
        read_labels(tmp_path / "f.npy", names)


@pytest.fixture
def toy_features(tmp_path, rng):
    """An att_splits.mat with class lists (8 classes, 2 unseen), labels in its image order and two feature blocks."""
    from zslkit.data.xlsa17 import write_att_splits, write_class_list

    names = [f"class_{i}" for i in range(8)]
    labels = rng.permutation(np.repeat(np.arange(8), 10))
    unseen = [1, 5]
    locs = {"test_unseen": np.flatnonzero(np.isin(labels, unseen))}
    seen_idx = np.flatnonzero(~np.isin(labels, unseen))
    locs["test_seen"], locs["trainval"] = np.sort(seen_idx[::5]), np.sort(np.setdiff1d(seen_idx, seen_idx[::5]))
    att = rng.random((8, 5))
    src = write_att_splits(tmp_path / "meta" / "att_splits.mat", att, locs, class_names=names, original_att=att * 100)
    seen_names = [names[i] for i in range(8) if i not in unseen]
    write_class_list(tmp_path / "meta" / "trainvalclasses.txt", seen_names)
    write_class_list(tmp_path / "meta" / "testclasses.txt", [names[i] for i in unseen])
    write_class_list(tmp_path / "meta" / "trainclasses1.txt", seen_names[:3])
    write_class_list(tmp_path / "meta" / "valclasses1.txt", seen_names[3:])
    n = labels.size
    np.save(tmp_path / "labels.npy", (labels + 1).astype(np.uint8))
    np.save(tmp_path / "hist.npy", (rng.random((n, 6)) * 10).astype(np.uint16))
    np.savez(tmp_path / "phog.npz", features=rng.random((n, 4)).astype(np.float16))
    return {"att_splits": src, "labels": tmp_path / "labels.npy", "hist": tmp_path / "hist.npy",
            "phog": tmp_path / "phog.npz", "a": read_att_splits(src), "n": n}


def test_build_from_features_with_att_splits(toy_features, tmp_path):
    t = toy_features
    cfg = FeatureBuildConfig(features={"hist": str(t["hist"]), "phog": str(t["phog"])}, labels=str(t["labels"]),
                             att_splits=str(t["att_splits"]), out=str(tmp_path / "ds"), feature_name="toy_bow")
    rep = build_from_features(cfg)
    out = tmp_path / "ds"
    assert not (out / "res101.mat").exists() and features_file(out) == "toy_bow.mat"
    assert (out / "trainclasses1.txt").read_text() == (t["att_splits"].parent / "trainclasses1.txt").read_text()
    d = load_xlsa17(out)
    assert d.feature_blocks == [("hist", 6), ("phog", 4)] and d.features.shape == (t["n"], 10)
    np.testing.assert_array_equal(d.features[:, :6], np.load(t["hist"]).astype(np.float32))
    for k in ("trainval", "test_seen", "test_unseen"):
        np.testing.assert_array_equal(d.splits[k], t["a"].locs[k])
    assert len(d.class_folds) == 1 and rep.num_seen == 6 and rep.num_unseen == 2
    prov = json.loads((out / "BUILD.json").read_text())
    assert prov["features"]["file"] == "toy_bow.mat" and [b["name"] for b in prov["features"]["blocks"]] == \
        ["hist", "phog"] and prov["features"]["blocks"][0]["stored_dtype"] == "uint16"
    again = build_from_features(cfg)  # the same build: kept
    assert again.already_built
    with pytest.raises(ZSLDataError, match="other inputs or settings"):
        build_from_features(FeatureBuildConfig(**{**cfg.__dict__, "features": {"hist": str(t["hist"])}}))


def test_build_from_features_refuses_misaligned_or_incomplete_inputs(toy_features, tmp_path):
    t = toy_features
    base = dict(features={"hist": str(t["hist"])}, att_splits=str(t["att_splits"]), out=str(tmp_path / "ds"))
    shuffled = np.load(t["labels"])[::-1].copy()  # not the image order of att_splits.mat
    np.save(tmp_path / "shuffled.npy", shuffled)
    with pytest.raises(ZSLDataError, match="share classes.*not in the image order"):
        build_from_features(FeatureBuildConfig(labels=str(tmp_path / "shuffled.npy"), **base))
    missing = np.load(t["labels"]).copy()
    missing[missing == 3] = 4  # class 3 loses its images
    np.save(tmp_path / "missing.npy", missing)
    with pytest.raises(ZSLDataError, match=r"missing.npy: 1 class\(es\) have no image"):
        build_from_features(FeatureBuildConfig(labels=str(tmp_path / "missing.npy"), **base))
    np.save(tmp_path / "few.npy", np.ones((t["n"] - 1, 3)))
    with pytest.raises(ZSLDataError, match="few.npy: block 'few' has .* rows"):
        build_from_features(FeatureBuildConfig(**{**base, "features": {"few": str(tmp_path / "few.npy")}},
                                               labels=str(t["labels"])))
    assert not (tmp_path / "ds").exists()  # nothing written for a bad input
    with pytest.raises(ConfigError, match="leave out --classes"):
        build_from_features(FeatureBuildConfig(labels=str(t["labels"]), classes="c.txt", **base))
    with pytest.raises(ConfigError, match="other than .res101."):
        build_from_features(FeatureBuildConfig(labels=str(t["labels"]), feature_name="res101", **base))


def test_build_from_features_with_class_lists_and_a_bare_attribute_matrix(toy_features, tmp_path):
    t = toy_features
    names = t["a"].class_names
    (tmp_path / "classes.txt").write_text("".join(f"{i}\t{n}\n" for i, n in enumerate(names, start=1)))
    (tmp_path / "unseen.txt").write_text(f"{names[1]}\n{names[5]}\n")
    np.savetxt(tmp_path / "matrix.txt", np.arange(8 * 3).reshape(8, 3), fmt="%.2f")
    (tmp_path / "attrs.txt").write_text("1 black\n2 white\n3 stripes\n")
    r = CliRunner().invoke(__import__("zslkit.cli", fromlist=["main"]).main, [
        "-q", "data", "build", "--features", f"h={t['hist']}", "--labels", str(t["labels"]), "--classes",
        str(tmp_path / "classes.txt"), "--unseen", str(tmp_path / "unseen.txt"), "--attributes",
        str(tmp_path / "matrix.txt"), "--attribute-names", str(tmp_path / "attrs.txt"), "--val-folds", "2",
        "--out", str(tmp_path / "ds")])
    assert r.exit_code == 0, r.output
    d = load_xlsa17(tmp_path / "ds", semantic="original_att")
    assert d.class_names == names and [d.class_names[i] for i in d.unseen_classes] == [names[1], names[5]]
    np.testing.assert_allclose(d.semantic, np.arange(24).reshape(8, 3))
    assert (tmp_path / "ds" / "attribute_names.txt").read_text().split() == ["black", "white", "stripes"]
    assert d.feature_blocks == [("h", 6)] and len(d.class_folds) == 2


def test_cli_data_build_needs_images_or_features(tmp_path):
    from zslkit.cli import main

    r = CliRunner().invoke(main, ["data", "build", "--out", str(tmp_path / "x"), "--classes", "c", "--unseen", "u"])
    assert r.exit_code == 2 and "needs --images DIR" in r.output
    r = CliRunner().invoke(main, ["data", "build", "--features", "sift", "--labels", "l", "--out", str(tmp_path / "x")])
    assert r.exit_code == 2 and "expects NAME=FILE" in r.output
    r = CliRunner().invoke(main, ["data", "build", "--features", "a=x.npy", "--out", str(tmp_path / "x")])
    assert r.exit_code == 2 and "needs --labels" in r.output
