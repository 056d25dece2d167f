"""The service's Prometheus metrics (served on /metrics with the shared ones)."""

from prometheus_client import Counter, Gauge, Histogram

SENT = Counter("tessera_notifications_sent_total", "Notifications delivered, per channel", ["channel"])
FAILED = Counter("tessera_notifications_failed_total", "Notifications that failed for good, per channel", ["channel"])
EMAIL_QUEUE = Gauge("tessera_notifications_email_queue", "E-mails waiting to be sent (pending or being sent)")
DELIVERY_SECONDS = Histogram(
    "tessera_notifications_delivery_seconds",
    "In-app: from the fact's time to the inbox row; e-mail: from the message written to the server's acceptance",
    ["channel"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600),
)
