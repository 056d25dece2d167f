"""The settings of a service that exports in bulk (its settings class derives from this one)."""

from __future__ import annotations

from pydantic import Field

from tessera_shared.settings import ServiceSettings


class ExportSettings(ServiceSettings):
    # A queued export starts once its request commits (it rings the job, tessera_shared.jobs); every
    # export_job_interval_seconds (one replica at a time) the job also expires old files and picks
    # up an export a stopped replica left behind. It reads export_page_rows rows a page, and a file
    # is deleted export_ttl_seconds after it was written.
    export_job_interval_seconds: float = Field(default=30.0, gt=0)
    export_ttl_seconds: float = Field(default=86_400.0, gt=0)
    export_page_rows: int = Field(default=5000, ge=1, le=50_000)
