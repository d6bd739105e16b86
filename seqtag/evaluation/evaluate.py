"""Scoring a model on labelled data, or a file of gold and predicted columns with no model at all, and
comparing two systems' prediction files on the same gold data."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Union

from seqtag.config import DataConfig
from seqtag.formats.columns import read_columns
from seqtag.formats.lines import Source, decode_error, open_lines
from seqtag.formats.registry import read_sentences
from seqtag.data.schemes import detect_scheme, normalize_scheme
from seqtag.data.sentence import Sentence
from seqtag.errors import InputError
from seqtag.evaluation.metrics import classification_report, tagging_report, type_confusion


@dataclass
class Tagged:
    """A tagging data set as scored: tokens, gold and predicted tags (both in ``scheme``)."""

    name: str  # the data's path, or <stdin>
    tokens: list[list[str]]
    gold: list[list[str]]
    pred: list[list[str]]
    lines: list[int]  # where each sentence starts
    scheme: str

    def scores(self, mode: str = "default") -> dict:
        """seqeval's scores as a plain dict, with the data's name and the headline ``score`` (micro F1, or
        accuracy for plain tags)."""
        return {**tagging_report(self.gold, self.pred, self.scheme, mode), "data": self.name}

    def errors(self) -> dict:
        """The ``--errors`` report: spans missed, spurious, of the wrong type or boundary, by type."""
        from seqtag.evaluation.errors import span_errors

        return span_errors(self.tokens, self.gold, self.pred, self.scheme, self.lines)

    def confusion(self) -> tuple[list[str], list[list[int]], str]:
        """``(labels, matrix, what)``, rows gold and columns predicted: entity types per token (the tags
        themselves for plain tags)."""
        labels, matrix = type_confusion(self.gold, self.pred, self.scheme)
        return labels, matrix, "tags" if self.scheme == "plain" else "entity types, per token"


@dataclass
class Classified:
    """A classification data set as scored: texts, gold and predicted labels."""

    name: str
    texts: list[list[str]]
    gold: list[str]
    pred: list[str]
    lines: list[int]
    labels: list[str]  # every label the model knows, in its order

    def scores(self, mode: str = "default") -> dict:
        """scikit-learn's scores as a plain dict, with the data's name and the headline ``score`` (accuracy)."""
        report = classification_report(self.gold, self.pred, self.labels)
        return {**report, "score": report["accuracy"], "data": self.name}

    def errors(self) -> dict:
        from seqtag.evaluation.errors import label_errors

        return label_errors(self.texts, self.gold, self.pred, self.lines)

    def confusion(self) -> tuple[list[str], list[list[int]], str]:
        from sklearn.metrics import confusion_matrix

        return self.labels, confusion_matrix(self.gold, self.pred, labels=self.labels).tolist(), "classes"


Outcome = Union[Tagged, Classified]


def _types(tag: str) -> str:
    return tag[2:] if len(tag) > 2 and tag[1] == "-" else tag


def _name(source: Source) -> str:
    return "<stdin>" if str(source) == "-" else str(source)


@dataclass(frozen=True)
class Evaluation:
    """What :func:`evaluate` gives back: the scores (``report``, the dict ``seqtag evaluate --format json``
    prints) and the predictions beside the gold labels (``outcome``)."""

    report: dict
    outcome: Outcome

    @property
    def score(self) -> float:
        """The headline score: micro F1 for entities, else accuracy."""
        return self.report["score"]


def evaluate(model: Any, data: Source, *, mode: str = "default", errors: bool = False, device: str = "cpu",
             **overrides: Any) -> Evaluation:
    """Predict labelled ``data`` with ``model`` (a loaded model or a model file) and score it as
    ``seqtag evaluate`` does. ``overrides`` change how the data is read (``input_format``, ``token_column``,
    ``tag_column``, ``label_column`` …; by default as the training data was); ``errors`` adds the error report."""
    import dataclasses

    from seqtag.config import check_value

    if isinstance(model, (str, os.PathLike)):
        from seqtag.tasks import load
        from seqtag.training.devices import resolve_device

        model = load(model).to(resolve_device(device))
    settings = {key: check_value(key, value, key) for key, value in overrides.items()}
    outcome = model.outcome(data, dataclasses.replace(model.data_config, **settings))
    report = outcome.scores(mode)
    if errors:
        report["errors"] = outcome.errors()
    return Evaluation(report, outcome)


def classify_labelled(classifier: Any, source: Source, data_config: DataConfig) -> Classified:
    """Classify labelled texts; a gold label the model does not know is an input error."""
    from seqtag.tasks.classification import read_data

    examples = list(read_data(source, data_config))
    known = set(classifier.labels.items)
    for example in examples:
        if example.label not in known:
            raise InputError(
                f"gold label {example.label!r} is not one this model knows ({', '.join(sorted(known))})",
                str(source),
                example.line,
            )
    texts = [e.tokens for e in examples]
    return Classified(
        _name(source), texts, [e.label for e in examples], classifier.predict(texts), [e.line for e in examples],
        list(classifier.labels.items),
    )


def tag_labelled(tagger: Any, source: Source, data_config: DataConfig) -> Tagged:
    """Tag ``source`` (labelled, read with ``data_config``); predictions come in the gold file's scheme.

    A gold tag (or entity type) the model cannot produce is an input error: it usually means the wrong
    tag column or the wrong data set.
    """
    sentences = list(read_sentences(source, data_config, with_tags=True))
    known = {_types(t) for t in tagger.labels.items}
    for sentence in sentences:
        for offset, tag in enumerate(sentence.tags or []):
            if _types(tag) not in known:
                raise InputError(
                    f"gold tag {tag!r} is not one this model knows ({', '.join(sorted(known))}); "
                    "wrong --tag-column or wrong data?",
                    str(source),
                    sentence.line + offset,
                )
    predicted = tagger.predict([s.tokens for s in sentences])
    scheme = tagger.data_scheme
    gold = [s.tags for s in sentences]
    if scheme != "plain":
        # Score in the scheme of the file we were given (it may differ from the training files').
        file_scheme = detect_scheme(gold)
        if file_scheme != "plain" and file_scheme != scheme:
            from seqtag.data.schemes import convert

            predicted = [convert(p, scheme, file_scheme) for p in predicted]
            scheme = file_scheme
    return Tagged(_name(source), [s.tokens for s in sentences], gold, predicted, [s.line for s in sentences], scheme)


def read_predictions(
    source: Source,
    gold_column: int = -2,
    pred_column: int = -1,
    scheme: str = "auto",
    mode: str = "default",
    encoding: str = "utf-8",
) -> Tagged:
    """conlleval for pipelines: a column file holding tokens (first column), gold and predicted tags."""
    tokens, gold, pred, lines = [], [], [], []
    try:
        for sentence in read_columns(source, token_column=gold_column, tag_column=pred_column, encoding=encoding):
            tokens.append([row[0] for row in sentence.columns or []])
            gold.append(sentence.tokens)  # the "token" column is the gold column here
            pred.append(sentence.tags)
            lines.append(sentence.line)
    except InputError as error:  # the reader's words for our columns: token = gold, tag = predicted
        error.message = error.message.replace("tag column", "predicted column").replace("token column", "gold column")
        raise
    name = _name(source)
    scheme = _scoring_scheme(scheme, mode, gold + pred, name)
    _check_scheme(scheme, name, lines, [list(zip(g, p)) for g, p in zip(gold, pred)])
    return Tagged(name, tokens, gold, pred, lines, scheme)


def _scoring_scheme(requested: str, mode: str, sequences: list[list[str]], name: str) -> str:
    """``requested``, or the scheme detected from all the tag sequences; strict mode needs a span scheme."""
    scheme = detect_scheme(sequences) if requested == "auto" else normalize_scheme(requested)
    if scheme == "plain" and mode == "strict":
        raise InputError("--mode strict needs B-/I- style tags, but these tags have no prefixes", name)
    return scheme


def _check_scheme(scheme: str, name: str, lines: list[int], sentences: list[list[tuple[str, ...]]]) -> None:
    """An explicit --scheme may not fit the tags (seqeval would misread them, or crash in strict mode).
    ``sentences``: per sentence starting at ``lines[i]``, the tags of each token (one per scored column)."""
    if scheme == "plain":
        return
    prefixes = "BIESLU" if scheme == "bioes" else "BI"
    for first, tags in zip(lines, sentences):
        for offset, row in enumerate(tags):
            for tag in row:
                if tag != "O" and not (len(tag) > 2 and tag[1] == "-" and tag[0] in prefixes):
                    raise InputError(
                        f"tag {tag!r} does not fit the {scheme} scheme (O or {'/'.join(prefixes)}-TYPE); check --scheme",
                        name,
                        first + offset,
                    )


def compare_systems(
    gold_source: Source,
    system_a: str,
    system_b: str,
    task: str,
    data_config: DataConfig,
    pred_column: int = -1,
    scheme: str = "auto",
    mode: str = "default",
    samples: int = 1000,
    seed: int = 1,
) -> dict:
    """Is system B better than system A on this gold data? Paired bootstrap and approximate randomisation
    over sentences (micro F1, or accuracy for plain tags) or over texts (accuracy and macro F1).

    Taggers' outputs are column files whose ``pred_column`` holds the predictions (``seqtag predict`` output
    for a CoNLL file), with the gold data's sentences and tokens; classifiers' outputs hold one label per
    line (``seqtag predict`` output), a line per gold example. The task decides which (its
    ``compare_predictions``).
    """
    from seqtag.tasks import task_class

    unit, items, metrics = task_class(task).compare_predictions(
        gold_source, (system_a, system_b), data_config, pred_column=pred_column, scheme=scheme, mode=mode,
        samples=samples, seed=seed,
    )
    return {
        "task": task, "data": _name(gold_source), "a": _name(system_a), "b": _name(system_b), "unit": unit,
        "items": items, "samples": samples, "seed": seed, "metrics": metrics,
    }


def compare_labels(gold_source: Source, systems: tuple[str, str], data_config: DataConfig, samples: int,
                   seed: int, **_: Any) -> tuple[str, int, dict]:
    """Two classifiers' label files against gold: ``("examples", count, metrics)``, accuracy and macro F1."""
    from seqtag.evaluation.metrics import example_counts
    from seqtag.evaluation.significance import compare
    from seqtag.tasks.classification import read_data

    gold_name = _name(gold_source)
    gold_labels = [e.label for e in read_data(gold_source, data_config)]
    a, b = (_read_labels(path, len(gold_labels), gold_name, data_config.encoding) for path in systems)
    labels = sorted(set(gold_labels) | set(a) | set(b))
    counts_a, counts_b = example_counts(gold_labels, a, labels), example_counts(gold_labels, b, labels)
    metrics = {name: compare(counts_a[name], counts_b[name], name, samples, seed) for name in ("accuracy", "macro_f1")}
    return "examples", len(gold_labels), metrics


def compare_tags(gold_source: Source, systems: tuple[str, str], data_config: DataConfig, pred_column: int,
                 scheme: str, mode: str, samples: int, seed: int) -> tuple[str, int, dict]:
    """Two taggers' column files against gold: ``("sentences", count, metrics)``, micro F1 (or accuracy)."""
    from seqtag.evaluation.metrics import sentence_counts
    from seqtag.evaluation.significance import compare

    gold_name = _name(gold_source)
    sentences = list(read_sentences(gold_source, data_config, with_tags=True))
    gold = [s.tags or [] for s in sentences]
    read = [_read_system_tags(path, sentences, gold_name, pred_column, data_config.encoding) for path in systems]
    scheme = _scoring_scheme(scheme, mode, gold + read[0][1] + read[1][1], gold_name)
    _check_scheme(scheme, gold_name, [s.line for s in sentences], [[(t,) for t in tags] for tags in gold])
    for path, (lines, tags) in zip(systems, read):
        _check_scheme(scheme, _name(path), lines, [[(t,) for t in row] for row in tags])
    counts_a, counts_b = (sentence_counts(gold, tags, scheme, mode) for _, tags in read)
    name = "accuracy" if scheme == "plain" else "f1"
    return "sentences", len(sentences), {name: compare(counts_a, counts_b, name, samples, seed)}


def _read_system_tags(
    source: str, gold: list[Sentence], gold_name: str, pred_column: int, encoding: str
) -> tuple[list[int], list[list[str]]]:
    """A system's predicted tags (and where its sentences start), checked to align with the gold sentences."""
    name = _name(source)
    lines, tags = [], []
    try:
        for sentence in read_columns(source, tag_column=pred_column, encoding=encoding):
            number = len(tags)
            if number < len(gold) and len(sentence) != len(gold[number]):
                raise InputError(
                    f"sentence {number + 1} has {len(sentence)} tokens, but {len(gold[number])} in {gold_name} "
                    f"(line {gold[number].line})",
                    name,
                    sentence.line,
                )
            lines.append(sentence.line)
            tags.append(sentence.tags or [])
    except InputError as error:
        error.message = error.message.replace("tag column", "predicted column")
        raise
    if len(tags) != len(gold):
        raise InputError(f"{len(tags)} sentences, but {gold_name} has {len(gold)}", name)
    return lines, tags


def _read_labels(source: str, count: int, gold_name: str, encoding: str) -> list[str]:
    """A classifier's output: one label per line, as many lines as the gold data has examples."""
    labels: list[str] = []
    with open_lines(source, encoding) as (name, lines):
        try:
            for line in lines:
                labels.append(line.strip())
        except UnicodeDecodeError:
            raise decode_error(name, len(labels) + 1, encoding) from None
    if len(labels) != count:
        raise InputError(f"{len(labels)} labels (one per line), but {gold_name} has {count} examples", name)
    return labels


def score_rows(per_name: dict, report: dict) -> list[tuple[str, str, str, str, str]]:
    """Rows (name, precision, recall, f1, support) in percent, then the micro and macro averages."""
    named = list(per_name.items()) + [(f"{avg} avg", report[avg]) for avg in ("micro", "macro")]
    return [
        (name, f"{100 * row['precision']:.2f}", f"{100 * row['recall']:.2f}", f"{100 * row['f1']:.2f}", str(row["support"]))
        for name, row in named
    ]
