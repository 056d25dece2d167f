"""Write docs/roles.md, the role x endpoint matrix read from the code (`make roles`).

The rules live in the routes (`require_roles`); this page is generated from them, and the
role-matrix test checks both the page and the behaviour of every route for every role.
With --check, write nothing and exit 1 when the page is stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

from fastapi import FastAPI
from service_apps import SERVICES, build_app

from tessera_customer.customers import rules as customer_rules
from tessera_sales import ownership as sales_ownership
from tessera_shared.auth import Role

ROOT = Path(__file__).resolve().parents[1]
ROLES = [
    Role.ADMIN,
    Role.SALES_MANAGER,
    Role.SALES_REP,
    Role.SUPPORT_AGENT,
    Role.BILLING_CLERK,
    Role.FINANCE_MANAGER,
    Role.PARTNER,
    Role.SERVICE,
]
# Probes, docs and the token endpoint are open by design.
OPEN_PATHS = {"/healthz", "/readyz", "/metrics", "/auth/token", "/.well-known/jwks.json"}


def matrix_routes(app: FastAPI) -> list[tuple[str, str, frozenset[str] | None, str | None]]:
    """(method, path, roles or None, public reason or None) for every operation in the OpenAPI.

    The roles are the OAuth2 scopes ``require_roles`` puts on each operation.
    """
    rows = []
    # The gateway's own document: its merged one repeats the services' routes, checked there.
    document = getattr(app.state, "own_openapi", app.openapi)()
    for path, operations in document["paths"].items():
        if path in OPEN_PATHS:
            continue
        for method, op in operations.items():
            scopes = {s for req in op.get("security", []) for s in req.get("tessera", [])}
            rows.append((method.upper(), path, frozenset(scopes) or None, op.get("x-tessera-public")))
    return sorted(rows, key=lambda r: (r[1], r[0]))


# The object-level rules: which records of an owner-scoped resource a role reaches once a route
# admits it. "own + team": the caller's own, and when the gateway's team scope says they lead teams
# (X-Tessera-Team-Scope), their members' and their teams' records too (tessera_shared.auth.OwnerScope).
ALL, OWN_TEAM, READ = "all", "own + team", "read only"


def object_levels() -> list[tuple[str, str, dict[Role, str]]]:
    """(service, records, level per role), read from the services' owner rules."""
    sales = {r: ALL if r in sales_ownership.SEE_ALL or r == Role.ADMIN else OWN_TEAM for r in ROLES}
    customer = {
        r: ALL if r in customer_rules.MANAGERS or r == Role.ADMIN else OWN_TEAM if r == Role.SALES_REP else READ
        for r in ROLES
    }
    return [
        ("sales", "deals, leads, activities: read and change (lists, search, reports, exports)", sales),
        ("customer", "customers and their contacts: change (everyone admitted reads every customer)", customer),
    ]


def render() -> str:
    lines = [
        "# Roles and endpoints",
        "",
        "Generated from the code by `make roles` (the `require_roles` rule on each route); the",
        "role-matrix test checks that every route has a rule and that every role gets exactly",
        "this answer (403 where there is no mark). `admin` may do everything. Object-level",
        "rules (a rep's own deals and customers) apply on top, inside the services.",
        "",
        "| service | method | path | " + " | ".join(r.value for r in ROLES) + " |",
        "| --- | --- | --- | " + " | ".join("---" for _ in ROLES) + " |",
    ]
    for service in SERVICES:
        app = build_app(service)
        for method, path, allowed, public in matrix_routes(app):
            if public:
                marks = [f"public: {public}"] + [""] * (len(ROLES) - 1)
            else:
                marks = ["✓" if allowed and (r in allowed or r == Role.ADMIN) else "" for r in ROLES]
            lines.append(f"| {service} | {method} | `{path}` | " + " | ".join(marks) + " |")
    lines += [
        "",
        "## Object-level rules: own, team, all",
        "",
        "Which records of an owner-scoped resource each role reaches where its route admits it. A team",
        "lead (`/api/v1/teams`) reaches their own records and their members' (and those routed to their",
        "teams): the gateway tells each service on every forwarded request (`X-Tessera-Team-Scope`, signed).",
        "",
        "| service | records | " + " | ".join(r.value for r in ROLES) + " |",
        "| --- | --- | " + " | ".join("---" for _ in ROLES) + " |",
    ]
    for service, records, levels in object_levels():
        lines.append(f"| {service} | {records} | " + " | ".join(levels[r] for r in ROLES) + " |")
    return "\n".join(lines) + "\n"


def main() -> int:
    target = ROOT / "docs/roles.md"
    text = render()
    if "--check" in sys.argv:
        if not target.exists() or target.read_text() != text:
            print("stale: docs/roles.md (run `make roles`)")
            return 1
        return 0
    target.write_text(text)
    print("wrote docs/roles.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
