"""Scoring a model on labelled data, or a file of gold and predicted columns with no model at all."""
from __future__ import annotations

from typing import Any

from seqtag.config import DataConfig
from seqtag.data.columns import Source, read_columns
from seqtag.data.readers import read_sentences
from seqtag.data.schemes import detect_scheme, normalize_scheme
from seqtag.errors import InputError
from seqtag.metrics import tagging_report


def _types(tag: str) -> str:
    return tag[2:] if len(tag) > 2 and tag[1] == "-" else tag


def evaluate_model(model: Any, source: Source, data_config: DataConfig, mode: str = "default") -> dict:
    """Score a tagger or classifier on labelled data read with ``data_config``."""
    column_formats = ("conll", "conllu")
    fmt = data_config.input_format
    if model.task == "classify" and fmt in column_formats:
        raise InputError(f"--input-format {fmt} is for taggers; this model is a classifier")
    if model.task == "tag" and fmt not in column_formats + ("auto",):
        raise InputError(f"--input-format {fmt} is for classifiers; this model is a tagger")
    if model.task == "classify":
        return evaluate_classifier(model, source, data_config)
    return evaluate_tagger(model, source, data_config, mode)


def evaluate_classifier(classifier: Any, source: Source, data_config: DataConfig) -> dict:
    """Accuracy, averages, per-class scores and the confusion matrix; unknown gold labels are errors."""
    from seqtag.classifier import read_data
    from seqtag.metrics import classification_report

    examples = list(read_data(source, data_config))
    known = set(classifier.labels.items)
    for example in examples:
        if example.label not in known:
            raise InputError(
                f"gold label {example.label!r} is not one this model knows ({', '.join(sorted(known))})",
                str(source),
                example.line,
            )
    predicted = classifier.predict([e.tokens for e in examples])
    report = classification_report([e.label for e in examples], predicted, classifier.labels.items)
    report["data"] = "<stdin>" if str(source) == "-" else str(source)
    return report


def evaluate_tagger(tagger: Any, source: Source, data_config: DataConfig, mode: str = "default") -> dict:
    """Tag ``source`` (labelled, read with ``data_config``) and score against its gold tags.

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
    report = tagging_report(gold, predicted, scheme, mode)
    report["data"] = "<stdin>" if str(source) == "-" else str(source)
    return report


def evaluate_predictions(
    source: Source,
    gold_column: int = -2,
    pred_column: int = -1,
    scheme: str = "auto",
    mode: str = "default",
    encoding: str = "utf-8",
) -> dict:
    """conlleval for pipelines: score a column file holding gold and predicted tags."""
    gold, pred, lines = [], [], []
    try:
        for sentence in read_columns(source, token_column=gold_column, tag_column=pred_column, encoding=encoding):
            gold.append(sentence.tokens)  # the "token" column is the gold column here
            pred.append(sentence.tags)
            lines.append(sentence.line)
    except InputError as error:  # the reader's words for our columns: token = gold, tag = predicted
        error.message = error.message.replace("tag column", "predicted column").replace("token column", "gold column")
        raise
    if scheme == "auto":
        scheme = detect_scheme(gold + pred)
    else:
        scheme = normalize_scheme(scheme)
    name = "<stdin>" if str(source) == "-" else str(source)
    if scheme == "plain" and mode == "strict":
        raise InputError("--mode strict needs B-/I- style tags, but these tags have no prefixes", name)
    if scheme != "plain":
        # An explicit --scheme may not fit the tags (seqeval would misread them, or crash in strict mode).
        prefixes = "BIESLU" if scheme == "bioes" else "BI"
        for first, tags in zip(lines, (list(zip(g, p)) for g, p in zip(gold, pred))):
            for offset, pair in enumerate(tags):
                for tag in pair:
                    if tag != "O" and not (len(tag) > 2 and tag[1] == "-" and tag[0] in prefixes):
                        raise InputError(
                            f"tag {tag!r} does not fit the {scheme} scheme (O or {'/'.join(prefixes)}-TYPE); check --scheme",
                            name,
                            first + offset,
                        )
    report = tagging_report(gold, pred, scheme, mode)
    report["data"] = name
    return report


def score_rows(per_name: dict, report: dict) -> list[tuple[str, str, str, str, str]]:
    """Rows (name, precision, recall, f1, support) in percent, then the micro and macro averages."""
    named = list(per_name.items()) + [(f"{avg} avg", report[avg]) for avg in ("micro", "macro")]
    return [
        (name, f"{100 * row['precision']:.2f}", f"{100 * row['recall']:.2f}", f"{100 * row['f1']:.2f}", str(row["support"]))
        for name, row in named
    ]
