"""Bulk import (CSV and JSON lines) as one mechanic for every service that imports records.

- ``body``: the request body as a stream of text, pulled by the parser in a worker thread;
- ``parsing``: rows of CSV (by a resource's ``CsvShape``) or JSON lines, each validated by the
  resource's create schema, every error named by line and field;
- ``batches``: valid rows stored batch by batch (two batches in flight on PostgreSQL), the
  report of created / existing / failed rows;
- ``http``: the endpoints' shared pieces (one operation per format, the report's schema).
"""
