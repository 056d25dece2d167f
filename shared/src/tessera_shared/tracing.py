"""OpenTelemetry traces: a request's trace continues from the gateway into a service, into the
events it publishes (the CloudEvents ``traceparent`` attribute) and into the consumers' spans.

Spans are always made, so trace ids are real and appear in logs; exporting them is off by
default (``OTEL_EXPORTER=none``), or ``console``, or ``otlp`` to ``OTEL_ENDPOINT``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import SpanKind, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from tessera_shared.trace_context import traceparent_var

_propagator = TraceContextTextMapPropagator()


def make_tracer(
    service: str,
    exporter: Literal["none", "console", "otlp"] = "none",
    endpoint: str | None = None,
    sample_ratio: float | None = None,
) -> tuple[TracerProvider, Tracer]:
    """A provider of the service's own (several services may share a process in tests).

    Unsampled spans are not recorded (a third of the cost of a recorded one) but still carry the
    trace id: with no exporter nothing would read a recorded span."""
    ratio = sample_ratio if sample_ratio is not None else (0.0 if exporter == "none" else 1.0)
    provider = TracerProvider(
        resource=Resource.create({"service.name": f"tessera-{service}"}), sampler=ParentBased(TraceIdRatioBased(ratio))
    )
    if exporter == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    elif exporter == "otlp":
        # Loaded only when configured: the OTLP exporter brings protobuf and its generated modules.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # noqa: PLC0415

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    return provider, provider.get_tracer("tessera")


@contextmanager
def span(
    tracer: Tracer, name: str, *, parent: str | None, kind: SpanKind, attributes: dict[str, str | int] | None = None
) -> Iterator[trace.Span]:
    """A span continuing the W3C ``parent`` traceparent; the current traceparent follows it."""
    context = _propagator.extract({"traceparent": parent}) if parent else None
    with tracer.start_as_current_span(name, context=context, kind=kind, attributes=attributes) as current:
        carrier: dict[str, str] = {}
        _propagator.inject(carrier)
        token = traceparent_var.set(carrier.get("traceparent"))
        try:
            yield current
        finally:
            traceparent_var.reset(token)
