"""Class-name embeddings from an offline text model: WordLlama (optional, the ``text`` extra).

For class names without a word-vector file at hand, ``pip install -e ".[text]"`` adds the
`wordllama <https://pypi.org/project/wordllama/>`_ package, whose wheel ships its tokenizer and
its 256-d ``l2_supercat`` token-embedding table: nothing is downloaded at run time (zslkit
loads it with downloads disabled and fails with a clear error if the files are missing).

A class name becomes the phrase of its words (:func:`zslkit.embeddings.class_name_to_words`:
``grizzly+bear`` -> ``"grizzly bear"``, ``002.Laysan_Albatross`` -> ``"Laysan Albatross"``);
WordLlama embeds the phrase as the average of its (sub-word) token embeddings, so a rare or
multi-word name always gets a vector (no out-of-vocabulary failure, unlike word2vec). Each
class vector is L2-normalised, as xlsa17's class embeddings are.

Wherever zslkit takes a word-vector file for class names (``zslkit data build --word-vectors``,
``zslkit vgse discover --word-vectors``, ``zslkit data synth --class-embeddings``), the name
``wordllama`` selects this source instead of a file.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from zslkit.errors import ConfigError, ZSLDataError

#: names accepted in place of a word-vector file
TEXT_MODELS = ("wordllama",)
WORDLLAMA_CONFIG = "l2_supercat"
WORDLLAMA_DIM = 256


def is_text_model(spec: object) -> bool:
    """Whether ``spec`` (a path or string from the command line) names a text model, not a file."""
    return spec is not None and str(spec).strip().lower() in TEXT_MODELS


@lru_cache(maxsize=1)
def _wordllama():
    try:
        import wordllama
        from wordllama import WordLlama
    except ImportError as exc:
        raise ConfigError("the 'wordllama' class-name embedding source needs the optional package wordllama: "
                          "pip install -e \".[text]\" (or pip install wordllama)") from exc
    pkg = Path(wordllama.__file__).resolve().parent
    try:
        # The wheel keeps its files in weights/ and tokenizers/ of the package; pointing the cache
        # there and disabling downloads makes loading offline and deterministic.
        model = WordLlama.load(config=WORDLLAMA_CONFIG, dim=WORDLLAMA_DIM, cache_dir=pkg, disable_download=True)
    except (FileNotFoundError, OSError, ValueError) as exc:
        raise ConfigError(f"wordllama is installed but its bundled model files were not found under {pkg} "
                          f"({exc}); reinstall wordllama from its wheel (nothing is downloaded at run time)") from exc
    weights = pkg / "weights" / f"{WORDLLAMA_CONFIG}_{WORDLLAMA_DIM}.safetensors"
    return model, getattr(wordllama, "__version__", "unknown"), weights


def class_name_phrases(class_names: Sequence[str]) -> list[str]:
    """The phrase embedded for each class name (its words joined by spaces)."""
    from zslkit.embeddings.word_vectors import class_name_to_words

    if isinstance(class_names, str):
        raise ConfigError(f"class_names: expected a sequence of names, got the single string {class_names!r}")
    return [" ".join(class_name_to_words(n)) for n in class_names]


def text_class_embeddings(class_names: Sequence[str], model: str = "wordllama",
                          return_info: bool = False) -> np.ndarray | tuple[np.ndarray, dict[str, Any]]:
    """(C, 256) float32 L2-normalised WordLlama embeddings of the class names (module docstring).

    With ``return_info`` also a provenance dict (model, version, dimension, weight-file SHA-256,
    the phrase embedded for every class).
    """
    if not is_text_model(model):
        raise ConfigError(f"unknown text model {model!r}; expected one of {TEXT_MODELS}")
    phrases = class_name_phrases(class_names)
    if not phrases:
        raise ZSLDataError("text_class_embeddings: no class names given")
    wl, version, weights = _wordllama()
    emb = np.asarray(wl.embed(phrases, norm=False), dtype=np.float64)
    norms = np.linalg.norm(emb, axis=1, keepdims=True)
    zero = [class_names[i] for i in np.flatnonzero(norms[:, 0] == 0)]
    if zero:
        raise ZSLDataError(f"WordLlama gave an all-zero vector for class name(s) {zero}")
    out = (emb / norms).astype(np.float32)
    if not return_info:
        return out
    sha = hashlib.sha256(weights.read_bytes()).hexdigest() if weights.is_file() else None
    info = {"source": "wordllama", "config": WORDLLAMA_CONFIG, "dim": int(out.shape[1]), "version": version,
            "weights_sha256": sha, "phrases": dict(zip(class_names, phrases))}
    return out, info
