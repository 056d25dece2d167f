"""HTTP helpers shared by the sales routers: role tuples, dependencies and schema field types.

Who may see whose rows is a domain rule (``tessera_sales.ownership``), not an HTTP helper.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import Depends, Request
from pydantic import PlainSerializer, StringConstraints

from tessera_sales.known_customers.handlers import KNOWN_CUSTOMERS
from tessera_sales.settings import SalesSettings
from tessera_shared.auth import Role
from tessera_shared.customer_directory import CustomerDirectory
from tessera_shared.decimals import MoneyIn as SharedMoneyIn
from tessera_shared.http.inputs import Trimmed
from tessera_shared.known_customers import ReadThrough, read_through

# Who works leads, deals and activities.
SELLERS = (Role.SALES_MANAGER, Role.SALES_REP)
# Who reads deals: the list, one deal, its history, and a customer's sales summary.
DEAL_READERS = (*SELLERS, Role.FINANCE_MANAGER, Role.SERVICE)


def _settings(request: Request) -> SalesSettings:
    settings: SalesSettings = request.app.state.settings
    return settings


def _customer_directory(request: Request) -> CustomerDirectory:
    directory: CustomerDirectory = request.app.state.customer_directory
    return directory


SettingsDep = Annotated[SalesSettings, Depends(_settings)]
# The customer service, as conversion and the known-customer read-through reach it (§10.2).
CustomerDirectoryDep = Annotated[CustomerDirectory, Depends(_customer_directory)]
# Known customers only (§10.2): the read-through, called by a router before its transaction opens.
ReadThroughDep = Annotated[ReadThrough, Depends(read_through(KNOWN_CUSTOMERS))]

# A decimal string whose schema pattern carries its limits (shared with billing and the events).
MoneyIn = SharedMoneyIn
MoneyOut = Annotated[Decimal, PlainSerializer(lambda v: str(v), return_type=str)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Text200 = Trimmed(min_length=1, max_length=200)
Text500 = Trimmed(min_length=1, max_length=500)
OwnerId = Annotated[str, StringConstraints(min_length=1, max_length=200)]
