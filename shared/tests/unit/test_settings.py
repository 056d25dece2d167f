from __future__ import annotations

import pytest
from pydantic import ValidationError

from tessera_customer.settings import CustomerSettings
from tessera_shared.settings import LOCAL_SIGNING_KEY


def test_env_prefix_is_per_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESSERA_CUSTOMER_PORT", "9101")
    monkeypatch.setenv("TESSERA_BILLING_PORT", "9104")
    assert CustomerSettings().port == 9101


def test_production_refuses_the_default_signing_key() -> None:
    with pytest.raises(ValidationError, match="jwt_signing_key"):
        CustomerSettings(environment="production")


def test_production_refuses_a_short_key() -> None:
    with pytest.raises(ValidationError, match="jwt_signing_key"):
        CustomerSettings(environment="production", jwt_signing_key="short")


def test_production_refuses_a_default_database_password() -> None:
    with pytest.raises(ValidationError, match="database_url"):
        CustomerSettings(
            environment="production",
            jwt_signing_key="k" * 40,
            database_url="postgresql+asyncpg://tessera:local@db/customer",
        )


def test_production_accepts_real_secrets() -> None:
    s = CustomerSettings(
        environment="production",
        jwt_signing_key="k" * 40,
        database_url="postgresql+asyncpg://tessera:s3cr3t-from-vault@db/customer",
    )
    assert not s.is_local


def test_local_mode_allows_the_default_key() -> None:
    assert CustomerSettings().jwt_signing_key.get_secret_value() == LOCAL_SIGNING_KEY
