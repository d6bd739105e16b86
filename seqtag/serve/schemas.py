"""Pydantic models that document the request and response formats in the OpenAPI schema (/docs,
/openapi.json). Requests are parsed and checked by :mod:`seqtag.serve.service`, not through these models, so
that every error names the field that is wrong (see :func:`body`)."""
from __future__ import annotations

from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"texts": ["John Smith flew from Berlin to New York."], "confidence": True},
                     {"model": "ner", "tokens": [["John", "Smith", "flew", "to", "Berlin", "."]]}]})

    model: Optional[str] = Field(None, description="A served model's name (GET /v1/models); default: the first.")
    texts: Optional[list[str]] = Field(None, description="Raw texts, tokenized (and for taggers sentence-split) by "
                                       "syntok. Give texts or tokens.")
    tokens: Optional[list[list[str]]] = Field(None, description="Pre-tokenized sentences or texts.")
    confidence: bool = Field(False, description="Taggers: tag_probs per token and a confidence per span (CRF "
                             "posteriors); classifiers: the label's probability as confidence.")
    nbest: Optional[int] = Field(None, ge=1, description="The K most probable tag sequences or labels.")
    top_k: Optional[int] = Field(None, ge=1, description="Classifiers: keep the K most probable classes.")
    min_confidence: Optional[float] = Field(None, gt=0, le=1, description="Entity taggers: also every entity whose "
                                            "probability is at least this, overlapping ones included (candidates); "
                                            "multi-label classifiers: the labels' threshold.")


class PredictResponse(BaseModel):
    model: str = Field(description="The model that answered.")
    task: str = Field(description="tag or classify")
    records: list[dict[str, Any]] = Field(description="What `seqtag predict --format jsonl` writes for the texts "
                                          "as lines of a file: per sentence {line, tokens, tags, spans, …} (taggers), "
                                          "per text {line, label, probabilities, …} (classifiers); line = the text's "
                                          "1-based number in the request.")


class Error(BaseModel):
    error: str = Field(description="What is wrong, in one line.")
    status: int


class ModelInfo(BaseModel):
    name: str
    task: str
    default: bool
    version: str
    info: dict[str, Any] = Field(description="What `seqtag info --format json` says about the model file.")


class Models(BaseModel):
    models: list[ModelInfo]


class Health(BaseModel):
    status: str
    version: str
    uptime_s: float
    worker: int = Field(description="The worker process that answered, from 1.")
    workers: int = Field(description="Worker processes of the server (`seqtag serve --workers`).")
    models: dict[str, dict[str, Any]]
    limits: dict[str, Any]


class LabelStudioTask(BaseModel):
    id: Optional[int] = None
    data: dict[str, Any] = Field(description='The task\'s data; the text under the key the label config names ("text").')


class LabelStudioRequest(BaseModel):
    tasks: list[LabelStudioTask]
    label_config: Optional[str] = Field(None, description="The project's labelling config (XML).")
    project: Optional[str] = None
    params: Optional[dict[str, Any]] = None


class LabelStudioResponse(BaseModel):
    results: list[dict[str, Any]] = Field(description="Per task: {result: [regions], score, model_version}.")
    model_version: str


class DoccanoRequest(BaseModel):
    text: str


class DoccanoLabel(BaseModel):
    label: str
    start_offset: Optional[int] = None
    end_offset: Optional[int] = None


DoccanoResponse = list[DoccanoLabel]  # a bare JSON array, doccano's own format


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": Error, "description": what}
    for status, what in [(400, "malformed JSON"), (404, "unknown model"), (408, "the body came too slowly"),
                         (413, "over a size limit"), (415, "not JSON"), (422, "a field is wrong")]
}


def body(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` documenting a JSON request body of ``model``'s shape (with no validation by FastAPI)."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    definitions = schema.pop("$defs", {})
    if definitions:  # inline nested models: they need no entry in the schema's components
        schema = _inline(schema, definitions)
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def _inline(node: Any, definitions: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            return _inline(definitions[ref.rsplit("/", 1)[1]], definitions)
        return {key: _inline(value, definitions) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline(value, definitions) for value in node]
    return node
