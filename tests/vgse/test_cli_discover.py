"""`zslkit vgse discover` on a tiny synthetic world, as a user runs it."""

import numpy as np

from tests.test_cli import run_cli
from tests.vgse.conftest import fast_settings
from zslkit.data.semantic_files import read_semantic_matrix


def test_vgse_discover_cli(tiny_world, tmp_path):
    world, files = tiny_world
    s = fast_settings(files, tmp_path / "out")
    extra = [f"{k}={v}" for k, v in s.items()
             if k not in ("images", "classes", "unseen", "word_vectors", "out", "backbone", "patch_grid",
                          "n_clusters", "epochs", "seed")]
    args = ["-q", "vgse", "discover", "--images", s["images"], "--classes", s["classes"], "--unseen", s["unseen"],
            "--word-vectors", s["word_vectors"], "--out", s["out"], "--backbone", "tiny", "--grid", s["patch_grid"],
            "--clusters", str(s["n_clusters"]), "--epochs", str(s["epochs"])]
    for e in extra:
        args += ["--param", e]
    p = run_cli(*args)
    assert "warning: --grid is deprecated" in p.stderr and "use --patch-grid" in p.stderr  # the old name still works
    mats = list((tmp_path / "out").rglob("*.mat"))
    assert mats == [tmp_path / "out" / "VGSE_SMO.mat"], mats  # directly in --out
    names = [ln.strip() for ln in open(s["classes"]) if ln.strip()]
    emb, _ = read_semantic_matrix(mats[0], len(names), class_names=names)
    assert emb.shape == (len(names), s["n_clusters"]) and np.all(np.isfinite(emb))
    p = run_cli("vgse", "discover", "--out", str(tmp_path / "o2"), check=False)
    assert p.returncode == 2 and "--images" in p.stderr
    p = run_cli("vgse", "discover", "--demo", "--out", str(tmp_path / "o3"), "--weights", s["classes"],
                "--backbone-weights", s["classes"], check=False)
    assert p.returncode == 2 and p.stderr.strip() == "error: --backbone-weights is the old name of --weights: give " \
                                                     "--weights only"
    assert not (tmp_path / "o3").exists()
