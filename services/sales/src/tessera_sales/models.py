"""The sales service's tables (its own metadata; no other service reads them)."""

from typing import TYPE_CHECKING, ClassVar

from sqlalchemy import Table
from sqlalchemy.orm import registry
from sqlmodel import SQLModel

from tessera_shared.db import new_metadata


class Base(SQLModel, registry=registry(metadata=new_metadata())):
    """The base of sales' tables: a registry of its own, so its metadata holds only them."""

    if TYPE_CHECKING:
        # Set by SQLAlchemy on every table class; SQLModel's stubs do not declare it.
        __table__: ClassVar[Table]


metadata = Base.metadata
