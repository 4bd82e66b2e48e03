"""Reading the real xlsa17 metadata, and round trips of synthetic res101/att_splits files."""

import numpy as np
import pytest
import scipy.io

from tests.conftest import shared_file
from zslkit.data import (
    load_mat,
    load_xlsa17,
    read_att_splits,
    read_res101,
    save_mat,
    write_att_splits,
    write_res101,
)
from zslkit.data.matfile import is_mat73
from zslkit.data.semantic_files import read_semantic_matrix
from zslkit.data.xlsa17 import read_class_list
from zslkit.errors import ZSLDataError

REAL = {  # dataset file: (classes, K, trainval, test_seen, test_unseen)
    ("AWA2", "att_splits.mat"): (50, 85, 23527, 5882, 7913),
    ("AWA1", "att_splits.mat"): (50, 85, 19832, 4958, 5685),
    ("SUN", "att_splits.mat"): (717, 102, 10320, 2580, 1440),
    ("CUB", "att_splits.mat"): (200, 312, 7057, 1764, 2967),
    ("CUB", "sent_splits.mat"): (200, 1024, 7057, 1764, 2967),
    ("FLO", "att_splits.mat"): (102, 1024, 5631, 1403, 1155),
}


@pytest.mark.parametrize("key", list(REAL), ids=lambda k: "/".join(k))
def test_read_real_att_splits(key):
    c, k, ntv, nts, ntu = REAL[key]
    a = read_att_splits(shared_file(*key))
    assert a.att.shape == (c, k) and a.att.dtype == np.float32
    assert (a.locs["trainval"].size, a.locs["test_seen"].size, a.locs["test_unseen"].size) == (ntv, nts, ntu)
    # converted to 0-based: the smallest index over all splits is 0
    assert min(v.min() for v in a.locs.values()) == 0
    if key[0] == "FLO":
        assert a.class_names is None
    else:
        assert len(a.class_names) == c
    if key == ("AWA2", "att_splits.mat"):
        assert a.class_names[:2] == ["antelope", "grizzly+bear"]
        # att columns are L2-normalised per class in the published file
        assert np.allclose(np.linalg.norm(a.att, axis=1), 1.0, atol=1e-4)
        assert a.original_att is not None and a.original_att.max() > 1.5


def test_real_train_val_loc_trap_is_detected(tmp_path):
    """The published train_loc/val_loc contain every test_seen image (data README)."""
    a = read_att_splits(shared_file("AWA2", "att_splits.mat"))
    union = np.union1d(a.locs["train"], a.locs["val"])
    assert np.intersect1d(union, a.locs["test_seen"]).size == a.locs["test_seen"].size == 5882


def _toy_res101(rng, n=30, d=7, c=4):
    feats = rng.random((n, d)).astype(np.float32)
    labels = np.arange(n) % c
    return feats, labels


@pytest.mark.parametrize("version", ["v5", "v7.3"])
def test_res101_roundtrip(tmp_path, rng, version):
    feats, labels = _toy_res101(rng)
    files = [f"img/{i}.jpg" for i in range(labels.size)]
    p = write_res101(tmp_path / "res101.mat", feats, labels, image_files=files, surrogate=True, version=version)
    assert is_mat73(p) == (version == "v7.3")
    r = read_res101(p)
    np.testing.assert_array_equal(r.features, feats)
    np.testing.assert_array_equal(r.labels, labels)
    assert r.image_files == files and r.surrogate
    # the on-disk layout is the published one: features D x N, labels 1-based
    raw = load_mat(p)
    assert raw["features"].shape == (7, 30)
    assert raw["labels"].min() == 1


@pytest.mark.parametrize("n_classes, dtype", [(50, np.uint8), (255, np.uint8), (717, np.uint16)])
def test_res101_labels_index_arrays_like_the_published_files(tmp_path, rng, n_classes, dtype):
    """Readers of the published files index with ``res101['labels']`` directly (e.g.
    ``att[:, np.unique(labels) - 1]``, one-hot ``Y[rows, labels - 1] = 1``): labels must load as
    integers, as the published MATLAB doubles in integer storage do with scipy (uint8 / uint16)."""
    labels = np.arange(2 * n_classes) % n_classes
    write_res101(tmp_path / "res101.mat", rng.random((labels.size, 3)), labels)
    raw = scipy.io.loadmat(tmp_path / "res101.mat")
    lab = raw["labels"]
    assert lab.dtype == dtype and lab.shape == (labels.size, 1)
    att = rng.random((4, n_classes))
    np.testing.assert_array_equal(att[:, np.unique(lab) - 1], att)  # float labels raise IndexError here
    Y = np.zeros((labels.size, n_classes))
    Y[np.arange(labels.size), np.squeeze(lab) - 1] = 1
    np.testing.assert_array_equal(Y.argmax(1), labels)
    np.testing.assert_array_equal(read_res101(tmp_path / "res101.mat").labels, labels)


def test_published_att_splits_indices_load_as_unsigned_integers():
    """What the label dtype above mirrors: the real files' index fields are MATLAB doubles in uint16 storage."""
    raw = scipy.io.loadmat(shared_file("AWA2", "att_splits.mat"))
    assert raw["trainval_loc"].dtype == np.uint16
    assert scipy.io.loadmat(shared_file("AWA2", "att_splits.mat"), mat_dtype=True)["trainval_loc"].dtype == np.float64


def test_write_res101_rejects_negative_labels(tmp_path, rng):
    with pytest.raises(ZSLDataError, match="0-based class ids"):
        write_res101(tmp_path / "res101.mat", rng.random((3, 2)), np.array([0, -1, 1]))


def test_mat73_reads_the_same_as_v5(tmp_path, rng):
    vals = {"att": rng.random((5, 3)), "allclasses_names": ["a+b", "c", "dé"], "trainval_loc": np.arange(1, 4)}
    save_mat(tmp_path / "a5.mat", vals, version="v5")
    save_mat(tmp_path / "a73.mat", vals, version="v7.3")
    a5 = read_att_splits(tmp_path / "a5.mat")
    a73 = read_att_splits(tmp_path / "a73.mat")
    np.testing.assert_allclose(a5.att, a73.att)
    assert a5.class_names == a73.class_names == ["a+b", "c", "dé"]


def test_res101_transposed_layout_is_detected_not_silent(tmp_path, rng, caplog):
    feats, labels = _toy_res101(rng)
    scipy.io.savemat(tmp_path / "nxd.mat", {"features": feats, "labels": (labels + 1).reshape(-1, 1)})
    r = read_res101(tmp_path / "nxd.mat")
    np.testing.assert_array_equal(r.features, feats)
    assert r.notes and "N x D" in r.notes[0]
    assert "N x D" in caplog.text
    with pytest.raises(ZSLDataError, match="does not match the 30 labels"):
        scipy.io.savemat(tmp_path / "bad.mat", {"features": rng.random((7, 29)), "labels": np.ones((30, 1))})
        read_res101(tmp_path / "bad.mat")
    sq = rng.random((30, 30))
    scipy.io.savemat(tmp_path / "sq.mat", {"features": sq, "labels": np.ones((30, 1))})
    with pytest.raises(ZSLDataError, match="square"):
        read_res101(tmp_path / "sq.mat")
    assert read_res101(tmp_path / "sq.mat", layout="NxD").features.shape == (30, 30)


@pytest.mark.parametrize("case, match", [
    ("missing_file", "file not found"),
    ("not_mat", "not a readable MATLAB"),
    ("truncated", "not a readable MATLAB"),
    ("missing_field", "field 'labels' is missing"),
    ("nan", "NaN/inf"),
    ("zero_label", "1-based"),
    ("fractional_label", "whole numbers"),
])
def test_res101_bad_inputs(tmp_path, rng, case, match):
    p = tmp_path / "res101.mat"
    feats, labels = _toy_res101(rng)
    if case == "not_mat":
        p.write_text("hello")
    elif case == "truncated":
        write_res101(p, feats, labels)
        p.write_bytes(p.read_bytes()[:300])
    elif case == "missing_field":
        scipy.io.savemat(p, {"features": feats.T})
    elif case == "nan":
        feats[3, 2] = np.nan
        write_res101(p, feats, labels)
    elif case == "zero_label":
        scipy.io.savemat(p, {"features": feats.T, "labels": labels.reshape(-1, 1)})
    elif case == "fractional_label":
        scipy.io.savemat(p, {"features": feats.T, "labels": labels.reshape(-1, 1) + 1.5})
    with pytest.raises(ZSLDataError, match=match) as ei:
        read_res101(p)
    assert str(p) in str(ei.value)


def _write_dataset(root, rng, n_per=6, c=6, unseen=(4, 5), d=5, **kw):
    labels = np.repeat(np.arange(c), n_per)
    feats = rng.random((labels.size, d)).astype(np.float32)
    idx = np.arange(labels.size)
    seen_idx = idx[~np.isin(labels, unseen)]
    tv, ts = seen_idx[seen_idx % n_per < n_per - 2], seen_idx[seen_idx % n_per >= n_per - 2]
    locs = {"trainval": tv, "test_seen": ts, "test_unseen": idx[np.isin(labels, unseen)]}
    locs.update(kw.pop("locs", {}))
    write_res101(root / "res101.mat", feats, kw.pop("labels", labels))
    names = kw.pop("names", [f"c{i}" for i in range(c)])
    write_att_splits(root / "att_splits.mat", kw.pop("att", rng.random((c, 3))), locs, class_names=names)
    return feats, labels, locs


def test_load_xlsa17_dataset(tmp_path, rng):
    feats, labels, locs = _write_dataset(tmp_path, rng)
    d = load_xlsa17(tmp_path)
    np.testing.assert_array_equal(d.features, feats)
    assert list(d.seen_classes) == [0, 1, 2, 3] and list(d.unseen_classes) == [4, 5]
    np.testing.assert_array_equal(d.splits["test_unseen"], locs["test_unseen"])
    assert not d.surrogate and d.class_folds == []
    vs = d.validation_split(fold=1)
    assert "seeded partition" in vs.source
    assert np.intersect1d(vs.train_classes, vs.val_classes).size == 0
    # validation never touches test images
    test = np.concatenate([d.splits["test_seen"], d.splits["test_unseen"]])
    for arr in (vs.train_idx, vs.eval.seen_idx, vs.eval.unseen_idx):
        assert np.intersect1d(arr, test).size == 0


def test_load_xlsa17_class_folds(tmp_path, rng):
    _write_dataset(tmp_path, rng)
    (tmp_path / "trainclasses1.txt").write_text("c0\nc1\nc2\n")
    (tmp_path / "valclasses1.txt").write_text("c3\n")
    d = load_xlsa17(tmp_path)
    vs = d.validation_split(fold=1)
    assert list(vs.val_classes) == [3] and "fold 1" in vs.source
    (tmp_path / "valclasses1.txt").write_text("c3\nnosuchclass\n")
    with pytest.raises(ZSLDataError, match="nosuchclass"):
        load_xlsa17(tmp_path)


@pytest.mark.parametrize("case, match", [
    ("overlap", "trainval_loc and .*test_unseen_loc share 4 images"),
    ("index_range", "has only 36 images"),
    ("att_classes", "labels go up to"),
    ("empty_class", "classes with no images"),
    ("semantic_wrong_rows", "no dimension equal to the number of classes"),
    ("semantic_missing", "neither one of"),
])
def test_load_xlsa17_bad_inputs(tmp_path, rng, case, match):
    if case == "overlap":
        _write_dataset(tmp_path, rng, locs={"test_unseen": np.arange(0, 6)})  # class 0 images are trainval too
    elif case == "index_range":
        _write_dataset(tmp_path, rng, locs={"test_unseen": np.array([24, 99])})
    elif case == "att_classes":
        _write_dataset(tmp_path, rng, att=rng.random((5, 3)), names=[f"c{i}" for i in range(5)])
    elif case == "empty_class":
        _write_dataset(tmp_path, rng, att=rng.random((7, 3)), names=[f"c{i}" for i in range(7)])
    else:
        _write_dataset(tmp_path, rng)
    sem = "att"
    if case == "semantic_wrong_rows":
        np.save(tmp_path / "emb.npy", rng.random((5, 4)))
        sem = str(tmp_path / "emb.npy")
    elif case == "semantic_missing":
        sem = "glove"
    with pytest.raises(ZSLDataError, match=match):
        load_xlsa17(tmp_path, semantic=sem)


def test_semantic_files_npy_csv_mat(tmp_path, rng):
    _write_dataset(tmp_path, rng)
    emb = rng.random((6, 4)).astype(np.float32)
    np.save(tmp_path / "e.npy", emb)
    np.save(tmp_path / "eT.npy", emb.T)
    names = [f"c{i}" for i in range(6)]
    # CSV with names in shuffled order + header: rows are matched by name
    order = [3, 0, 5, 1, 4, 2]
    lines = ["class,a,b,c,d"] + [",".join([names[i]] + [f"{v:.7f}" for v in emb[i]]) for i in order]
    (tmp_path / "e.csv").write_text("\n".join(lines) + "\n")
    save_mat(tmp_path / "VGSE_SMO.mat", {"att": emb.T.astype(np.float64), "allclasses_names": names})
    for sem in ("e.npy", "eT.npy", "e.csv"):
        d = load_xlsa17(tmp_path, semantic=str(tmp_path / sem))
        np.testing.assert_allclose(d.semantic, emb, atol=1e-6)
    d = load_xlsa17(tmp_path, semantic="vgse")
    np.testing.assert_allclose(d.semantic, emb, atol=1e-6)
    (tmp_path / "bad.csv").write_text("c0,1,2\nc1,1,x\n")
    with pytest.raises(ZSLDataError, match="row 2"):
        load_xlsa17(tmp_path, semantic=str(tmp_path / "bad.csv"))
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ZSLDataError, match="pickles are refused"):
        load_xlsa17(tmp_path, semantic=str(tmp_path / "obj.npy"))


def test_atomic_write_leaves_no_partial_file(tmp_path, rng, monkeypatch):
    p = tmp_path / "res101.mat"
    feats, labels = _toy_res101(rng)
    write_res101(p, feats, labels)
    before = p.read_bytes()

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(scipy.io, "savemat", boom)
    with pytest.raises(RuntimeError):
        write_res101(p, feats * 2, labels)
    assert p.read_bytes() == before  # the previous complete file is untouched
    assert [x.name for x in tmp_path.iterdir()] == ["res101.mat"]  # no temp file left


# --------------------------------------------------------------------------- datasets without attributes

def _write_attribute_free_dataset(root, rng, c=6, w2v=True):
    """_write_dataset's layout, but att_splits.mat without 'att' (class count from allclasses_names)."""
    feats, labels, locs = _write_dataset(root, rng, c=c)
    names = [f"c{i}" for i in range(c)]
    write_att_splits(root / "att_splits.mat", None, locs, class_names=names)
    wv = rng.normal(size=(c, 4)).astype(np.float32)
    if w2v:
        write_att_splits(root / "word2vec_splits.mat", wv, locs, class_names=names)
    return feats, labels, locs, wv


def test_att_splits_without_att_roundtrip(tmp_path, rng):
    locs = {"trainval": np.array([0, 2]), "test_seen": np.array([1]), "test_unseen": np.array([3])}
    p = write_att_splits(tmp_path / "att_splits.mat", None, locs, class_names=["a", "b+c", "d"])
    raw = load_mat(p)
    assert "att" not in raw and "original_att" not in raw and raw["trainval_loc"].ravel().tolist() == [1, 3]
    a = read_att_splits(p)
    assert a.att is None and not a.has_att and a.num_classes == 3 and a.class_names == ["a", "b+c", "d"]
    assert a.locs["trainval"].tolist() == [0, 2]
    with pytest.raises(ZSLDataError, match="class_names are required"):
        write_att_splits(tmp_path / "x.mat", None, locs)
    # without names the class count is unknown: still an error
    save_mat(tmp_path / "bare.mat", {"trainval_loc": np.array([[1]])})
    with pytest.raises(ZSLDataError, match=r"field 'att' is missing.*needs 'allclasses_names'"):
        read_att_splits(tmp_path / "bare.mat")
    # another field than att is never optional
    with pytest.raises(ZSLDataError, match="field 'original_att' is missing"):
        read_att_splits(p, field="original_att")


def test_load_xlsa17_without_attributes(tmp_path, rng):
    feats, _, _, wv = _write_attribute_free_dataset(tmp_path, rng)
    d = load_xlsa17(tmp_path, semantic="word2vec")
    np.testing.assert_array_equal(d.features, feats)
    np.testing.assert_allclose(d.semantic, wv, atol=1e-6)
    assert d.num_classes == 6 and d.class_names == [f"c{i}" for i in range(6)] and list(d.unseen_classes) == [4, 5]
    # a semantic file (rows matched by name) works too
    save_mat(tmp_path / "VGSE_SMO.mat", {"att": wv[::-1].T.astype(np.float64),
                                         "allclasses_names": [f"c{i}" for i in range(5, -1, -1)]})
    np.testing.assert_allclose(load_xlsa17(tmp_path, semantic="vgse").semantic, wv, atol=1e-6)
    np.testing.assert_allclose(load_xlsa17(tmp_path, semantic=str(tmp_path / "VGSE_SMO.mat")).semantic, wv,
                               atol=1e-6)
    for sem in ("att", "original_att"):
        with pytest.raises(ZSLDataError) as ei:
            load_xlsa17(tmp_path, semantic=sem)
        msg = str(ei.value)
        assert str(tmp_path / "att_splits.mat") in msg and "has no attributes" in msg
        assert "word2vec (word2vec_splits.mat)" in msg and "vgse (VGSE_SMO.mat)" in msg and "--semantic" in msg


def test_load_xlsa17_without_attributes_or_other_semantics(tmp_path, rng):
    _write_attribute_free_dataset(tmp_path, rng, w2v=False)
    with pytest.raises(ZSLDataError, match=r"has no attributes.*its semantics: none in the directory"):
        load_xlsa17(tmp_path)
    with pytest.raises(ZSLDataError, match="word2vec_splits.mat: semantic file for 'word2vec' not found"):
        load_xlsa17(tmp_path, semantic="word2vec")


def test_attribute_free_class_count_checked_against_labels(tmp_path, rng):
    _, _, locs = _write_dataset(tmp_path, rng)  # labels 0..5
    write_att_splits(tmp_path / "att_splits.mat", None, locs, class_names=["c0", "c1", "c2", "c3", "c4"])
    with pytest.raises(ZSLDataError, match="allclasses_names has 5 classes but .* labels go up to 6"):
        load_xlsa17(tmp_path, semantic="word2vec")


# --------------------------------------------------------------------------- issue #15: bad splits and values

@pytest.mark.parametrize("field, value, match", [
    ("test_seen", [], r"att_splits.mat:test_seen_loc is empty"),
    ("test_unseen", [], r"att_splits.mat:test_unseen_loc is empty"),
    ("trainval", [], r"att_splits.mat:trainval_loc is empty"),
    ("trainval", "dup", r"att_splits.mat:trainval_loc: 1 duplicate indices \(e.g. image 0 appears 2 times\)"),
    ("trainval", "leak", r"trainval_loc and .*att_splits.mat:test_seen_loc share 2 images \(a test leak"),
    ("test_unseen", "leak", r"test_seen_loc and .*att_splits.mat:test_unseen_loc share 1 images"),
])
def test_bad_splits_name_the_file_and_field(tmp_path, rng, field, value, match):
    _, _, locs = _write_dataset(tmp_path, rng)
    if value == "dup":
        value = np.concatenate([locs["trainval"], locs["trainval"][:1]])
    elif value == "leak" and field == "trainval":
        value = np.concatenate([locs["trainval"], locs["test_seen"][:2]])
    elif value == "leak":
        value = np.concatenate([locs["test_unseen"], locs["test_seen"][:1]])
    _write_dataset(tmp_path, np.random.default_rng(0), locs={field: np.asarray(value, dtype=np.int64)})
    with pytest.raises(ZSLDataError, match=match):
        load_xlsa17(tmp_path)


def test_complex_values_are_refused_not_cast(tmp_path, rng):
    from zslkit.data.matfile import load_mat, save_mat

    _write_dataset(tmp_path, rng)
    m = load_mat(tmp_path / "res101.mat")
    m["features"] = m["features"] + 1j
    save_mat(tmp_path / "res101.mat", m)
    with pytest.raises(ZSLDataError, match=r"res101.mat:features: complex values"):
        load_xlsa17(tmp_path)
    _write_dataset(tmp_path, rng)
    np.save(tmp_path / "c.npy", rng.random((6, 3)) + 0j)
    save_mat(tmp_path / "c.mat", {"att": rng.random((3, 6)) * 1j})
    for name in ("c.npy", "c.mat"):
        with pytest.raises(ZSLDataError, match="complex values"):
            load_xlsa17(tmp_path, semantic=str(tmp_path / name))


def test_zero_width_class_matrix_is_refused(tmp_path, rng):
    _write_dataset(tmp_path, rng)
    np.save(tmp_path / "z.npy", np.zeros((6, 0)))
    (tmp_path / "names.csv").write_text("".join(f"c{i}\n" for i in range(6)))
    for name in ("z.npy", "names.csv"):
        with pytest.raises(ZSLDataError, match=rf"{name}: the class matrix has 0 columns"):
            load_xlsa17(tmp_path, semantic=str(tmp_path / name))


def test_npy_headers_are_checked_before_allocating(tmp_path):
    p = tmp_path / "e.npy"
    np.savez(tmp_path / "e.npz", a=np.ones((6, 2)))
    p.write_bytes((tmp_path / "e.npz").read_bytes())
    with pytest.raises(ZSLDataError, match="zip archive"):
        read_semantic_matrix(p, 6)
    with open(p, "wb") as fh:  # a 30 TiB claim: refused from the header, nothing allocated (was MemoryError)
        np.lib.format.write_array_header_1_0(fh, {"descr": "<f8", "fortran_order": False, "shape": (6, 2 ** 39)})
        fh.write(b"\0" * 64)
    with pytest.raises(ZSLDataError, match=r"header declares shape \(6, 549755813888\)"):
        read_semantic_matrix(p, 6)
    np.save(p, np.ones((6, 100)))
    p.write_bytes(p.read_bytes()[:-8])  # truncated by one value
    with pytest.raises(ZSLDataError, match="truncated or corrupt"):
        read_semantic_matrix(p, 6)


def test_csv_with_a_huge_field_is_a_data_error(tmp_path):
    p = tmp_path / "e.csv"
    p.write_text("a,1,2\nb," + "9" * 200_000 + ",3\n")
    with pytest.raises(ZSLDataError, match=r"e.csv: not a readable CSV file \(field larger than field limit"):
        read_semantic_matrix(p, 2)


def test_class_list_with_a_utf8_bom(tmp_path):
    p = tmp_path / "classes.txt"
    p.write_bytes(b"\xef\xbb\xbfzebra\r\nhorse\r\n")
    assert read_class_list(p) == ["zebra", "horse"]


def test_validation_folds_outside_the_dataset_are_refused(tmp_path, rng):
    _write_dataset(tmp_path, rng)
    d = load_xlsa17(tmp_path)  # no class lists: seeded partitions 1..5
    for fold in (0, 6, 99, -1):
        with pytest.raises(ZSLDataError, match=f"validation fold must be in 1..5, got {fold}"):
            d.validation_split(fold=fold)
    assert d.validation_split(fold=5).source.startswith("seeded partition")
    (tmp_path / "trainclasses1.txt").write_text("c0\nc1\nc2\n")
    (tmp_path / "valclasses1.txt").write_text("c3\n")
    with pytest.raises(ZSLDataError, match=r"must be in 1..1 \(the dataset's trainclassesK"):
        load_xlsa17(tmp_path).validation_split(fold=2)


def test_zsldata_repr_is_a_summary_not_the_arrays(toy_data):
    r = repr(toy_data)
    assert r.startswith("ZSLData(") and "classes (30 seen, 10 unseen)" in r and "SURROGATE" in r
    assert len(r) < 200 and "array" not in r


def test_a_file_or_a_missing_path_given_as_the_dataset_says_what_a_dataset_directory_is(toy_dir, tmp_path):
    from zslkit.data.xlsa17 import load_xlsa17

    with pytest.raises(ZSLDataError) as info:
        load_xlsa17(toy_dir / "att_splits.mat")
    assert str(info.value) == (f"{toy_dir / 'att_splits.mat'}: is a file, not a directory; expected an xlsa17 dataset "
                               "directory (a folder holding res101.mat, or the features zslkit data build wrote, and "
                               f"att_splits.mat); its folder {toy_dir} looks like one")
    (tmp_path / "x.mat").write_bytes(b"")
    with pytest.raises(ZSLDataError, match=r"x.mat: is a file, not a directory; expected an xlsa17 dataset directory"
                                           r" \(a folder holding res101.mat, or the features zslkit data build wrote, "
                                           r"and att_splits.mat\)$"):
        load_xlsa17(tmp_path / "x.mat")
    with pytest.raises(ZSLDataError, match=r"nope: not found; expected an xlsa17 dataset directory"):
        load_xlsa17(tmp_path / "nope")
