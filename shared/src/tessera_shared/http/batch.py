"""Batch upsert and batch read (``POST /v1/{resource}/batch/upsert|read``): the shapes every service
shares, and the per-input answer.

An upsert names how its inputs find their records (``id_property``: ``external_id``, ``email`` or
``id``) and carries 1 to 1,000 inputs, each validated and applied on its own. The answer lists,
per input index, ``created`` / ``updated`` / ``unchanged`` with the record's id, or ``error`` with
an RFC 9457 problem whose fields are named as the client sent them (``inputs[3].email``). ``200``
when every input succeeded, ``207`` otherwise. A batch read takes up to 1,000 ids and answers the
records the caller may see; the others (missing, or not the caller's) are listed in ``not_found``
alike, so that nothing about a hidden record leaks.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any, Generic, Literal, TypeVar

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tessera_shared.errors import DomainError, InvalidInput, field_error, invalid_input_detail
from tessera_shared.http.errors import TYPE_PREFIX, validation_errors

MAX_BATCH = 1000
IdProperty = Literal["external_id", "email", "id"]
Status = Literal["created", "updated", "unchanged", "error"]
T = TypeVar("T")


class BatchUpsert(BaseModel):
    """Up to 1,000 inputs, each a record's fields plus the key ``id_property`` names."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"id_property": "external_id", "inputs": [{"external_id": "crm-1", "name": "Ada"}]}]
        },
    )

    id_property: IdProperty
    inputs: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_BATCH)


class BatchRead(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[uuid.UUID] = Field(min_length=1, max_length=MAX_BATCH)


class ItemProblem(BaseModel):
    """An RFC 9457 problem for one input (the same members a single write's problem has)."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str | None = None


class BatchItem(BaseModel):
    index: int
    status: Status
    id: uuid.UUID | None = None
    problem: ItemProblem | None = None


class BatchUpsertResult(BaseModel):
    succeeded: int
    failed: int
    results: list[BatchItem]


class BatchReadResult(BaseModel, Generic[T]):
    items: list[T]
    not_found: list[uuid.UUID]


def field_name(index: int, field: str) -> str:
    """``email`` of input 3 -> ``inputs[3].email`` (``body`` -> ``inputs[3]``)."""
    return f"inputs[{index}]" if field in ("", "body") else f"inputs[{index}].{field}"


def _renamed(index: int, errors: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**e, "field": field_name(index, e["field"]), "location": "body"} for e in errors]


def problem_of(index: int, exc: Exception) -> ItemProblem:
    """The problem one input's failure makes: a schema error, or a domain error raised applying it."""
    if isinstance(exc, ValidationError):
        errors = _renamed(index, _pydantic_errors(exc))
        return ItemProblem(
            type=TYPE_PREFIX + "validation-error",
            title="Unprocessable Entity",
            status=422,
            detail=invalid_input_detail(e["field"] for e in errors),
            errors=errors,
        )
    if isinstance(exc, InvalidInput):
        errors = _renamed(index, exc.errors)
        return ItemProblem(
            type=TYPE_PREFIX + "validation-error",
            title="Unprocessable Entity",
            status=422,
            detail=invalid_input_detail(e["field"] for e in errors),
            errors=errors,
        )
    if isinstance(exc, DomainError):
        return ItemProblem(
            type=TYPE_PREFIX + exc.problem_slug(),
            title=HTTPStatus(exc.status).phrase,
            status=exc.status,
            detail=exc.detail,
            **exc.members(),
        )
    raise exc


def _pydantic_errors(exc: ValidationError) -> list[dict[str, Any]]:
    # Locations as FastAPI's own body errors (``("body", *loc)``): one wording for every 422.
    wrapped = RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()])
    return validation_errors(wrapped)


def invalid(index: int, field: str, message: str) -> ItemProblem:
    return problem_of(index, InvalidInput(field, message))


class Outcomes:
    """The per-index answer of one batch, filled as inputs are decided."""

    def __init__(self, size: int) -> None:
        self._items: list[BatchItem | None] = [None] * size

    def ok(self, index: int, status: Status, record_id: uuid.UUID) -> None:
        self._items[index] = BatchItem(index=index, status=status, id=record_id)

    def fail(self, index: int, problem: ItemProblem | Exception, record_id: uuid.UUID | None = None) -> None:
        if isinstance(problem, Exception):
            problem = problem_of(index, problem)
        self._items[index] = BatchItem(index=index, status="error", id=record_id, problem=problem)

    def decided(self, index: int) -> bool:
        return self._items[index] is not None

    def pending(self) -> list[int]:
        return [i for i, item in enumerate(self._items) if item is None]

    def result(self) -> tuple[int, BatchUpsertResult]:
        items = [item for item in self._items if item is not None]
        if len(items) != len(self._items):
            raise RuntimeError(f"inputs left undecided: {self.pending()}")
        failed = sum(1 for item in items if item.status == "error")
        result = BatchUpsertResult(succeeded=len(items) - failed, failed=failed, results=items)
        return (200 if failed == 0 else 207), result


def key_of(index: int, record: dict[str, Any], id_property: str, outcomes: Outcomes) -> Any:
    """The key an input names (``id`` parsed as a UUID); a missing or malformed one fails the input."""
    value = record.get(id_property)
    if value is None or (isinstance(value, str) and not value.strip()):
        outcomes.fail(index, invalid(index, id_property, f"required: the batch finds records by {id_property}"))
        return None
    if id_property == "id":
        try:
            return uuid.UUID(str(value))
        except ValueError:
            outcomes.fail(index, invalid(index, "id", "must be a UUID"))
            return None
    if not isinstance(value, str):
        outcomes.fail(index, invalid(index, id_property, "must be a string"))
        return None
    return value.strip().lower() if id_property == "email" else value


def first_of_each(
    keys: dict[int, Any], outcomes: Outcomes, id_property: str, normalise: Callable[[Any], Any] = lambda k: k
) -> dict[int, Any]:
    """Each key once: a later input naming a key an earlier one named fails (the batch would
    otherwise write one record twice in one answer)."""
    first: dict[Any, int] = {}
    kept: dict[int, Any] = {}
    for index, key in keys.items():
        seen = first.setdefault(normalise(key), index)
        if seen != index:
            outcomes.fail(index, invalid(index, id_property, f"names the same record as inputs[{seen}]"))
        else:
            kept[index] = key
    return kept


def check_given_id(record: dict[str, Any], found: uuid.UUID | None, resource: str) -> None:
    """An input's ``id`` when the batch finds records by another property: it may repeat the id of
    the record found (a record read and written back), but not name another one, and a new
    record's id is the service's to assign: either is the input's 422 naming ``id``, never a
    value silently dropped."""
    if "id" not in record:
        return
    if found is None:
        raise InvalidInput("id", f"a new {resource}'s id is assigned by the service: leave id out")
    try:
        same = uuid.UUID(str(record["id"])) == found
    except ValueError:
        same = False
    if not same:
        raise InvalidInput("id", f"names another {resource} than the one this input found")


def without(record: dict[str, Any], *fields: str) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in fields}


def unsupported_id_property(id_property: str, resource: str, supported: Iterable[str]) -> InvalidInput:
    return InvalidInput.of(
        [field_error("id_property", f"{resource} are not found by {id_property}; use one of {', '.join(supported)}")]
    )
