from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from tessera_service_desk.api import NO_NUL
from tessera_shared.http.inputs import Trim

Title = Annotated[str, Trim(min_length=1, max_length=300, pattern=NO_NUL)]
Body = Annotated[str, Trim(min_length=1, max_length=200_000, pattern=NO_NUL)]
Tag = Annotated[str, Trim(min_length=1, max_length=50, pattern=NO_NUL)]
ArticleStatus = Literal["draft", "published", "archived"]


class ArticleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    body: Body
    tags: list[Tag] = Field(default_factory=list, max_length=30)
    status: Literal["draft", "published"] = "published"


class ArticlePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    body: Body | None = None
    tags: list[Tag] | None = Field(default=None, max_length=30)
    status: ArticleStatus | None = None


class ArticleOut(BaseModel):
    id: uuid.UUID
    title: str
    body: str
    tags: list[str]
    status: str
    author_id: str
    view_count: int
    helpful_count: int
    not_helpful_count: int
    # Share of "helpful" votes, None before the first vote.
    helpfulness: float | None
    solved_ticket_count: int
    created_at: datetime
    updated_at: datetime
    version: int


class Feedback(BaseModel):
    model_config = ConfigDict(extra="forbid")

    helpful: StrictBool


class TicketLink(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ticket_id: uuid.UUID


class TicketLinkOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    article_id: uuid.UUID
    ticket_id: uuid.UUID
    linked_by: str
    linked_at: datetime
