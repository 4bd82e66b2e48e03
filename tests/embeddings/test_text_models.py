"""WordLlama class-name embeddings (the text extra): offline, deterministic, unit rows."""

import numpy as np
import pytest

from zslkit.embeddings.text_models import class_name_phrases, is_text_model, text_class_embeddings
from zslkit.errors import ConfigError


def test_phrases_follow_the_class_name_rules():
    assert class_name_phrases(["grizzly+bear", "002.Laysan_Albatross", "airport_terminal"]) == [
        "grizzly bear", "Laysan Albatross", "airport terminal"]


def test_embeddings_unit_rows_deterministic_and_name_dependent():
    names = ["zebra", "grizzly+bear", "grizzly bear", "Black_footed_Albatross"]
    a, info = text_class_embeddings(names, return_info=True)
    b = text_class_embeddings(names)
    assert a.shape == (4, 256) and a.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a[1], a[2], rtol=1e-6)  # same phrase, same vector
    assert np.abs(a[0] - a[3]).max() > 0.05  # different names, different vectors
    assert info["source"] == "wordllama" and info["dim"] == 256 and info["phrases"]["grizzly+bear"] == "grizzly bear"
    assert info["weights_sha256"] and len(info["weights_sha256"]) == 64


def test_text_model_names():
    assert is_text_model("wordllama") and is_text_model(" WordLlama ") and not is_text_model("vectors.bin")
    with pytest.raises(ConfigError, match="unknown text model"):
        text_class_embeddings(["a"], model="glove")
