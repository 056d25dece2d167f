"""Every route of every service has a role rule, and every role gets exactly that answer.

The rules are read from each service's OpenAPI (the OAuth2 scopes `require_roles` declares);
each operation is then called with a token of every role: 403 exactly where the role is not
admitted, never a 5xx, and 401 without a token. Adding an endpoint without a rule fails here.
"""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from tessera_sales.api import DEAL_READERS
from tessera_sales.testing import Api
from tessera_shared.auth import TEAM_SCOPE_HEADER
from tessera_shared.testing.builders import customer_payload
from tessera_shared.testing.customers import StubCustomers
from tessera_shared.testing.databases import DatabaseFactory
from tessera_shared.testing.plugin import bearer, migrations_of, running

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
from gen_role_matrix import ROLES, SERVICES, build_app, matrix_routes, object_levels  # noqa: E402

# What a partner (an outside system) may read over HTTP: nothing personal.
# Routes a partner client may use that hold no personal data (logging out its own token included).
PARTNER_PATHS = (
    {"/v1/events/schemas", "/v1/events/schemas/{event_type}", "/auth/logout"}
    | {
        # Custom field definitions (labels, types, options; no record's value): what a partner needs
        # to read the data.custom_fields of the events it receives (issue 24 part 2).
        "/v1/custom-fields",
        "/v1/custom-fields/{definition_id}",
    }
    | {
        # A partner's own webhook endpoints: their settings, and its deliveries' ids, types and
        # attempts (no event bodies).
        f"/v1/webhooks{p}"
        for p in (
            "/endpoints",
            "/endpoints/{endpoint_id}",
            "/endpoints/{endpoint_id}/rotate-secret",
            "/endpoints/{endpoint_id}/test",
            "/endpoints/{endpoint_id}/deliveries",
            "/endpoints/{endpoint_id}/replay",
            "/endpoints/{endpoint_id}/replays/{replay_id}",
            "/deliveries/{delivery_id}/redeliver",
        )
    }
)


def test_roles_page_is_fresh() -> None:
    r = subprocess.run(
        [sys.executable, "tools/gen_role_matrix.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert r.returncode == 0, r.stdout + r.stderr


def concrete(path: str, parameters: list[dict]) -> str:
    kinds = {p["name"]: p.get("schema", {}) for p in parameters if p.get("in") == "path"}

    def value(match: re.Match[str]) -> str:
        schema = kinds.get(match.group(1), {})
        return "x" if schema.get("type") == "string" and schema.get("format") != "uuid" else str(uuid.uuid4())

    return re.sub(r"\{([^}:]+)(?::[^}]*)?\}", value, path)


@pytest.mark.parametrize("service", SERVICES)
async def test_every_route_enforces_its_roles(databases: DatabaseFactory, service: str) -> None:
    package = importlib.import_module(f"tessera_{service.replace('-', '_')}.main")
    url = await databases.new(service, "sqlite", migrations_of(package.__file__))
    # The notifications' live stream ends on its own after stream_max_seconds: short here.
    short_streams = {"stream_max_seconds": 0.1} if service == "notifications" else {}
    app = build_app(service, url, **short_streams)
    openapi = getattr(app.state, "own_openapi", app.openapi)()
    rows = matrix_routes(app)
    missing = [f"{m} {p}" for m, p, roles, public in rows if roles is None and not public]
    assert missing == [], f"routes without a role rule: {missing}"

    failures: list[str] = []
    async with running(app) as client:
        for method, path, roles, public in rows:
            if public:
                continue
            op = openapi["paths"][path][method.lower()]
            target = concrete(path, op.get("parameters", []))
            body: dict[str, Any] = {"json": {}} if "requestBody" in op else {}
            r = await client.request(method, target, **body)
            if r.status_code != 401:
                failures.append(f"{method} {path} without a token: {r.status_code}")
            for role in ROLES:
                kind = "client" if role in ("partner", "service") else "user"
                r = await client.request(method, target, headers=bearer(app, f"who-{role}", role, kind=kind), **body)
                allowed = role == "admin" or role in (roles or ())
                if r.status_code >= 500:
                    failures.append(f"{method} {path} as {role}: {r.status_code} {r.text[:200]}")
                elif not allowed and r.status_code != 403:
                    failures.append(f"{method} {path} as {role}: {r.status_code}, expected 403")
                elif allowed and r.status_code == 403 and "required_roles" in r.text:
                    # (a 403 from an object-level rule, without required_roles, is fine)
                    failures.append(f"{method} {path} as {role}: refused by role, but the rule admits it")
                if role == "partner" and allowed and path not in PARTNER_PATHS:
                    failures.append(f"{method} {path}: partners may not read personal data")
    assert failures == []


TEAM = "01937b5e-0000-7000-8000-00000000000a"


def as_lead(app: Any, role: str, members: tuple[str, ...]) -> dict[str, str]:
    """A token of ``role`` for ``who-<role>``, with the gateway's signed scope: they lead a team of ``members``."""
    kind = "client" if role in ("partner", "service") else "user"
    subject = f"who-{role}"
    scope = app.state.token_codec.issue_team_scope(subject, [TEAM], [subject, *members])
    return {**bearer(app, subject, role, kind=kind), TEAM_SCOPE_HEADER: scope}


async def test_object_levels_hold_for_every_role(databases: DatabaseFactory) -> None:
    """The page's object-level table is what the services do: each admitted role, leading a team of
    one member, lists all deals ("all") or its own and the member's ("own + team"), and changes any
    customer ("all"), its own and the member's ("own + team") or none ("read only")."""
    levels = {service: lv for service, _, lv in object_levels()}
    sales_main = importlib.import_module("tessera_sales.main")
    url = await databases.new("sales", "sqlite", migrations_of(sales_main.__file__))
    app = build_app("sales", url)
    app.state.customer_directory = StubCustomers()
    async with running(app) as client:
        api = Api(app, client)
        owners = {"member": "rep-member", "outsider": "rep-outsider", **{r.value: f"who-{r.value}" for r in ROLES}}
        ids = {o: (await api.deal(api.manager, owner_id=who))["id"] for o, who in owners.items()}
        for role in ROLES:
            if role not in (*DEAL_READERS, "admin"):
                continue
            r = await client.get("/v1/deals", params={"limit": 200}, headers=as_lead(app, role, ("rep-member",)))
            seen = {d["id"] for d in r.json()["items"]}
            want = set(ids.values()) if levels["sales"][role] == "all" else {ids["member"], ids[role.value]}
            assert seen == want, (role, levels["sales"][role])

    customer_main = importlib.import_module("tessera_customer.main")
    url = await databases.new("customer", "sqlite", migrations_of(customer_main.__file__))
    app = build_app("customer", url)
    async with running(app) as client:
        admin = bearer(app, "admin", "admin")
        made = {}
        for who in ("rep-member", "rep-outsider"):
            r = await client.post("/v1/customers", json=customer_payload(owner_id=who), headers=admin)
            made[who] = r.json()["id"]
        for role in ROLES:
            if role in ("partner",):
                continue
            headers = as_lead(app, role, ("rep-member",))
            changed = set()
            for who, cid in made.items():
                etag = (await client.get(f"/v1/customers/{cid}", headers=admin)).headers["etag"]
                r = await client.patch(
                    f"/v1/customers/{cid}", json={"name": f"Renamed by {role}"}, headers={**headers, "If-Match": etag}
                )
                assert r.status_code in (200, 403), (role, r.status_code, r.text)
                if r.status_code == 200:
                    changed.add(who)
            level = levels["customer"][role]
            want = (
                {"rep-member", "rep-outsider"} if level == "all" else {"rep-member"} if level == "own + team" else set()
            )
            assert changed == want, (role, level)
