"""Exported embeddings are read back by the xlsa17 readers (VGSE_SMO.mat layout), .npy and .csv."""

import numpy as np
import pytest

from zslkit.data import load_mat, load_xlsa17, read_semantic_matrix
from zslkit.data.matfile import mat_strings
from zslkit.errors import ZSLDataError
from zslkit.vgse.export import export_embeddings


def test_mat_layout_and_readback(tmp_path, rng):
    names = [f"class_{i}" for i in range(5)]
    emb = rng.random((5, 7)).astype(np.float32)
    R = rng.random((2, 3))
    files = export_embeddings(tmp_path, emb, names, seen=names[:3], unseen=names[3:], relation=R)
    m = load_mat(files["mat"])
    assert m["att"].shape == (7, 5)  # D_v x C, like the authors' VGSE_SMO.mat and xlsa17 att
    assert mat_strings(m["allclasses_names"], "names") == names
    assert mat_strings(m["unseen_classes"], "u") == names[3:] and m["relation"].shape == (2, 3)
    back, _ = read_semantic_matrix(files["mat"], 5, class_names=names)
    assert np.allclose(back, emb, atol=1e-6)
    # rows are matched by name when the dataset orders its classes differently
    order = [4, 2, 0, 1, 3]
    back, note = read_semantic_matrix(files["mat"], 5, class_names=[names[i] for i in order])
    assert np.allclose(back, emb[order], atol=1e-6) and "reordered" in note
    assert np.array_equal(np.load(files["npy"]), emb)
    csv_back, _ = read_semantic_matrix(files["csv"], 5, class_names=names)
    assert np.allclose(csv_back, emb, atol=1e-6)
    assert files["csv"].read_text().splitlines()[0].startswith("class,dim_1,")


def test_load_xlsa17_reads_exported_vgse(toy_dir, tmp_path):
    import shutil

    data_dir = tmp_path / "ds"
    shutil.copytree(toy_dir, data_dir)
    d = load_xlsa17(data_dir)
    rng = np.random.default_rng(1)
    emb = rng.random((d.num_classes, 9)).astype(np.float32)
    export_embeddings(data_dir, emb, d.class_names)  # VGSE_SMO.mat in the dataset folder
    v = load_xlsa17(data_dir, semantic="vgse")
    assert v.semantic.shape == (d.num_classes, 9) and np.allclose(v.semantic, emb, atol=1e-6)
    p = load_xlsa17(data_dir, semantic=str(data_dir / "VGSE_SMO.npy"))
    assert np.allclose(p.semantic, emb)


def test_export_errors(tmp_path):
    with pytest.raises(ZSLDataError, match="C x D"):
        export_embeddings(tmp_path, np.zeros((3, 2)), ["a", "b"])
    with pytest.raises(ZSLDataError, match="NaN"):
        export_embeddings(tmp_path, np.full((2, 2), np.nan), ["a", "b"])
