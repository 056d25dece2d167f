"""Autogenerate a migration for one service: python tools/new_migration.py customer "add contacts"."""

from __future__ import annotations

import importlib
import sys
import tempfile
from pathlib import Path

from alembic import command

from tessera_shared.migrations import alembic_config


def main() -> None:
    service, message = sys.argv[1], sys.argv[2]
    module = importlib.import_module(f"tessera_{service.replace('-', '_')}")
    location = Path(str(module.__file__)).parent / "migrations"
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/autogen.db"
        cfg = alembic_config(location, url)
        command.upgrade(cfg, "head")
        command.revision(cfg, message=message, autogenerate=True)


if __name__ == "__main__":
    main()
