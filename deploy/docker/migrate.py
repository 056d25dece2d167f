"""Apply one service's database migrations, or wait until someone has; then exit.

    python /app/migrate.py [SERVICE]                 upgrade to head (the one-shot / Job)
    python /app/migrate.py [SERVICE] --wait SECONDS  exit 0 once the schema is at head (init container)

SERVICE defaults to the one service installed in the image. Settings come from the service's
own environment prefix (e.g. TESSERA_BILLING_DATABASE_URL), exactly as the server reads them.
Upgrades take the same PostgreSQL advisory lock as migrate-on-start, so they never race.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.util
import sys
import time
from pathlib import Path
from typing import Any

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from tessera_shared.db import create_engine
from tessera_shared.migrations import alembic_config, upgrade_to_head

# service -> (package, settings class)
SERVICES: dict[str, tuple[str, str]] = {
    "customer": ("tessera_customer", "CustomerSettings"),
    "sales": ("tessera_sales", "SalesSettings"),
    "service-desk": ("tessera_service_desk", "ServiceDeskSettings"),
    "billing": ("tessera_billing", "BillingSettings"),
    "notifications": ("tessera_notifications", "NotificationsSettings"),
    "gateway": ("tessera_gateway", "GatewaySettings"),
}


def installed_service() -> str:
    found = [name for name, (pkg, _) in SERVICES.items() if importlib.util.find_spec(pkg) is not None]
    if len(found) != 1:
        raise SystemExit(f"name the service: installed here are {found or 'none'}")
    return found[0]


def migrations_dir(service: str) -> Path:
    package = importlib.import_module(SERVICES[service][0])
    return Path(package.__file__).parent / "migrations"


def load_settings(service: str) -> Any:
    package, cls = SERVICES[service]
    return getattr(importlib.import_module(f"{package}.settings"), cls)()


async def _heads(engine: Any, script_location: Path) -> tuple[set[str], set[str]]:
    wanted = set(ScriptDirectory.from_config(alembic_config(script_location)).get_heads())
    async with engine.connect() as conn:
        current = await conn.run_sync(lambda c: set(MigrationContext.configure(c).get_current_heads()))
    return wanted, current


async def upgrade(service: str) -> None:
    settings = load_settings(service)
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        await upgrade_to_head(engine, migrations_dir(service))
        wanted, current = await _heads(engine, migrations_dir(service))
        print(f"{service}: schema at {sorted(current)} (head {sorted(wanted)})", flush=True)
    finally:
        await engine.dispose()


async def wait_for_head(service: str, timeout: float) -> bool:
    settings = load_settings(service)
    engine = create_engine(settings.database_url, pool_size=1)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                wanted, current = await _heads(engine, migrations_dir(service))
                if current == wanted:
                    print(f"{service}: schema at head {sorted(wanted)}", flush=True)
                    return True
                status = f"at {sorted(current)}, want {sorted(wanted)}"
            except Exception as exc:  # the database may not be up yet: keep waiting
                status = f"database not reachable: {exc!r}"
            if time.monotonic() >= deadline:
                print(f"{service}: gave up waiting for the migration ({status})", file=sys.stderr)
                return False
            print(f"{service}: waiting for the migration Job ({status})", flush=True)
            await asyncio.sleep(2.0)
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("service", nargs="?", choices=sorted(SERVICES))
    parser.add_argument(
        "--wait", type=float, metavar="SECONDS", help="do not migrate; wait until the schema is at head"
    )
    args = parser.parse_args(argv)
    service = args.service or installed_service()
    if args.wait is not None:
        return 0 if asyncio.run(wait_for_head(service, args.wait)) else 1
    asyncio.run(upgrade(service))
    return 0


if __name__ == "__main__":
    sys.exit(main())
