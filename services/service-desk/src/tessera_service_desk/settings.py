from datetime import date, time
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from tessera_service_desk.sla.calendar import BusinessCalendar
from tessera_shared.customer_directory import CustomerServiceSettings
from tessera_shared.exports import settings as exports


class ServiceDeskSettings(exports.ExportSettings, CustomerServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TESSERA_SERVICE_DESK_", extra="ignore", frozen=True)

    service_name: str = "service-desk"
    port: int = 8003
    database_url: str = "sqlite+aiosqlite:///./.data/service-desk.db"
    # A ticket or an agreement naming a customer not known here reads it through the customer
    # service with this client's credential (customer_url, client_secret: shared fields; §10.2).
    client_id: str = "svc-service-desk"

    # The business-hours calendar the SLA clock counts in.
    business_timezone: str = "UTC"
    business_days: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4])
    business_opens: time = time(9, 0)
    business_closes: time = time(17, 0)
    holidays: list[date] = Field(default_factory=list)

    reopen_window_hours: int = Field(default=168, ge=0)
    # Solved tickets close themselves (and send the survey) after this long.
    auto_close_after_hours: int = Field(default=168, ge=1)
    # Who is told at each escalation level: level 1 notifies the first entry, and so on.
    escalation_groups: list[str] = Field(default_factory=lambda: ["tier2", "tier3", "management"])
    breach_job_interval_seconds: float = Field(default=60, gt=0)
    breach_batch_size: int = Field(default=500, ge=1, le=10_000)
    history_limit: int = Field(default=10, ge=0, le=100)
    # Signs survey links; defaults to the JWT signing key.
    survey_token_secret: SecretStr | None = None
    # Where the customer's survey link points: the gateway's public route (the service's own
    # /v1/surveys is not reachable from outside). Set an absolute URL, e.g.
    # https://crm.example.com/api/v1/surveys, when the link leaves by e-mail.
    survey_base_url: str = "/api/v1/surveys"
    # The customers' language of the survey's page (a browser opening the link), as the
    # notifications service's CUSTOMER_LOCALE is the survey e-mail's: set both alike.
    customer_locale: Literal["en", "zh"] = "en"

    @field_validator("business_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        ZoneInfo(value)  # raises for an unknown zone
        return value

    def calendar(self) -> BusinessCalendar:
        return BusinessCalendar(
            timezone=ZoneInfo(self.business_timezone),
            working_days=frozenset(self.business_days),
            opens=self.business_opens,
            closes=self.business_closes,
            holidays=frozenset(self.holidays),
        )

    def survey_secret(self) -> bytes:
        secret = self.survey_token_secret or self.jwt_signing_key
        return secret.get_secret_value().encode()
