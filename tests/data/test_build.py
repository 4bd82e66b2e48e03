"""Bring your own dataset: image folder + class lists + attribute CSV / word vectors -> xlsa17 directory.

Builds run on a small generated image folder (6 classes x 5 images, 24 px PNGs) with the
seeded, randomly initialised ``tiny`` backbone at 32 px, so each build takes well under a second.
"""

from __future__ import annotations

import os

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from zslkit.build import CACHE_DIR, BuildConfig, build_xlsa17
from zslkit.data.build import make_xlsa17_splits, read_attribute_csv
from zslkit.data.matfile import load_mat, save_mat
from zslkit.data.patches import PatchExtractor, PatchSpec
from zslkit.data.xlsa17 import load_xlsa17
from zslkit.errors import ConfigError, ZSLDataError
from zslkit.utils.outputs import ForeignFileError
from zslkit.evaluation import evaluate
from zslkit.models import ESZSL
from zslkit.vgse.backbone import build_backbone

CLASSES = ["zebra", "horse", "polar bear", "grizzly_bear", "tiger", "cat"]
UNSEEN = ["polar bear", "cat"]
PER_CLASS = 5
ATTRS = ["red", "green", "blue", "bright"]


def _colour(c: int) -> np.ndarray:
    return np.array([(60 * c) % 256, 230 - 35 * c, (97 * c + 40) % 256], dtype=np.float64)


def _attributes(c: int) -> list[float]:
    col = _colour(c)
    return [*(col / 2.55).round(2).tolist(), round(float(col.mean() / 2.55), 2)]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    """User data as it would be on disk (read-only for tests: copy before damaging it)."""
    root = tmp_path_factory.mktemp("byod")
    rng = np.random.default_rng(0)
    for c, name in enumerate(CLASSES):
        d = root / "images" / name.replace(" ", "_")  # folder names need not match the list exactly
        d.mkdir(parents=True)
        for i in range(PER_CLASS):
            img = (_colour(c) + rng.normal(0, 25, (24, 24, 3))).clip(0, 255).astype(np.uint8)
            Image.fromarray(img).save(d / f"img_{i}.png")
    (root / "classes.txt").write_text("\n".join(CLASSES) + "\n")
    (root / "unseen.txt").write_text("\n".join(UNSEEN) + "\n")
    rows = ["class,attribute,value"] + [f"{n},{a},{v}" for c, n in enumerate(CLASSES)
                                        for a, v in zip(ATTRS, _attributes(c))]
    (root / "attributes.csv").write_text("\n".join(rows) + "\n")
    return {"root": root, "images": root / "images", "classes": root / "classes.txt",
            "unseen": root / "unseen.txt", "attributes": root / "attributes.csv"}


def config(inputs, out, **kw) -> BuildConfig:
    values = {"images": str(inputs["images"]), "classes": str(inputs["classes"]), "unseen": str(inputs["unseen"]),
              "attributes": str(inputs["attributes"]), "out": str(out), "backbone": "tiny", "image_size": 32,
              "batch_size": 8, "progress": False, "seed": 0}
    values.update({k: (str(v) if isinstance(v, Path) else v) for k, v in kw.items()})
    return BuildConfig(**values)


def copy_inputs(inputs, dst: Path) -> dict[str, Path]:
    shutil.copytree(inputs["root"], dst)
    return {k: dst / v.relative_to(inputs["root"]) for k, v in inputs.items()}


# --------------------------------------------------------------------------- end to end

def test_build_reads_back_with_xlsa17_splits_and_trains_eszsl(inputs, tmp_path):
    out = tmp_path / "ds"
    report = build_xlsa17(config(inputs, out))
    data = load_xlsa17(out)
    n = len(CLASSES) * PER_CLASS
    assert report.num_images == n and data.features.shape == (n, 64) and data.features.dtype == np.float32
    assert data.class_names == CLASSES and data.semantic.shape == (len(CLASSES), len(ATTRS))
    assert np.array_equal(data.labels, np.repeat(np.arange(len(CLASSES)), PER_CLASS))
    assert data.image_files[0] == "zebra/img_0.png"  # relative to the image root

    # published layout: D x N single features, 1-based labels and locs, att K x C
    raw = load_mat(out / "res101.mat")
    assert raw["features"].shape == (64, n) and raw["features"].dtype == np.float32
    assert raw["labels"].min() == 1 and raw["labels"].max() == len(CLASSES)
    splits_raw = load_mat(out / "att_splits.mat")
    assert splits_raw["att"].shape == (len(ATTRS), len(CLASSES))
    assert splits_raw["trainval_loc"].min() >= 1
    # att: each class vector L2-normalised; original_att: the CSV values
    assert np.allclose(np.linalg.norm(data.semantic, axis=1), 1.0, atol=1e-6)
    orig = load_xlsa17(out, semantic="original_att").semantic
    assert np.allclose(orig, np.array([_attributes(c) for c in range(len(CLASSES))]), atol=1e-4)
    assert (out / "attribute_names.txt").read_text().split("\n")[:4] == ATTRS

    # splits: disjoint, complete, seen/unseen by class, 1 of 5 images per seen class held out
    tv, ts, tu = (data.splits[k] for k in ("trainval", "test_seen", "test_unseen"))
    assert not np.intersect1d(tv, ts).size and not np.intersect1d(tv, tu).size and not np.intersect1d(ts, tu).size
    assert np.array_equal(np.sort(np.concatenate([tv, ts, tu])), np.arange(n))
    unseen_ids = [CLASSES.index(u) for u in UNSEEN]
    assert data.unseen_classes.tolist() == sorted(unseen_ids)
    assert np.all(np.bincount(data.labels[ts], minlength=6)[data.seen_classes] == 1)
    assert (out / "testclasses.txt").read_text().splitlines() == UNSEEN
    # three disjoint validation class folds partitioning the seen classes; train/val locs inside trainval
    assert len(data.class_folds) == 3
    vals = np.concatenate([va for _, va in data.class_folds])
    assert np.array_equal(np.sort(vals), data.seen_classes)
    assert np.isin(data.splits["train"], tv).all() and np.isin(data.splits["val"], tv).all()
    assert not any("test_seen" in note for note in data.provenance["notes"])  # no published-style leak
    assert data.validation_split(1).source == "xlsa17 class lists, fold 1"

    # a feature row is the backbone applied to the whole image, resized
    bb = build_backbone("tiny", seed=0)
    ex = PatchExtractor(PatchSpec(rows=1, cols=1, overlap=0.0, size=32))
    with torch.no_grad():
        direct = bb(ex(Image.open(inputs["images"] / "tiger" / "img_3.png").convert("RGB"), 0)).numpy()[0]
    assert np.allclose(data.features[CLASSES.index("tiger") * PER_CLASS + 3], direct, atol=1e-5)

    # provenance, cache cleaned up
    prov = json.loads((out / "BUILD.json").read_text())
    assert prov["backbone"]["name"] == "tiny" and prov["backbone"]["feature_dim"] == 64
    assert prov["settings"]["seed"] == 0 and prov["counts"]["splits"]["test_unseen"] == 2 * PER_CLASS
    assert "not comparable" in prov["comparability"] and prov["skipped_images"] == []
    assert not (out / CACHE_DIR).exists()

    # ESZSL trains and evaluates on it
    model = ESZSL(alpha=1.0, lam=1.0).fit(data.features[tv], data.labels[tv], data.semantic)
    m = evaluate(lambda X, c: model.scores(X, data.semantic[c]), data.features, data.labels, data.test_split())
    assert 0.0 <= m.T1 <= 100.0 and np.isfinite(m.H)


def test_same_seed_same_dataset_and_seed_changes_splits(inputs, tmp_path):
    build_xlsa17(config(inputs, tmp_path / "a", seed=3))
    build_xlsa17(config(inputs, tmp_path / "b", seed=3, batch_size=5))
    a, b = load_xlsa17(tmp_path / "a"), load_xlsa17(tmp_path / "b")
    assert np.allclose(a.features, b.features, atol=1e-6)
    for k in a.splits:
        assert np.array_equal(a.splits[k], b.splits[k])
    assert [(t.tolist(), v.tolist()) for t, v in a.class_folds] == [(t.tolist(), v.tolist()) for t, v in b.class_folds]
    c = make_xlsa17_splits(a.labels, a.unseen_classes, 6, seed=4)
    assert any(not np.array_equal(a.splits[k], c.locs[k]) for k in ("trainval", "train"))


def test_interrupted_build_resumes_to_the_same_dataset(inputs, tmp_path):
    class Stop(Exception):
        pass

    def stop(done, total):
        if done >= 16:
            raise Stop

    out = tmp_path / "ds"
    with pytest.raises(Stop):
        build_xlsa17(config(inputs, out), on_batch=stop)
    assert not (out / "BUILD.json").exists() and (out / CACHE_DIR).is_dir()
    report = build_xlsa17(config(inputs, out, batch_size=3))  # resumes with the stored batch size
    assert report.resumed_from == 16 and "resumed feature extraction at image 16" in report.summary()
    build_xlsa17(config(inputs, tmp_path / "full"))
    assert np.array_equal(load_xlsa17(out).features, load_xlsa17(tmp_path / "full").features)


def test_output_directory_rules(inputs, tmp_path):
    out = tmp_path / "ds"
    build_xlsa17(config(inputs, out, val_folds=3))
    with pytest.raises(ZSLDataError, match="already holds a dataset built from other inputs or settings"):
        build_xlsa17(config(inputs, out, seed=1))
    build_xlsa17(config(inputs, out, overwrite=True, val_folds=2, keep_cache=True))
    assert not (out / "trainclasses3.txt").exists() and len(load_xlsa17(out).class_folds) == 2
    assert (out / CACHE_DIR).is_dir()
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(ForeignFileError, match="not empty and not written by zslkit.*notes.txt"):
        build_xlsa17(config(inputs, other))
    with pytest.raises(ForeignFileError, match="notes.txt"):
        build_xlsa17(config(inputs, other, overwrite=True))
    assert sorted(os.listdir(other)) == [".zslkit.lock", "notes.txt"]


def test_rerun_of_a_finished_build_is_a_no_op(inputs, tmp_path):
    # issue #15: a build killed at its very end (BUILD.json written, cache not yet removed) made the
    # same command fail with "already holds a built dataset"; now it finishes the cleanup and keeps the build
    inputs = copy_inputs(inputs, tmp_path / "in")
    out = tmp_path / "ds"
    first = build_xlsa17(config(inputs, out, keep_cache=True))  # as a SIGKILL right after BUILD.json: cache left
    assert not first.already_built and (out / CACHE_DIR).is_dir()
    stamp = {f: (out / f).stat().st_mtime_ns for f in ("res101.mat", "att_splits.mat", "BUILD.json")}
    again = build_xlsa17(config(inputs, out))
    assert again.already_built and "nothing recomputed" in again.summary()
    assert {f: (out / f).stat().st_mtime_ns for f in stamp} == stamp and not (out / CACHE_DIR).exists()
    assert (again.num_images, again.splits, again.num_attributes) == (first.num_images, first.splits,
                                                                        first.num_attributes)
    # a changed input is not the same build: it needs overwrite
    lines = Path(inputs["attributes"]).read_text().splitlines()
    head, value = lines[-1].rsplit(",", 1)
    Path(inputs["attributes"]).write_text("\n".join(lines[:-1] + [f"{head},{float(value) + 1}"]) + "\n")
    with pytest.raises(ZSLDataError, match="other inputs or settings"):
        build_xlsa17(config(inputs, out))


# --------------------------------------------------------------------------- unreadable images

def test_unreadable_image_fails_naming_it_or_is_skipped(inputs, tmp_path):
    data_in = copy_inputs(inputs, tmp_path / "in")
    bad = data_in["images"] / "horse" / "img_2.png"
    bad.write_bytes(b"\x89PNG not really")
    with pytest.raises(ZSLDataError, match=r"1 unreadable image.*horse/img_2\.png.*--skip-bad"):
        build_xlsa17(config(data_in, tmp_path / "ds"))
    report = build_xlsa17(config(data_in, tmp_path / "ds", skip_bad=True))
    assert report.num_images == len(CLASSES) * PER_CLASS - 1 and report.resumed_from == len(CLASSES) * PER_CLASS
    assert report.skipped[0]["path"] == str(bad) and "horse/img_2.png" in report.summary()
    data = load_xlsa17(tmp_path / "ds")
    assert "horse/img_2.png" not in data.image_files and data.features.shape[0] == report.num_images
    prov = json.loads((tmp_path / "ds" / "BUILD.json").read_text())
    assert prov["counts"]["skipped"] == 1 and prov["skipped_images"][0]["path"] == str(bad)


def test_decompression_bomb_in_the_images_is_skipped_with_skip_bad(inputs, tmp_path):
    from tests.conftest import png_bomb

    data_in = copy_inputs(inputs, tmp_path / "in")
    bomb = png_bomb(data_in["images"] / "horse" / "zz_bomb.png")  # was an uncaught DecompressionBombError
    with pytest.raises(ZSLDataError, match=r"1 unreadable image.*zz_bomb\.png \(decompression bomb refused"):
        build_xlsa17(config(data_in, tmp_path / "ds"))
    report = build_xlsa17(config(data_in, tmp_path / "ds", skip_bad=True))
    assert [s["path"] for s in report.skipped] == [str(bomb)] and "decompression bomb" in report.skipped[0]["reason"]


def test_class_whose_images_are_all_unreadable(inputs, tmp_path):
    data_in = copy_inputs(inputs, tmp_path / "in")
    for f in (data_in["images"] / "tiger").iterdir():
        f.write_bytes(b"garbage")
    with pytest.raises(ZSLDataError, match=r"\['tiger'\] have no readable image"):
        build_xlsa17(config(data_in, tmp_path / "ds", skip_bad=True))


# --------------------------------------------------------------------------- bad inputs

def test_unseen_class_not_in_class_list(inputs, tmp_path):
    (tmp_path / "unseen.txt").write_text("cat\nunicorn\n")
    with pytest.raises(ZSLDataError, match=r"unseen class\(es\) \['unicorn'\] are not in the class list"):
        build_xlsa17(config(inputs, tmp_path / "ds", unseen=tmp_path / "unseen.txt"))


def test_class_without_image_folder_or_images(inputs, tmp_path):
    data_in = copy_inputs(inputs, tmp_path / "in")
    shutil.rmtree(data_in["images"] / "zebra")
    with pytest.raises(ZSLDataError, match=r"no images for 1 class\(es\) \['zebra'\]"):
        build_xlsa17(config(data_in, tmp_path / "ds"))
    (data_in["images"] / "zebra").mkdir()  # an empty folder is no better
    with pytest.raises(ZSLDataError, match=r"\['zebra'\]"):
        build_xlsa17(config(data_in, tmp_path / "ds"))
    assert not (tmp_path / "ds").exists()  # nothing written before the inputs are checked


def test_attribute_csv_errors_name_the_problem(inputs, tmp_path):
    good = inputs["attributes"].read_text().splitlines()
    cases = {
        "unknown class": (good + ["unicorn,red,1.0"], r"class\(es\) not in the class list.*'unicorn' \(line 26\)"),
        "not a number": ([good[0], "zebra,red,high"] + good[2:],
                         r"attributes\.csv:2: value 'high' of class 'zebra', attribute 'red' is not a number"),
        "missing class": ([r for r in good if not r.startswith("tiger,")], r"no attribute values for 1 class.*tiger"),
        "missing pair": ([r for r in good if not r.startswith("cat,blue")],
                         r"1 \(class, attribute\) value\(s\) missing, e\.g\. 'cat'/'blue'"),
        "duplicate": (good + ["cat,blue,3"], r"given twice.*'cat'/'blue' \(lines 24 and 26\)"),
        "not finite": (good + ["cat,shiny,nan"], r"'nan' of class 'cat', attribute 'shiny' is not finite"),
        "fields": (good + ["cat,blue"], r"attributes\.csv:26: expected 3 fields"),
    }
    for name, (rows, pattern) in cases.items():
        p = tmp_path / "attributes.csv"
        p.write_text("\n".join(rows) + "\n")
        with pytest.raises(ZSLDataError, match=pattern):
            read_attribute_csv(p, CLASSES, class_list_name="the class list")
        if name == "unknown class":  # the build fails on it too, before extracting anything
            with pytest.raises(ZSLDataError, match="unicorn"):
                build_xlsa17(config(inputs, tmp_path / "ds", attributes=p))
            assert not (tmp_path / "ds").exists()


def test_attribute_csv_formats():
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "a.tsv"
        # header in another order with an extra column, tabs, comments and blank lines
        p.write_text("# my table\nvalue\tnote\tattribute\tclass\n\n1\tx\tstripes\tzebra\n0\t\tstripes\thorse\n"
                     "2.5\t\tlegs\tzebra\n4\t\tlegs\thorse\n")
        t = read_attribute_csv(p, ["horse", "zebra"])
        assert t.attribute_names == ["stripes", "legs"]
        assert np.array_equal(t.values, [[0, 4], [1, 2.5]])
        assert np.allclose(t.att[1], np.array([1, 2.5]) / np.hypot(1, 2.5))
        q = Path(d) / "b.csv"
        q.write_text('zebra,"stripes, black",1\nhorse,"stripes, black",0\n')  # no header, quoted names
        t = read_attribute_csv(q, ["zebra", "horse"])
        assert t.attribute_names == ["stripes, black"] and t.values[:, 0].tolist() == [1, 0]
        assert t.att[1].tolist() == [0.0]  # an all-zero class vector stays zero


def test_split_rules():
    labels = np.array([0] * 5 + [1] * 1 + [2] * 4 + [3] * 3 + [4] * 2)
    s = make_xlsa17_splits(labels, [4], 5, seed=0, test_seen_fraction=0.2, val_folds=2)
    held = np.bincount(labels[s.locs["test_seen"]], minlength=5)
    assert held.tolist() == [1, 0, 1, 1, 0]  # round(0.2 n), at least 1 when n >= 2, never the last image
    assert np.array_equal(s.locs["test_unseen"], [13, 14])
    assert len(s.folds) == 2 and all(np.intersect1d(t, v).size == 0 for t, v in s.folds)
    s0 = make_xlsa17_splits(labels, [4], 5, test_seen_fraction=0.0, val_folds=0)
    assert s0.locs["test_seen"].size == 0 and s0.folds == [] and "train" not in s0.locs
    with pytest.raises(ZSLDataError, match="val_folds=5 needs at least 5 seen classes"):
        make_xlsa17_splits(labels, [4], 5, val_folds=5)
    with pytest.raises(ZSLDataError, match="classes with no images"):
        make_xlsa17_splits(labels, [4], 6)


def test_settings_errors(inputs, tmp_path):
    with pytest.raises(ConfigError, match=r"an attribute table \(--attributes.*a word-vector file \(--word-vectors"):
        build_xlsa17(config(inputs, tmp_path / "ds", attributes=None))
    with pytest.raises(ConfigError, match="oov must be 'error' or 'skip'"):
        build_xlsa17(config(inputs, tmp_path / "ds", word_vectors=tmp_path / "w.txt", oov="ignore"))
    with pytest.raises(ConfigError, match="needs --weights"):
        build_xlsa17(config(inputs, tmp_path / "ds", backbone="resnet101"))
    with pytest.raises(ConfigError, match="not found"):
        build_xlsa17(config(inputs, tmp_path / "ds", backbone="resnet50", weights=tmp_path / "nope.pth"))
    with pytest.raises(ZSLDataError, match="val_folds=5 needs at least 5 seen classes"):
        build_xlsa17(config(inputs, tmp_path / "ds", val_folds=5))


# --------------------------------------------------------------------------- word vectors, no attributes

#: the same image folders under VGSE-style names: "polar+bear" (AWA, averaged words), "grizzly_bear" (a phrase
#: vector in the file), "Tiger" (found in lower case)
WV_CLASSES = ["zebra", "horse", "polar+bear", "grizzly_bear", "Tiger", "cat"]
WV_UNSEEN = ["polar+bear", "cat"]
WORDS = ["zebra", "horse", "polar", "bear", "grizzly_bear", "tiger", "cat", "dog"]


@pytest.fixture(scope="module")
def wv(tmp_path_factory) -> dict[str, Path]:
    """word2vec text files (8-d, seeded): all words, and one without 'polar' (out of vocabulary)."""
    root = tmp_path_factory.mktemp("wv")
    vecs = np.random.default_rng(1).normal(size=(len(WORDS), 8)).round(5)

    def write(path, words):
        rows = [f"{w} " + " ".join(f"{x:.5f}" for x in vecs[WORDS.index(w)]) for w in words]
        path.write_text(f"{len(words)} 8\n" + "\n".join(rows) + "\n")
        return path

    (root / "classes.txt").write_text("\n".join(WV_CLASSES) + "\n")
    (root / "unseen.txt").write_text("\n".join(WV_UNSEEN) + "\n")
    return {"all": write(root / "w2v.txt", WORDS), "oov": write(root / "w2v_oov.txt", [w for w in WORDS if w != "polar"]),
            "classes": root / "classes.txt", "unseen": root / "unseen.txt",
            "vectors": {w: vecs[i] for i, w in enumerate(WORDS)}}


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def test_build_with_wordllama_class_embeddings(inputs, wv, tmp_path):
    from zslkit.embeddings.text_models import text_class_embeddings

    out = tmp_path / "ds"
    report = build_xlsa17(config(inputs, out, classes=wv["classes"], unseen=wv["unseen"], attributes=None,
                                 word_vectors="wordllama"))
    assert report.word_vector_dim == 256
    data = load_xlsa17(out, semantic="word2vec")
    np.testing.assert_allclose(data.semantic, text_class_embeddings(WV_CLASSES), atol=1e-6)
    prov = json.loads((out / "BUILD.json").read_text())
    assert prov["inputs"]["word_vectors"] == "wordllama" and prov["word_vectors"]["source"] == "wordllama"
    assert prov["word_vectors"]["phrases"]["polar+bear"] == "polar bear"


def test_build_without_attributes_from_word_vectors(inputs, wv, tmp_path, caplog):
    out = tmp_path / "ds"
    report = build_xlsa17(config(inputs, out, classes=wv["classes"], unseen=wv["unseen"], attributes=None,
                                 word_vectors=wv["all"]))
    assert report.num_attributes == 0 and report.word_vector_dim == 8
    assert "no attributes, 8-d class word vectors (word2vec_splits.mat)" in report.summary()
    # att_splits.mat: splits and class names only; word2vec_splits.mat: the published layout with the same locs
    raw = load_mat(out / "att_splits.mat")
    assert "att" not in raw and "original_att" not in raw and {"allclasses_names", "trainval_loc"} <= set(raw)
    w2v_raw = load_mat(out / "word2vec_splits.mat")
    assert w2v_raw["att"].shape == (8, len(WV_CLASSES))
    for k in ("trainval_loc", "test_seen_loc", "test_unseen_loc", "train_loc", "val_loc"):
        assert np.array_equal(w2v_raw[k], raw[k])
    assert not (out / "attribute_names.txt").exists()

    data = load_xlsa17(out, semantic="word2vec")
    v = wv["vectors"]
    expected = np.stack([_unit(v["zebra"]), _unit(v["horse"]), _unit(v["polar"] + v["bear"]),
                         _unit(v["grizzly_bear"]), _unit(v["tiger"]), _unit(v["cat"])])
    assert data.class_names == WV_CLASSES and data.semantic_name == "word2vec"
    assert np.allclose(data.semantic, expected, atol=1e-5)
    assert [data.class_names[i] for i in data.unseen_classes] == WV_UNSEEN and len(data.class_folds) == 3
    prov = json.loads((out / "BUILD.json").read_text())
    assert prov["semantics"] == ["word2vec"] and prov["inputs"]["attributes"] is None
    assert prov["word_vectors"]["dim"] == 8 and prov["word_vectors"]["format"] == "word2vec_text"
    assert prov["word_vectors"]["tokens"]["grizzly_bear"] == ["grizzly_bear"]  # the phrase vector
    assert prov["word_vectors"]["tokens"]["polar+bear"] == ["polar", "bear"] and prov["word_vectors"]["oov_skipped"] == {}

    # no attributes: a clear error naming the file and what the dataset has
    for sem in ("att", "original_att"):
        with pytest.raises(ZSLDataError, match=r"att_splits\.mat: this dataset has no attributes.*"
                                               r"word2vec \(word2vec_splits\.mat\)"):
            load_xlsa17(out, semantic=sem)
    # a class-embedding file (rows matched by name, as for VGSE_SMO.mat) works too
    emb = np.random.default_rng(2).random((len(WV_CLASSES), 5))
    order = [4, 2, 0, 5, 1, 3]
    save_mat(tmp_path / "VGSE_SMO.mat", {"att": emb[order].T, "allclasses_names": [WV_CLASSES[i] for i in order]})
    assert np.allclose(load_xlsa17(out, semantic=str(tmp_path / "VGSE_SMO.mat")).semantic, emb, atol=1e-6)
    from zslkit.data.inspect import inspect_path

    summary = inspect_path(out)
    assert summary["semantic"] == "word2vec" and summary["attributes"].startswith("none")

    # ESZSL trains and evaluates on the word vectors
    tv = data.splits["trainval"]
    model = ESZSL(alpha=1.0, lam=1.0).fit(data.features[tv], data.labels[tv], data.semantic)
    m = evaluate(lambda X, c: model.scores(X, data.semantic[c]), data.features, data.labels, data.test_split())
    assert 0.0 <= m.T1 <= 100.0 and np.isfinite(m.H)

    # the pipeline on VGSE embeddings: relation-aware validation fits the class relation on word2vec_splits.mat
    from zslkit.pipeline import TrainConfig, train

    caplog.set_level(logging.INFO, logger="zslkit.pipeline")
    res = train(TrainConfig(data=str(out), model="eszsl", semantic=str(tmp_path / "VGSE_SMO.mat"), tune=False,
                            progress=False))
    assert res.config.uses_relation_validation() and "word2vec" in res.to_dict()["val_semantic"]
    assert "class relation on word2vec" in caplog.text and 0.0 <= res.metrics.T1 <= 100.0


def test_word_vector_oov_is_an_error_naming_the_word_or_skipped(inputs, wv, tmp_path):
    kw = {"classes": wv["classes"], "unseen": wv["unseen"], "attributes": None, "word_vectors": wv["oov"]}
    with pytest.raises(ZSLDataError, match=r"w2v_oov\.txt.*'polar\+bear': \['polar'\].*--oov skip"):
        build_xlsa17(config(inputs, tmp_path / "ds", **kw))
    assert not (tmp_path / "ds").exists()  # checked before any feature is computed or file written
    report = build_xlsa17(config(inputs, tmp_path / "ds", oov="skip", **kw))
    assert "polar+bear: ['polar']" in report.summary()
    data = load_xlsa17(tmp_path / "ds", semantic="word2vec")
    assert np.allclose(data.semantic[WV_CLASSES.index("polar+bear")], _unit(wv["vectors"]["bear"]), atol=1e-5)
    prov = json.loads((tmp_path / "ds" / "BUILD.json").read_text())
    assert prov["word_vectors"]["oov_skipped"] == {"polar+bear": ["polar"]} and prov["word_vectors"]["oov"] == "skip"
    with pytest.raises(ZSLDataError, match="word-vector file not found"):
        build_xlsa17(config(inputs, tmp_path / "ds2", attributes=None, word_vectors=tmp_path / "nope.txt"))


def test_build_with_attributes_and_word_vectors_writes_both(inputs, wv, tmp_path):
    out = tmp_path / "ds"
    build_xlsa17(config(inputs, out, word_vectors=wv["all"]))
    att = load_xlsa17(out)
    w2v = load_xlsa17(out, semantic="word2vec")
    assert att.semantic.shape == (len(CLASSES), len(ATTRS)) and w2v.semantic.shape == (len(CLASSES), 8)
    assert np.allclose(w2v.semantic[CLASSES.index("polar bear")],
                       _unit(wv["vectors"]["polar"] + wv["vectors"]["bear"]), atol=1e-5)
    assert np.array_equal(att.features, w2v.features)
    assert json.loads((out / "BUILD.json").read_text())["semantics"] == ["att", "original_att", "word2vec"]
    # a rebuild without word vectors removes the old word2vec_splits.mat; one without attributes the att
    build_xlsa17(config(inputs, out, overwrite=True))
    assert not (out / "word2vec_splits.mat").exists()
    build_xlsa17(config(inputs, out, overwrite=True, attributes=None, word_vectors=wv["all"]))
    assert "att" not in load_mat(out / "att_splits.mat") and not (out / "attribute_names.txt").exists()


# --------------------------------------------------------------------------- CLI

def test_cli_data_build(inputs, tmp_path):
    from zslkit.cli import main

    out = tmp_path / "ds"
    args = ["data", "build", "--images", str(inputs["images"]), "--classes", str(inputs["classes"]),
            "--unseen", str(inputs["unseen"]), "--attributes", str(inputs["attributes"]), "--out", str(out),
            "--backbone", "tiny", "--image-size", "32", "--batch-size", "8", "--seed", "1", "--val-folds", "2",
            "--test-seen-fraction", "0.4"]
    res = CliRunner().invoke(main, ["-q", *args])
    assert res.exit_code == 0, res.output
    assert "wrote xlsa17 dataset" in res.output and "4 seen + 2 unseen classes" in res.output
    data = load_xlsa17(out)
    assert len(data.class_folds) == 2 and data.splits["test_seen"].size == 4 * 2
    stamp = (out / "res101.mat").stat().st_mtime_ns
    res = CliRunner().invoke(main, args)  # the same command again: the finished build is kept
    assert res.exit_code == 0 and "kept xlsa17 dataset" in res.output and "nothing recomputed" in res.output
    assert (out / "res101.mat").stat().st_mtime_ns == stamp
    res = CliRunner().invoke(main, [*args[:-1], "0.3"])  # other settings: not overwritten without --overwrite
    assert res.exit_code == 2 and "error:" in res.output and "--overwrite" in res.output
    res = CliRunner().invoke(main, ["data", "build", "--images", str(inputs["images"]), "--classes",
                                    str(inputs["classes"]), "--unseen", str(inputs["classes"]),  # every class unseen
                                    "--attributes", str(inputs["attributes"]), "--out", str(tmp_path / "x"),
                                    "--backbone", "tiny"])
    assert res.exit_code == 2 and "need at least one seen class" in res.output


def test_cli_data_build_word_vectors_without_attributes(inputs, wv, tmp_path):
    from zslkit.cli import main

    out = tmp_path / "ds"
    base = ["data", "build", "--images", str(inputs["images"]), "--classes", str(wv["classes"]),
            "--unseen", str(wv["unseen"]), "--backbone", "tiny", "--image-size", "32"]
    res = CliRunner().invoke(main, ["-q", *base, "--word-vectors", str(wv["oov"]), "--out", str(out)])
    assert res.exit_code == 2 and "error:" in res.output and "['polar']" in res.output and "--oov skip" in res.output
    res = CliRunner().invoke(main, ["-q", *base, "--word-vectors", str(wv["oov"]), "--oov", "skip", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "no attributes, 8-d class word vectors" in res.output
    assert load_xlsa17(out, semantic="word2vec").semantic.shape == (len(WV_CLASSES), 8)
    res = CliRunner().invoke(main, [*base, "--out", str(tmp_path / "x")])  # neither --attributes nor --word-vectors
    assert res.exit_code == 2 and "--attributes" in res.output and "--word-vectors" in res.output


def test_attribute_table_with_a_huge_field(tmp_path):
    p = tmp_path / "att.csv"
    p.write_text("class,attribute,value\nzebra,stripes," + "9" * 200_000 + "\n")  # over csv's 128 KiB field limit
    with pytest.raises(ZSLDataError, match=r"att.csv:2: not a readable CSV row \(field larger than field limit"):
        read_attribute_csv(p, ["zebra"])


def test_wide_attribute_table_reads_like_the_long_one(tmp_path):
    long = tmp_path / "long.csv"
    long.write_text("class,attribute,value\nzebra,stripes,1\nzebra,black,0.5\nhorse,stripes,0\nhorse,black,2\n")
    wide = tmp_path / "wide.csv"
    wide.write_text("class,stripes,black\nhorse,0,2\nzebra,1,0.5\n")
    a = read_attribute_csv(long, ["zebra", "horse"])
    b = read_attribute_csv(wide, ["zebra", "horse"])
    assert a.attribute_names == b.attribute_names == ["stripes", "black"]
    np.testing.assert_array_equal(a.values, b.values)
    bad = tmp_path / "bad.csv"
    bad.write_text("class,stripes,black\nzebra,1\n")
    with pytest.raises(ZSLDataError, match=r"bad.csv:2: expected 3 fields"):
        read_attribute_csv(bad, ["zebra"])
    bad.write_text("class,stripes,black\nzebra,1,x\n")
    with pytest.raises(ZSLDataError, match=r"bad.csv:2: value 'x' of class 'zebra', attribute 'black'"):
        read_attribute_csv(bad, ["zebra"])
    bad.write_text("class,stripes,stripes\nzebra,1,2\n")
    with pytest.raises(ZSLDataError, match="appear twice in the header"):
        read_attribute_csv(bad, ["zebra"])


def test_the_synthetic_worlds_attribute_table_builds(tmp_path):
    from zslkit.data.synthetic_world import WorldConfig, make_world

    world = make_world(seed=0, config=WorldConfig(n_seen=4, n_unseen=2, images_per_class=4))
    files = world.write(tmp_path / "world")
    table = read_attribute_csv(files.attributes, world.class_names)
    np.testing.assert_allclose(table.values, world.attributes, atol=1e-4)  # written with 4 decimals
    assert table.attribute_names == list(world.attribute_names)
