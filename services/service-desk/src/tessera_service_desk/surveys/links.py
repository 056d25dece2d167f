"""The survey link a customer receives (shown on the closed ticket and answered on the survey endpoint)."""

from __future__ import annotations

import uuid

from tessera_service_desk.settings import ServiceDeskSettings
from tessera_service_desk.surveys.rules import survey_token


def survey_url(settings: ServiceDeskSettings, survey_id: uuid.UUID) -> str:
    return f"{settings.survey_base_url}/{survey_id}?token={survey_token(settings.survey_secret(), survey_id)}"


def answer_url(settings: ServiceDeskSettings, survey_id: uuid.UUID) -> str:
    """Where the survey's page posts its form: the gateway's public answer route, token included."""
    token = survey_token(settings.survey_secret(), survey_id)
    return f"{settings.survey_base_url}/{survey_id}/answer?token={token}"
