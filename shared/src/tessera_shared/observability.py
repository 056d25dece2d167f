"""Request ids, structured JSON logs and Prometheus metrics shared by every service."""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from opentelemetry.trace import Span, SpanKind
from prometheus_client import Counter, Gauge, Histogram
from pythonjsonlogger.json import JsonFormatter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The context variables live below both this module and ``tracing`` (which this module uses);
# they are re-exported here, where the services import them from.
from tessera_shared.trace_context import child_traceparent as child_traceparent
from tessera_shared.trace_context import current_traceparent as current_traceparent
from tessera_shared.trace_context import new_traceparent as new_traceparent
from tessera_shared.trace_context import request_id_var as request_id_var
from tessera_shared.trace_context import traceparent_var as traceparent_var
from tessera_shared.tracing import span

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

HTTP_REQUESTS = Counter("tessera_http_requests_total", "HTTP requests", ["service", "method", "route", "status"])
HTTP_LATENCY = Histogram(
    "tessera_http_request_duration_seconds",
    "HTTP request latency",
    ["service", "method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
OUTBOX_BACKLOG = Gauge("tessera_outbox_backlog", "Outbox events not yet published", ["service"])
OUTBOX_PUBLISHED = Counter("tessera_outbox_published_total", "Outbox events published", ["service"])
OUTBOX_OLDEST_UNSENT_AGE = Gauge(
    "tessera_outbox_oldest_unsent_age_seconds",
    "Age of the oldest outbox event not yet published (0 when none): the publish stall",
    ["service"],
)
LEASE_HELD = Gauge(
    "tessera_lease_held", "1 while this replica holds the lease (the relay's, a job's)", ["service", "lease"]
)
EVENTS_CONSUMED = Counter("tessera_events_consumed_total", "Consumed events by outcome", ["service", "type", "outcome"])
CONSUMER_LAG = Gauge("tessera_consumer_lag", "Messages behind the log end", ["service", "topic", "partition"])
DLQ_MESSAGES = Counter("tessera_dlq_messages_total", "Messages sent to the dead-letter topic", ["service"])
CONSUMER_TRANSACTIONS = Counter(
    "tessera_consumer_transactions_total",
    "Consumer transactions committed, by kind: poll (a poll's records at once)"
    " or careful (savepoint rounds after a handler failed)",
    ["service", "kind"],
)


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        tp = traceparent_var.get()
        record.trace_id = tp[3:35] if tp else None
        return True


def configure_logging(service: str, level: str = "INFO", json: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if json:
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                static_fields={"service": service},
                timestamp=True,
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_ContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "kafka", "httpx", "httpcore", "httpx2", "httpcore2"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error"):
        # uvicorn installs its own plain-text handlers; one JSON stream is easier to ship.
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True


class RequestContextMiddleware:
    """Request id and trace context for each request, and its metrics (pure ASGI: cheap)."""

    def __init__(self, app: ASGIApp, service: str, tracer: Any = None, route_header: bool = True) -> None:
        self.app = app
        self.service = service
        self.tracer = tracer
        # Services tell the gateway which route template answered (X-Tessera-Route).
        self.route_header = route_header

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        rid = headers.get(b"x-request-id", b"").decode("latin-1")
        if not _REQUEST_ID.match(rid):
            rid = uuid.uuid4().hex
        incoming = headers.get(b"traceparent", b"").decode("latin-1") or None
        rid_token = request_id_var.set(rid)
        tp_token = traceparent_var.set(child_traceparent(incoming))
        status = 500
        start = time.perf_counter()
        if self.tracer is not None:
            span_cm: AbstractContextManager[Span | None] = span(
                self.tracer,
                f"{scope['method']} {scope['path']}",
                parent=incoming,
                kind=SpanKind.SERVER,
                attributes={"http.request.method": scope["method"], "url.path": scope["path"]},
            )
        else:
            span_cm = nullcontext()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
                if self.route_header and (route_path := getattr(scope.get("route"), "path", None)):
                    # The matched route template: the gateway labels its metrics with it (and strips it).
                    message["headers"].append((b"x-tessera-route", route_path.encode()))
            await send(message)

        try:
            with span_cm as current:
                await self.app(scope, receive, send_wrapper)
                if current is not None:
                    current.set_attribute("http.response.status_code", status)
                    if route := scope.get("route"):
                        current.update_name(f"{scope['method']} {getattr(route, 'path', scope['path'])}")
        finally:
            route = scope.get("route")
            # A forwarded call is labelled with the upstream's route template (set by the gateway).
            path = scope.get("tessera.route") or getattr(route, "path", None) or "unmatched"
            method = scope["method"]
            HTTP_REQUESTS.labels(self.service, method, path, str(status)).inc()
            HTTP_LATENCY.labels(self.service, method, path).observe(time.perf_counter() - start)
            request_id_var.reset(rid_token)
            traceparent_var.reset(tp_token)
