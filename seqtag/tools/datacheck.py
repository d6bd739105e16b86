"""The checks behind `seqtag data check`, in the spirit of spaCy's `debug data`: read training (and dev)
data the way `seqtag train` would and report what would break or weaken training.

:func:`check_data` returns a :class:`Report`: per-file statistics and a list of :class:`Finding` s, each
``ok``, ``warning`` or ``error``. Errors are what stops training or makes it pointless:

* a data file the reader rejects (wrong column count, undecodable bytes, a malformed record, no data);
  the file's other checks are skipped;
* fewer than two labels in train (e.g. every tag is O);
* ``--scheme`` naming a span scheme for tags without B-/I- prefixes;
* classification: dev labels that train lacks (`seqtag train` refuses them), no text with tokens.

Everything else is a warning: invalid tag transitions for the scheme (training reads them leniently),
dev tags train lacks, train/dev overlap, duplicated or inconsistently labelled sentences, very long
sentences, rare labels, class imbalance, low embedding coverage. A missing file, a bad option or an
unreadable vector file is not a finding but an :class:`InputError`, as everywhere.

What differs between tasks (how records are read, what they are called, the tag scheme, the task's own
label checks) comes from the task class, :func:`seqtag.tasks.task_class`.

Files are streamed; what is kept per sentence is its length and two hashes (for duplicates and overlap).
"""
from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seqtag.config import DataConfig
from seqtag.errors import InputError

if TYPE_CHECKING:
    from seqtag.tasks.base import Model

SECTIONS = ("train", "dev", "labels", "train/dev", "embeddings", "label errors")  # report order
RARE = 5  # a label seen fewer times in train is rare
LOW_COVERAGE = 0.5  # share of train tokens without a vector (lookup chain) that earns a warning
SHOWN = 5  # cases listed per finding
_PREVIEW = 60  # characters of a sentence quoted in a finding

Record = tuple[int, list[str], list[str]]  # (line, tokens, labels): a sentence's tags or a text's one label


@dataclass(frozen=True)
class Finding:
    """One line of the report; ``details`` list a few cases (``file:line: …``)."""

    level: str  # ok | warning | error
    section: str
    message: str
    details: tuple[str, ...] = ()


@dataclass
class Report:
    """What :func:`check_data` found; ``stats`` holds per-file counts, label counts and length distributions."""

    task: str  # tag | classify
    files: dict[str, str]  # role (train, dev, embeddings) -> path
    stats: dict[str, Any]
    findings: list[Finding] = field(default_factory=list)

    def count(self, level: str) -> int:
        return sum(f.level == level for f in self.findings)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able: task, files, stats, findings, and the number of errors and warnings."""
        return {
            "task": self.task, "files": self.files, "stats": self.stats,
            "findings": [asdict(f) | {"details": list(f.details)} for f in self.findings],
            "errors": self.count("error"), "warnings": self.count("warning"),
        }


@dataclass
class _Cases:
    """How often something happened, and the first few descriptions of it."""

    count: int = 0
    shown: list[str] = field(default_factory=list)

    def add(self, describe: Callable[[], str]) -> None:
        self.count += 1
        if len(self.shown) < SHOWN:
            self.shown.append(describe())


@dataclass
class _Scan:
    """What one pass over a data file found."""

    name: str
    items: int = 0
    lengths: list[int] = field(default_factory=list)
    words: Counter[str] = field(default_factory=Counter)
    labels: Counter[str] = field(default_factory=Counter)
    types: Counter[str] = field(default_factory=Counter)  # entity types, for span schemes
    seen: dict[int, tuple[int, int]] = field(default_factory=dict)  # hash(tokens) -> (line, hash(labels))
    duplicates: _Cases = field(default_factory=_Cases)
    conflicts: _Cases = field(default_factory=_Cases)  # duplicates labelled differently
    overlap: _Cases = field(default_factory=_Cases)  # also in the reference (train) file
    invalid: _Cases = field(default_factory=_Cases)  # tag transitions the scheme forbids
    long: _Cases = field(default_factory=_Cases)
    empty: _Cases = field(default_factory=_Cases)  # texts without tokens


def check_data(
    train: str | Path,
    dev: str | Path | None = None,
    embeddings: str | Path | None = None,
    *,
    data_config: DataConfig = DataConfig(),
    task: str = "auto",
    max_length: int | None = None,
    embedding_cache: bool = True,
) -> Report:
    """Check ``train`` (and ``dev``, and the coverage of ``embeddings``) read with ``data_config``.

    ``task`` is a task name (``tag``, ``classify``) or ``auto`` (guessed as `seqtag train` guesses it).
    Sentences or texts longer than ``max_length`` tokens (default: the task class's ``long_after``) are reported.
    """
    from seqtag.tasks import task_class

    for path in (train, dev):
        if path is not None and not Path(path).is_file() and not Path(path).is_dir():  # a folder: brat standoff
            # A pipe would be empty on the second pass (the scheme is detected first).
            raise InputError("no such file" if not Path(path).exists() else "not a regular file", path)
    if task == "auto":
        task = guess_task(Path(train), data_config)
    kind = task_class(task)
    limit = max_length or kind.long_after
    files = {"train": str(train)} | ({"dev": str(dev)} if dev is not None else {})
    report = Report(task, files | ({"embeddings": str(embeddings)} if embeddings is not None else {}), {})
    scheme = _scheme(kind, str(train), data_config, report)

    def read(path: str) -> Iterator[Record]:
        return kind.check_records(path, data_config)

    scans: dict[str, _Scan | None] = {}
    for role, path in files.items():
        reference = scans.get("train")
        scans[role] = _scan(role, path, read, kind, scheme, limit, reference, report)
    train_scan, dev_scan = scans["train"], scans.get("dev")
    if train_scan is not None:
        _check_labels(kind, train_scan, dev_scan, report)
        if dev_scan is not None:
            _check_overlap(dev_scan, kind.unit, report)
        if embeddings is not None:
            _check_embeddings(embeddings, train_scan, dev_scan, embedding_cache, report)
    report.findings.sort(key=lambda finding: SECTIONS.index(finding.section))  # stable: keeps the order within one
    return report


def guess_task(train: Path, data_config: DataConfig) -> str:
    """The task of the data: from the input format when it says, else as `seqtag train` guesses."""
    from seqtag.formats.registry import detect_task

    return detect_task(train, data_config.encoding, data_config.input_format)


def _scheme(kind: type[Model], train: str, data_config: DataConfig, report: Report) -> str:
    """The label scheme training would use (the task class's ``check_scheme``), with its findings;
    ``plain`` (labels without structure) when there is none."""
    scheme, findings = kind.check_scheme(train, data_config)
    if scheme is not None:
        report.stats["scheme"] = scheme
    report.findings += [Finding(level, "labels", message) for level, message in findings]
    return scheme or "plain"


def _scan(
    role: str,
    path: str,
    read: Callable[[str], Iterator[Record]],
    kind: type[Model],
    scheme: str,
    limit: int,
    reference: _Scan | None,
    report: Report,
) -> _Scan | None:
    """One pass over ``path``: statistics and per-file findings; None when the reader rejects the file."""
    from seqtag.data.schemes import is_valid, spans

    scan = _Scan(path)
    unit = kind.unit
    chunked = scheme != "plain"  # labels that chain into spans (B-/I- tags)
    try:
        for line, tokens, labels in read(path):
            scan.items += 1
            scan.lengths.append(len(tokens))
            scan.words.update(tokens)
            scan.labels.update(labels)
            if chunked:
                scan.types.update(kind for kind, _, _ in spans(labels, scheme))
                for position in is_valid(labels, scheme):
                    scan.invalid.add(lambda: _transition(path, line, labels, position))
            if not tokens:
                scan.empty.add(lambda: f"{path}:{line}")
            if len(tokens) > limit:
                scan.long.add(lambda: f"{path}:{line}: {len(tokens):,} tokens")
            _note_repeats(scan, reference, path, line, tokens, labels)
    except InputError as error:
        report.findings.append(Finding("error", role, f"{error}; the other checks of this file are skipped"))
        return None

    lengths = sorted(scan.lengths)
    distribution = {
        "min": lengths[0], "median": statistics.median(lengths),
        "p95": lengths[max(0, math.ceil(0.95 * len(lengths)) - 1)], "max": lengths[-1],
    }
    tokens = sum(lengths)
    report.stats[role] = {
        "path": path, f"{unit}s": scan.items, "tokens": tokens, "words": len(scan.words), "length": distribution,
        "labels": dict(scan.labels.most_common()),
    } | ({"entity_types": dict(scan.types.most_common())} if chunked else {})
    add = report.findings.append
    add(Finding("ok", role, f"{path}: {_plural(scan.items, unit)}, {_plural(tokens, 'token')}, "
                            f"{_plural(len(scan.words), 'distinct word')}"))
    add(Finding("ok", role, f"{unit} length: min {distribution['min']}, median {distribution['median']:g}, "
                            f"p95 {distribution['p95']}, max {distribution['max']} tokens"))
    if scan.long.count:
        add(_cases("warning", role, scan.long, unit, f"longer than {limit} tokens (--max-length){kind.long_hint}"))
    if scan.empty.count:
        add(_cases("warning", role, scan.empty, unit, "without tokens; training skips them"))
    if chunked:
        if scan.invalid.count:
            add(_cases("warning", role, scan.invalid, "tag transition", f"invalid in {scheme} (training reads them "
                                                                       "leniently: an I- after O starts an entity)"))
        else:
            add(Finding("ok", role, f"every tag sequence is valid {scheme}"))
    if scan.duplicates.count:
        share = scan.duplicates.count / scan.items
        add(_cases("warning", role, scan.duplicates, f"duplicated {unit}", f"({share:.1%}), each repeating an earlier one"))
        if scan.conflicts.count:
            add(_cases("warning", role, scan.conflicts, f"duplicated {unit}", "labelled differently from the first copy"))
    else:
        add(Finding("ok", role, f"no duplicated {unit}s"))
    return scan


def _note_repeats(scan: _Scan, reference: _Scan | None, path: str, line: int, tokens: list[str], labels: list[str]) -> None:
    """Record duplicates within the file, conflicting labels, and overlap with the reference file."""
    key, labelled = hash(tuple(tokens)), hash(tuple(labels))
    if reference is not None and key in reference.seen:
        first = reference.seen[key][0]
        scan.overlap.add(lambda: f"{path}:{line} = {reference.name}:{first}: {_preview(tokens)}")
    earlier = scan.seen.get(key)
    if earlier is None:
        scan.seen[key] = (line, labelled)
        return
    scan.duplicates.add(lambda: f"{path}:{line} repeats line {earlier[0]}: {_preview(tokens)}")
    if earlier[1] != labelled:
        scan.conflicts.add(lambda: f"{path}:{line} and line {earlier[0]}: {_preview(tokens)}")


def _check_labels(kind: type[Model], train: _Scan, dev: _Scan | None, report: Report) -> None:
    add = report.findings.append
    counted = train.types if train.types else train.labels
    what = "entity type" if train.types else kind.label_noun
    if len(train.labels) < 2:
        only = next(iter(train.labels), "none")
        add(Finding("error", "labels", f"only one label in train ({only}): there is nothing to learn"))
        return
    add(Finding("ok", "labels", f"{_plural(len(counted), what)} in train: {_counts(counted)}"))
    rare = {label: n for label, n in counted.items() if n < RARE}
    if rare:
        add(Finding("warning", "labels", f"{_plural(len(rare), what)} seen fewer than {RARE} times in train: {_counts(rare)}"))
    for level, message in kind.check_labels(counted, train.items, train.empty.count):
        add(Finding(level, "labels", message))
    if dev is None:
        return
    unseen = Counter({label: n for label, n in (dev.types if train.types else dev.labels).items() if label not in counted})
    if unseen:
        level, message = kind.check_unseen_labels(what, _counts(unseen))
        add(Finding(level, "labels", message))
    else:
        add(Finding("ok", "labels", f"every dev {what} occurs in train"))


def _check_overlap(dev: _Scan, unit: str, report: Report) -> None:
    if dev.overlap.count:
        share = dev.overlap.count / dev.items
        report.findings.append(_cases("warning", "train/dev", dev.overlap, f"dev {unit}",
                                      f"({share:.1%}) also in train: dev scores overrate the model"))
    else:
        report.findings.append(Finding("ok", "train/dev", f"no dev {unit} occurs in train"))


def _check_embeddings(path: str | Path, train: _Scan, dev: _Scan | None, cache: bool, report: Report) -> None:
    from seqtag.vectors.pretrained import load_vectors
    from seqtag.data.vocab import chain_coverage

    vectors = load_vectors(path, cache=cache)
    found, missed = chain_coverage(train.words, vectors.index)
    missing = Counter(missed)
    tokens, types = sum(train.words.values()), len(train.words)
    coverage = {level: {"tokens": t / tokens, "types": y / types} for level, (t, y) in found.items()}
    report.stats["embeddings"] = {"path": str(path), "vectors": len(vectors.words), "dim": vectors.dim,
                                  "train_coverage": coverage}
    add = report.findings.append
    add(Finding("ok", "embeddings", f"{path}: {len(vectors.words):,} vectors of {vectors.dim} dimensions"))
    shares = [f"{c['tokens']:.1%}" for c in coverage.values()]
    type_shares = ", ".join(f"{c['types']:.1%}" for c in coverage.values())
    low = coverage["chain"]["tokens"] < LOW_COVERAGE
    message = (f"vectors for train tokens: exact {shares[0]}, with lowercase {shares[1]}, with digits as 0 "
               f"{shares[2]} (types: {type_shares})")
    if low:
        message += "; low: are these vectors for this language and casing?"
    details = (f"most frequent words without a vector: {_counts(missing, 10)}",) if missing else ()
    add(Finding("warning" if low else "ok", "embeddings", message, details))
    if dev is not None:
        new = Counter({w: n for w, n in dev.words.items() if w not in train.words})
        if new:
            covered = sum(n for w, n in new.items() if vectors.find(w) is not None)
            share = sum(new.values()) / sum(dev.words.values())
            add(Finding("ok", "embeddings", f"{share:.1%} of dev tokens are not in train; the vectors cover "
                                            f"{covered / sum(new.values()):.1%} of those"))


def _cases(level: str, section: str, cases: _Cases, noun: str, rest: str) -> Finding:
    return Finding(level, section, f"{_plural(cases.count, noun)} {rest}", tuple(cases.shown))


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _transition(path: str, line: int, tags: list[str], position: int) -> str:
    """``file:line: from → to`` for the invalid step into ``position`` (``len(tags)``: the end)."""
    before = tags[position - 1] if position else "start"
    after = tags[position] if position < len(tags) else "end"
    return f"{path}:{line + min(position, len(tags) - 1)}: {before} → {after}"


def _preview(tokens: list[str]) -> str:
    text = " ".join(tokens)
    return text if len(text) <= _PREVIEW else text[: _PREVIEW - 1] + "…"


def _counts(counts: Counter[str] | dict[str, int], most: int = 12) -> str:
    """``A (3), B (1)`` for the ``most`` largest counts (then ``…``)."""
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    shown = ", ".join(f"{label} ({n:,})" for label, n in ranked[:most])
    return shown + (f", … ({len(ranked) - most} more)" if len(ranked) > most else "")


# ---------------------------------------------------------------------------- label errors


def find_label_errors(
    train: str | Path,
    *,
    folds: int = 5,
    settings: dict[str, Any] | None = None,
    embeddings: str | Path | None = None,
    task: str = "auto",
    embedding_cache: bool = True,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Labels of ``train`` that models trained without them confidently dispute (cross-validation): ``folds``
    models, each trained with ``settings`` (as ``seqtag.train`` takes them; default settings otherwise) on
    the other folds, a tenth of which serves as dev data (early stopping, thresholds), predict the held-out
    fold; the task then ranks the disputed labels (``label_issues``: cleanlab's ``find_label_issues`` on the
    out-of-fold probabilities for classifiers, span marginals for taggers). Returns ``{"folds", "records",
    "seconds", "issues": [{line, text, gold, suggested, gold_probability, suggested_probability, score}]}``,
    most likely errors first; ``log`` hears of each fold."""
    import dataclasses
    import random
    import time

    from seqtag.config import SETTINGS, build_configs, check_value
    from seqtag.tasks import task_class
    from seqtag.tasks.base import TrainingData
    from seqtag.training.train import train_model

    started = time.perf_counter()
    merged = {key: check_value(key, value, SETTINGS[key].option if key in SETTINGS else key)
              for key, value in (settings or {}).items()}
    if task == "auto":
        task = merged.get("task", "auto")
    if task == "auto":
        from seqtag.formats.registry import detect_task

        task = detect_task(Path(train), merged.get("encoding", "utf-8"), merged.get("input_format", "auto"))
    merged["task"] = task
    data_config, model_config, train_config = build_configs(merged)
    kind = task_class(merged["task"])
    # train read twice: as training data and as "dev", so that dev_gold[i] is the scored gold of train[i]
    data = kind.training_data(Path(train), Path(train), data_config, model_config)
    count = len(data.train)
    if not 2 <= folds <= count:
        raise InputError(f"must be between 2 and the number of {kind.unit}s ({count:,}), got {folds}", "--folds")
    order = list(range(count))
    random.Random(train_config.seed).shuffle(order)
    parts = [sorted(order[k::folds]) for k in range(folds)]
    evidence: list[Any] = [None] * count
    for k, held in enumerate(parts):
        held_set = set(held)
        rest = [i for i in order if i not in held_set]
        dev = rest[: max(1, len(rest) // 10)]
        fit = sorted(rest[len(dev):])
        subset = TrainingData(
            [data.train[i] for i in fit], [data.dev[i] for i in dev], [data.targets[i] for i in fit],
            [data.dev_gold[i] for i in dev], data.labels, data.summary, data.state, data.meta,
        )
        if log is not None:
            log(f"fold {k + 1} of {folds}: training on {len(fit):,} {kind.unit}s (dev {len(dev):,}), "
                f"predicting {len(held):,}")
        model, _ = train_model(Path(train), None, Path(embeddings) if embeddings is not None else None, data_config,
                               model_config, dataclasses.replace(train_config, seed=train_config.seed + k),
                               embedding_cache=embedding_cache, data=subset)
        for i, said in zip(held, model.held_out([data.train[i] for i in held], [data.targets[i] for i in held])):
            evidence[i] = said
    issues = kind.label_issues(data.train, data.targets, evidence, data.labels.items)
    return {"task": merged["task"], "folds": folds, "records": count, "seconds": time.perf_counter() - started,
            "issues": issues}


def label_error_finding(found: dict[str, Any], path: str, noun: str, shown: int) -> Finding:
    """The report's finding for :func:`find_label_errors`' result: the ``shown`` most likely errors as
    ``file:line: gold → suggested (probabilities): text``."""
    issues = found["issues"]

    def probability(p: float | None) -> str:
        return "-" if p is None else f"{p:.2f}"

    details = tuple(
        f"{path}:{issue['line']}: {issue['gold']} → {issue['suggested']} (p {probability(issue['gold_probability'])} → "
        f"{probability(issue['suggested_probability'])}): {_preview_text(issue['text'])}"
        for issue in issues[:shown]
    ) + ((f"… {len(issues) - shown:,} more (--top, or --format json for all)",) if len(issues) > shown else ())
    message = (f"{_plural(len(issues), noun)} that models trained without them dispute ({found['folds']}-fold "
               f"cross-validation, {found['seconds']:.0f} s), most likely errors first")
    return Finding("warning" if issues else "ok", "label errors",
                   message if issues else f"no {noun} disputed ({found['folds']}-fold cross-validation)", details)


def _preview_text(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
