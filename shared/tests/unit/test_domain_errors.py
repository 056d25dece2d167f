"""Domain errors become one problem shape each; the state machine refuses moves in one way."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tessera_shared.errors import Conflict, InvalidInput, InvalidTransition, NotFound, Unavailable, field_error
from tessera_shared.http.errors import install_problem_handlers
from tessera_shared.http.openapi import add_problem_responses
from tessera_shared.states import StateMachine

INVOICE = StateMachine(
    "invoice",
    {"draft": ["issued", "void"], "issued": ["paid", "void"], "paid": [], "void": []},
    order=("draft", "issued", "paid", "void"),
)


def test_the_machine_lists_allowed_moves_in_its_order() -> None:
    assert INVOICE.allowed("draft") == ["issued", "void"]
    assert INVOICE.allowed("paid") == []
    assert INVOICE.allowed("nonsense") == []
    assert INVOICE.can("issued", "paid")
    assert not INVOICE.can("paid", "issued")
    assert INVOICE.is_final("void")
    assert not INVOICE.is_final("draft")


def test_a_refused_move_names_current_requested_and_allowed() -> None:
    with pytest.raises(InvalidTransition) as refused:
        INVOICE.check("issued", "draft")
    assert refused.value.members() == {"current": "issued", "requested": "draft", "allowed": ["paid", "void"]}
    assert refused.value.detail == "the invoice is issued and cannot move to draft"
    INVOICE.check("draft", "issued")  # allowed: no error


def test_a_machine_refuses_transitions_to_undeclared_states() -> None:
    with pytest.raises(ValueError, match="undeclared"):
        StateMachine("deal", {"open": ["won"]})


def test_invalid_input_of_several_fields_names_each_once() -> None:
    error = InvalidInput.of([field_error("to", "before from", "query"), field_error("to", "too far", "query")])
    assert error.detail == "invalid input: to"
    assert [e["message"] for e in error.errors] == ["before from", "too far"]
    with pytest.raises(ValueError):
        InvalidInput.of([])


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/input")
    async def _input() -> None:
        raise InvalidInput("amount", "more decimals than JPY has")

    @app.get("/move")
    async def _move() -> None:
        INVOICE.check("paid", "void")

    @app.get("/missing")
    async def _missing() -> None:
        raise NotFound("invoice", "INV-1")

    @app.get("/conflict")
    async def _conflict() -> None:
        raise Conflict("already merged", kind="already-merged", merged_into="c2")

    @app.get("/down")
    async def _down() -> None:
        raise Unavailable("the customer service is unavailable", retry_after=5)

    return app


async def test_the_one_handler_answers_problem_json_for_each_kind() -> None:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        r = await client.get("/input")
        assert r.status_code == 422
        assert r.headers["content-type"] == "application/problem+json"
        body = r.json()
        assert body["type"] == "urn:tessera:problem:validation-error"
        assert body["detail"] == "invalid input: amount"
        assert body["instance"] == "/input"
        assert body["errors"] == [
            {"field": "amount", "location": "body", "message": "more decimals than JPY has", "type": "value_error"}
        ]

        r = await client.get("/move")
        assert r.status_code == 409
        body = r.json()
        assert body["type"] == "urn:tessera:problem:invalid-transition"
        assert (body["current"], body["requested"], body["allowed"]) == ("paid", "void", [])

        r = await client.get("/missing")
        assert (r.status_code, r.json()["detail"]) == (404, "invoice INV-1 not found")

        r = await client.get("/conflict")
        assert r.status_code == 409
        assert r.json()["type"] == "urn:tessera:problem:already-merged"
        assert r.json()["merged_into"] == "c2"

        r = await client.get("/down")
        assert (r.status_code, r.headers["retry-after"]) == (503, "5")


# The OpenAPI document derives each operation's statuses from what its code can raise.
class CreditHold(Conflict):
    slug = "credit-hold"


def _win(current: str) -> None:
    INVOICE.check(current, "paid")  # through a module-level state machine


def _hold() -> None:
    raise CreditHold("over the limit")


def _merged() -> None:
    raise Conflict("merged", kind="customer-merged")


def test_the_document_lists_the_domain_errors_an_operation_can_raise() -> None:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/deals/{deal_id}/win")
    async def win(deal_id: str) -> None:
        if deal_id == "x":
            raise NotFound("deal", deal_id)
        _win("draft")
        _hold()
        _merged()
        raise InvalidInput("amount", "too many decimals")

    for function in (win, _win, _hold, _merged):  # only this project's code is followed
        function.__module__ = "tessera_shared.example"
    doc = add_problem_responses(app.openapi(), app)
    responses = doc["paths"]["/deals/{deal_id}/win"]["post"]["responses"]
    assert {"404", "409", "422"} <= responses.keys()
    conflict = responses["409"]["description"]
    for slug in ("invalid-transition", "credit-hold", "customer-merged"):
        assert f"`{slug}`" in conflict, conflict
    assert "errors" in responses["422"]["description"]
