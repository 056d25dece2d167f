"""Surveys are reachable by their token link (the customer) or with a staff token (read only).

The link is opened by API clients and by people: a browser (``Accept: text/html``) gets a page in
the customers' language with the questions and a form that POSTs, form-encoded, to the answer
route (a route of its own, matched only for that content type, so the JSON API's answers stay as
they are), and a thank-you or already-answered page after."""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.routing import Match
from starlette.types import Scope

from tessera_service_desk.api import SURVEY_STAFF_READERS, settings_of
from tessera_service_desk.surveys.links import answer_url, survey_url
from tessera_service_desk.surveys.rules import AlreadyAnswered, token_matches
from tessera_service_desk.surveys.schemas import SurveyAnswer, SurveyOut, SurveyStaffOut
from tessera_service_desk.surveys.service import answer_survey, find_survey
from tessera_shared.auth import principal_from_request, public
from tessera_shared.db import utcnow
from tessera_shared.deps import SessionDep
from tessera_shared.errors import Forbidden, InvalidInput, NotFound, field_error
from tessera_shared.http.pages import (
    FORM_CONTENT_TYPE,
    html_page,
    html_too,
    render_page,
    template_environment,
    wants_html,
)

router = APIRouter(prefix="/v1/surveys", tags=["surveys"])

STAFF_READERS = SURVEY_STAFF_READERS
# Link tokens are unpadded URL-safe base64 (see rules.survey_token).
TOKEN_PATTERN = r"^[A-Za-z0-9_-]+$"  # noqa: S105 - the link token's pattern, not a secret
TokenQuery = Annotated[
    str | None,
    Query(min_length=10, max_length=100, pattern=TOKEN_PATTERN, description="The survey link's secret token"),
]


PAGES = template_environment("tessera_service_desk.surveys")
PAGE = "JSON; to a browser (Accept: text/html) a page in the customers' language"
READ_PAGES, ANSWER_PAGES = html_too(PAGE, 200, 404), html_too(PAGE, 200, 404, 409, 422)
FORM_FIELDS = ("csat", "nps", "comment")


def _check_token(request: Request, survey_id: uuid.UUID, token: str) -> None:
    if not token_matches(settings_of(request).survey_secret(), survey_id, token):
        # Same answer for a wrong token and an unknown survey: the link is the credential.
        raise NotFound("survey", survey_id)


def _page(
    request: Request,
    state: str,
    status_code: int = 200,
    *,
    survey_id: uuid.UUID | None = None,
    chosen: dict[str, Any] | None = None,
    error: bool = False,
) -> HTMLResponse:
    """The survey's page: ``form`` (the questions), ``answered`` (thanks), ``already`` (answered
    before) or ``invalid`` (a wrong link). Its form posts to the gateway's public answer route."""
    settings = settings_of(request)
    values = {
        "state": state,
        "action": answer_url(settings, survey_id) if survey_id is not None else "",
        "chosen": chosen or {"csat": None, "nps": None, "comment": ""},
        "error": error,
    }
    return html_page(render_page(PAGES, "survey_page", settings.customer_locale, values), status_code)


async def _linked_survey(request: Request, session: SessionDep, survey_id: uuid.UUID, token: str) -> Any:
    _check_token(request, survey_id, token)
    survey = await find_survey(session, survey_id)
    if survey is None:
        raise NotFound("survey", survey_id)
    return survey


@router.get(
    "/{survey_id}",
    response_model=SurveyStaffOut | SurveyOut,
    responses=READ_PAGES,
    summary="Read a survey: with its link token (customer; a browser gets the survey's page with its "
    "form) or a staff bearer token",
    openapi_extra=public("the survey link's token is the credential; staff use a bearer token"),
)
async def get_survey(survey_id: uuid.UUID, request: Request, session: SessionDep, token: TokenQuery = None) -> Any:
    if token is not None:
        try:
            survey = await _linked_survey(request, session, survey_id, token)
        except NotFound:
            if wants_html(request):
                return _page(request, "invalid", 404)
            raise
        if wants_html(request):
            return _page(request, "already" if survey.answered_at else "form", survey_id=survey.id)
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


class FormEncoded(APIRoute):
    """A route matched only when the body is form-encoded (a page's form); any other body goes on
    to the next route of the same path, the JSON API's, which answers exactly as before."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        content_type = dict(scope.get("headers") or ()).get(b"content-type", b"")
        if content_type.split(b";")[0].strip().lower() != FORM_CONTENT_TYPE.encode():
            return Match.NONE, {}
        return match, child


def _form_value(raw: str) -> int | str:
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 3 else raw


async def answer_by_form(
    survey_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    token: Annotated[str, Query(min_length=10, max_length=100, pattern=TOKEN_PATTERN)],
) -> Any:
    """The page's form (``csat``, ``nps``, ``comment``, form-encoded): the same rules as the JSON
    answer; a browser gets the thank-you page, the already-answered page, or the form again."""
    html = wants_html(request)
    try:
        survey = await _linked_survey(request, session, survey_id, token)
    except NotFound:
        if html:
            return _page(request, "invalid", 404)
        raise
    fields = parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
    given = {name: fields[name][0].strip() for name in FORM_FIELDS if name in fields}
    values: dict[str, Any] = {
        name: (value if name == "comment" else _form_value(value)) for name, value in given.items() if value
    }
    try:
        body = SurveyAnswer.model_validate(values)
    except ValidationError as exc:
        if html:
            chosen = {"csat": values.get("csat"), "nps": values.get("nps"), "comment": given.get("comment", "")}
            return _page(request, "form", 422, survey_id=survey.id, chosen=chosen, error=True)
        raise InvalidInput.of(
            field_error(".".join(str(part) for part in error["loc"]), error["msg"], kind=error["type"])
            for error in exc.errors()
        ) from None
    try:
        survey = await answer_survey(
            session, survey, csat=body.csat, nps=body.nps, comment=body.comment or None, now=utcnow()
        )
    except AlreadyAnswered:
        if html:
            return _page(request, "already", 409)
        raise
    if html:
        return _page(request, "answered")
    return SurveyOut.model_validate(survey)


# Before the JSON route of the same path and method: it is tried first, and only for a form.
router.add_api_route(
    "/{survey_id}/answer",
    answer_by_form,
    methods=["POST"],
    name="answer_survey_by_form",
    response_model=SurveyOut,
    include_in_schema=False,
    route_class_override=FormEncoded,
)


@router.post(
    "/{survey_id}/answer",
    name="answer_survey",
    response_model=SurveyOut,
    status_code=200,
    responses=ANSWER_PAGES,
    summary="Answer a survey once, with its link token (no bearer token needed): JSON, or the "
    "survey page's form (form-encoded; a browser then gets a thank-you page)",
    description="The survey's page (what a browser gets from the link) posts its form here as "
    "`application/x-www-form-urlencoded` (`csat`, `nps`, `comment`: the same fields and rules); "
    "with `Accept: text/html` the answer is a thank-you page, or the already-answered page (409), "
    "or the form again naming what is missing (422). One body type is documented, JSON, as "
    "generated clients handle one.",
    openapi_extra=public("the survey link's token is the credential"),
)
async def answer(
    survey_id: uuid.UUID,
    body: SurveyAnswer,
    request: Request,
    session: SessionDep,
    token: Annotated[str, Query(min_length=10, max_length=100, pattern=TOKEN_PATTERN)],
) -> SurveyOut:
    survey = await _linked_survey(request, session, survey_id, token)
    survey = await answer_survey(
        session, survey, csat=body.csat, nps=body.nps, comment=body.comment or None, now=utcnow()
    )
    return SurveyOut.model_validate(survey)
