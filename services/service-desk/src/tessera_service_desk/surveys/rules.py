"""Survey rules (pure): a link token is an HMAC of the survey id (nothing secret stored); one answer per survey."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid

from tessera_shared.errors import Conflict


class AlreadyAnswered(Conflict):
    """A survey is answered once: 409 ``survey-already-answered``."""

    slug = "survey-already-answered"


def survey_token(secret: bytes, survey_id: uuid.UUID) -> str:
    digest = hmac.new(secret, f"tessera-survey:{survey_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def token_matches(secret: bytes, survey_id: uuid.UUID, token: str) -> bool:
    # As bytes: compare_digest refuses str with non-ASCII characters, and a link can carry any.
    return hmac.compare_digest(survey_token(secret, survey_id).encode(), token.encode())
