from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StrictBool, StringConstraints

from tessera_sales.api import Currency, MoneyIn, MoneyOut, Text200

ProductCode = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,49}$")]


class ProductCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: ProductCode
    name: Text200
    currency: Currency
    unit_price: MoneyIn


class ProductPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Text200 | None = None
    unit_price: MoneyIn | None = None
    active: StrictBool | None = None


class ProductOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    code: str
    name: str
    unit_price: MoneyOut
    currency: str
    active: bool
    created_at: datetime
    updated_at: datetime
    version: int
