"""The webhooks' Prometheus metrics (served on /metrics with the service's others)."""

from prometheus_client import Counter, Gauge, Histogram

DELIVERED = Counter("tessera_webhooks_delivered_total", "Webhook deliveries answered with a 2xx")
ATTEMPT_FAILURES = Counter(
    "tessera_webhooks_attempt_failures_total", "Webhook attempts that failed, per kind", ["kind"]
)
GIVEN_UP = Counter("tessera_webhooks_failed_total", "Webhook deliveries given up (retries exhausted, endpoint gone)")
QUEUE = Gauge("tessera_webhooks_queue", "Webhook deliveries waiting (pending or being sent)")
REQUEST_SECONDS = Histogram(
    "tessera_webhooks_request_seconds",
    "One webhook request, from connect to the answer",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
DELIVERY_SECONDS = Histogram(
    "tessera_webhooks_delivery_seconds",
    "From the delivery written (the event consumed) to the receiver's 2xx",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 300, 3600, 86400),
)
