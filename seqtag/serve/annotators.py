"""Pre-annotation for annotation tools, over the records of /v1/predict.

**Label Studio** (its ML backend protocol): ``POST /predict`` with ``{"tasks": [{"id", "data": {"text"}}],
"label_config"?, "project"?, "params"?}`` answers ``{"results": [{"result": [...], "score", "model_version"}],
"model_version"}``, one prediction per task, in order. A tagger's entities become ``labels`` regions
(``value.start/end/text/labels``, ``score`` = the entity's CRF probability); a classifier's label a
``choices`` region. ``from_name`` / ``to_name`` and the task's data key come from the project's
``label_config`` (the first ``<Labels>`` or ``<Choices>`` tag and the object it points to); without one,
``label`` / ``text`` / ``$text``. The prediction's ``score`` is the mean token confidence (taggers) or the
label's probability (classifiers).

**Doccano** (its "Custom REST Request" auto-labelling template): ``POST /doccano`` with ``{"text": …}``
answers doccano's own format, ``[{"label", "start_offset", "end_offset"}]`` for entities or ``[{"label"}]``
for a class, so its mapping template is ``{{ input | tojson }}``.
"""
from __future__ import annotations

from typing import Any
from xml.etree import ElementTree

from seqtag.serve.limits import Limits
from seqtag.serve.service import ApiError, Query, Served, _kind, check_count, check_object, check_text

LABEL_STUDIO_FIELDS = ("tasks", "label_config", "project", "params", "model_version", "login", "password",
                       "context", "force_reload", "try_fetch")


class Where:
    """Where Label Studio wants the predictions: control (``from_name``), object (``to_name``), data key."""

    def __init__(self, from_name: str = "label", to_name: str = "text", key: str = "text", kind: str = "labels") -> None:
        self.from_name, self.to_name, self.key, self.kind = from_name, to_name, key, kind


def _where(label_config: Any, model: Served) -> Where:
    """The project's ``<Labels>`` (taggers) or ``<Choices>`` (classifiers) tag and its text object."""
    control, kind = ("Choices", "choices") if model.task == "classify" else ("Labels", "labels")
    if label_config is None:
        return Where(kind=kind)
    if not isinstance(label_config, str):
        raise ApiError(422, f"label_config: expected the project's labelling config (an XML string), got {_kind(label_config)}")
    try:
        root = ElementTree.fromstring(label_config)
    except ElementTree.ParseError as error:
        raise ApiError(422, f"label_config is not valid XML: {error}") from None
    tags = [element for element in root.iter() if element.tag == control]
    if not tags:
        raise ApiError(422, f"label_config has no <{control}> tag, which a {model.task} model needs "
                            f"(model {model.name!r} is a {'classifier' if kind == 'choices' else 'tagger'})")
    found = tags[0]
    from_name, to_name = found.get("name"), found.get("toName")
    if not from_name or not to_name:
        raise ApiError(422, f"label_config: the <{control}> tag needs name and toName attributes")
    target = next((element for element in root.iter() if element.get("name") == to_name), None)
    value = target.get("value", "") if target is not None else ""
    if not value.startswith("$") or len(value) < 2:
        raise ApiError(422, f"label_config: no object tag named {to_name!r} with value=\"$key\" (such as "
                            "<Text name=\"text\" value=\"$text\"/>)")
    return Where(from_name, to_name, value[1:], kind)


def labelstudio_request(data: Any, model: Served, limits: Limits) -> tuple[list[str], Where]:
    """The texts of a Label Studio /predict body (``""`` where a task's text is empty), and where the
    answers go; a 4xx ApiError saying what is wrong."""
    data = check_object(data, LABEL_STUDIO_FIELDS, '{"tasks": [{"id": 1, "data": {"text": "John lives in Berlin."}}]}')
    if model.task == "tag" and str(model.info.get("tag_scheme", "")).startswith("plain"):
        raise ApiError(422, f"model {model.name!r} tags tokens with plain tags (no entities); Label Studio "
                            "pre-annotation serves entity taggers and classifiers")
    where = _where(data.get("label_config"), model)
    texts = []
    for i, task in enumerate(check_count(data.get("tasks"), "tasks", limits, "task")):
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            raise ApiError(422, f"tasks[{i}]: expected a task such as {{\"id\": 1, \"data\": {{\"{where.key}\": \"…\"}}}}, "
                                f"got {_kind(task) if not isinstance(task, dict) else 'no data object'}")
        if where.key not in task["data"]:
            raise ApiError(422, f"tasks[{i}].data has no {where.key!r} (the key the label config's ${where.key} names)")
        text = task["data"][where.key]
        if isinstance(text, str) and not text.strip() and len(text) <= limits.max_chars:
            texts.append("")  # nothing to annotate: an empty prediction
            continue
        texts.append(check_text(text, f"tasks[{i}].data.{where.key}", limits))
    return texts, where


def query_of(texts: list[str], model: Served) -> Query:
    """The /v1/predict query behind an annotation tool's request: confidences on, for scores."""
    return Query(texts, None, confidence=True)


def labelstudio_response(texts: list[str], found: list[dict], where: Where, model: Served) -> dict:
    """One Label Studio prediction per task (``texts`` in order; ``found``: the records of the non-empty ones)."""
    by_line: dict[int, list[dict]] = {}
    for record in found:
        by_line.setdefault(record.get("line", 0), []).append(record)
    results, line = [], 0
    for text in texts:
        if not text:
            results.append({"result": [], "score": 0.0, "model_version": model.version})
            continue
        line += 1
        mine = by_line.get(line, [])
        regions: list[dict] = []
        if where.kind == "choices":
            record = mine[0] if mine else {}
            if record.get("label"):
                regions.append(_region(where, len(regions), {"choices": [record["label"]]}, record.get("confidence")))
            score = record.get("confidence", 0.0)
        else:
            probs = []
            for record in mine:
                probs += record.get("tag_probs") or []
                for span in record.get("spans", []):
                    value = {"start": span["start"], "end": span["end"], "text": span["text"], "labels": [span["type"]]}
                    regions.append(_region(where, len(regions), value, span.get("confidence")))
            score = round(sum(probs) / len(probs), 6) if probs else 0.0
        results.append({"result": regions, "score": score, "model_version": model.version})
    return {"results": results, "model_version": model.version}


def _region(where: Where, n: int, value: dict, score: float | None) -> dict:
    region = {"id": f"seqtag-{n}", "from_name": where.from_name, "to_name": where.to_name, "type": where.kind,
              "value": value, "origin": "prediction"}
    if score is not None:
        region["score"] = score
    return region


def doccano_body(data: Any) -> Any:
    """The text of a Doccano custom REST request body ``{"text": …}``."""
    return check_object(data, ("text",), '{"text": "{{ text }}"}').get("text")


def doccano_text(text: Any, limits: Limits) -> str:
    if text is None:
        raise ApiError(422, 'text is missing: Doccano\'s request body must be {"text": "{{ text }}"} '
                            "(or GET with the parameter text={{ text }})")
    return check_text(text, "text", limits)


def doccano_labels(found: list[dict]) -> list[dict]:
    """Doccano's label format: ``[{"label", "start_offset", "end_offset"}]`` or ``[{"label"}]``."""
    labels = []
    for record in found:
        if "spans" in record:
            labels += [{"label": span["type"], "start_offset": span["start"], "end_offset": span["end"]}
                       for span in record["spans"]]
        elif record.get("label"):
            labels.append({"label": record["label"]})
    return labels
