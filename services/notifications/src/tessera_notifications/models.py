"""The notifications service's tables (its own metadata; no other service reads them)."""

from sqlalchemy.orm import registry
from sqlmodel import SQLModel

from tessera_shared.db import new_metadata


class Base(SQLModel, registry=registry(metadata=new_metadata())):
    """The base of the service's tables: a registry of its own, so its metadata holds only them."""


metadata = Base.metadata
