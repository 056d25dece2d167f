"""Spans are recorded only when something can export them; the trace id travels either way."""

from __future__ import annotations

import pytest
from opentelemetry.trace import SpanKind

from tessera_shared.observability import current_traceparent
from tessera_shared.tracing import make_tracer, span

PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"


@pytest.mark.parametrize(
    ("exporter", "ratio", "recording"),
    [("none", None, False), ("console", None, True), ("none", 1.0, True), ("console", 0.0, False)],
)
def test_recording_follows_the_exporter_and_the_ratio(exporter: str, ratio: float | None, recording: bool) -> None:
    provider, tracer = make_tracer("t", exporter, sample_ratio=ratio)  # type: ignore[arg-type]
    with span(tracer, "GET /x", parent=None, kind=SpanKind.SERVER) as current:
        assert current.is_recording() is recording
        assert current.get_span_context().trace_id != 0
    provider.shutdown()


def test_an_unrecorded_span_continues_the_callers_trace() -> None:
    _, tracer = make_tracer("t")
    with span(tracer, "GET /x", parent=PARENT, kind=SpanKind.SERVER) as current:
        assert not current.is_recording()
        tp = current_traceparent()
        assert tp is not None and tp[3:35] == PARENT[3:35] and tp[36:52] != PARENT[36:52]
