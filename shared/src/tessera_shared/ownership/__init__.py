"""Bulk ownership transfer (issue 24, part 4): one mechanic for every service that owns records.

``POST /api/v1/ownership/transfer`` at the gateway asks each owning service for its share; a
service keeps its share as a job and moves the records in batches, each record with its normal
``*.updated`` event through the outbox, then announces the share once (``ownership.*_transferred``).

- ``tables``: the ``ownership_transfers`` job table a service adds to its own metadata (and migrations);
- ``service``: the sources (what a resource moves and announces), creating, running (once across
  replicas, fenced by ``attempt``) and reading jobs, and the scheduled job;
- ``router``: ``POST /v1/ownership/transfers``, ``GET /v1/ownership/transfers[/{id}]``.
"""
