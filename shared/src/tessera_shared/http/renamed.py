"""Query parameters with a new public name whose old name is still accepted (deprecated).

The reports' date range was ``?from=&to=``. ``from`` is a reserved word in Python, and OpenAPI
Generator (7.27.0, ``-g python``) prints ``From (reserved word) cannot be used as model name`` for
any parameter of that name, whatever its schema (``DefaultCodegen.fromOperation`` passes every
parameter's name to ``toModelName``). The range is now ``?since=&until=``, the only names the
OpenAPI documents give; ``from`` and ``to`` are accepted as before on every report path (a path
with a ``reports`` segment) by renaming them here, before routing, so each endpoint declares its
parameters once, required or not, under the new names. Sending both names of one parameter is a
422. An answer to a request that used a former name carries ``Deprecation`` and ``Sunset``
(tessera_shared.http.deprecation). The gateway renames too, so what it forwards, and its own KPI
report, see the new names.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import unquote_plus

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tessera_shared.http.deprecation import REPORT_RANGE_NAMES
from tessera_shared.http.errors import problem_response

# New name -> old name, on report paths.
REPORT_RANGE = {"since": "from", "until": "to"}


def formerly(new: str, renames: Mapping[str, str] = REPORT_RANGE) -> str:
    """The sentence a renamed parameter's description ends with."""
    return f"Formerly `{renames[new]}`, still accepted (deprecated)."


def is_report_path(path: str) -> bool:
    return "reports" in path.split("/")


class RenamedQueryParameters:
    """Rewrites the deprecated names of query parameters to their new ones on the paths it
    applies to (the rest of the query string is passed on byte for byte)."""

    def __init__(self, app: ASGIApp, renames: Mapping[str, str] = REPORT_RANGE) -> None:
        self.app = app
        self.old_to_new = {old.encode(): new.encode() for new, old in renames.items()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        query: bytes = scope.get("query_string", b"") if scope["type"] == "http" else b""
        if query and is_report_path(scope["path"]):
            pieces = query.split(b"&")
            names = [unquote_plus(p.split(b"=", 1)[0].decode("latin-1"), "latin-1").encode("latin-1") for p in pieces]
            if any(n in self.old_to_new for n in names):
                both = sorted(old.decode() for old, new in self.old_to_new.items() if old in names and new in names)
                if both:
                    errors = [
                        {
                            "field": self.old_to_new[old.encode()].decode(),
                            "message": f"give '{self.old_to_new[old.encode()].decode()}' or its former name"
                            f" '{old}', not both",
                            "location": "query",
                        }
                        for old in both
                    ]
                    response = problem_response(
                        422, detail=f"invalid input: {', '.join(e['field'] for e in errors)}", errors=errors
                    )
                    await response(scope, receive, send)
                    return
                renamed = [
                    self.old_to_new[n] + (b"=" + p.split(b"=", 1)[1] if b"=" in p else b"")
                    if n in self.old_to_new
                    else p
                    for p, n in zip(pieces, names, strict=True)
                ]
                # In place: what the router notes in the scope (the matched route) stays visible
                # to the layers around this one (metrics, the test suite's route ledger).
                scope["query_string"] = b"&".join(renamed)
                await self.app(scope, receive, _announcing(send))  # Deprecation and Sunset
                return
        await self.app(scope, receive, send)


def _announcing(send: Send) -> Send:
    """``send`` that puts the former names' Deprecation and Sunset fields on the answer."""

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *REPORT_RANGE_NAMES.raw_headers()]}
        await send(message)

    return wrapped
