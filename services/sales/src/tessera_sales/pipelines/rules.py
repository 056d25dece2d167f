"""Pure rules of pipelines: a pipeline's stages as a stage machine, and the checks of a definition (no I/O).

A pipeline has ordered stages, each ``open``, ``won`` or ``lost``. A deal moves by PATCH between
the open stages, closes by /win into the won stage and by /lose into the lost stage, and reopens
(managers) into an open stage. An archived stage takes no new deals; the deals in it stay and may
leave it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from tessera_shared.errors import InvalidInput, InvalidTransition
from tessera_shared.states import StateMachine

Kind = Literal["open", "won", "lost"]
KINDS: tuple[Kind, ...] = ("open", "won", "lost")

# The pipeline every deal belonged to before pipelines existed; the migration creates it.
DEFAULT_PIPELINE_ID = uuid.UUID("5a1e5000-0000-4000-8000-000000000001")
DEFAULT_PIPELINE_KEY = "default"
DEFAULT_PIPELINE_NAME = "Sales"

# The six standard stages the deal events' ``stage`` fields name; a custom pipeline's open stage is
# announced as the standard open stage at its place in the funnel (the last ones as negotiation).
STANDARD_OPEN = ("prospecting", "qualification", "proposal", "negotiation")

KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
KEY_HINT = "1-40 letters, digits, '_', '.' or '-', starting with a letter or digit"


@dataclass(frozen=True)
class StageDef:
    key: str
    name: str
    probability: int
    kind: Kind
    archived: bool = False


DEFAULT_STAGES = (
    StageDef("prospecting", "Prospecting", 10, "open"),
    StageDef("qualification", "Qualification", 20, "open"),
    StageDef("proposal", "Proposal", 50, "open"),
    StageDef("negotiation", "Negotiation", 80, "open"),
    StageDef("won", "Won", 100, "won"),
    StageDef("lost", "Lost", 0, "lost"),
)


def slug(name: str) -> str:
    """A stage or pipeline key made from its name ("Needs analysis" -> needs-analysis)."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "stage"


@dataclass(frozen=True)
class Draft:
    """A stage as a request gives it: any field may be left out."""

    key: str | None = None
    name: str | None = None
    probability: int | None = None
    kind: Kind | None = None
    archived: bool | None = None


def complete(
    drafts: Sequence[Draft], existing: Mapping[str, StageDef] | None = None, *, field: str = "stages"
) -> list[StageDef]:
    """The stages a request means: a known key keeps what is not given (its kind cannot change), a
    new one takes its key from its name, open stages without a probability spread by their place,
    and a new pipeline without a won or lost stage gets the standard ones. Then ``check_definition``."""
    existing = existing or {}
    out: list[StageDef] = []

    def kind_of(d: Draft) -> str:
        old = existing.get(d.key) if d.key else None
        return d.kind or (old.kind if old else "open")

    open_count = len([d for d in drafts if kind_of(d) == "open"])
    n_open = 0
    for i, d in enumerate(drafts):
        old = existing.get(d.key) if d.key else None
        if old is None and not d.name:
            raise InvalidInput(f"{field}.{i}.name", "a new stage needs a name")
        key = d.key or slug(d.name or "")
        kind: Kind = d.kind or (old.kind if old else "open")
        if old is not None and kind != old.kind:
            raise InvalidInput(f"{field}.{i}.kind", f"stage {key!r} is {old.kind}; a stage's kind cannot change")
        if kind == "open":
            n_open += 1
        default = (
            100
            if kind == "won"
            else 0
            if kind == "lost"
            else old.probability
            if old
            else round(100 * n_open / (open_count + 1))
        )
        out.append(
            StageDef(
                key=key,
                name=d.name or (old.name if old else key),
                probability=d.probability if d.probability is not None else default,
                kind=kind,
                archived=d.archived if d.archived is not None else (old.archived if old else False),
            )
        )
    if not existing:
        keys = {s.key for s in out}
        if not any(s.kind == "won" for s in out) and "won" not in keys:
            out.append(StageDef("won", "Won", 100, "won"))
        if not any(s.kind == "lost" for s in out) and "lost" not in keys:
            out.append(StageDef("lost", "Lost", 0, "lost"))
    check_definition(out, field)
    return out


def check_definition(stages: Sequence[StageDef], field: str = "stages") -> None:
    """At least one open stage taking deals, exactly one won and one lost stage, unique keys;
    422 names the stage at fault (``stages.<i>.key``, as the schema names fields)."""
    seen: dict[str, int] = {}
    for i, s in enumerate(stages):
        if not KEY.match(s.key):
            raise InvalidInput(f"{field}.{i}.key", KEY_HINT)
        if s.key in seen:
            raise InvalidInput(f"{field}.{i}.key", f"{s.key!r} is already {field}.{seen[s.key]}.key")
        seen[s.key] = i
        if s.kind == "won" and s.probability != 100:
            raise InvalidInput(f"{field}.{i}.probability", "a won stage's probability is 100")
        if s.kind == "lost" and s.probability != 0:
            raise InvalidInput(f"{field}.{i}.probability", "a lost stage's probability is 0")
        if s.kind != "open" and s.archived:
            raise InvalidInput(f"{field}.{i}.archived", "the won and lost stages cannot be archived")
    for kind in ("won", "lost"):
        found = [i for i, s in enumerate(stages) if s.kind == kind]
        if len(found) != 1:
            where = f"{field}.{found[1]}.kind" if found else field
            raise InvalidInput(where, f"a pipeline has exactly one {kind} stage ({len(found)} given)")
    if not any(s.kind == "open" and not s.archived for s in stages):
        raise InvalidInput(field, "a pipeline needs at least one open stage that is not archived")


class Stages:
    """One pipeline's stages as the deal's stage machine."""

    def __init__(
        self,
        defs: Sequence[StageDef],
        pipeline_id: uuid.UUID = DEFAULT_PIPELINE_ID,
        name: str = DEFAULT_PIPELINE_NAME,
        *,
        archived: bool = False,
    ) -> None:
        self.pipeline_id, self.pipeline_name, self.archived = pipeline_id, name, archived
        self.defs = tuple(defs)
        self.by_key = {d.key: d for d in self.defs}
        self.order = tuple(d.key for d in self.defs)
        self.open = tuple(d.key for d in self.defs if d.kind == "open")
        self.active_open = tuple(d.key for d in self.defs if d.kind == "open" and not d.archived)
        self.won = next(d.key for d in self.defs if d.kind == "won")
        self.lost = next(d.key for d in self.defs if d.kind == "lost")
        self.closed = (self.won, self.lost)
        # Funnel order: the open stages, then won; lost is off the funnel.
        self.funnel = (*self.open, self.won)
        self.rank = {k: i + 1 for i, k in enumerate(self.funnel)} | {self.lost: 0}
        self.moving = StateMachine(
            "deal",
            {**{s: [t for t in self.active_open if t != s] for s in self.open}, self.won: [], self.lost: []},
            order=self.order,
        )
        self.closing = StateMachine(
            "deal", {**{s: list(self.closed) for s in self.open}, self.won: [], self.lost: []}, order=self.order
        )
        self.reopening = StateMachine(
            "deal",
            {**{s: [] for s in self.open}, self.won: self.active_open, self.lost: self.active_open},
            order=self.order,
        )

    def kind(self, stage: str) -> Kind:
        return self.by_key[stage].kind

    def name(self, stage: str) -> str:
        d = self.by_key.get(stage)
        return d.name if d else stage

    def is_closed(self, stage: str) -> bool:
        return stage in self.closed

    def standard(self, stage: str) -> str:
        """The standard stage (of the six) that deal events' ``stage`` fields announce for ``stage``."""
        d = self.by_key.get(stage)
        if d is None or d.kind != "open":
            return "won" if d and d.kind == "won" else "lost" if d else stage
        if stage in STANDARD_OPEN:
            return stage
        return STANDARD_OPEN[min(self.open.index(stage), len(STANDARD_OPEN) - 1)]

    def check_entry(self, stage: str) -> None:
        """Where a new deal (or one moved into this pipeline) may start: an open stage taking deals."""
        if stage not in self.active_open:
            known = ", ".join(self.active_open)
            raise InvalidInput("stage", f"not an open stage of pipeline {self.pipeline_name!r} ({known})")

    def probability_for(self, stage: str, override: int | None = None) -> int:
        """The stage's default unless someone chose another; won and lost are always 100 and 0."""
        if self.is_closed(stage) or override is None:
            return self.by_key[stage].probability
        return override

    def check_open(self, current: str, requested: str) -> None:
        """A closed deal changes only by /reopen: any change to it is refused (409 ``invalid-transition``)."""
        if self.is_closed(current):
            raise InvalidTransition(
                f"a {current} deal is closed; a manager may reopen it",
                current=current,
                requested=requested,
                allowed=self.moving.allowed(current),
            )

    def check_move(self, current: str, target: str) -> None:
        """A PATCH of the stage; staying put is no move."""
        if target == current:
            return
        self.check_open(current, target)
        if target in self.closed:
            hint = f"use POST /v1/deals/{{id}}/{'win' if target == self.won else 'lose'} to close a deal"
            self.moving.check(current, target, reason=lambda *_: hint)
        if target in self.open:
            self.moving.check(current, target, reason=lambda *_: f"stage {target!r} is archived")
        self.moving.check(current, target, reason=lambda *_: f"unknown stage {target!r}")

    def check_close(self, current: str, target: str) -> None:
        """POST /win (``target`` the won stage) or /lose (the lost one)."""
        self.closing.check(current, target, reason=lambda *_: f"the deal is already {current}")

    def check_reopen(self, current: str, target: str) -> None:
        """POST /reopen: a closed deal into an open stage. An open deal moves by PATCH, so its refusal
        lists the moves PATCH allows."""
        if not self.is_closed(current):
            raise InvalidTransition(
                "only a won or lost deal can be reopened",
                current=current,
                requested=target,
                allowed=self.moving.allowed(current),
            )
        self.reopening.check(current, target, reason=lambda *_: f"a deal reopens into an open stage, not {target!r}")

    def reopen_default(self) -> str:
        """Where /reopen puts a deal when no stage is named: the last open stage taking deals."""
        return self.active_open[-1]


DEFAULT = Stages(DEFAULT_STAGES)
