from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

Digest = Literal["none", "daily"]


class PreferenceItem(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    event_type: str = Field(max_length=100, pattern=r"^[a-z_]+\.[a-z_]+$")
    in_app: StrictBool = True
    email: StrictBool = False
    # "daily": e-mails of this type are gathered into one message a day instead of one each.
    digest: Digest = "none"


class Preferences(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[PreferenceItem] = Field(max_length=100)
