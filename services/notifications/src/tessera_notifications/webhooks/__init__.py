"""Partner webhooks (issue 22): signed (Standard Webhooks), retried for days, ordered per customer
on request, replayable, SSRF-safe.

Tables (``models``):
- ``webhook_endpoints``: owner (the principal's subject: a partner manages its own, an admin all),
  url, event_types (published types or ``*``), ordered, enabled/disabled_reason, secret
  (``whsec_``), previous_secret/previous_secret_until (rotation: both sign for 24 h),
  failing_since (5 days of failures disable the endpoint), personal_data (true only when an admin
  created it), version.
- ``webhook_deliveries``: one row per event and endpoint (unique endpoint_id + webhook_id); the
  integer ``id`` grows in insertion order, which is the Kafka key's order; ``webhook_id`` is
  ``msg_`` + uuid5(event id, endpoint) (a replay: + the replay id); ``payload`` the body as sent;
  ``ordering_key`` the customer id; status pending -> sending (until ``claimed_until``) ->
  delivered | failed; attempts, next_attempt_at, last_status_code, last_error, replay/replay_id.
- ``webhook_attempts``: (delivery_id, number) written before the request is sent; finished_at,
  status_code, latency_ms, response_body (1 KiB), error after. An attempt with no finished_at
  followed by a later one is a send whose outcome was lost (a kill -9): count them to count repeats.
- ``webhook_replays``: a replay job (running -> done | failed, enqueued).

Personal data: a partner reads none over the API, so an endpoint without ``personal_data`` is sent
the envelope with every field the contracts mark ``Personal`` (``x-personal`` in the schemas) null
and the extension attribute ``redaction: personal`` (``deliveries.body_of`` ->
``tessera_shared.events.redaction``), decided when the delivery row is written (fan-out, replay), so
the stored payload is what is signed and sent on every attempt; an admin's endpoint is sent the
message's bytes.

Flow: ``fanout.with_webhooks`` wraps the consumer's handlers of every type of crm.customer,
crm.sales, crm.service-desk and crm.billing so that the consumer's transaction inserts the
deliveries (``deliveries.fan_out``; it reads the enabled endpoints at most once per
``deliveries.ENDPOINTS_TTL`` = 1 s per process, a change through this process seen at once); the
commit wakes this process's worker (``deliveries.attach_wake``).
``engine.WebhookEngine`` runs ``webhook_workers`` loops per process (``run_once``: ``claim`` with
FOR UPDATE SKIP LOCKED on PostgreSQL, attempt rows committed, concurrent POSTs through
``lanes.Lanes``: small httpcore pools behind ``ssrf.GuardedBackend``, ``record``); it also polls
every ``webhook_poll_seconds`` for what other replicas wrote and retries that came due.
``replay.run_replay`` reads the topics from ``offsets_for_times``. ``ssrf.AddressPolicy`` decides
which addresses are reachable (checked when an endpoint is saved and again at every connection).

Settings (``NotificationsSettings``, env ``TESSERA_NOTIFICATIONS_<NAME>``): webhook_worker_enabled,
webhook_workers, webhook_batch_size, webhook_concurrency, webhook_poll_seconds, webhook_timeout (10 s),
webhook_claim_seconds, webhook_retry_schedule, webhook_retry_days (3), webhook_disable_after_days (5),
webhook_rotation_hours (24), webhook_allowed_networks (CIDRs), webhook_allow_loopback and
webhook_require_https (None: loopback and plain http only in local mode).

Finished deliveries go after ``webhook_retention_days`` (the ``webhooks-retention`` job) and, for
one customer, with customer.erased (``deliveries.forget_customer``). A replay job lives in the
process that accepted it (a process that dies leaves its row ``running``; ask again).

Not fanned out: crm.notifications and the gateway's facts (staff notifications, API keys).
``worker.webhooks_running`` (the service's ``ServiceSpec.context``) starts it; the app holds the engine
at ``app.state.webhooks``; metrics are ``tessera_webhooks_*``.
"""
