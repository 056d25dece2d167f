from pydantic_settings import SettingsConfigDict

from tessera_shared.settings import ServiceSettings


class CustomerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TESSERA_CUSTOMER_", extra="ignore", frozen=True)

    service_name: str = "customer"
    port: int = 8001
    database_url: str = "sqlite+aiosqlite:///./.data/customer.db"
