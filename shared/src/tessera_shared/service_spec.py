"""What makes one service different from another: its name, routers, handlers, jobs, tables."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from sqlalchemy import MetaData

from tessera_shared.consumer import Handler
from tessera_shared.http.fast_read import FastRead
from tessera_shared.jobs import Job

log = logging.getLogger(__name__)


@dataclass
class ServiceSpec:
    """What makes one service different from another; the rest is shared."""

    name: str
    title: str
    description: str
    routers: list[APIRouter]
    migrations: Path | None
    handlers: Mapping[str, Handler[Any]] = field(default_factory=dict)
    # Producing services whose topics this one consumes, e.g. ["customer", "sales"].
    consumes: Iterable[str] = ()
    on_startup: Callable[[Any], Any] | None = None
    # Resources that live as long as the app (e.g. an HTTP client pool), entered after start.
    context: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None
    # More readiness facts to report (informative: they do not make the process unready).
    extra_readiness: Callable[[FastAPI], Awaitable[dict[str, Any]]] | None = None
    # Larger request-body limits for named routes: {("POST", "/v1/customers/import"): 64 MiB}.
    body_limits: dict[tuple[str, str], int] = field(default_factory=dict)
    # The service's own tables: every one with a customer_id column is part of a data-subject export.
    metadata: MetaData | None = None
    # Periodic work; disabled with ``<PREFIX>JOBS_ENABLED=false`` (tests drive jobs by hand).
    jobs: list[Job] = field(default_factory=list)
    # GETs by id answered before FastAPI's router when they go the plain way (tessera_shared.http.fast_read).
    fast_reads: list[FastRead] = field(default_factory=list)
    # App-wide dependencies run before the query check (the gateway counts a caller's request
    # against its limit first, so that a refused query still carries the RateLimit fields).
    before_checks: list[Any] = field(default_factory=list)
