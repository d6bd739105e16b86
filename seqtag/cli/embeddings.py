"""`seqtag embeddings …`: train word vectors with gensim, query, evaluate and plot them, measure coverage.

Each command is a thin layer over :mod:`seqtag.vectors`; results go to stdout (a table, or JSON with
``--format json``), progress and notes to stderr.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from seqtag.cli._common import (
    InputFormat, OutputFormat, _choices, err, fail, is_tty, reports_input_errors, stdout_console,
)
from seqtag.vectors import ALGORITHMS, METHODS, OUTPUT_FORMATS

ExistingFile = dict(exists=True, dir_okay=False, readable=True)
VECTORS_HELP = "Word vectors: gensim .kv, word2vec .bin / text, GloVe, fastText .vec, .gz."
CORPUS = "Corpus"
MODEL = "Model"

Algorithm = _choices("Algorithm", ALGORITHMS)
VectorFormat = _choices("VectorFormat", OUTPUT_FORMATS)
Method = _choices("Method", METHODS)

app = typer.Typer(name="embeddings", no_args_is_help=True)  # its help: the callback's docstring
Cache = Annotated[bool, typer.Option("--embedding-cache/--no-embedding-cache", help="Cache converted vector files in $SEQTAG_CACHE_DIR or ~/.cache/seqtag.")]
Format = Annotated[OutputFormat, typer.Option("--format", help="A table, or one line of JSON for pipelines.")]


@app.callback()
def embeddings() -> None:
    """Word vectors: train (word2vec, fastText), neighbors, analogy, evaluate, plot (t-SNE), coverage."""
    import logging

    # gensim logs warnings meant for developers (e.g. "under 10 jobs per worker") through logging's
    # last-resort stderr handler; the commands report what matters themselves.
    logging.getLogger("gensim").setLevel(logging.ERROR)


def _json(payload: Any) -> None:
    sys.stdout.write(json.dumps(payload, ensure_ascii=False) + "\n")


def _table(title: str | None, *columns: str):  # -> rich.table.Table; first column left, the rest right
    from rich.table import Table
    from rich.text import Text

    class PlainTable(Table):
        """Cells and title as plain text: words such as "[/b]" are data, not rich markup."""

        def add_row(self, *cells: Any, **kwargs: Any) -> None:
            super().add_row(*(Text(c) if isinstance(c, str) else c for c in cells), **kwargs)

    table = PlainTable(title=None if title is None else Text(title), title_justify="left", box=None, pad_edge=False)
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i == 0 else "right")
    return table


class TrainProgress:
    """One progress bar per pass over the corpus (vocabulary scan, then each epoch), on a terminal only.
    gensim reads the corpus in its own thread; rich's Progress is thread-safe."""

    def __init__(self) -> None:
        self.progress: Any = None
        self.task: Any = None
        self.stage: str | None = None

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        if not is_tty():
            return
        if self.progress is None:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.progress = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("sentences"),
                TimeRemainingColumn(), console=err, transient=True,
            )
            self.progress.start()
            self.task = self.progress.add_task(stage, total=total)
        if stage != self.stage:
            self.stage = stage
            self.progress.reset(self.task, description=stage, total=total)
        self.progress.update(self.task, completed=done)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


@app.command("train")
@reports_input_errors
def train_command(
    corpus: Annotated[list[Path], typer.Argument(help="Corpus files, read in turn on every pass.", **ExistingFile)],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the vectors; the name decides the format: .kv gensim native, .bin binary word2vec, else word2vec text (.gz compressed).")] = Path("vectors.kv"),
    output_format: Annotated[Optional[VectorFormat], typer.Option("--format", help="Check the output format: kv, word2vec-text or word2vec-binary (must agree with the --output name). (default: by the name)")] = None,
    input_format: Annotated[InputFormat, typer.Option(help="raw text lines (tokenized and sentence-split by syntok), tokenized lines, tagging column files (token column), or labelled classification files (labels ignored).", rich_help_panel=CORPUS)] = InputFormat.raw,
    tokenized: Annotated[bool, typer.Option("--tokenized", help="Shortcut for --input-format tokenized: whitespace-tokenized text, one sentence per line (fastest).", rich_help_panel=CORPUS)] = False,
    token_column: Annotated[int, typer.Option(help="Token column of conll input, 0-based.", rich_help_panel=CORPUS)] = 0,
    encoding: Annotated[str, typer.Option(help="Text encoding of the corpus.", rich_help_panel=CORPUS)] = "utf-8",
    lowercase: Annotated[bool, typer.Option("--lowercase", help="Lowercase every token (one vector per word whatever its case, as in GloVe).", rich_help_panel=CORPUS)] = False,
    algorithm: Annotated[Algorithm, typer.Option(help="skipgram predicts the context from a word; cbow a word from its context.", rich_help_panel=MODEL)] = Algorithm.skipgram,
    fasttext: Annotated[bool, typer.Option("--fasttext", help="Train fastText: words are also sums of character n-grams, so unseen words get vectors too.", rich_help_panel=MODEL)] = False,
    dim: Annotated[int, typer.Option(help="Vector size.", min=1, rich_help_panel=MODEL)] = 100,
    window: Annotated[int, typer.Option(help="Context words on each side.", min=1, rich_help_panel=MODEL)] = 5,
    min_count: Annotated[int, typer.Option(help="Ignore words seen fewer times.", min=1, rich_help_panel=MODEL)] = 5,
    epochs: Annotated[int, typer.Option(help="Passes over the corpus.", min=1, rich_help_panel=MODEL)] = 5,
    negative: Annotated[Optional[int], typer.Option(help="Negative sampling: noise words per context word, 0 = off. (default: 5, or 0 with --hs)", min=0, rich_help_panel=MODEL)] = None,
    hs: Annotated[bool, typer.Option("--hs", help="Hierarchical softmax (instead of negative sampling unless --negative is given too).", rich_help_panel=MODEL)] = False,
    sample: Annotated[float, typer.Option(help="Down-sample words more frequent than this share of the corpus, 0 = off.", min=0.0, rich_help_panel=MODEL)] = 1e-3,
    min_n: Annotated[int, typer.Option(help="fastText: shortest character n-gram.", min=1, rich_help_panel=MODEL)] = 3,
    max_n: Annotated[int, typer.Option(help="fastText: longest character n-gram.", min=1, rich_help_panel=MODEL)] = 6,
    buckets: Annotated[int, typer.Option(help="fastText: hash buckets for n-grams (each a vector: 2M x 100 floats is 800 MB).", min=1, rich_help_panel=MODEL)] = 2_000_000,
    workers: Annotated[Optional[int], typer.Option(help="Training threads; only 1 gives identical vectors on every run. (default: CPU count)", min=1)] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 1,
) -> None:
    """Train word2vec or fastText vectors (gensim) on text, tokenized, CoNLL or classification files."""
    from seqtag.vectors.store import check_output, save_vectors
    from seqtag.vectors.train import train_vectors

    check_output(path=output, output_format=output_format.value if output_format else None)
    progress = TrainProgress()
    try:
        trained = train_vectors(
            paths=corpus,
            input_format="tokenized" if tokenized else input_format.value,
            encoding=encoding, token_column=token_column, lowercase=lowercase, fasttext=fasttext,
            algorithm=algorithm.value, dim=dim, window=window, min_count=min_count, epochs=epochs,
            negative=negative if negative is not None else (0 if hs else 5), hs=hs, sample=sample,
            min_n=min_n, max_n=max_n, buckets=buckets, workers=workers or os.cpu_count() or 1, seed=seed,
            progress=progress, log=lambda message: err.print(message, markup=False),
        )
    finally:
        progress.close()
    try:
        save_vectors(kv=trained.vectors, path=output)
    except OSError as error:
        from seqtag.errors import InputError

        raise InputError(f"cannot write the vectors: {error.strerror or error}", output) from None
    kind = "fastText" if fasttext else "word2vec"
    err.print(
        f"saved {output} ({len(trained.vectors):,} words x {dim}; {kind} {algorithm.value}, {epochs} epochs on "
        f"{trained.tokens:,} tokens; {trained.seconds:.0f} s; {output.stat().st_size / 1e6:.1f} MB)",
        markup=False,
    )


@app.command("neighbors")
@reports_input_errors
def neighbors_command(
    vectors: Annotated[Path, typer.Argument(help=VECTORS_HELP, **ExistingFile)],
    words: Annotated[list[str], typer.Argument(help="Words to look up (as given, else lowercased, else with digits as 0).")],
    top: Annotated[int, typer.Option(help="Neighbours per word.", min=1)] = 10,
    restrict_vocab: Annotated[Optional[int], typer.Option(help="Search only the N first (most frequent) words. (default: all)", min=1)] = None,
    output_format: Format = OutputFormat.table,
    embedding_cache: Cache = True,
) -> None:
    """The nearest words of each WORD by cosine similarity."""
    from seqtag.vectors.query import neighbors

    results = neighbors(vectors=vectors, words=words, top=top, restrict_vocab=restrict_vocab, cache=embedding_cache)
    if output_format is OutputFormat.json:
        _json(results)
        return
    console = stdout_console()
    for i, result in enumerate(results):
        if i:
            console.print()
        title = result["word"] if result["key"] == result["word"] else f"{result['word']} (as {result['key']})"
        if result["subwords"]:
            title += " (not in the vocabulary: vector from subwords)"
        table = _table(title, "neighbour", "cosine")
        for word, score in result["neighbors"]:
            table.add_row(word, f"{score:.3f}")
        console.print(table)


@app.command("analogy")
@reports_input_errors
def analogy_command(
    vectors: Annotated[Path, typer.Argument(help=VECTORS_HELP, **ExistingFile)],
    a: Annotated[str, typer.Argument(help="A in A : B :: C : ? (e.g. man).")],
    b: Annotated[str, typer.Argument(help="B (e.g. king).")],
    c: Annotated[str, typer.Argument(help="C (e.g. woman); the answers are the words nearest to B - A + C.")],
    top: Annotated[int, typer.Option(help="Answers to list.", min=1)] = 10,
    method: Annotated[Method, typer.Option(help="3cosadd: cosine with B - A + C (word2vec's); 3cosmul: Levy and Goldberg's multiplicative form.")] = Method["3cosadd"],
    restrict_vocab: Annotated[Optional[int], typer.Option(help="Search only the N first (most frequent) words. (default: all)", min=1)] = None,
    output_format: Format = OutputFormat.table,
    embedding_cache: Cache = True,
) -> None:
    """Solve A : B :: C : ? by vector arithmetic, e.g. `analogy vectors man king woman` (king - man + woman)."""
    from seqtag.vectors.query import analogy

    result = analogy(
        vectors=vectors, a=a, b=b, c=c, top=top, method=method.value, restrict_vocab=restrict_vocab, cache=embedding_cache
    )
    if output_format is OutputFormat.json:
        _json(result)
        return
    table = _table(f"{a} : {b} :: {c} : ?  ({result['method']})", "answer", "score")
    for word, score in result["answers"]:
        table.add_row(word, f"{score:.3f}")
    stdout_console().print(table)


@app.command("evaluate")
@reports_input_errors
def evaluate_command(
    vectors: Annotated[Path, typer.Argument(help=VECTORS_HELP, **ExistingFile)],
    wordsim: Annotated[Optional[Path], typer.Option("--wordsim", help="WordSim-353 pairs file (word1, word2, score; tab, comma or space separated).", **ExistingFile)] = None,
    simlex: Annotated[Optional[Path], typer.Option("--simlex", help="SimLex-999 pairs file (gensim's 3 columns or the original with a header).", **ExistingFile)] = None,
    analogies: Annotated[Optional[Path], typer.Option("--analogies", help="Analogy questions in the Google format (questions-words.txt).", **ExistingFile)] = None,
    restrict_vocab: Annotated[int, typer.Option(help="Use only the N first (most frequent) words; questions and pairs with other words count as OOV.", min=1)] = 300_000,
    output_format: Format = OutputFormat.table,
    embedding_cache: Cache = True,
) -> None:
    """Spearman correlation on word-similarity pairs (WordSim-353, SimLex-999) and analogy accuracy (gensim)."""
    from seqtag.vectors.evaluate import evaluate_vectors

    pairs = {name: path for name, path in (("wordsim353", wordsim), ("simlex999", simlex)) if path is not None}
    if not pairs and analogies is None:
        fail("nothing to evaluate: give --wordsim, --simlex and / or --analogies")
    if analogies is not None and is_tty():
        err.print("answering the analogy questions (minutes for 300,000 words) …", markup=False)
    report = evaluate_vectors(
        vectors=vectors, pairs=pairs, analogy_file=analogies, restrict_vocab=restrict_vocab, cache=embedding_cache
    )
    if output_format is OutputFormat.json:
        _json(report)
        return
    console = stdout_console()
    table = _table(
        f"{report['vectors']}: {report['words']:,} words x {report['dim']} (first {restrict_vocab:,} used)",
        "benchmark", "items", "OOV", "score",
    )
    for name, result in report["similarity"].items():
        spearman = "-" if result["spearman"] is None else f"{result['spearman']:.3f}"
        table.add_row(name, f"{result['pairs']:,} pairs", f"{100 * result['oov_ratio']:.1f}%", f"Spearman {spearman}")
    if "analogies" in report:
        result = report["analogies"]
        accuracy = "-" if result["accuracy"] is None else f"{100 * result['accuracy']:.2f}%"
        table.add_row(
            "analogies", f"{result['questions']:,} questions", f"{100 * result['oov_ratio']:.1f}%",
            f"accuracy {accuracy} ({100 * result['accuracy_all']:.2f}% of all)",
        )
    console.print(table)
    if "analogies" in report:
        sections = _table("analogy sections", "section", "correct", "answered", "accuracy")
        for section in report["analogies"]["sections"]:
            answered = section["evaluated"]
            accuracy = f"{100 * section['correct'] / answered:.1f}%" if answered else "-"
            sections.add_row(section["section"], f"{section['correct']:,}", f"{answered:,}", accuracy)
        console.print()
        console.print(sections)


@app.command("plot")
@reports_input_errors
def plot_command(
    vectors: Annotated[Path, typer.Argument(help=VECTORS_HELP, **ExistingFile)],
    output: Annotated[Path, typer.Option("--output", "-o", help="The PNG file to write.")] = Path("tsne.png"),
    words: Annotated[Optional[Path], typer.Option("--words", help="Words to plot, one per line (# comments allowed). (default: the --top most frequent)", **ExistingFile)] = None,
    top: Annotated[int, typer.Option(help="Without --words: plot the N first (most frequent) words.", min=5)] = 200,
    perplexity: Annotated[float, typer.Option(help="t-SNE perplexity (lowered to (words - 1) / 3 for short lists).", min=1.0)] = 30.0,
    seed: Annotated[int, typer.Option(help="Random seed of t-SNE.")] = 1,
    title: Annotated[Optional[str], typer.Option(help="Plot title. (default: what is plotted)")] = None,
    embedding_cache: Cache = True,
) -> None:
    """A labelled 2-D t-SNE map of words (scikit-learn t-SNE on cosine distances), written as a PNG."""
    from seqtag.vectors.plot import read_word_list, tsne_plot

    chosen = read_word_list(path=words) if words is not None else None
    result = tsne_plot(
        vectors=vectors, output=output, words=chosen, top=top, perplexity=perplexity, seed=seed, title=title,
        cache=embedding_cache,
    )
    err.print(f"wrote {output} ({len(result['words'])} words, perplexity {result['perplexity']:.3g})", markup=False)
    if result["missing"]:
        err.print(f"left out (no vector): {', '.join(result['missing'])}", markup=False)


@app.command("coverage")
@reports_input_errors
def coverage_command(
    vectors: Annotated[Path, typer.Argument(help=VECTORS_HELP, **ExistingFile)],
    data: Annotated[list[Path], typer.Argument(help="Data files: CoNLL, CoNLL-U, classification files or text.", **ExistingFile)],
    input_format: Annotated[Optional[InputFormat], typer.Option(help="Format of DATA. (default: by the file: CoNLL-U for .conllu, column files, else the classification format detected)")] = None,
    token_column: Annotated[int, typer.Option(help="Token column of conll input, 0-based.")] = 0,
    encoding: Annotated[str, typer.Option(help="Text encoding of DATA.")] = "utf-8",
    top: Annotated[int, typer.Option(help="Most frequent uncovered words to list.", min=0)] = 20,
    output_format: Format = OutputFormat.table,
    embedding_cache: Cache = True,
) -> None:
    """How many of DATA's tokens and types have a vector, and the most frequent words without one."""
    from seqtag.vectors.coverage import coverage

    report = coverage(
        vectors=vectors, data=data, input_format=input_format.value if input_format else "auto", encoding=encoding,
        token_column=token_column, top=top, cache=embedding_cache,
    )
    if output_format is OutputFormat.json:
        _json(report)
        return
    console = stdout_console()
    table = _table(
        f"{', '.join(report['data'])}: {report['tokens']:,} tokens, {report['types']:,} types", "lookup", "tokens", "types"
    )
    for level, found in report["covered"].items():
        table.add_row(
            level, f"{100 * found['token_ratio']:.2f}% ({found['tokens']:,})", f"{100 * found['type_ratio']:.2f}% ({found['types']:,})"
        )
    console.print(table)
    if report["subwords"]:
        console.print("fastText subwords: every other word gets a vector from its character n-grams too")
    if report["uncovered"]:
        missing = _table("most frequent words without a vector", "word", "count")
        for word, count in report["uncovered"]:
            missing.add_row(word, f"{count:,}")
        console.print()
        console.print(missing)
