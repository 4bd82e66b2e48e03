"""zslkit.embeddings: class-semantic sources (attributes, word vectors, files).

Word vectors (:mod:`zslkit.embeddings.word_vectors`): streaming readers for word2vec
binary/text and GloVe files, writers, class-name parsing and class word embeddings.
Text models (:mod:`zslkit.embeddings.text_models`, the optional ``text`` extra): offline WordLlama
embeddings of class names, selected by the name ``wordllama`` wherever a word-vector file is taken.
Class-embedding files matched to classes by name (:mod:`zslkit.embeddings.class_files`).
"""

from zslkit.embeddings.class_files import resolve_class_embeddings
from zslkit.embeddings.text_models import TEXT_MODELS, is_text_model, text_class_embeddings

from zslkit.embeddings.word_vectors import (
    ClassEmbeddingReport,
    WordVectors,
    class_embeddings,
    class_name_to_words,
    detect_format,
    load_word_vectors,
    phrase_candidates,
    save_glove_text,
    save_word2vec_binary,
    save_word2vec_text,
    words_for_class_names,
)

__all__ = [
    "TEXT_MODELS",
    "ClassEmbeddingReport",
    "WordVectors",
    "class_embeddings",
    "class_name_to_words",
    "detect_format",
    "is_text_model",
    "load_word_vectors",
    "phrase_candidates",
    "resolve_class_embeddings",
    "save_glove_text",
    "save_word2vec_binary",
    "save_word2vec_text",
    "text_class_embeddings",
    "words_for_class_names",
]
