"""Clients generated from the gateway's merged OpenAPI, as an integrator would make them.

The five apps run on loopback (tools/inprocess_stack.py); the gateway's ``/openapi.json``,
once every service's part is merged in, is fed to both generators of the issue:
openapi-python-client (PyPI, the dev group) and OpenAPI Generator's ``-g python`` (the CLI
jar from Maven Central, fetched by deploy/local/openapi-generator.sh). Their output must hold
no warning. Then the openapi-python-client client drives a flow through the gateway: a token,
a customer created with an ``idempotency_key`` argument (and replayed), read (ETag), changed
with an ``if_match`` argument, and a stale ``if_match`` answered 412.

The goal is no warning at all. Warnings that the document still causes are listed below with
their source: a listed one makes the test an expected failure (xfail, naming them), an
unlisted one fails it, none passes it. Likewise the flow is an expected failure while the
document gives the generated functions no ``idempotency_key``/``if_match`` argument. Generated
code lives in the test's tmp dir, never in git.
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
from inprocess_stack import InprocessStack

PACKAGE = "tessera_api_client"

# Warnings the gateway's document still causes (issue 17, item 11), each with its source.
KNOWN_OPC_WARNINGS = {
    # POST /api/v1/customers/import: its bodies are text/csv and application/x-ndjson.
    "WARNING parsing POST /api/v1/customers/import within import_. Endpoint will not be generated.",
    "Unsupported content type text/csv",
    "Unsupported content type application/x-ndjson",
    # FastAPI's HTTPValidationError/ValidationError in every service's part (unused: 422 is a
    # Problem), merged as <service>.HTTPValidationError, which generate the same class names.
    *(f"Unable to parse schema /components/schemas/{service}.{name}"
      for service in ("customer", "sales", "service-desk", "billing")
      for name in ("HTTPValidationError", "ValidationError")),
    ('Unable to parse this part of your OpenAPI document: : Attempted to generate duplicate models with name '
     '"HTTPValidationError"'),
    ('Unable to parse this part of your OpenAPI document: : Attempted to generate duplicate models with name '
     '"ValidationError"'),
}
KNOWN_OPENAPI_GENERATOR_WARNINGS = {
    # The document is OpenAPI 3.1.0 (what FastAPI writes).
    ("o.o.codegen.DefaultCodegen - OpenAPI 3.1 support is still in beta. To report an issue related to 3.1 "
     "spec, please kindly open an issue in the Github repo: https://github.com/openAPITools/openapi-generator."),
    # Free-form objects (additionalProperties: true): the Problem schemas' extension members,
    # custom_attributes, a segment's filters, a timeline entry's data, churn reasons.
    "o.o.codegen.utils.ModelUtils - Failed to get the schema name: null",
    ("o.o.c.l.AbstractPythonCodegen - Codegen property is null (e.g. map/dict of undefined type). "
     "Default to typing.Any."),
    # Query parameters named `from` (the reports: kpis, statement, retention, funnel,
    # sales-performance, the ticket reports): a Python reserved word, renamed.
    "o.o.c.l.AbstractPythonCodegen - From (reserved word) cannot be used as model name. Renamed to ModelFrom",
}


def _new_or_known(found: list[str], known: set[str], tool: str) -> None:
    new = sorted(set(found) - known)
    assert not new, f"{tool}: new warnings from the document:\n" + "\n".join(new)
    if found:
        pytest.xfail(f"{tool}: {len(set(found))} known warnings remain:\n" + "\n".join(sorted(set(found))))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InprocessStack]:
    with InprocessStack(tmp_path_factory.mktemp("gen-stack")) as running:
        yield running


@pytest.fixture(scope="module")
def generated(stack: InprocessStack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The merged document and both generators' output (run side by side)."""
    out = tmp_path_factory.mktemp("generated")
    deadline = time.monotonic() + 30
    while True:  # the gateway merges the services' documents in the background
        document = httpx.get(f"{stack.urls['gateway']}/openapi.json", timeout=10).json()
        if "x-tessera-missing" not in document:
            break
        assert time.monotonic() < deadline, f"services missing from the merged document: {document['x-tessera-missing']}"
        time.sleep(0.2)
    spec = out / "openapi.json"
    spec.write_text(json.dumps(document, indent=1))
    jar = subprocess.run([str(ROOT / "deploy/local/openapi-generator.sh")], capture_output=True, text=True,
                         check=True).stdout.strip()
    generator = subprocess.Popen(
        ["java", "-jar", jar, "generate", "-i", str(spec), "-g", "python", "-o", str(out / "openapi-generator"),
         "--package-name", "tessera_og", "--global-property",
         "apiTests=false,modelTests=false,apiDocs=false,modelDocs=false"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    opc = subprocess.run(
        [str(Path(sys.executable).parent / "openapi-python-client"), "generate", "--path", str(spec),
         "--output-path", str(out / PACKAGE), "--meta", "none"],
        capture_output=True, text=True, check=False)
    generator_output, _ = generator.communicate(timeout=300)
    assert opc.returncode == 0, opc.stdout + opc.stderr
    assert generator.returncode == 0, generator_output[-5000:]
    return {"document": document, "dir": out, "opc": opc.stdout + opc.stderr, "generator": generator_output}


def test_openapi_python_client_generates_without_warnings(generated: dict[str, Any]) -> None:
    lines = [line.strip() for line in generated["opc"].splitlines()]
    assert (generated["dir"] / PACKAGE / "client.py").exists()
    found = [line for line in lines if re.match(r"(WARNING|Unable to parse|Unsupported|Cannot|Could not)", line)]
    # Anything else said besides "Generating ..." and the summary line is a warning too.
    said = [line for line in lines if line and not line.startswith("Generating ")]
    assert said == [] or "Warning(s) encountered while generating. Client was generated, but some pieces may be " \
        "missing" in said, said
    _new_or_known(found, KNOWN_OPC_WARNINGS, "openapi-python-client")


def test_openapi_generator_generates_without_warnings(generated: dict[str, Any]) -> None:
    assert (generated["dir"] / "openapi-generator" / "tessera_og" / "api_client.py").exists()
    found = [m.group(1).strip() for line in generated["generator"].splitlines()
             if (m := re.match(r"\[main\] (?:WARN|ERROR)\s+(.*)", line))]
    _new_or_known(found, KNOWN_OPENAPI_GENERATOR_WARNINGS, "openapi-generator")


def _operations(root: Path) -> dict[tuple[str, str], ModuleType]:
    """(method, path template) -> the generated module of that operation, whatever its name."""
    found = {}
    for source in (root / PACKAGE / "api").rglob("*.py"):
        text = source.read_text()
        method = re.search(r'"method": "(\w+)"', text)
        url = re.search(r'"url": "([^"]+)"', text)
        if method and url:
            name = ".".join(source.relative_to(root).with_suffix("").parts)
            found[(method.group(1), url.group(1))] = importlib.import_module(name)
    return found


def _body(module: ModuleType, data: dict[str, Any]) -> Any:
    return inspect.signature(module.sync_detailed).parameters["body"].annotation.from_dict(data)


def test_a_generated_client_drives_a_flow_with_idempotency_key_and_if_match(
    generated: dict[str, Any], stack: InprocessStack,
) -> None:
    sys.path.insert(0, str(generated["dir"]))
    try:
        client_module = importlib.import_module(f"{PACKAGE}.client")
        ops = _operations(generated["dir"])
    finally:
        sys.path.remove(str(generated["dir"]))
    token_op, create, read, change = (ops[("post", "/auth/token")], ops[("post", "/api/v1/customers")],
                                      ops[("get", "/api/v1/customers/{customer_id}")],
                                      ops[("patch", "/api/v1/customers/{customer_id}")])
    gateway = stack.urls["gateway"]

    issued = token_op.sync_detailed(client=client_module.Client(base_url=gateway), body=_body(
        token_op, {"grant_type": "password", "username": "admin", "password": "local"}))
    assert issued.status_code == 200, issued.content
    client = client_module.AuthenticatedClient(base_url=gateway, token=issued.parsed.access_token)

    # What the generated functions take: the write conventions as arguments.
    missing = [f"{op.__name__.rsplit('.', 1)[-1]}({arg}=)" for op, arg in
               ((create, "idempotency_key"), (change, "if_match")) if arg not in
               inspect.signature(op.sync_detailed).parameters]
    if missing:  # the behaviour is still proven, with the headers set by hand
        def with_header(name: str, value: str) -> Any:
            return client.with_headers({name: value})

        def create_call(key: str, body: Any) -> Any:
            return create.sync_detailed(client=with_header("Idempotency-Key", key), body=body)

        def change_call(customer_id: Any, etag: str, body: Any) -> Any:
            return change.sync_detailed(customer_id, client=with_header("If-Match", etag), body=body)
    else:
        def create_call(key: str, body: Any) -> Any:
            return create.sync_detailed(client=client, body=body, idempotency_key=key)

        def change_call(customer_id: Any, etag: str, body: Any) -> Any:
            return change.sync_detailed(customer_id, client=client, body=body, if_match=etag)

    key = str(uuid.uuid4())
    payload = {"kind": "person", "name": "Ada Generated", "email": f"ada-{key[:8]}@example.com"}
    created = create_call(key, _body(create, payload))
    assert created.status_code == 201, created.content
    customer_id = created.parsed.id
    replayed = create_call(key, _body(create, payload))
    assert replayed.status_code == 201, replayed.content
    assert replayed.headers.get("idempotent-replayed") == "true"
    assert replayed.parsed.id == customer_id

    got = read.sync_detailed(customer_id, client=client)
    assert got.status_code == 200, got.content
    etag = got.headers["etag"]
    changed = change_call(customer_id, etag, _body(change, {"name": "Ada Lovelace"}))
    assert changed.status_code == 200, changed.content
    assert changed.parsed.name == "Ada Lovelace"
    assert changed.headers["etag"] != etag

    stale = change_call(customer_id, etag, _body(change, {"name": "Ada Byron"}))
    assert stale.status_code == 412, stale.content
    assert json.loads(stale.content)["type"] == "urn:tessera:problem:precondition-failed"
    if missing:
        pytest.xfail("the document has no header parameter for: " + ", ".join(missing))
