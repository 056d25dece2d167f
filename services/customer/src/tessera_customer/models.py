"""The customer service's tables (its own metadata; no other service reads them)."""

from typing import ClassVar

from sqlalchemy import Table
from sqlalchemy.orm import registry
from sqlmodel import SQLModel

from tessera_shared.db import new_metadata


class Base(SQLModel, registry=registry(metadata=new_metadata())):
    """The base of the customer service's tables: a registry of its own, so its metadata holds only them."""

    # Set by SQLAlchemy on every table model; SQLModel does not declare it to type checkers.
    __table__: ClassVar[Table]


metadata = Base.metadata
