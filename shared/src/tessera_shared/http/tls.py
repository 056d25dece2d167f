"""One TLS context for the processes' outgoing HTTP clients.

httpx builds a new context for every client it creates unless it is handed one: loading the CA
bundle costs ~33 ms of CPU each time, which a client made per call (the customer directory's
rare calls) or per app start (each upstream, the revocation feed) paid again and again. A
context is safe to share between clients; this one trusts what httpx trusts by default.
"""

from __future__ import annotations

import ssl
from functools import cache

import httpx


@cache
def client_tls() -> ssl.SSLContext:
    return httpx.create_ssl_context()
