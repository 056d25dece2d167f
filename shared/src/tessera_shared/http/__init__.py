"""HTTP conventions: problem+json errors, pagination, idempotency keys, ETags, body limits."""
