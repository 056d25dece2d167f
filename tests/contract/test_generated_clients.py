"""Clients generated from the gateway's merged OpenAPI, as an integrator would make them.

The five apps run on loopback (tools/inprocess_stack.py). openapi-python-client (PyPI, the dev
group) reads the gateway's ``/openapi.json`` (OpenAPI 3.1) with the configuration docs/api.md
gives integrators (``content_type_overrides`` for the bulk import's CSV and JSON-lines bodies);
OpenAPI Generator's ``-g python`` (the CLI jar from Maven Central, fetched by
deploy/local/openapi-generator.sh) reads ``/openapi-3.0.json``, the same document as OpenAPI
3.0.3 (on a 3.1 document it warns that 3.1 support is in beta). Neither may warn about the
document: their whole output is read, and anything besides their progress lines fails. Then the
openapi-python-client client drives a flow through the gateway, with the generated functions' own
arguments: a token, a customer created with ``idempotency_key`` (and replayed), read (ETag),
changed with ``if_match``, a stale ``if_match`` answered 412; and both bulk imports (CSV, JSON
lines), one generated function each.

OpenAPI Generator (7.27.0, the newest) prints one warning about any document at all that has a
parameter or a property: ``Failed to get the schema name: null``
(``AbstractPythonCodegen.toDefaultValue`` calls ``ModelUtils.getSimpleRef(p.get$ref())`` for
every schema, also one that is no ``$ref``). It is not the document's doing and no document can
avoid it. To tell such lines apart without a hand-kept list, the same generator is run on
``CONTROL_DOCUMENT`` (one operation, one object with one property: what every API has); what it
says there is what it says about any document, and only that is set aside. Should a later
generator fix it, the control says nothing and nothing is set aside. A third run, on the control
with a parameter called ``from`` (the reports' former name), shows the check sees a warning
the document causes. Generated code lives in the test's tmp dir, never in git.
"""

from __future__ import annotations

import importlib
import inspect
import io
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
from inprocess_stack import InprocessStack  # noqa: E402 - importable once tools/ is on the path

PACKAGE = "tessera_api_client"

# openapi-python-client's configuration for the bulk import's bodies (docs/api.md, "Generating a
# client"): both are files to it, sent as they are.
OPC_CONFIG = """\
content_type_overrides:
  text/csv: application/octet-stream
  application/x-ndjson: application/octet-stream
"""
# What every API has: an operation answering an object with a property.
CONTROL_DOCUMENT: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "control", "version": "1"},
    "paths": {
        "/things": {
            "get": {
                "operationId": "listThings",
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}},
                    }
                },
            }
        }
    },
    "components": {"schemas": {"Thing": {"type": "object", "properties": {"name": {"type": "string"}}}}},
}
# The control with what the reports' range was called: OpenAPI Generator warns about it.
FROM_PARAMETER = {"name": "from", "in": "query", "required": False, "schema": {"type": "string"}}
GENERATOR_WARNING = re.compile(r"\[main\] (?:WARN|ERROR)\s+(.*)")
# Its progress lines; anything else it prints (a warning, a stack trace, a message) is kept.
GENERATOR_PROGRESS = re.compile(r"\[main\] INFO\s|#+$|# .* #$")


# The generator is a short run: C1 alone (no C2 compiler threads) and the serial collector halve
# its CPU (8.4 -> 3.8 CPU-s for the gateway's document), for the same output.
JVM_OPTIONS = ["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"]


def _og(jar: str, spec: Path, out: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            "java",
            *JVM_OPTIONS,
            "-jar",
            jar,
            "generate",
            "-i",
            str(spec),
            "-g",
            "python",
            "-o",
            str(out),
            "--package-name",
            "tessera_og",
            "--global-property",
            "apiTests=false,modelTests=false,apiDocs=false,modelDocs=false",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _generator_said(output: str) -> set[str]:
    """Every line of OpenAPI Generator's output but its progress (INFO lines, its banner)."""
    said = set()
    for line in output.splitlines():
        if not line.strip() or GENERATOR_PROGRESS.match(line.strip()):
            continue
        m = GENERATOR_WARNING.match(line)
        said.add(m.group(1).strip() if m else line.strip())
    return said


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
        assert time.monotonic() < deadline, (
            f"services missing from the merged document: {document['x-tessera-missing']}"
        )
        time.sleep(0.2)
    spec = out / "openapi.json"
    spec.write_text(json.dumps(document, indent=1))
    spec_30 = out / "openapi-3.0.json"
    spec_30.write_text(httpx.get(f"{stack.urls['gateway']}/openapi-3.0.json", timeout=30).text)
    control = out / "control.json"
    control.write_text(json.dumps(CONTROL_DOCUMENT))
    with_from = out / "control-from.json"
    things = {**CONTROL_DOCUMENT["paths"]["/things"]["get"], "parameters": [FROM_PARAMETER]}
    with_from.write_text(json.dumps({**CONTROL_DOCUMENT, "paths": {"/things": {"get": things}}}))
    config = out / "openapi-python-client.yaml"
    config.write_text(OPC_CONFIG)
    jar = subprocess.run(
        [str(ROOT / "deploy/local/openapi-generator.sh")], capture_output=True, text=True, check=True
    ).stdout.strip()
    generator = _og(jar, spec_30, out / "openapi-generator")
    control_run = _og(jar, control, out / "control")
    from_run = _og(jar, with_from, out / "control-from")
    bin_dir = str(Path(sys.executable).parent)  # ruff, for openapi-python-client's formatting
    opc = subprocess.run(
        [
            str(Path(bin_dir) / "openapi-python-client"),
            "generate",
            "--path",
            str(spec),
            "--output-path",
            str(out / PACKAGE),
            "--meta",
            "none",
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")},
    )
    generator_output, _ = generator.communicate(timeout=300)
    control_output, _ = control_run.communicate(timeout=300)
    from_output, _ = from_run.communicate(timeout=300)
    assert opc.returncode == 0, opc.stdout + opc.stderr
    assert generator.returncode == 0, generator_output[-5000:]
    assert control_run.returncode == 0, control_output[-5000:]
    return {
        "document": document,
        "dir": out,
        "opc": opc.stdout + opc.stderr,
        "generator": generator_output,
        "control": control_output,
        "control-from": from_output,
    }


def test_openapi_python_client_generates_without_warnings(generated: dict[str, Any]) -> None:
    assert (generated["dir"] / PACKAGE / "client.py").exists()
    # Anything said besides "Generating <dir>" is a warning (an unparsed schema, a skipped
    # endpoint, a failed formatting hook).
    said = [
        line.strip() for line in generated["opc"].splitlines() if line.strip() and not line.startswith("Generating ")
    ]
    assert said == [], "openapi-python-client:\n" + "\n".join(said)


def test_openapi_generator_generates_without_warnings(generated: dict[str, Any]) -> None:
    assert (generated["dir"] / "openapi-generator" / "tessera_og" / "api_client.py").exists()
    assert json.loads((generated["dir"] / "openapi-3.0.json").read_text())["openapi"] == "3.0.3"
    found = _generator_said(generated["generator"])
    about_any_document = _generator_said(generated["control"])
    assert found - about_any_document == set(), "openapi-generator warns about the document:\n" + "\n".join(
        sorted(found - about_any_document)
    )
    # What is set aside is what the generator says about a one-operation document, and no more
    # than a line or two; the check sees what a document causes (a parameter called ``from``).
    assert len(about_any_document) <= 2, about_any_document
    (caused,) = _generator_said(generated["control-from"]) - about_any_document
    assert caused.endswith("From (reserved word) cannot be used as model name. Renamed to ModelFrom")
    parameters = [
        p["name"]
        for ops in generated["document"]["paths"].values()
        for op in ops.values()
        for p in op.get("parameters", [])
    ]
    assert "from" not in parameters and "since" in parameters


def _operations(root: Path) -> dict[tuple[str, str], str]:
    """(method, path template) -> the name of the generated module of that operation."""
    found = {}
    for source in (root / PACKAGE / "api").rglob("*.py"):
        text = source.read_text()
        method = re.search(r'"method": "(\w+)"', text)
        url = re.search(r'"url": "([^"]+)"', text)
        if method and url:
            found[(method.group(1), url.group(1))] = ".".join(source.relative_to(root).with_suffix("").parts)
    return found


def _body(module: ModuleType, data: dict[str, Any]) -> Any:
    return inspect.signature(module.sync_detailed).parameters["body"].annotation.from_dict(data)


def test_a_generated_client_drives_a_flow_with_idempotency_key_and_if_match(
    generated: dict[str, Any],
    stack: InprocessStack,
) -> None:
    sys.path.insert(0, str(generated["dir"]))
    try:
        client_module = importlib.import_module(f"{PACKAGE}.client")
        ops = _operations(generated["dir"])
        token_op, create, read, change = (
            importlib.import_module(ops[key])
            for key in (
                ("post", "/auth/token"),
                ("post", "/api/v1/customers"),
                ("get", "/api/v1/customers/{customer_id}"),
                ("patch", "/api/v1/customers/{customer_id}"),
            )
        )
    finally:
        sys.path.remove(str(generated["dir"]))
    gateway = stack.urls["gateway"]

    issued = token_op.sync_detailed(
        client=client_module.Client(base_url=gateway),
        body=_body(token_op, {"grant_type": "password", "username": "admin", "password": "local"}),
    )
    assert issued.status_code == 200, issued.content
    client = client_module.AuthenticatedClient(base_url=gateway, token=issued.parsed.access_token)

    # The write conventions are the generated functions' own arguments.
    assert "idempotency_key" in inspect.signature(create.sync_detailed).parameters
    assert "if_match" in inspect.signature(change.sync_detailed).parameters

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


def test_the_generated_client_imports_csv_and_json_lines(generated: dict[str, Any], stack: InprocessStack) -> None:
    """Each bulk import (one body type per operation) is a working generated function: the
    file goes as it is, with its type (openapi-python-client's issue 1451 made one function for
    two types that sent any file as the last type)."""
    sys.path.insert(0, str(generated["dir"]))
    try:
        client_module = importlib.import_module(f"{PACKAGE}.client")
        file_type = importlib.import_module(f"{PACKAGE}.types").File
        ops = _operations(generated["dir"])
        token_op, csv_op, ndjson_op, deprecated_op = (
            importlib.import_module(ops[("post", path)])
            for path in (
                "/auth/token",
                "/api/v1/customers/import/csv",
                "/api/v1/customers/import/ndjson",
                "/api/v1/customers/import",
            )
        )
    finally:
        sys.path.remove(str(generated["dir"]))
    gateway = stack.urls["gateway"]
    issued = token_op.sync_detailed(
        client=client_module.Client(base_url=gateway),
        body=_body(token_op, {"grant_type": "password", "username": "manager", "password": "local"}),
    )
    assert issued.status_code == 200, issued.content
    client = client_module.AuthenticatedClient(base_url=gateway, token=issued.parsed.access_token)
    for op in (csv_op, ndjson_op, deprecated_op):  # a required file, nothing else to choose
        assert inspect.signature(op.sync_detailed).parameters["body"].annotation in {file_type, "File"}

    run = uuid.uuid4().hex[:8]
    csv = f"external_id,kind,name\ngen-{run}-1,person,Ada\ngen-{run}-2,organization,Acme\ngen-{run}-3,robot,X\n"
    ndjson = f'{{"external_id": "gen-{run}-4", "kind": "person", "name": "Bea"}}\n'

    def send(op: ModuleType, text: str, name: str) -> Any:
        body = file_type(payload=io.BytesIO(text.encode()), file_name=name)
        return op.sync_detailed(client=client, body=body)

    imported = send(csv_op, csv, "customers.csv")
    assert imported.status_code == 200, imported.content
    assert (imported.parsed.received, imported.parsed.created, imported.parsed.failed) == (3, 2, 1)
    assert [(e.line, e.field) for e in imported.parsed.errors] == [(4, "kind")]
    imported = send(ndjson_op, ndjson, "customers.ndjson")
    assert imported.status_code == 200, imported.content
    assert (imported.parsed.received, imported.parsed.created) == (1, 1)
    again = send(deprecated_op, csv, "customers.csv")  # the former path, its CSV body
    assert again.status_code == 200, again.content
    assert (again.parsed.created, again.parsed.existing) == (0, 2)


def test_the_openapi_generator_client_imports_and_reads_a_report_by_its_range(
    generated: dict[str, Any], stack: InprocessStack
) -> None:
    """OpenAPI Generator's client too: each import is a method taking the file's bytes, and the
    funnel report's range is ``since=``/``until=`` (dates)."""
    root = generated["dir"] / "openapi-generator"
    sys.path.insert(0, str(root))
    try:
        og = importlib.import_module("tessera_og")
    finally:
        sys.path.remove(str(root))
    gateway = stack.urls["gateway"]
    token = httpx.post(
        f"{gateway}/auth/token",
        data={"grant_type": "password", "username": "manager", "password": "local"},
        timeout=10,
    ).json()["access_token"]
    run = uuid.uuid4().hex[:8]
    with og.ApiClient(og.Configuration(host=gateway, access_token=token)) as api_client:
        imports = og.ImportApi(api_client)
        out = imports.import_customers_csv(body=f"external_id,kind,name\nog-{run}-1,person,Ada\n".encode())
        assert (out.received, out.created) == (1, 1)
        lines = f'{{"external_id": "og-{run}-2", "kind": "person", "name": "Bea"}}\n'.encode()
        out = imports.import_customers_ndjson(body=lines)
        assert (out.received, out.created) == (1, 1)
        reports = og.ReportsApi(api_client)
        today = datetime.now(UTC).date()
        funnel = reports.funnel_report_with_http_info(since=today - timedelta(days=1), until=today)
        assert funnel.status_code == 200
        assert (str(funnel.data.created_from), str(funnel.data.created_to)) == (
            str(today - timedelta(days=1)),
            str(today),
        )
