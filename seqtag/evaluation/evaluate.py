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
    # per sentence, every entity (type, start, end, probability) at least as probable as the evaluation asked
    candidates: list[list[tuple[str, int, int, float]]] | None = None

    def scores(self, mode: str = "default") -> dict:
        """seqeval's scores as a plain dict, with the data's name and the headline ``score`` (micro F1, or
        accuracy for plain tags)."""
        return {**tagging_report(self.gold, self.pred, self.scheme, mode), "data": self.name}

    def threshold_scores(self, threshold: float, mode: str = "default") -> dict:
        """Precision, recall and F1 (per type, micro, macro) of the entities at least ``threshold`` probable,
        on the best path or not, against the gold entities (``evaluate --min-confidence``)."""
        from seqtag.evaluation.metrics import sentence_entities, span_set_report

        gold = sentence_entities(self.gold, self.scheme, mode)
        return span_set_report(gold, [{span[:3] for span in found if span[3] >= threshold} for found in self.candidates or []],
                               threshold)

    def pr_points(self, mode: str = "default") -> list[dict[str, float]]:
        """Micro precision and recall of the entities above each threshold, highest first (``--pr-curve``)."""
        from seqtag.evaluation.metrics import sentence_entities, threshold_curve

        gold = sentence_entities(self.gold, self.scheme, mode)
        scored = [(span[3], span[:3] in truth) for found, truth in zip(self.candidates or [], gold) for span in found]
        return threshold_curve(scored, sum(map(len, gold)))

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


@dataclass
class MultiLabeled:
    """A multi-label data set as scored: texts, gold and predicted label lists, and the probabilities."""

    name: str
    texts: list[list[str]]
    gold: list[list[str]]
    pred: list[list[str]]
    lines: list[int]
    labels: list[str]  # every label the model knows, in its order
    probabilities: list[list[float]]  # per text, each label's (in ``labels`` order)
    thresholds: dict[str, float]  # what ``pred`` used

    def scores(self, mode: str = "default") -> dict:
        """scikit-learn's multi-label scores (per label, micro, macro, samples, exact match), the headline
        ``score`` (micro F1), the thresholds and the data's name."""
        from seqtag.evaluation.metrics import multilabel_report

        report = multilabel_report(self.gold, self.pred, self.labels)
        return {**report, "thresholds": dict(self.thresholds), "data": self.name}

    def _above(self, threshold: float) -> list[list[str]]:
        return [[label for label, p in zip(self.labels, probs) if p >= threshold] for probs in self.probabilities]

    def threshold_scores(self, threshold: float, mode: str = "default") -> dict:
        """The scores with one threshold for every label (``evaluate --min-confidence``)."""
        from seqtag.evaluation.metrics import multilabel_report

        report = multilabel_report(self.gold, self._above(threshold), self.labels)
        chosen = sum(map(len, self._above(threshold)))
        return {"threshold": threshold, "spans": chosen, "per_type": report["per_class"], "micro": report["micro"],
                "macro": report["macro"], "samples": report["samples"]}

    def pr_points(self, mode: str = "default") -> list[dict[str, float]]:
        """Micro precision and recall with one threshold for every label, over thresholds (``--pr-curve``)."""
        from seqtag.evaluation.metrics import threshold_curve

        scored = [(p, label in truth) for probs, truth in zip(self.probabilities, self.gold)
                  for label, p in zip(self.labels, probs) if p >= PR_FLOOR]
        return threshold_curve(scored, sum(map(len, self.gold)))

    def errors(self) -> dict:
        from seqtag.evaluation.errors import label_set_errors

        return label_set_errors(self.texts, self.gold, self.pred, self.lines)

    def confusion(self) -> tuple[list[str], list[list[int]], str]:
        """Texts by gold label (rows) and predicted label (columns): the diagonal counts the labels found."""
        index = {label: j for j, label in enumerate(self.labels)}
        matrix = [[0] * len(self.labels) for _ in self.labels]
        for truth, chosen in zip(self.gold, self.pred):
            for g in truth:
                for p in chosen:
                    matrix[index[g]][index[p]] += 1
        return self.labels, matrix, "labels (texts with the gold label and the predicted one)"


Outcome = Union[Tagged, Classified, MultiLabeled]


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


PR_FLOOR = 0.01  # --pr-curve: the lowest threshold drawn (candidates less probable are not looked for)


def evaluate(model: Any, data: Source, *, mode: str = "default", errors: bool = False, device: str = "cpu",
             min_confidence: float | None = None, pr_curve: bool = False, **overrides: Any) -> Evaluation:
    """Predict labelled ``data`` with ``model`` (a loaded model or a model file) and score it as
    ``seqtag evaluate`` does. ``overrides`` change how the data is read (``input_format``, ``token_column``,
    ``tag_column``, ``label_column`` …; by default as the training data was); ``errors`` adds the error report.
    ``min_confidence`` adds ``report["min_confidence"]``: the scores of what is at least that probable (a
    tagger's entities on the best path or not, a multi-label classifier's labels); ``pr_curve`` adds
    ``report["pr_curve"]``, micro precision and recall over thresholds from 1 down to ``PR_FLOOR``."""
    import dataclasses

    from seqtag.config import check_value

    if isinstance(model, (str, os.PathLike)):
        from seqtag.tasks import load
        from seqtag.training.devices import resolve_device

        model = load(model).to(resolve_device(device))
    settings = {key: check_value(key, value, key) for key, value in overrides.items()}
    floor = min(min_confidence if min_confidence is not None else 1.0, PR_FLOOR) if pr_curve else min_confidence
    if floor is not None:
        # the options `seqtag predict --min-confidence` takes, checked alike (range, task, scheme)
        model.check_prediction_options("jsonl", None, floor)
    options = {"min_confidence": floor} if floor is not None else {}
    outcome = model.outcome(data, dataclasses.replace(model.data_config, **settings), **options)
    report = outcome.scores(mode)
    if min_confidence is not None:
        report["min_confidence"] = outcome.threshold_scores(min_confidence, mode)
    if pr_curve:
        report["pr_curve"] = outcome.pr_points(mode)
    if errors:
        report["errors"] = outcome.errors()
    return Evaluation(report, outcome)


def classify_labelled(classifier: Any, source: Source, data_config: DataConfig) -> Classified:
    """Classify labelled texts; a gold label the model does not know is an input error."""
    from seqtag.tasks.classification import one_label, read_data

    examples = [one_label(e, _name(source)) for e in read_data(source, data_config)]
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


def multilabel_labelled(model: Any, source: Source, data_config: DataConfig,
                        min_confidence: float | None = None) -> MultiLabeled:
    """Classify labelled texts with a multi-label model; a gold label the model does not know is an input
    error. ``min_confidence`` needs nothing more: the outcome keeps every probability."""
    from seqtag.tasks.classification import read_data

    examples = list(read_data(source, data_config))
    known = set(model.labels.items)
    for example in examples:
        for label in example.label_set():
            if label not in known:
                raise InputError(f"gold label {label!r} is not one this model knows ({', '.join(sorted(known))})",
                                 _name(source), example.line)
    texts = [e.tokens for e in examples]
    probabilities = model.probabilities(texts)
    return MultiLabeled(
        _name(source), texts, [e.label_set() for e in examples], [model.chosen(p) if p else [] for p in probabilities],
        [e.line for e in examples], list(model.labels.items), probabilities, dict(model.thresholds),
    )


def tag_labelled(tagger: Any, source: Source, data_config: DataConfig, min_confidence: float | None = None) -> Tagged:
    """Tag ``source`` (labelled, read with ``data_config``); predictions come in the gold file's scheme.
    With ``min_confidence``, also every entity at least that probable (:attr:`Tagged.candidates`).

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
    candidates = None
    if min_confidence is None:
        predicted = tagger.predict(tagger.inputs(sentences))
    else:
        details = tagger.predict_details(tagger.inputs(sentences), min_confidence=min_confidence)
        predicted = [d.tags for d in details]
        candidates = [[span[:4] for span in d.candidates or []] for d in details]
    scheme = tagger.data_scheme
    gold = [s.tags for s in sentences]
    if scheme != "plain":
        # Score in the scheme of the file we were given (it may differ from the training files').
        file_scheme = detect_scheme(gold)
        if file_scheme != "plain" and file_scheme != scheme:
            from seqtag.data.schemes import convert

            predicted = [convert(p, scheme, file_scheme) for p in predicted]
            scheme = file_scheme
    return Tagged(_name(source), [s.tokens for s in sentences], gold, predicted, [s.line for s in sentences], scheme,
                  candidates)


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


def compare_label_sets(gold_source: Source, systems: tuple[str, str], data_config: DataConfig, samples: int,
                       seed: int, **_: Any) -> tuple[str, int, dict]:
    """Two multi-label classifiers' outputs (a line of tab-separated labels per text) against gold:
    ``("examples", count, metrics)``, micro and macro F1."""
    from seqtag.evaluation.metrics import label_set_counts
    from seqtag.evaluation.significance import compare
    from seqtag.tasks.classification import read_data

    gold_name = _name(gold_source)
    gold = [e.label_set() for e in read_data(gold_source, data_config)]
    a, b = ([[label for label in line.split("\t") if label] for line in _read_labels(path, len(gold), gold_name,
                                                                                      data_config.encoding)]
            for path in systems)
    labels = sorted({label for sets in (gold, a, b) for labels_of in sets for label in labels_of})
    counts_a, counts_b = label_set_counts(gold, a, labels), label_set_counts(gold, b, labels)
    metrics = {name: compare(counts_a[name], counts_b[name], name, samples, seed) for name in ("f1", "macro_f1")}
    return "examples", len(gold), metrics


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
    named = list(per_name.items()) + [(f"{avg} avg", report[avg]) for avg in ("micro", "macro", "samples") if avg in report]
    return [
        (name, f"{100 * row['precision']:.2f}", f"{100 * row['recall']:.2f}", f"{100 * row['f1']:.2f}", str(row["support"]))
        for name, row in named
    ]
