"""Personal data out of an event, for readers who may not see it (a partner's webhooks).

The contracts mark each field that identifies or describes a person with ``Personal``
(``tessera_shared.events.contracts.types``; ``"x-personal": true`` in the published schema). A
redacted event keeps every key and nulls the value of each marked one, nested models and lists of
them included: a reader still learns *that* a personal field was set or changed (an ``*.updated``
change set names it), never its value. The envelope says so with the extension attribute
``redaction: personal``.
"""

from __future__ import annotations

import types
from functools import cache
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel

import tessera_shared.events.contracts  # noqa: F401 - registers every type
from tessera_shared.events.contracts.types import PERSONAL_KEY
from tessera_shared.events.envelope import CloudEvent, event_model

# The CloudEvents extension attribute a redacted envelope carries, and its value.
REDACTION_ATTRIBUTE = "redaction"
REDACTION_PERSONAL = "personal"

# What to do with one key of a model's data: None -> null it; a Plan -> redact inside it.
Plan = dict[str, "Plan | None"]


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation holds (``X``, ``X | None``, ``list[X]``, ...)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = get_origin(annotation)
    if origin is None:
        return []
    if origin in (Union, types.UnionType, list, tuple, set, frozenset) or str(origin).endswith("Annotated"):
        return [m for arg in get_args(annotation) for m in _models_in(arg)]
    return []


@cache
def personal_plan(model: type[BaseModel]) -> Plan:
    """The keys of ``model``'s data to null, and the nested ones to redact inside (empty: nothing)."""
    plan: Plan = {}
    for name, field in model.model_fields.items():
        key = field.serialization_alias or field.alias or name
        extra = field.json_schema_extra
        if isinstance(extra, dict) and extra.get(PERSONAL_KEY):
            plan[key] = None
            continue
        for nested in _models_in(field.annotation):
            inner = personal_plan(nested)
            if inner:
                plan[key] = inner
    return plan


def personal_fields(model: type[BaseModel]) -> list[str]:
    """Dotted paths of the marked fields (``changes.email``, ``line_items.description``)."""
    return _paths(personal_plan(model), "")


def _paths(plan: Plan, prefix: str) -> list[str]:
    out = []
    for key, inner in plan.items():
        out += [f"{prefix}{key}"] if inner is None else _paths(inner, f"{prefix}{key}.")
    return out


def _apply(plan: Plan, value: Any) -> Any:
    if isinstance(value, list):
        return [_apply(plan, item) for item in value]
    if not isinstance(value, dict):
        return value
    out = dict(value)
    for key, inner in plan.items():
        if key in out and out[key] is not None:
            out[key] = None if inner is None else _apply(inner, out[key])
    return out


def redact_personal(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``data`` (an event's data as it travels) with every personal value null (the key
    kept). Raises LookupError for a type without a contract: nothing says what in it is personal."""
    model = event_model(event_type)
    if model is None:
        raise LookupError(f"unknown event type {event_type!r}")
    plan = personal_plan(model)
    return _apply(plan, data) if plan else dict(data)


def redacted(event: CloudEvent) -> CloudEvent:
    """The envelope with its data redacted and ``redaction: personal`` among its attributes."""
    fields = event.model_dump(mode="json", exclude_none=True)
    fields["data"] = redact_personal(event.type, event.data)
    fields[REDACTION_ATTRIBUTE] = REDACTION_PERSONAL
    return CloudEvent.model_validate(fields)


__all__ = [
    "REDACTION_ATTRIBUTE",
    "REDACTION_PERSONAL",
    "personal_fields",
    "personal_plan",
    "redact_personal",
    "redacted",
]
