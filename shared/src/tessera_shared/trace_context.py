"""The request id and W3C trace context of the work in progress (a request or an event).

The lowest layer of observability: context variables and traceparent helpers, importing nothing
of this project, so that logging (``observability``), spans (``tracing``) and problem+json
(``http.errors``) all read the same values without importing one another.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
traceparent_var: ContextVar[str | None] = ContextVar("traceparent", default=None)

_TRACEPARENT = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")


def current_traceparent() -> str | None:
    return traceparent_var.get()


def new_traceparent() -> str:
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def child_traceparent(parent: str | None) -> str:
    """Same trace, new span id (W3C trace context)."""
    if parent and _TRACEPARENT.match(parent):
        return f"{parent[:36]}{secrets.token_hex(8)}{parent[52:]}"
    return new_traceparent()


@contextmanager
def continuing(parent: str | None) -> Iterator[None]:
    """Within the block, what is published continues ``parent``'s trace: a batched handler that
    publishes builds each event's outbox row under the traceparent of the event it answers, not
    the run's first one."""
    token = traceparent_var.set(child_traceparent(parent))
    try:
        yield
    finally:
        traceparent_var.reset(token)
