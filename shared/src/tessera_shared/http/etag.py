"""ETag on reads and If-Match on writes: optimistic concurrency over an entity's version."""

from __future__ import annotations

from fastapi import Request

from tessera_shared.errors import InvalidInput
from tessera_shared.http.errors import Problem

# The longest If-Match the OpenAPI documents (tessera_shared.http.openapi.IF_MATCH): a longer one is
# refused as input (422), never compared.
IF_MATCH_MAX = 1024


def etag_for(entity_id: object, version: int | str) -> str:
    """The tag of an entity's version: its version column, or a text standing for the state the
    response shows (a payment's allocations, say)."""
    return f'"{entity_id}.{version}"'


def check_if_match(request: Request, entity_id: object, version: int | str) -> None:
    """412 when the client's If-Match names another version; absent If-Match is allowed."""
    header = request.headers.get("if-match")
    if header is None:
        return
    if len(header) > IF_MATCH_MAX:
        raise InvalidInput("If-Match", f"at most {IF_MATCH_MAX} characters", "header", kind="string_too_long")
    current = etag_for(entity_id, version)
    candidates = [c.strip().removeprefix("W/") for c in header.split(",")]
    if "*" in candidates or current in candidates:
        return
    raise Problem(
        412,
        "the resource changed since you read it; fetch it again and retry",
        slug="precondition-failed",
        current_etag=current,
    )
