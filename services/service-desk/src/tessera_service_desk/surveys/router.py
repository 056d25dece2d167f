"""Surveys are reachable by their token link (the customer) or with a staff token (read only)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request

from tessera_service_desk.api import SURVEY_STAFF_READERS, settings_of
from tessera_service_desk.surveys.links import survey_url
from tessera_service_desk.surveys.rules import token_matches
from tessera_service_desk.surveys.schemas import SurveyAnswer, SurveyOut, SurveyStaffOut
from tessera_service_desk.surveys.service import answer_survey, find_survey
from tessera_shared.auth import principal_from_request, public
from tessera_shared.db import utcnow
from tessera_shared.deps import SessionDep
from tessera_shared.errors import Forbidden, NotFound

router = APIRouter(prefix="/v1/surveys", tags=["surveys"])

STAFF_READERS = SURVEY_STAFF_READERS
# Link tokens are unpadded URL-safe base64 (see rules.survey_token).
TOKEN_PATTERN = r"^[A-Za-z0-9_-]+$"  # noqa: S105 - the link token's pattern, not a secret
TokenQuery = Annotated[
    str | None,
    Query(min_length=10, max_length=100, pattern=TOKEN_PATTERN, description="The survey link's secret token"),
]


def _check_token(request: Request, survey_id: uuid.UUID, token: str) -> None:
    if not token_matches(settings_of(request).survey_secret(), survey_id, token):
        # Same answer for a wrong token and an unknown survey: the link is the credential.
        raise NotFound("survey", survey_id)


@router.get(
    "/{survey_id}",
    response_model=SurveyStaffOut | SurveyOut,
    summary="Read a survey: with its link token (customer) or a staff bearer token",
    openapi_extra=public("the survey link's token is the credential; staff use a bearer token"),
)
async def get_survey(
    survey_id: uuid.UUID, request: Request, session: SessionDep, token: TokenQuery = None
) -> SurveyOut:
    if token is not None:
        _check_token(request, survey_id, token)
        survey = await find_survey(session, survey_id)
        if survey is None:
            raise NotFound("survey", survey_id)
        return SurveyOut.model_validate(survey)
    principal = await principal_from_request(request)
    if not principal.has_any(STAFF_READERS):
        raise Forbidden("your role may not do this", required_roles=sorted(STAFF_READERS))
    survey = await find_survey(session, survey_id)
    if survey is None:
        raise NotFound("survey", survey_id)
    return SurveyStaffOut(
        **SurveyOut.model_validate(survey).model_dump(),
        customer_id=survey.customer_id,
        agent_id=survey.agent_id,
        category=survey.category,
        survey_url=survey_url(settings_of(request), survey.id),
    )


@router.post(
    "/{survey_id}/answer",
    name="answer_survey",
    response_model=SurveyOut,
    status_code=200,
    summary="Answer a survey once, with its link token (no bearer token needed)",
    openapi_extra=public("the survey link's token is the credential"),
)
async def answer(
    survey_id: uuid.UUID,
    body: SurveyAnswer,
    request: Request,
    session: SessionDep,
    token: Annotated[str, Query(min_length=10, max_length=100, pattern=TOKEN_PATTERN)],
) -> SurveyOut:
    _check_token(request, survey_id, token)
    survey = await find_survey(session, survey_id)
    if survey is None:
        raise NotFound("survey", survey_id)
    survey = await answer_survey(
        session, survey, csat=body.csat, nps=body.nps, comment=body.comment or None, now=utcnow()
    )
    return SurveyOut.model_validate(survey)
