"""zslkit.embeddings: class-semantic sources (attributes, word vectors, files).

Word vectors (:mod:`zslkit.embeddings.word_vectors`): streaming readers for word2vec
binary/text and GloVe files, writers, class-name parsing and class word embeddings.
"""

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
    "ClassEmbeddingReport",
    "WordVectors",
    "class_embeddings",
    "class_name_to_words",
    "detect_format",
    "load_word_vectors",
    "phrase_candidates",
    "save_glove_text",
    "save_word2vec_binary",
    "save_word2vec_text",
    "words_for_class_names",
]
