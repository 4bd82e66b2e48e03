"""VGSE discovery end to end on a tiny synthetic world: outputs, bad inputs, kill + resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.vgse.conftest import fast_settings
from zslkit.data import load_mat, read_semantic_matrix
from zslkit.data.images import ImageReadError
from zslkit.errors import ConfigError, ZSLDataError
from zslkit.vgse.discovery import DiscoverConfig, discover, relation_validation_semantic

REPO = Path(__file__).resolve().parents[2]
STAGES = ["inputs", "images", "backbone", "features", "neighbours", "clustering", "embeddings", "relation", "export"]


def test_end_to_end_outputs(tiny_world, tmp_path):
    world, files = tiny_world
    res = discover(DiscoverConfig(**fast_settings(files, tmp_path / "out", plots=True)))
    c, s, u = world.num_classes, world.seen.size, world.unseen.size
    assert res.class_names == world.class_names and len(res.seen_names) == s and len(res.unseen_names) == u
    assert res.embeddings.shape == (c, 8) and res.relation.shape == (u, s)
    assert np.allclose(res.relation.sum(1), 1) and np.all(res.relation >= -1e-9)
    assert np.allclose(res.unseen_embeddings, res.relation @ res.seen_embeddings, atol=1e-5)
    assert np.allclose(res.seen_embeddings.sum(1), 1, atol=1e-5)  # means of assignment distributions
    assert list(res.timings)[: len(STAGES)] == STAGES and "plots" in res.timings and res.bad_images == []
    # the exported matrix is what the xlsa17 reader returns
    back, _ = read_semantic_matrix(res.files["mat"], c, class_names=world.class_names)
    assert np.allclose(back, res.embeddings, atol=1e-6)
    assert load_mat(res.files["mat"])["att"].shape == (8, c)
    for key in ("npy", "csv", "relation_csv", "patch_assignments", "image_embeddings", "images_csv", "montage", "tsne",
                "metadata"):
        assert Path(res.files[key]).is_file(), key
    assert np.load(res.files["patch_assignments"]).shape == (len(res.images), 4, 8)
    meta = json.loads(Path(res.files["metadata"]).read_text())
    assert meta["bad_images"] == [] and set(STAGES) <= set(meta["timings_s"]) and meta["num_valid_images"] == 24
    assert "VGSE embeddings: 6 seen + 2 unseen" in res.summary()
    # validation-fold matrix: val rows re-predicted from train rows through the relation
    tr, va = res_ids(res, world)
    val = relation_validation_semantic(res.embeddings, res.word_vectors, tr, va)
    assert np.allclose(val[tr], res.embeddings[tr]) and not np.allclose(val[va], res.embeddings[va])
    assert np.allclose(val[va].sum(1), 1, atol=1e-5)


def res_ids(res, world):
    seen = np.array([world.class_names.index(n) for n in res.seen_names])
    return seen[:4], seen[4:]


def test_wavg_relation_and_end_to_end_backbone(tiny_world, tmp_path):
    _, files = tiny_world
    res = discover(DiscoverConfig(**fast_settings(files, tmp_path / "out", relation="wavg", end_to_end=True,
                                                  epochs=1, neighbour_candidates=40)))
    assert Path(res.files["mat"]).name == "VGSE_WAvg.mat" and Path(res.files["backbone"]).is_file()
    assert list((tmp_path / "out").rglob("neighbours_k*_c40_s*.npy"))  # candidate-subset search was used
    assert (res.relation > 0).sum(1).max() <= 5  # WAvg: k nearest seen classes


def test_unreadable_image_is_reported_not_fatal(world_copy, tmp_path):
    world, files = world_copy
    victim = sorted((files.train_dir / world.class_names[world.seen[0]]).iterdir())[1]
    victim.write_bytes(b"corrupted")
    res = discover(DiscoverConfig(**fast_settings(files, tmp_path / "out")))
    assert [b["path"] for b in res.bad_images] == [str(victim)]
    meta = json.loads((tmp_path / "out" / "metadata.json").read_text())
    assert meta["bad_images"][0]["path"] == str(victim) and meta["num_valid_images"] == 23
    assert np.isfinite(res.embeddings).all()
    with pytest.raises(ImageReadError, match=victim.name):
        discover(DiscoverConfig(**fast_settings(files, tmp_path / "ff", fail_fast=True)))


def test_bad_inputs_give_clear_errors(world_copy, tmp_path):
    world, files = world_copy
    cfg = fast_settings(files, tmp_path / "out")
    # a word of a class name missing from the vector file
    word = world.class_names[0].split("+")[0]
    lines = files.word_vectors.read_text().splitlines()
    kept = [ln for ln in lines[1:] if ln.split(" ")[0] != word]
    no_word = tmp_path / "vectors.txt"
    no_word.write_text(f"{len(kept)} {lines[0].split()[1]}\n" + "\n".join(kept) + "\n")
    with pytest.raises(ZSLDataError, match=word):
        discover(DiscoverConfig(**{**cfg, "word_vectors": str(no_word)}))
    # an unseen class that is not in the class list
    bad_unseen = tmp_path / "unseen.txt"
    bad_unseen.write_text("no_such_class\n")
    with pytest.raises(ZSLDataError, match=r"unseen classes \['no_such_class'\] are not in the class list"):
        discover(DiscoverConfig(**{**cfg, "unseen": str(bad_unseen)}))
    with pytest.raises(ConfigError, match="word_vectors is required"):
        discover(DiscoverConfig(**{**cfg, "word_vectors": None}))
    with pytest.raises(ConfigError, match="needs a local weights file"):
        discover(DiscoverConfig(**{**cfg, "backbone": "resnet50"}))
    # a seen class without an image folder
    gone = world.class_names[world.seen[2]]
    import shutil

    shutil.rmtree(files.train_dir / gone)
    with pytest.raises(ZSLDataError, match=rf"no image folder for 1 class\(es\): \['{gone}'\]"):
        discover(DiscoverConfig(**cfg))


# --------------------------------------------------------------------------- kill and resume

RUNNER = """
import json, sys, time
import numpy as np
from zslkit.vgse.discovery import DiscoverConfig, discover
cfg, mode, dest = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
def on_batch(done, total):
    print(f"batch {done}", flush=True)
    if mode == "stall-extraction":
        time.sleep(60)  # the test kills the process here, after the first batch is recorded
def on_epoch(epoch, record):
    if mode == "stall-training":
        time.sleep(60)  # killed here, after the first checkpoint is written
res = discover(DiscoverConfig(**cfg), on_batch=on_batch, on_epoch=on_epoch)
np.save(dest, res.embeddings)
print(json.dumps({"feature_cache": res.resumed["feature_cache"], "clustering": res.resumed["clustering"]}))
"""


def _start(cfg: dict, mode: str, dest: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, "-c", RUNNER, json.dumps(cfg), mode, str(dest)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _kill_when(proc: subprocess.Popen, ready, timeout: float = 120.0) -> list[str]:
    """SIGKILL ``proc`` once ``ready()``; returns the lines it printed."""
    t0 = time.monotonic()
    while not ready():
        if proc.poll() is not None:
            raise AssertionError(f"process ended before it could be killed:\n{proc.stderr.read()}")
        if time.monotonic() - t0 > timeout:
            proc.kill()
            raise AssertionError("timed out waiting for the process to reach the kill point")
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    return out.splitlines()


def _kill_after_line(proc: subprocess.Popen, expected: str, timeout: float = 120.0) -> list[str]:
    """SIGKILL ``proc`` once it has printed the line ``expected`` (it then stalls in its callback, so the
    kill lands at that point whatever the machine's load); returns the lines it printed."""
    import threading

    lines: list[str] = []
    seen = threading.Event()

    def read() -> None:
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if lines[-1] == expected:
                seen.set()
        seen.set()  # the process ended

    threading.Thread(target=read, daemon=True).start()
    if not seen.wait(timeout):
        proc.kill()
        raise AssertionError(f"timed out waiting for {expected!r}")
    if proc.poll() is not None:
        raise AssertionError(f"process ended before it could be killed:\n{proc.stderr.read()}")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    return lines


def _finish(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def _state_done(out: Path) -> bool:
    for st in out.glob("cache/patch-features-*/state.json"):
        try:
            return json.loads(st.read_text())["done"] > 0
        except (OSError, ValueError):
            return False
    return False


@pytest.mark.slow
def test_sigkill_mid_run_resumes_to_the_uninterrupted_result(tiny_world, tmp_path):
    _, files = tiny_world
    # extract_batch_size 4: 6 feature batches, so the first kill lands mid-extraction
    cfg = fast_settings(files, tmp_path / "killed", extract_batch_size=4, threads=1)
    straight = _start(fast_settings(files, tmp_path / "straight", extract_batch_size=4, threads=1), "run",
                      tmp_path / "straight.npy")
    p = _start(cfg, "stall-extraction", tmp_path / "killed.npy")
    assert _kill_after_line(p, "batch 4") == ["batch 4"]  # killed during extraction, after the first batch
    assert _state_done(tmp_path / "killed")
    p = _start(cfg, "stall-training", tmp_path / "killed.npy")
    printed = _kill_when(p, lambda: (tmp_path / "killed" / "checkpoints" / "pc_epoch_0001.pt").is_file())
    assert printed[0] == "batch 8"  # extraction resumed after the recorded batch, not from scratch
    info = _finish(_start(cfg, "run", tmp_path / "killed.npy"))
    # the last run found the features complete (resumed by the second run) and training at epoch 1
    assert info["feature_cache"]["resumed_from_image"] == 24 and info["clustering"]["resumed_from_epoch"] == 1
    assert _finish(straight)["clustering"]["resumed_from_epoch"] == 0
    assert np.array_equal(np.load(tmp_path / "killed.npy"), np.load(tmp_path / "straight.npy"))


def test_demo_writes_the_world_and_discovers(tmp_path):
    from tests.vgse.conftest import TINY_WORLD
    from zslkit.vgse.discovery import discover_demo

    res = discover_demo(tmp_path / "demo", seed=0, world_config=TINY_WORLD, patch_size=16, patch_grid="2x2",
                        n_clusters=6, epochs=1, tiny_pretrain_epochs=1, plots=False, progress=False)
    assert (tmp_path / "demo" / "world" / "train").is_dir() and (tmp_path / "demo" / "world" / "world.json").is_file()
    assert res.embeddings.shape == (8, 6) and res.resumed["synthetic"] is True
    assert Path(res.files["mat"]) == tmp_path / "demo" / "VGSE_SMO.mat"  # in the output folder itself
    # issue #15: temp files of writers SIGKILLed in the world and in the discovery are removed by the rerun
    from tests.conftest import killed_writer_leftover, temp_leftovers

    left = [killed_writer_leftover(p) for p in (next((tmp_path / "demo" / "world").rglob("*.png")),
                                                Path(res.files["mat"]), tmp_path / "demo" / "world" / "world.json")]
    again = discover_demo(tmp_path / "demo", seed=0, world_config=TINY_WORLD, patch_size=16, patch_grid="2x2",
                          n_clusters=6, epochs=1, tiny_pretrain_epochs=1, plots=False, progress=False)
    assert not any(p.exists() for p in left) and temp_leftovers(tmp_path / "demo") == []
    assert np.array_equal(again.embeddings, res.embeddings)


def test_images_from_a_res101_image_list(tiny_world, tmp_path):
    """res101.mat image_files (authors' absolute paths) + att_splits.mat: only trainval images are used."""
    from zslkit.data import write_att_splits, write_res101
    from zslkit.data.images import scan_image_folder

    world, files = tiny_world
    names = world.class_names
    train = scan_image_folder(files.train_dir, names, classes=[names[c] for c in world.seen])
    test = scan_image_folder(files.test_dir, names)
    rel = [str(Path(p).relative_to(files.root)) for p in train.paths + test.paths]
    foreign = [f"/BS/xian/work/data/WORLD/{r}" for r in rel]
    labels = np.concatenate([train.labels, test.labels])
    write_res101(tmp_path / "res101.mat", np.zeros((len(rel), 2), np.float32), labels, image_files=foreign)
    n_tr = len(train)
    unseen = np.isin(labels, world.unseen)
    locs = {"trainval": np.arange(n_tr), "test_seen": np.flatnonzero(~unseen & (np.arange(len(rel)) >= n_tr)),
            "test_unseen": np.flatnonzero(unseen)}
    write_att_splits(tmp_path / "att_splits.mat", world.attributes, locs, class_names=names)
    cfg = fast_settings(files, tmp_path / "out", images=str(files.root), res101=str(tmp_path / "res101.mat"),
                        splits=str(tmp_path / "att_splits.mat"))
    res = discover(DiscoverConfig(**cfg))
    assert res.images.paths == train.paths  # the same files as the folder route, test images excluded
    assert res.embeddings.shape == (len(names), 8)


def test_discover_on_a_dataset_directory_uses_trainval_features_as_patches(toy_dir, tmp_path):
    """VGSE on precomputed image features (each trainval image one patch): test images are never used, the
    dataset's word2vec_splits.mat gives the word vectors, and the result loads as a semantic of the dataset."""
    from zslkit.data.xlsa17 import load_xlsa17

    res = discover(DiscoverConfig(data=str(toy_dir), out=str(tmp_path / "vgse"), n_clusters=8, epochs=1,
                                  k_neighbours=3, plots=False, progress=False))
    data = load_xlsa17(toy_dir, semantic="word2vec")
    assert res.image_embeddings.shape == (data.splits["trainval"].size, 8)
    assert res.embeddings.shape == (data.num_classes, 8) and res.unseen_names == \
        [data.class_names[i] for i in data.unseen_classes]
    w = data.semantic / np.linalg.norm(data.semantic, axis=1, keepdims=True)
    np.testing.assert_allclose(res.word_vectors, w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(res.relation.sum(axis=1), 1.0, atol=1e-5)  # unseen rows: convex mixes of seen rows
    meta = json.loads((tmp_path / "vgse" / "metadata.json").read_text())
    assert meta["patches_per_image"] == 1 and meta["num_images"] == data.splits["trainval"].size
    vgse = load_xlsa17(toy_dir, semantic=res.files["mat"])
    np.testing.assert_allclose(vgse.semantic, res.embeddings, rtol=1e-6)
    with pytest.raises(ConfigError, match="replaces images"):
        DiscoverConfig(data=str(toy_dir), images="x", out=str(tmp_path / "v2")).validate()
