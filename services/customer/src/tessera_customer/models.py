"""The customer service's tables (its own metadata; no other service reads them)."""

from tessera_shared.db import declarative_base

Base = declarative_base()
metadata = Base.metadata
