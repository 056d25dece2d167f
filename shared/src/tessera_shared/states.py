"""State machines: the allowed moves of an entity's status, checked in one way everywhere.

A ``StateMachine`` holds a transition table (state -> the states it may move to). ``check``
refuses a move with ``InvalidTransition`` (409 ``invalid-transition``, with ``current``,
``requested`` and ``allowed``). Rules whose moves depend on more than the state (a reopen
window, a role) compute ``allowed`` themselves and raise ``InvalidTransition`` directly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from tessera_shared.errors import InvalidTransition

S = TypeVar("S", bound=str)


@dataclass(frozen=True)
class StateMachine(Generic[S]):
    """``entity`` names the thing in messages ("invoice"); ``order`` fixes how ``allowed`` lists."""

    entity: str
    transitions: Mapping[S, Iterable[S]]
    order: tuple[str, ...] = field(default=())
    _table: dict[str, frozenset[str]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        table = {str(k): frozenset(str(s) for s in v) for k, v in self.transitions.items()}
        unknown = {s for targets in table.values() for s in targets} - table.keys()
        if unknown:
            raise ValueError(f"{self.entity}: transitions to undeclared states {sorted(unknown)}")
        object.__setattr__(self, "_table", table)
        if not self.order:
            object.__setattr__(self, "order", tuple(table))

    @property
    def states(self) -> tuple[str, ...]:
        return self.order

    def allowed(self, current: str) -> list[str]:
        """The states ``current`` may move to, in the machine's order (none from an unknown state)."""
        targets = self._table.get(str(current), frozenset())
        return [s for s in self.states if s in targets]

    def can(self, current: str, requested: str) -> bool:
        return str(requested) in self._table.get(str(current), frozenset())

    def is_final(self, current: str) -> bool:
        return not self._table.get(str(current))

    def check(self, current: str, requested: str, *, reason: Callable[[str, str], str] | None = None) -> None:
        """Refuse a move the table does not hold; ``reason`` words the detail."""
        if self.can(current, requested):
            return
        detail = (
            reason(current, requested) if reason else f"the {self.entity} is {current} and cannot move to {requested}"
        )
        raise InvalidTransition(detail, current=current, requested=requested, allowed=self.allowed(current))
