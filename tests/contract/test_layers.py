"""The layers STYLE.md draws, checked on the source (AST only: no import, no database, fast).

Over ``shared/src`` and every ``services/*/src``:

- **router-sql**: a router module (any ``router.py``, any module under a ``routers/`` package)
  parses, authorises, calls a service function and shapes the answer; SQL lives below it. So it
  imports nothing from ``sqlalchemy`` or ``sqlmodel`` (``TYPE_CHECKING`` imports included),
  builds no statement (``select``, ``insert``, ... from those libraries) and runs none: no call
  of ``.execute``/``.scalar``/``.scalars``/``.scalar_one``/``.scalar_one_or_none`` on any object,
  and no session method (``get``, ``add``, ``add_all``, ``delete``, ``flush``, ``commit``,
  ``rollback``, ``refresh``, ``merge``, ``stream``, ``stream_scalars``) on a session: a name or
  attribute called ``session``, ``db``, ``s`` or ``sess``, or a name annotated in that module
  with a type whose spelling mentions ``Session`` (``SessionDep``, ``AsyncSession``, ...).
  Method names alone would catch ``dict.get`` and ``APIRouter.delete``; hence the receiver.
- **router-imports-router**: no router module imports another router module (``from
  tessera_x.y.router import ...``, ``from ..y import router``, relative forms resolved).
- **import-in-function**: no ``import``/``from ... import`` of a project module (``tessera_*``
  or relative), nor ``import_module``/``__import__`` of one by literal name, inside a function
  or method body, the usual way to hide an import cycle; a module-level ``if TYPE_CHECKING:``
  block is fine.
- **domain-raises-problem**: a service's domain code (every module of ``services/*/src`` but its
  routers, its ``api.py`` HTTP helpers and the gateway, whose whole job is HTTP) raises the
  domain errors of ``tessera_shared.errors``; ``Problem`` (an HTTP answer) is the HTTP layer's.
- **outside-document**: no module cites ``DOMAIN.md``: the domain document of this repository
  is ``docs/domain.md``.

Each rule is one assertion listing every offence as ``path:line: [rule] what``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCE_ROOTS = (ROOT / "shared" / "src", *sorted((ROOT / "services").glob("*/src")))

SQL_LIBRARIES = frozenset({"sqlalchemy", "sqlmodel"})
STATEMENT_BUILDERS = frozenset(
    {"select", "insert", "update", "delete", "text", "func", "union_all", "and_", "or_", "exists", "literal_column"}
)
# Called on any object: these names mean a statement is run (Session, Connection or Result).
EXECUTE_METHODS = frozenset({"execute", "scalar", "scalars", "scalar_one", "scalar_one_or_none"})
# Called on a session (see SESSION_NAMES and annotated names): the unit of work from a router.
SESSION_METHODS = frozenset(
    {"get", "add", "add_all", "delete", "flush", "commit", "rollback", "refresh", "merge", "stream", "stream_scalars"}
)
SESSION_NAMES = frozenset({"session", "db", "s", "sess"})


@dataclass(frozen=True)
class Module:
    name: str  # dotted, e.g. tessera_sales.deals.router
    path: Path
    tree: ast.Module
    is_package: bool

    @property
    def where(self) -> str:
        return str(self.path.relative_to(ROOT))

    @property
    def is_router(self) -> bool:
        return is_router_name(self.name)


def is_router_name(name: str) -> bool:
    parts = name.split(".")
    return parts[-1] == "router" or "routers" in parts[:-1]


def module_name(path: Path, root: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(root).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts.pop()
    return ".".join(parts), is_package


@cache
def modules() -> tuple[Module, ...]:
    found = []
    for root in SOURCE_ROOTS:
        for path in sorted(root.rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            name, is_package = module_name(path, root)
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            found.append(Module(name, path, tree, is_package))
    return tuple(found)


def resolve(module: Module, node: ast.ImportFrom) -> str:
    """The absolute module a ``from ... import`` names (relative levels resolved)."""
    if not node.level:
        return node.module or ""
    package = module.name.split(".") if module.is_package else module.name.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imported_modules(module: Module, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    """Every module an import statement may name: the module itself and, for ``from m import n``,
    ``m.n`` (n may be a submodule)."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    base = resolve(module, node)
    yield base
    for alias in node.names:
        if alias.name != "*":
            yield f"{base}.{alias.name}"


def top(name: str) -> str:
    return name.split(".", 1)[0]


# -- rule: router-sql ---------------------------------------------------------------------------


def session_annotated(tree: ast.Module) -> set[str]:
    """Names (parameters, annotated assignments) whose annotation mentions ``Session``."""
    names: set[str] = set()
    for node in ast.walk(tree):
        annotation = node.annotation if isinstance(node, ast.arg | ast.AnnAssign) else None
        if annotation is None or "Session" not in ast.unparse(annotation):
            continue
        if isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def router_sql_offences(module: Module) -> Iterator[str]:
    sql_aliases: set[str] = set()  # names bound to an SQL library module (import sqlalchemy as sa)
    builders: set[str] = set()  # names bound to a statement builder (from sqlalchemy import select)
    session_names = SESSION_NAMES | session_annotated(module.tree)
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if top(alias.name) in SQL_LIBRARIES:
                    sql_aliases.add(alias.asname or top(alias.name))
                    yield f"{module.where}:{node.lineno}: [router-sql] imports {alias.name}"
        elif isinstance(node, ast.ImportFrom) and not node.level and top(node.module or "") in SQL_LIBRARIES:
            names = ", ".join(alias.name for alias in node.names)
            yield f"{module.where}:{node.lineno}: [router-sql] imports {names} from {node.module}"
            builders.update(alias.asname or alias.name for alias in node.names if alias.name in STATEMENT_BUILDERS)
    for node in ast.walk(module.tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in builders:
            yield f"{module.where}:{node.lineno}: [router-sql] builds a statement with {func.id}()"
        elif isinstance(func, ast.Attribute):
            receiver = func.value
            receiver_name = (
                receiver.id
                if isinstance(receiver, ast.Name)
                else receiver.attr
                if isinstance(receiver, ast.Attribute)
                else None
            )
            if func.attr in STATEMENT_BUILDERS and isinstance(receiver, ast.Name) and receiver.id in sql_aliases:
                yield f"{module.where}:{node.lineno}: [router-sql] builds a statement with {receiver.id}.{func.attr}()"
            elif func.attr in EXECUTE_METHODS:
                yield f"{module.where}:{node.lineno}: [router-sql] runs SQL: .{func.attr}()"
            elif func.attr in SESSION_METHODS and receiver_name in session_names:
                yield f"{module.where}:{node.lineno}: [router-sql] uses the session: {receiver_name}.{func.attr}()"


# -- rule: router-imports-router ----------------------------------------------------------------


def router_import_offences(module: Module) -> Iterator[str]:
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            for name in imported_modules(module, node):
                if name != module.name and is_router_name(name) and top(name).startswith("tessera_"):
                    yield f"{module.where}:{node.lineno}: [router-imports-router] imports {name}"
                    break


# -- rule: import-in-function -------------------------------------------------------------------


class _FunctionImports(ast.NodeVisitor):
    def __init__(self, module: Module) -> None:
        self.module = module
        self.depth = 0
        self.offences: list[str] = []

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def _import(self, node: ast.Import | ast.ImportFrom) -> None:
        if self.depth == 0:
            return
        if isinstance(node, ast.ImportFrom) and node.level:
            names = [resolve(self.module, node)]
        else:
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""]
        for name in names:
            if top(name).startswith("tessera_"):
                self.offences.append(f"{self.module.where}:{node.lineno}: [import-in-function] imports {name}")

    visit_Import = visit_ImportFrom = _import

    def visit_Call(self, node: ast.Call) -> None:
        """``importlib.import_module("tessera_...")`` or ``__import__`` is the same dodge."""
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        first = node.args[0] if node.args else None
        if (
            self.depth
            and name in {"import_module", "__import__"}
            and isinstance(first, ast.Constant)
            and isinstance(first.value, str)
            and (first.value.startswith((".", "tessera_")))
        ):
            self.offences.append(f"{self.module.where}:{node.lineno}: [import-in-function] imports {first.value}")
        self.generic_visit(node)


def function_import_offences(module: Module) -> list[str]:
    visitor = _FunctionImports(module)
    visitor.visit(module.tree)
    return visitor.offences


# -- rule: domain-raises-problem ----------------------------------------------------------------


def is_domain_code(module: Module) -> bool:
    parts = module.name.split(".")
    return (
        top(module.name) not in {"tessera_shared", "tessera_gateway"}
        and not module.is_router
        and parts[-1] != "api"
        and "migrations" not in parts
    )


def domain_problem_offences(module: Module) -> Iterator[str]:
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name == "Problem":
                yield f"{module.where}:{node.lineno}: [domain-raises-problem] builds a Problem; raise a domain error"


def outside_document_offences(module: Module) -> Iterator[str]:
    for number, line in enumerate(module.path.read_text(encoding="utf-8").splitlines(), 1):
        if "DOMAIN.md" in line:
            yield f"{module.where}:{number}: [outside-document] cites DOMAIN.md; cite docs/domain.md"


# -- the tests ----------------------------------------------------------------------------------


def _report(rule: str, offences: list[str]) -> str:
    def place(offence: str) -> tuple[str, int]:
        path, line, _ = offence.split(":", 2)
        return path, int(line)

    return f"{len(offences)} {rule} offence(s):\n" + "\n".join(sorted(offences, key=place))


def test_the_scan_sees_the_routers() -> None:
    """Guards the other tests against passing on an empty or misread tree."""
    names = {m.name for m in modules()}
    routers = [m for m in modules() if m.is_router]
    assert len(routers) >= 30, [m.where for m in routers]
    assert {"tessera_shared.observability", "tessera_sales.deals.router", "tessera_gateway.proxy.router"} <= names


def test_routers_run_no_sql() -> None:
    offences = [o for m in modules() if m.is_router for o in router_sql_offences(m)]
    assert not offences, _report("router-sql", offences)


def test_no_router_imports_a_router() -> None:
    offences = [o for m in modules() if m.is_router for o in router_import_offences(m)]
    assert not offences, _report("router-imports-router", offences)


def test_no_project_import_inside_a_function() -> None:
    offences = [o for m in modules() for o in function_import_offences(m)]
    assert not offences, _report("import-in-function", offences)


def test_domain_code_raises_domain_errors() -> None:
    offences = [o for m in modules() if is_domain_code(m) for o in domain_problem_offences(m)]
    assert not offences, _report("domain-raises-problem", offences)


def test_no_module_cites_an_outside_document() -> None:
    offences = [o for m in modules() for o in outside_document_offences(m)]
    assert not offences, _report("outside-document", offences)


# -- the checks themselves, on small sources ----------------------------------------------------


def _module(source: str, name: str = "tessera_x.things.router", is_package: bool = False) -> Module:
    path = ROOT / "services" / "x" / "src" / (name.replace(".", "/") + ("/__init__.py" if is_package else ".py"))
    return Module(name, path, ast.parse(source), is_package)


@pytest.mark.parametrize(
    "source",
    [
        "from sqlalchemy import select",
        "import sqlalchemy as sa",
        "from sqlmodel import col",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from sqlalchemy.ext.asyncio import AsyncSession",
        "async def f(x):\n    await x.execute(q)",
        "async def f(x):\n    return (await x.scalars(q)).all()",
        "async def f(session):\n    session.add(row)",
        "async def f(db):\n    await db.flush()",
        "async def f(conn: SessionDep):\n    await conn.get(Model, 1)",
        "async def f(self):\n    await self.session.commit()",
    ],
)
def test_router_sql_is_found(source: str) -> None:
    assert list(router_sql_offences(_module(source)))


@pytest.mark.parametrize(
    "source",
    [
        "from . import service\nasync def f(session: SessionDep):\n    return await service.get(session, 1)",
        "def f(headers, router):\n    headers.get('a')\n    router.delete('/x')\n    cache.merge(a)",
        "from .service import update\nasync def f(session):\n    await update(session, 1)",
    ],
)
def test_router_sql_is_not_imagined(source: str) -> None:
    assert not list(router_sql_offences(_module(source)))


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("from tessera_x.tickets.router import thing", True),
        ("from ..tickets.router import thing", True),
        ("from ..tickets import router", True),
        ("import tessera_x.tickets.router", True),
        ("from tessera_x.web.routers.a import thing", True),
        ("from ..tickets import service", False),
        ("from fastapi import APIRouter", False),
        ("from tessera_shared.events.router import schemas_router", True),
    ],
)
def test_router_imports_router(source: str, found: bool) -> None:
    assert bool(list(router_import_offences(_module(source)))) is found


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("def f():\n    from tessera_x.a import b", True),
        ("class C:\n    def m(self):\n        import tessera_x.a", True),
        ("async def f():\n    def g():\n        from .a import b", True),
        ("def f():\n    from opentelemetry.trace import SpanKind", False),
        ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from tessera_x.a import b", False),
        ("from tessera_x.a import b\ndef f():\n    return b", False),
        ("import importlib\ndef f():\n    return importlib.import_module('tessera_x.a')", True),
        ("def f():\n    return __import__('tessera_x.a')", True),
        ("import importlib\ndef f(name):\n    return importlib.import_module('json')", False),
    ],
)
def test_import_in_function(source: str, found: bool) -> None:
    assert bool(function_import_offences(_module(source, "tessera_x.things.service"))) is found


@pytest.mark.parametrize(
    ("source", "name", "found"),
    [
        ("def f():\n    raise Problem(409, 'x')", "tessera_x.deals.service", True),
        ("def f():\n    raise errors.Problem(404)", "tessera_x.deals.rules", True),
        ("def f():\n    raise Conflict('x')", "tessera_x.deals.service", False),
        ("def f():\n    raise Problem(415, 'x')", "tessera_x.deals.router", False),
        ("def f():\n    raise Problem(415, 'x')", "tessera_x.api", False),
    ],
)
def test_domain_raises_problem(source: str, name: str, found: bool) -> None:
    module = _module(source, name)
    assert bool(is_domain_code(module) and list(domain_problem_offences(module))) is found
