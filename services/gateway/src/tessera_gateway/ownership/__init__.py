"""Bulk ownership transfer at the gateway (issue 24 part 4): one request, one audited job, fanned
out to the services that own the records (tessera_shared.ownership runs each share there)."""
