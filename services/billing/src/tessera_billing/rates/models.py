from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, String
from sqlmodel import Field

from tessera_billing.models import Base
from tessera_shared.db import UTCDateTime, utcnow


class ExchangeRate(Base, table=True):
    """The operator's rate table: 1 ``from_currency`` = ``rate`` ``to_currency`` (docs/domain.md §10.1)."""

    __tablename__ = "exchange_rates"

    from_currency: str = Field(sa_column=Column(String(3), primary_key=True))
    to_currency: str = Field(sa_column=Column(String(3), primary_key=True))
    # Exact decimal text (up to 10 decimals): Money's 4 places are too few for a rate.
    rate: str = Field(sa_column=Column(String(40), nullable=False))
    set_by: str = Field(sa_column=Column(String(200), nullable=False))
    set_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    version: int = Field(default=1, nullable=False)
