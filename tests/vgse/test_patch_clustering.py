"""Patch Clustering module: heads, losses, neighbours, training, checkpoints and exact resume."""

import numpy as np
import pytest
import torch

from zslkit.errors import CheckpointError, ConfigError, ZSLDataError
from zslkit.vgse.patch_clustering import (
    PatchClustering,
    PCConfig,
    assign_patches,
    checkpoint_files,
    class_means,
    cluster_usage,
    load_checkpoint,
    mine_neighbours,
    pc_losses,
    train_patch_clustering,
)


def _toy(seed=0, n_img=30, t=4, d=12, c=3):
    """Patches of images of c classes: each class has its own 2 'part' prototypes."""
    g = torch.Generator().manual_seed(seed)
    protos = torch.randn(c, 2, d, generator=g) * 3
    labels = torch.arange(n_img) % c
    part = torch.randint(0, 2, (n_img, t), generator=g)
    f = protos[labels[:, None], part] + 0.3 * torch.randn(n_img, t, d, generator=g)
    img = torch.arange(n_img).repeat_interleave(t)
    return f.reshape(-1, d).relu(), img, labels.repeat_interleave(t), torch.randn(c, 5, generator=g)


def test_module_shapes_and_losses():
    m = PatchClustering(12, 7, 3, 5)
    f = torch.randn(10, 12)
    a, logits, sem = m(f)
    assert a.shape == (10, 7) and logits.shape == (10, 3) and sem.shape == (10, 5)
    assert torch.allclose(a.sum(1), torch.ones(10))
    terms = pc_losses(a, logits, sem, m.assign(torch.randn(10, 12)), torch.arange(10) % 3, torch.randn(3, 5),
                      PCConfig(n_clusters=7))
    assert all(torch.isfinite(v) for v in terms.values())
    assert -np.log(7) - 1e-5 <= float(terms["ent"].detach()) <= 0  # minus the entropy of the mean assignment
    uniform = torch.full((4, 7), 1 / 7)
    one_hot = torch.eye(7)[:4]
    ent = lambda a: float(pc_losses(a, logits[:4], sem[:4], a, torch.zeros(4, dtype=torch.long), torch.randn(3, 5),
                                    PCConfig(n_clusters=7))["ent"])
    assert ent(uniform) < ent(one_hot[[0, 0, 0, 0]])  # collapse is penalised


def test_neighbours_are_from_other_images_and_exact():
    f, img, _, _ = _toy()
    nb = mine_neighbours(f, img, k=5, max_block=500)  # several blocks
    assert nb.shape == (f.shape[0], 5)
    assert not (img[nb] == img[:, None]).any()
    fn = torch.nn.functional.normalize(f, dim=1)
    sim = fn @ fn.T
    sim[img[:, None] == img[None, :]] = -np.inf
    assert torch.equal(nb[:, 0], sim.argmax(1))


def test_neighbours_among_candidates_are_exact_within_them():
    f, img, _, _ = _toy()
    p = f.shape[0]
    assert torch.equal(mine_neighbours(f, img, 4, candidates=torch.arange(p)), mine_neighbours(f, img, 4))
    cand = torch.from_numpy(np.sort(np.random.default_rng(0).choice(p, size=p // 3, replace=False)))
    nb = mine_neighbours(f, img, k=4, max_block=300, candidates=cand)
    assert nb.shape == (p, 4) and bool(torch.isin(nb, cand).all())
    assert not (img[nb] == img[:, None]).any()
    fn = torch.nn.functional.normalize(f, dim=1)
    sim = fn @ fn[cand].T
    sim[img[:, None] == img[cand][None, :]] = -np.inf
    ref = cand[sim.topk(4, dim=1).indices]
    assert torch.equal(nb, ref)


def test_training_learns_and_embeds():
    f, img, lab, w2v = _toy()
    nb = mine_neighbours(f, img, 5)
    cfg = PCConfig(n_clusters=6, epochs=25, batch_size=32, lr=1e-2)
    r = train_patch_clustering(f, lab, w2v, nb, cfg, progress=False)
    assert r.history[-1]["loss"] < r.history[0]["loss"] and r.history[-1]["cls"] < r.history[0]["cls"]
    a = assign_patches(r.model, f)
    assert a.shape == (f.shape[0], 6) and np.allclose(a.sum(1), 1, atol=1e-5)
    assert cluster_usage(a)["clusters_used"] >= 3  # no collapse onto one cluster
    img_emb = a.reshape(30, 4, 6).mean(1)
    emb = class_means(img_emb, lab.numpy()[::4], np.arange(3))
    assert emb.shape == (3, 6)
    # images of the same class are closer to their class embedding than to the others
    d = ((img_emb[:, None] - emb[None]) ** 2).sum(-1)
    assert (d.argmin(1) == lab.numpy()[::4]).mean() > 0.8
    with pytest.raises(ZSLDataError, match="'c9' has no readable image"):
        class_means(img_emb, lab.numpy()[::4], np.array([0, 9]), names=[f"c{i}" for i in range(10)])


def test_global_rng_untouched():
    f, img, lab, w2v = _toy()
    torch.manual_seed(123)
    before = torch.get_rng_state()
    train_patch_clustering(f, lab, w2v, mine_neighbours(f, img, 3), PCConfig(n_clusters=4, epochs=1), progress=False)
    assert torch.equal(before, torch.get_rng_state())


def test_checkpoint_resume_is_exact(tmp_path):
    f, img, lab, w2v = _toy()
    nb = mine_neighbours(f, img, 5)
    cfg = PCConfig(n_clusters=6, epochs=4, batch_size=16, keep_checkpoints=2)
    straight = train_patch_clustering(f, lab, w2v, nb, cfg, checkpoint_dir=tmp_path / "a", fingerprint="x",
                                      progress=False)
    assert [e for e, _ in checkpoint_files(tmp_path / "a")] == [3, 4]  # older ones pruned
    ck = load_checkpoint(checkpoint_files(tmp_path / "a")[-1][1])  # loads with weights_only=True
    assert ck["epoch"] == 4 and set(ck) >= {"model", "optimizer", "generator", "torch_rng", "history"}

    class Killed(Exception):
        pass

    def die_after_two(epoch, rec):
        if epoch == 2:
            raise Killed

    with pytest.raises(Killed):
        train_patch_clustering(f, lab, w2v, nb, cfg, checkpoint_dir=tmp_path / "b", fingerprint="x", progress=False,
                               on_epoch=die_after_two)
    resumed = train_patch_clustering(f, lab, w2v, nb, cfg, checkpoint_dir=tmp_path / "b", fingerprint="x",
                                     progress=False)
    assert resumed.resumed_from_epoch == 2
    for k, v in straight.model.state_dict().items():
        assert torch.equal(v, resumed.model.state_dict()[k]), k
    assert [h["loss"] for h in straight.history] == [h["loss"] for h in resumed.history]
    with pytest.raises(CheckpointError, match="only 2 epochs"):
        train_patch_clustering(f, lab, w2v, nb, PCConfig(n_clusters=6, epochs=2, batch_size=16),
                               checkpoint_dir=tmp_path / "a", fingerprint="x", progress=False)
    with pytest.raises(CheckpointError, match="another configuration"):
        train_patch_clustering(f, lab, w2v, nb, cfg, checkpoint_dir=tmp_path / "b", fingerprint="y", progress=False)


def test_config_errors():
    with pytest.raises(ConfigError, match="n_clusters"):
        PCConfig(n_clusters=1).validate()
    with pytest.raises(ConfigError, match="w_ent"):
        PCConfig(w_ent=-1).validate()
    with pytest.raises(ConfigError, match="temperature"):
        PCConfig(temperature=0).validate()
