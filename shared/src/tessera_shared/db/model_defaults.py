"""A record model's default factories, asked about once.

SQLModel builds a table model's instance with ``sqlmodel_table_construct``, which calls
``FieldInfo.get_default(call_default_factory=True)`` for every field left out; pydantic 2.14
answers it through ``default_factory_takes_validated_data``, which runs ``inspect.signature`` on
the factory every time (not cached on ``FieldInfo``). For a builtin such as ``list`` or ``dict``
that parses the builtin's text signature (tokenize, compile): 85 µs each time, so building one
``Customer`` cost ~550 µs, a ``Lead`` ~340, a ``Deal`` ~230, in every single write and batch
(measured with ``time.process_time``, load 12). Whether a factory takes the validated data
depends on the factory alone, so the answer is kept per factory. ``install()`` runs when
``tessera_shared.db`` is imported (every service's models import it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic._internal import _fields

_ATTRIBUTE = "takes_validated_data_argument"


def _cached(original: Callable[[Any], bool]) -> Callable[[Any], bool]:
    known: dict[Any, bool] = {}

    def takes_validated_data_argument(default_factory: Any) -> bool:
        try:
            return known[default_factory]
        except KeyError:
            answer = known[default_factory] = bool(original(default_factory))
            return answer
        except TypeError:  # an unhashable callable: asked every time, as before
            return bool(original(default_factory))

    takes_validated_data_argument.cached = True  # type: ignore[attr-defined]
    return takes_validated_data_argument


def install() -> None:
    current = getattr(_fields, _ATTRIBUTE, None)
    if current is not None and not getattr(current, "cached", False):
        setattr(_fields, _ATTRIBUTE, _cached(current))
