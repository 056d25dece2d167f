from pydantic_settings import SettingsConfigDict

from tessera_shared.settings import ServiceSettings


class ServiceDeskSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TESSERA_SERVICE_DESK_", extra="ignore", frozen=True)

    service_name: str = "service-desk"
    port: int = 8003
    database_url: str = "sqlite+aiosqlite:///./.data/service-desk.db"
