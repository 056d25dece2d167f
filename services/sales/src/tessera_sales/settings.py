from pydantic_settings import SettingsConfigDict

from tessera_shared.settings import ServiceSettings


class SalesSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TESSERA_SALES_", extra="ignore", frozen=True)

    service_name: str = "sales"
    port: int = 8002
    database_url: str = "sqlite+aiosqlite:///./.data/sales.db"
