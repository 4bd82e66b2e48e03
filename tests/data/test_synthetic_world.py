"""The synthetic image world: classes as attribute combinations, rendering, files."""

import numpy as np
import pytest

from zslkit.data.images import scan_image_folder
from zslkit.data.synthetic_world import COLOURS, PARTS, SHAPES, TEXTURES, WorldConfig, make_world
from zslkit.data.xlsa17 import read_class_list
from zslkit.errors import ConfigError

SMALL = WorldConfig(n_seen=8, n_unseen=3, images_per_class=4, image_size=32)


def test_world_is_seeded_and_consistent():
    w = make_world(3, SMALL)
    again = make_world(3, SMALL)
    assert w.class_names == again.class_names and np.array_equal(w.attributes, again.attributes)
    assert np.array_equal(w.word_vectors, again.word_vectors)
    assert make_world(4, SMALL).class_names != w.class_names
    k = len(PARTS) * (len(COLOURS) + len(SHAPES) + len(TEXTURES))
    assert w.attributes.shape == (11, k) and len(w.attribute_names) == k
    on = w.attributes > 0
    assert np.all(on.sum(1) == 3 * len(PARTS))  # one colour, shape, texture per part
    assert len({tuple(r) for r in on}) == 11  # classes are distinct combinations
    # each part's three values carry the class's salience of that part (ReZSL-style uneven strengths)
    sal = np.repeat(w.salience, k // len(PARTS), axis=1)
    np.testing.assert_allclose(w.attributes[on], sal[on])
    assert w.salience.min() >= SMALL.salience_min and w.salience.max() <= 1.0 and w.salience.std() > 0.05
    assert w.unseen.size == 3 and w.seen.size == 8
    # unseen classes are new combinations of attribute values the seen classes show
    assert np.all(on[w.seen].max(0) >= on[w.unseen].max(0))
    for name in w.class_names:
        for word in name.split("+"):
            assert word in w.words
    two = [i for i, n in enumerate(w.class_names) if "+" in n]
    for i in two:  # the average of a two-word name's vectors is the class vector
        a, b = w.class_names[i].split("+")
        assert np.allclose((w.words[a] + w.words[b]) / 2, w.word_vectors[i], atol=1e-5)


def test_word_vectors_only_partly_follow_attributes():
    w = make_world(0)  # default size
    a = w.attributes - w.attributes.mean(0)
    wv = w.word_vectors - w.word_vectors.mean(0)
    sa = np.corrcoef(a)[np.triu_indices(len(a), 1)]
    sw = np.corrcoef(wv)[np.triu_indices(len(a), 1)]
    r = np.corrcoef(sa, sw)[0, 1]
    assert 0.1 < r < 0.9, r


def test_rendering_is_deterministic_and_sized():
    w = make_world(0, SMALL)
    im = w.render(2, 1)
    assert im.size == (32, 32) and im.mode == "RGB"
    assert np.array_equal(np.asarray(im), np.asarray(w.render(2, 1)))
    assert not np.array_equal(np.asarray(im), np.asarray(w.render(2, 2)))


def test_splits():
    w = make_world(0, SMALL)
    tv, ts, tu = (w.image_ids(s) for s in ("trainval", "test_seen", "test_unseen"))
    assert len(tv) + len(ts) + len(tu) == 11 * 4
    assert {c for c, _ in tu} == set(w.unseen.tolist())
    assert {c for c, _ in tv} == {c for c, _ in ts} == set(w.seen.tolist())


def test_write_as_user_data(tmp_path):
    w = make_world(1, SMALL)
    f = w.write(tmp_path / "world")
    assert read_class_list(f.classes) == w.class_names
    assert read_class_list(f.unseen) == [w.class_names[i] for i in w.unseen]
    seen_names = [w.class_names[i] for i in w.seen]
    train = scan_image_folder(f.train_dir, w.class_names, classes=seen_names)
    assert len(train) == len(w.image_ids("trainval"))
    assert not any((f.train_dir / w.class_names[i]).exists() for i in w.unseen)  # unseen images only in test/
    lines = f.word_vectors.read_text().splitlines()
    n, d = map(int, lines[0].split())
    assert n == len(lines) - 1 == len(w.words) and d == w.config.w2v_dim
    word, *vals = lines[1].split(" ")
    assert np.allclose(np.array(vals, float), w.words[word], atol=1e-5)
    header = f.attributes.read_text().splitlines()[0].split(",")
    assert header[1:] == w.attribute_names
    assert '"synthetic": true' in f.meta.read_text()


def test_bad_config():
    with pytest.raises(ConfigError):
        make_world(0, WorldConfig(n_unseen=0))
    with pytest.raises(ConfigError):
        make_world(0, WorldConfig(w2v_rho=1.5))
    with pytest.raises(ConfigError, match="part_keep"):
        make_world(0, WorldConfig(part_keep=(0.9, 0.9)))
    with pytest.raises(ConfigError, match="salience_min"):
        make_world(0, WorldConfig(salience_min=0.0))
    assert WorldConfig(part_keep=0.7).keep_per_part() == (0.7, 0.7, 0.7)
