"""The embedding workbench behind `seqtag embeddings`: train word vectors with gensim, query, evaluate, plot
them and measure how well they cover a data set.

Modules: ``corpus`` (token streams from text, CoNLL and classification files), ``store`` (loading and
saving vector files), ``train``, ``query`` (neighbours, analogies), ``evaluate`` (word similarity and
analogy benchmarks), ``plot`` (t-SNE maps), ``coverage``. gensim, scikit-learn and matplotlib are imported
inside functions, so importing this package costs nothing.
"""

# Choice values, here so the CLI can build its option types without importing the modules that use them.
ALGORITHMS = ("skipgram", "cbow")  # train: word2vec / fastText training objective
OUTPUT_FORMATS = ("kv", "word2vec-text", "word2vec-binary")  # train: vector file formats written
METHODS = ("3cosadd", "3cosmul")  # analogy: how b - a + c is scored
