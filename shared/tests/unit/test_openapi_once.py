"""tessera_shared.http.openapi_once: an app's document is built once per kind of app."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, FastAPI

from tessera_shared.http.openapi_once import openapi_once

router = APIRouter()


def reader() -> str:
    return "r"


@router.get("/things/{thing_id}")
async def read_thing(thing_id: int, who: str = Depends(reader)) -> dict[str, int]:
    return {"id": thing_id}


def make_app(*, extra: bool = False, title: str = "Things") -> FastAPI:
    app = FastAPI(title=title)
    app.include_router(router)

    @app.get("/healthz")  # defined again for each app, as the shared app factory does
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    if extra:

        @app.post("/things", status_code=201)
        async def create_thing(name: str) -> dict[str, str]:
            return {"name": name}

    return app


def counted(app: FastAPI, builds: list[int]) -> Any:
    def build() -> dict[str, Any]:
        builds.append(1)
        return app.openapi()

    return build


def test_an_app_like_one_built_before_reuses_its_document_as_a_copy() -> None:
    builds: list[int] = []
    first = make_app(title="Reused")
    doc = openapi_once(first, "/auth/token", counted(first, builds))
    second = make_app(title="Reused")
    again = openapi_once(second, "/auth/token", counted(second, builds))
    assert builds == [1]
    assert again == doc == second.openapi()
    again["paths"].clear()  # a caller's copy: the next one is whole
    assert openapi_once(make_app(title="Reused"), "/auth/token", counted(second, builds)) == doc
    assert builds == [1]


def test_a_different_route_title_or_token_url_builds_its_own() -> None:
    builds: list[int] = []
    plain = make_app(title="Differs")
    openapi_once(plain, "/auth/token", counted(plain, builds))
    bigger = make_app(title="Differs", extra=True)
    doc = openapi_once(bigger, "/auth/token", counted(bigger, builds))
    assert "/things" in doc["paths"]
    other_token = make_app(title="Differs")
    openapi_once(other_token, "/api/auth/token", counted(other_token, builds))
    renamed = make_app(title="Differs too")
    assert openapi_once(renamed, "/auth/token", counted(renamed, builds))["info"]["title"] == "Differs too"
    assert builds == [1, 1, 1, 1]
