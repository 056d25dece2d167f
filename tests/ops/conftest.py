"""What the ops tests share: the six processes, and readers for the Dockerfile and the tools."""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy/docker/Dockerfile"
COMPOSE = ROOT / "deploy/compose.yaml"
K8S = ROOT / "deploy/k8s"
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Proc:
    name: str
    package: str
    settings: str
    port: int

    @property
    def prefix(self) -> str:
        return f"TESSERA_{self.name.replace('-', '_').upper()}_"


PROCS = [
    Proc("customer", "tessera_customer", "CustomerSettings", 8001),
    Proc("sales", "tessera_sales", "SalesSettings", 8002),
    Proc("service-desk", "tessera_service_desk", "ServiceDeskSettings", 8003),
    Proc("billing", "tessera_billing", "BillingSettings", 8004),
    Proc("notifications", "tessera_notifications", "NotificationsSettings", 8005),
    Proc("gateway", "tessera_gateway", "GatewaySettings", 8000),
]


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]]

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]

    def last(self, keyword: str) -> str | None:
        found = self.all(keyword)
        return found[-1] if found else None


def parse_dockerfile(path: Path) -> tuple[dict[str, str], list[Stage]]:
    """Global ARGs and the stages, with line continuations joined and comments dropped."""
    text = re.sub(
        r"\\\n", " ", "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("#"))
    )
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        keyword, _, rest = line.strip().partition(" ")
        keyword, rest = keyword.upper(), " ".join(rest.split())
        if keyword == "FROM":
            m = re.fullmatch(r"(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?", rest, re.IGNORECASE)
            assert m, line
            stages.append(Stage(m.group(2) or str(len(stages)), m.group(1), []))
        elif not stages:
            if keyword == "ARG":
                key, _, value = rest.partition("=")
                args[key] = value
        else:
            stages[-1].instructions.append((keyword, rest))
    return args, stages


def exec_form(value: str) -> list[str]:
    """A JSON-array instruction argument (CMD, HEALTHCHECK ... CMD)."""
    parsed = json.loads(value)
    assert isinstance(parsed, list) and all(isinstance(x, str) for x in parsed), value
    return parsed


@pytest.fixture(scope="session")
def dockerfile() -> tuple[dict[str, str], dict[str, Stage]]:
    args, stages = parse_dockerfile(DOCKERFILE)
    return args, {s.name: s for s in stages}
