"""Bulk export as a job (issue 23 item 5): one mechanic for every service that exports records.

- ``tables``: the job and chunk tables a service adds to its own metadata (and its migrations);
- ``formats``: rows as CSV (spreadsheet-safe, tessera_shared.spreadsheet) or JSON lines;
- ``sources``: what a resource exports (its fields as columns, who may, which rows a caller sees);
- ``service``: creating, running (once across replicas), expiring and reading jobs;
- ``router``: ``POST /v1/exports``, ``GET /v1/exports/{id}``, ``GET /v1/exports/{id}/file``.
"""
