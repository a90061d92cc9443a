"""``POST /api/v1/feedback``: store ground truth, joined to the prediction log by request id.

The REST twin of ``shipyard feedback load``. The labels come either as JSON records or
as an uploaded CSV or Parquet file (a multipart form), with the same options; the reply
is the :class:`~shipyard.predictions.FeedbackReceipt` saying what was stored, matched,
replaced and rejected.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from shipyard.api._deps import FeedbackDep
from shipyard.api.errors import responses
from shipyard.api.schemas import NO_NUL
from shipyard.api.uploads import read_table, save
from shipyard.errors import InvalidInputError
from shipyard.predictions import FeedbackReceipt, FeedbackStore

router = APIRouter(tags=["feedback"], responses=responses(400, 422))

Column = Annotated[str, Field(min_length=1, max_length=256, pattern=NO_NUL)]


class FeedbackOptions(BaseModel):
    """Which columns hold what, as ``shipyard feedback load`` takes them."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    id_column: Column = "request_id"
    """Column holding the request id."""
    label_column: Column = "label"
    """Column holding the label."""
    row_column: Column | None = None
    """Column holding the row within a multi-row request (default: every label belongs to
    row 0, a single-row request)."""
    source: Annotated[str, Field(max_length=1000, pattern=NO_NUL)] | None = None
    """Recorded with each label (default: the file's name, or ``api`` for records)."""


class FeedbackRecords(FeedbackOptions):
    """Labels as JSON records, one object per row."""

    records: Annotated[list[dict[str, Any]], Field(max_length=1_000_000)]
    """E.g. ``[{"request_id": "…", "label": 1}]``."""


_FORM = {
    "type": "object",
    "required": ["file"],
    "properties": {
        "file": {
            "type": "string",
            "format": "binary",
            "description": "A .csv or .parquet file of labels.",
        },
        **{
            field: {"type": "string", "description": info.description or ""}
            for field, info in FeedbackOptions.model_fields.items()
        },
    },
}


@router.post(
    "/feedback",
    response_model=FeedbackReceipt,
    summary="Store feedback labels (JSON records or a CSV/Parquet upload)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": FeedbackRecords.model_json_schema()},
                "multipart/form-data": {"schema": _FORM},
            },
        }
    },
)
async def add_feedback(request: Request, store: FeedbackDep) -> FeedbackReceipt:
    """Store labels, each for a request id (and row) of the prediction log, and report
    what was stored, matched to logged predictions, replaced, and rejected. Send JSON
    ``{"records": [...], "id_column": …}``, or a multipart form with ``file`` and the
    same fields."""
    kind = request.headers.get("content-type", "application/json").split(";")[0].strip()
    if kind == "multipart/form-data":
        return await _upload(request, store)
    if kind != "application/json":
        raise InvalidInputError(
            f"Content-Type {kind!r} is not accepted; send application/json records or a "
            "multipart/form-data upload with a file field"
        )
    try:
        body = FeedbackRecords.model_validate_json(await request.body())
    except ValidationError as exc:
        raise _invalid(exc) from None
    return await run_in_threadpool(
        store.add,
        body.records,
        id_column=body.id_column,
        label_column=body.label_column,
        row_column=body.row_column,
        source=body.source if body.source is not None else "api",
    )


async def _upload(request: Request, store: FeedbackStore) -> FeedbackReceipt:
    async with request.form(max_files=1, max_fields=10) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInputError(
                "file: the form has no file field; upload a .csv or .parquet file of labels "
                "as the form field named file"
            )
        fields: dict[str, Any] = {}
        for key, value in form.multi_items():
            if key == "file":
                continue
            if not isinstance(value, str):
                raise InvalidInputError(f"{key}: send it as a text field, not a file")
            fields[key] = value or None
        try:
            options = FeedbackOptions.model_validate(fields)
        except ValidationError as exc:
            raise _invalid(exc) from None
        return await run_in_threadpool(_store_file, store, upload, options)


def _invalid(exc: ValidationError) -> RequestValidationError:
    """A body that failed validation, reported as FastAPI reports its own bodies."""
    return RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()])


def _store_file(
    store: FeedbackStore, upload: UploadFile, options: FeedbackOptions
) -> FeedbackReceipt:
    with tempfile.TemporaryDirectory(prefix="shipyard-feedback-") as tmp:
        path = save(upload, Path(tmp), "feedback")
        frame: pd.DataFrame = read_table(path, "file", what="labels", text=[options.id_column])
    return store.add(
        frame,
        id_column=options.id_column,
        label_column=options.label_column,
        row_column=options.row_column,
        source=options.source if options.source is not None else path.name,
    )
