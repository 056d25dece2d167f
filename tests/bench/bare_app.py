"""Row 1's ceiling: the smallest FastAPI app that answers a JSON GET-by-id, served by uvicorn
with the same flags the launcher gives the services (uvloop, httptools, no access log)."""

from __future__ import annotations

from fastapi import FastAPI


def create_app() -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/v1/things/{thing_id}")
    async def get_thing(thing_id: str) -> dict[str, object]:
        return {
            "id": thing_id,
            "kind": "person",
            "name": "Ada Lovelace",
            "email": "ada@example.com",
            "status": "prospect",
            "version": 1,
        }

    return app
