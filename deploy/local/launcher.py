"""The local stack `make run` starts: Kafka, the four services (SQLite each) and the gateway.

Each service runs as its own uvicorn process, exactly as in a container. Ctrl-C (or SIGTERM)
stops them all gracefully, then the Kafka broker if this launcher started it. The end-to-end
tests start this same launcher on other ports.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Proc:
    name: str
    module: str
    env_prefix: str
    offset: int


PROCS = [
    Proc("customer", "tessera_customer.main", "TESSERA_CUSTOMER_", 1),
    Proc("sales", "tessera_sales.main", "TESSERA_SALES_", 2),
    Proc("service-desk", "tessera_service_desk.main", "TESSERA_SERVICE_DESK_", 3),
    Proc("billing", "tessera_billing.main", "TESSERA_BILLING_", 4),
    Proc("gateway", "tessera_gateway.main", "TESSERA_GATEWAY_", 0),
]


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument(
        "--base-port",
        type=int,
        default=int(os.environ.get("TESSERA_BASE_PORT", 8000)),
        help="gateway port; services use the next four (default 8000)",
    )
    p.add_argument("--data-dir", type=Path, default=Path(os.environ.get("TESSERA_DATA_DIR", ROOT / ".data")))
    p.add_argument(
        "--kafka-bootstrap",
        default=os.environ.get("TESSERA_KAFKA_BOOTSTRAP"),
        help="use this broker instead of starting the local one",
    )
    p.add_argument("--kafka-port", type=int, default=9092)
    p.add_argument(
        "--namespace",
        default=os.environ.get("TESSERA_TOPIC_NAMESPACE", ""),
        help="topic name prefix (tests use one per run)",
    )
    p.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument(
        "--postgres-url",
        default=os.environ.get("TESSERA_POSTGRES_URL"),
        help="server URL whose databases tessera_<service> are used with --database postgres",
    )
    p.add_argument(
        "--db-prefix", default="tessera_", help="with --database postgres: database names are <prefix><service>"
    )
    p.add_argument("--quiet", action="store_true", help="print only the banner")
    return p.parse_args()


def _port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _die_with_parent() -> None:
    # Linux: the child gets SIGTERM if the launcher dies, even by kill -9: no orphans.
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 - loopback only
            return resp.status == 200
    except Exception:
        return False


def start_kafka(port: int) -> None:
    env = {**os.environ, "KAFKA_PORT": str(port)}
    subprocess.run([str(ROOT / "deploy/local/kafka.sh"), "start"], check=True, env=env)


def stop_kafka(port: int) -> None:
    env = {**os.environ, "KAFKA_PORT": str(port)}
    subprocess.run([str(ROOT / "deploy/local/kafka.sh"), "stop"], check=False, env=env)


def service_env(proc: Proc, args: argparse.Namespace, bootstrap: str) -> dict[str, str]:
    env = dict(os.environ)
    pre = proc.env_prefix
    port = args.base_port + proc.offset
    env[pre + "PORT"] = str(port)
    env[pre + "KAFKA_BOOTSTRAP"] = bootstrap
    env[pre + "KAFKA_TOPIC_NAMESPACE"] = args.namespace
    env.setdefault(pre + "ENVIRONMENT", "local")
    if proc.name != "gateway":  # tokens (the services' credentials, Authorize on the docs pages), revocations
        env[pre + "GATEWAY_URL"] = f"http://127.0.0.1:{args.base_port}"
    if proc.name in ("sales", "service-desk", "billing"):  # conversions and the read-through (§10.2)
        customer = next(p for p in PROCS if p.name == "customer")
        env[pre + "CUSTOMER_URL"] = f"http://127.0.0.1:{args.base_port + customer.offset}"
    if proc.name == "gateway":
        for other in PROCS:
            if other.name != "gateway":
                key = other.name.replace("-", "_").upper() + "_URL"
                env[pre + key] = f"http://127.0.0.1:{args.base_port + other.offset}"
    if args.database == "postgres":
        base = args.postgres_url.rstrip("/").rsplit("/", 1)[0]
        env[pre + "DATABASE_URL"] = f"{base}/{args.db_prefix}{proc.name.replace('-', '_')}"
    else:
        env[pre + "DATABASE_URL"] = f"sqlite+aiosqlite:///{args.data_dir / (proc.name + '.db')}"
    if args.namespace:
        env[pre + "KAFKA_CONSUMER_GROUP"] = f"{args.namespace}tessera-{proc.name}"
    return env


def uvicorn_command(proc: Proc, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        f"{proc.module}:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        # X-Forwarded-For is trusted by the gateway from TESSERA_GATEWAY_TRUSTED_PROXIES only,
        # never by uvicorn (whose default trusts it from any loopback client).
        "--no-proxy-headers",
        "--timeout-graceful-shutdown",
        "10",
        "--loop",
        "uvloop",
        "--http",
        "httptools",
    ]


def banner(base_port: int, logs: Path) -> str:
    gw = f"http://127.0.0.1:{base_port}"
    ports = (
        f"customer :{base_port + 1}  sales :{base_port + 2}  service-desk :{base_port + 3}  billing :{base_port + 4}"
    )
    return f"""
Tessera CRM is running.
  API gateway   {gw}        docs: {gw}/docs
  services      {ports}
  logs          {logs}/

Get a token (local users: admin, manager, rep1, rep2, agent, clerk, finance; password "local"):
  TOKEN=$(curl -s -d grant_type=password -d username=admin -d password=local {gw}/auth/token \\
          | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  curl -s -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
       -d '{{"kind": "person", "name": "Ada Lovelace", "email": "ada@example.com"}}' {gw}/api/v1/customers
Press Ctrl-C to stop everything.
"""


def main() -> int:
    args = parse_args()
    busy = [args.base_port + p.offset for p in PROCS if _port_in_use(args.base_port + p.offset)]
    if busy:
        print(f"ports already in use: {busy}; is another stack running? (stop it or use --base-port)", file=sys.stderr)
        return 1
    args.data_dir.mkdir(parents=True, exist_ok=True)
    logs = args.data_dir / "logs"
    logs.mkdir(exist_ok=True)
    started_kafka = False
    bootstrap = args.kafka_bootstrap
    if not bootstrap:
        start_kafka(args.kafka_port)
        started_kafka = True
        bootstrap = f"127.0.0.1:{args.kafka_port}"

    # Topics first, once, so the services start consuming at once.
    from tessera_shared.kafka import contract_topics, ensure_topics

    asyncio.run(ensure_topics(bootstrap, contract_topics(args.namespace)))

    children: list[tuple[Proc, subprocess.Popen[bytes]]] = []
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)

    exit_code = 0
    try:
        for proc in PROCS:
            port = args.base_port + proc.offset
            cmd = uvicorn_command(proc, port)
            log_file = open(logs / f"{proc.name}.log", "ab")  # noqa: SIM115 - closed with the child
            child = subprocess.Popen(
                cmd,
                env=service_env(proc, args, bootstrap),
                cwd=ROOT,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
            children.append((proc, child))
        deadline = time.monotonic() + 120
        pending = {p.name: f"http://127.0.0.1:{args.base_port + p.offset}/readyz" for p, _ in children}
        while pending and not stopping:
            for proc, child in children:
                if child.poll() is not None:
                    print(
                        f"{proc.name} exited with {child.returncode}; see {logs / (proc.name + '.log')}",
                        file=sys.stderr,
                    )
                    return 1
            for name, url in list(pending.items()):
                if _ready(url):
                    del pending[name]
                    if not args.quiet:
                        print(f"  {name} ready", flush=True)
            if time.monotonic() > deadline:
                print(f"not ready after 120 s: {', '.join(pending)}", file=sys.stderr)
                return 1
            time.sleep(0.2)
        if not stopping:
            print(banner(args.base_port, logs), flush=True)
        while not stopping:
            for proc, child in children:
                if child.poll() is not None:
                    print(f"{proc.name} exited with {child.returncode}; stopping", file=sys.stderr)
                    stopping = True
                    exit_code = 1
            time.sleep(0.5)
    finally:
        for _, child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for _, child in children:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
        if started_kafka:
            stop_kafka(args.kafka_port)
        print("stopped", flush=True)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
