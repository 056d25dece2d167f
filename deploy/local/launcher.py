"""The local stack `make run` starts: Kafka, the five services and the gateway.

Each service runs as its own uvicorn process, exactly as in a container. Ctrl-C (or SIGTERM)
stops them all gracefully, then the Kafka broker if this launcher started it. The end-to-end
and reliability tests start this same launcher on other ports.

Replicas (``--replicas N``, ``make run REPLICAS=2``): every service and the gateway run as N
processes against one database and one consumer group, as the Kubernetes manifests run them.
The well-known ports (gateway 8000, services 8001-8005) are then served by a small load
balancer in this launcher, which spreads connections over the replicas that answer ``/readyz``
(as a Kubernetes Service does over ready pods); replica ``r`` (1..N) listens on
``base + 10 * r + offset``, so each can be addressed (and frozen or killed) on its own. Replicas
share a database, so they need PostgreSQL (``--database postgres``; ``make run REPLICAS=2``
starts the local one): SQLite is the single-process embedded default.

A process that exits after the stack is up is restarted (with a back-off, as a container
runtime would), so killing one replica with -9 or SIGTERM is a supported operation: the rest
of the stack keeps serving. ``<data-dir>/stack.json`` names every process with its port and pid
(rewritten on each restart) for the tools and tests that kill or freeze one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[2]
# Ports between replicas' blocks: replica r serves offset o on base + REPLICA_STRIDE * r + o.
REPLICA_STRIDE = 10
# After the stack is up: a process that exits is started again after this back-off (doubling).
RESTART_BACKOFF = (0.5, 30.0)


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
    Proc("notifications", "tessera_notifications.main", "TESSERA_NOTIFICATIONS_", 5),
    Proc("gateway", "tessera_gateway.main", "TESSERA_GATEWAY_", 0),
]


@dataclass
class Replica:
    """One process of ``proc``: ``index`` 1..N, its own port, restarted when it exits."""

    proc: Proc
    index: int
    port: int
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    restart_at: float | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.proc.name if self.index == 0 else f"{self.proc.name}-{self.index}"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--base-port",
        type=int,
        default=int(os.environ.get("TESSERA_BASE_PORT", 8000)),
        help="gateway port; services use the next four (default 8000)",
    )
    p.add_argument(
        "--replicas",
        type=int,
        default=int(os.environ.get("TESSERA_REPLICAS", 1)),
        help="processes per service and gateway (default 1; more need --database postgres)",
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
        help="server URL whose databases <db-prefix><service> are used (created when missing) with --database postgres",
    )
    p.add_argument(
        "--db-prefix", default="tessera_", help="with --database postgres: database names are <prefix><service>"
    )
    p.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for every process (repeatable), e.g. TESSERA_SALES_JOBS_ENABLED=false",
    )
    p.add_argument(
        "--mail-port",
        type=int,
        default=None,
        help="the local SMTP server's port (it stores each message in <data-dir>/mail/); default base port + 25, "
        "or + 9 with replicas (replica 2 of notifications takes + 25)",
    )
    p.add_argument("--quiet", action="store_true", help="print only the banner")
    args = p.parse_args(argv)
    if args.replicas < 1:
        p.error("--replicas must be at least 1")
    if args.replicas > 1 and args.database != "postgres":
        p.error("replicas share one database: use --database postgres (SQLite serves one process)")
    if args.database == "postgres" and not args.postgres_url:
        p.error("--database postgres needs --postgres-url (or TESSERA_POSTGRES_URL)")
    return args


def mail_port(args: argparse.Namespace) -> int:
    if args.mail_port is not None:
        return int(args.mail_port)
    return int(args.base_port) + (25 if args.replicas == 1 else 9)


def start_mail_sink(args: argparse.Namespace, logs: Path) -> subprocess.Popen[bytes]:
    """The local SMTP server the notifications service sends to; every message lands in .eml files."""
    log = open(logs / "mail.log", "ab")  # noqa: SIM115 - the process keeps it; closed with the launcher
    return subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "deploy/local/mailsink.py"),
            "--port",
            str(mail_port(args)),
            "--dir",
            str(args.data_dir / "mail"),
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=_die_with_parent,
    )


def service_port(base_port: int, proc: Proc) -> int:
    """The well-known port of ``proc``: the process itself, or the balancer over its replicas."""
    return base_port + proc.offset


def replica_port(base_port: int, proc: Proc, index: int) -> int:
    return base_port + proc.offset + REPLICA_STRIDE * index


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


def database_name(args: argparse.Namespace, proc: Proc) -> str:
    return f"{args.db_prefix}{proc.name.replace('-', '_')}"


async def ensure_databases(args: argparse.Namespace) -> None:
    """Create the services' PostgreSQL databases that do not exist yet (each service migrates its own)."""
    import asyncpg

    dsn = args.postgres_url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    try:
        existing = {r["datname"] for r in await conn.fetch("SELECT datname FROM pg_database")}
        for proc in PROCS:
            name = database_name(args, proc)
            if name not in existing:
                await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def service_env(proc: Proc, args: argparse.Namespace, bootstrap: str, port: int | None = None) -> dict[str, str]:
    """The environment of one process of ``proc`` listening on ``port`` (its well-known port by default).
    Every URL it is given is a well-known port: with replicas, the balancer's."""
    env = dict(os.environ)
    pre = proc.env_prefix
    env[pre + "PORT"] = str(port if port is not None else service_port(args.base_port, proc))
    env[pre + "KAFKA_BOOTSTRAP"] = bootstrap
    env[pre + "KAFKA_TOPIC_NAMESPACE"] = args.namespace
    env.setdefault(pre + "ENVIRONMENT", "local")
    if proc.name != "gateway":  # tokens (the services' credentials, Authorize on the docs pages), revocations
        env[pre + "GATEWAY_URL"] = f"http://127.0.0.1:{args.base_port}"
    if proc.name == "notifications":  # e-mail to the local SMTP server (deploy/local/mailsink.py)
        env[pre + "SMTP_HOST"] = "127.0.0.1"
        env[pre + "SMTP_PORT"] = str(mail_port(args))
        env[pre + "PUBLIC_URL"] = f"http://127.0.0.1:{args.base_port}"
    if proc.name in ("sales", "service-desk", "billing"):  # conversions and the read-through (§10.2)
        customer = next(p for p in PROCS if p.name == "customer")
        env[pre + "CUSTOMER_URL"] = f"http://127.0.0.1:{service_port(args.base_port, customer)}"
    if proc.name == "gateway":
        # It publishes its API keys (crm.gateway) through its outbox; the services learn them there.
        env[pre + "KAFKA_ENABLED"] = "true"
        for other in PROCS:
            if other.name != "gateway":
                key = other.name.replace("-", "_").upper() + "_URL"
                env[pre + key] = f"http://127.0.0.1:{service_port(args.base_port, other)}"
    if args.database == "postgres":
        base = args.postgres_url.rstrip("/").rsplit("/", 1)[0]
        env[pre + "DATABASE_URL"] = f"{base}/{database_name(args, proc)}"
    else:
        env[pre + "DATABASE_URL"] = f"sqlite+aiosqlite:///{args.data_dir / (proc.name + '.db')}"
    if args.namespace:
        env[pre + "KAFKA_CONSUMER_GROUP"] = f"{args.namespace}tessera-{proc.name}"
    for item in args.env:
        name, _, value = item.partition("=")
        env[name] = value
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


class Balancer:
    """TCP round robin from each well-known port over the replicas that answer ``/readyz``.

    A connection stays with the replica it was given (keep-alive, like kube-proxy); a replica that
    stops answering its probe (frozen, stopping, dead) gets no new connections within a second,
    and a connection refused is tried on the next replica. Runs its own event loop in a thread.
    """

    PROBE_INTERVAL = 0.5
    PROBE_TIMEOUT = 1.0

    def __init__(self, routes: dict[int, list[int]]) -> None:
        self._routes = routes
        self._ready: dict[int, bool] = {port: False for ports in routes.values() for port in ports}
        self._turns = {listen: itertools.count() for listen in routes}
        self._loop = asyncio.new_event_loop()
        self._servers: list[asyncio.Server] = []
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="balancer", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._started.wait(10)
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        if self._thread.is_alive():
            done = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
            with contextlib.suppress(Exception):
                done.result(5)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)

    async def _shutdown(self) -> None:
        for server in self._servers:
            server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            for listen in self._routes:
                server = self._loop.run_until_complete(
                    asyncio.start_server(lambda r, w, port=listen: self._serve(port, r, w), "127.0.0.1", listen)
                )
                self._servers.append(server)
        except BaseException as exc:  # reported to start()
            self._error = exc
            self._started.set()
            return
        self._loop.create_task(self._probe_forever())
        self._started.set()
        self._loop.run_forever()

    async def _probe(self, port: int) -> bool:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), self.PROBE_TIMEOUT)
        except (OSError, TimeoutError):
            return False
        try:
            writer.write(b"GET /readyz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            status = await asyncio.wait_for(reader.readline(), self.PROBE_TIMEOUT)
            return status.split(b" ")[1:2] == [b"200"]
        except (OSError, TimeoutError, IndexError):
            return False
        finally:
            writer.close()

    async def _probe_forever(self) -> None:
        ports = list(self._ready)
        while True:
            results = await asyncio.gather(*(self._probe(port) for port in ports))
            self._ready.update(zip(ports, results, strict=True))
            await asyncio.sleep(self.PROBE_INTERVAL)

    def _candidates(self, listen: int) -> list[int]:
        backends = self._routes[listen]
        start = next(self._turns[listen]) % len(backends)
        rotated = backends[start:] + backends[:start]
        ready = [p for p in rotated if self._ready[p]]
        return ready + [p for p in rotated if not self._ready[p]]  # none ready: try them anyway

    async def _serve(self, listen: int, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        for port in self._candidates(listen):
            try:
                upstream = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 2)
                break
            except (OSError, TimeoutError):
                self._ready[port] = False
        if upstream is None:
            client_w.close()
            return
        up_r, up_w = upstream
        await asyncio.gather(self._pipe(client_r, up_w), self._pipe(up_r, client_w))

    @staticmethod
    async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.close()


def banner(args: argparse.Namespace, logs: Path) -> str:
    base_port = args.base_port
    gw = f"http://127.0.0.1:{base_port}"
    ports = (
        f"customer :{base_port + 1}  sales :{base_port + 2}  service-desk :{base_port + 3}  billing :{base_port + 4}"
        f"  notifications :{base_port + 5}"
    )
    replicas = ""
    if args.replicas > 1:
        first, last = replica_port(base_port, PROCS[-1], 1), replica_port(base_port, PROCS[-1], args.replicas)
        replicas = (
            f"\n  replicas      {args.replicas} of each, balanced on the ports above; replica r on "
            f"port + {REPLICA_STRIDE}*r (gateways :{first}..:{last})"
        )
    return f"""
Tessera CRM is running.
  API gateway   {gw}        docs: {gw}/docs
  services      {ports}{replicas}
  logs          {logs}/   processes: {args.data_dir / "stack.json"}
  mail          every e-mail sent lands in {args.data_dir / "mail"}/ as an .eml file (SMTP :{mail_port(args)})

Get a token (local users: admin, manager, rep1, rep2, agent, clerk, finance; password "local"):
  TOKEN=$(curl -s -d grant_type=password -d username=admin -d password=local {gw}/auth/token \\
          | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  curl -s -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
       -d '{{"kind": "person", "name": "Ada Lovelace", "email": "ada@example.com"}}' {gw}/api/v1/customers
Press Ctrl-C to stop everything.
"""


class Stack:
    """The processes of the stack: started, watched, restarted, stopped."""

    def __init__(self, args: argparse.Namespace, bootstrap: str, logs: Path) -> None:
        self.args = args
        self.bootstrap = bootstrap
        self.logs = logs
        self.replicas: list[Replica] = []
        for proc in PROCS:
            if args.replicas == 1:
                self.replicas.append(Replica(proc, 0, service_port(args.base_port, proc), logs / f"{proc.name}.log"))
            else:
                for r in range(1, args.replicas + 1):
                    self.replicas.append(
                        Replica(proc, r, replica_port(args.base_port, proc, r), logs / f"{proc.name}-{r}.log")
                    )

    def spawn(self, rep: Replica) -> None:
        if rep._log is None:
            rep._log = open(rep.log_path, "ab")  # noqa: SIM115 - closed in stop()
        rep.popen = subprocess.Popen(
            uvicorn_command(rep.proc, rep.port),
            env=service_env(rep.proc, self.args, self.bootstrap, rep.port),
            cwd=ROOT,
            stdout=rep._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        rep.restart_at = None
        self.write_state()

    def write_state(self) -> None:
        state = {
            "base_port": self.args.base_port,
            "replicas": self.args.replicas,
            "launcher_pid": os.getpid(),
            "processes": [
                {
                    "service": rep.proc.name,
                    "replica": rep.index,
                    "name": rep.name,
                    "port": rep.port,
                    "pid": rep.popen.pid if rep.popen is not None else None,
                    "restarts": rep.restarts,
                    "log": str(rep.log_path),
                }
                for rep in self.replicas
            ],
        }
        target = self.args.data_dir / "stack.json"
        tmp = target.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=1) + "\n")
        tmp.replace(target)

    def supervise(self, quiet: bool) -> None:
        """One round: restart the processes that exited (after their back-off)."""
        now = time.monotonic()
        for rep in self.replicas:
            code = rep.popen.poll() if rep.popen is not None else None
            if code is None:
                continue
            if rep.restart_at is None:
                backoff = min(RESTART_BACKOFF[0] * 2**rep.restarts, RESTART_BACKOFF[1])
                rep.restart_at = now + backoff
                print(f"{rep.name} exited with {code}; restarting in {backoff:.1f} s", file=sys.stderr, flush=True)
            elif now >= rep.restart_at:
                rep.restarts += 1
                self.spawn(rep)
                if not quiet:
                    print(f"{rep.name} restarted (pid {rep.popen.pid})", flush=True)

    def stop(self) -> None:
        for rep in self.replicas:
            if rep.popen is not None and rep.popen.poll() is None:
                rep.popen.send_signal(signal.SIGTERM)
        for rep in self.replicas:
            if rep.popen is None:
                continue
            try:
                rep.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                rep.popen.kill()
            if rep._log is not None:
                rep._log.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stack_ports = [service_port(args.base_port, p) for p in PROCS]
    if args.replicas > 1:
        stack_ports += [replica_port(args.base_port, p, r) for p in PROCS for r in range(1, args.replicas + 1)]
    stack_ports.append(mail_port(args))
    busy = [port for port in stack_ports if _port_in_use(port)]
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
    if args.database == "postgres":
        asyncio.run(ensure_databases(args))

    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)

    stack = Stack(args, bootstrap, logs)
    balancer: Balancer | None = None
    mail = start_mail_sink(args, logs)
    try:
        if args.replicas > 1:
            balancer = Balancer(
                {service_port(args.base_port, p): [r.port for r in stack.replicas if r.proc is p] for p in PROCS}
            )
            balancer.start()
        # With replicas, the first of each service migrates its database alone (each service
        # also migrates under an advisory lock, so this only spares the others the wait).
        for rep in stack.replicas:
            stack.spawn(rep)
        deadline = time.monotonic() + 120
        pending = {rep.name: f"http://127.0.0.1:{rep.port}/readyz" for rep in stack.replicas}
        while pending and not stopping:
            for rep in stack.replicas:
                if rep.popen is not None and rep.popen.poll() is not None:
                    print(f"{rep.name} exited with {rep.popen.returncode}; see {rep.log_path}", file=sys.stderr)
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
            print(banner(args, logs), flush=True)
        while not stopping:
            stack.supervise(args.quiet)
            time.sleep(0.2)
    finally:
        stack.stop()
        mail.send_signal(signal.SIGTERM)
        try:
            mail.wait(timeout=10)
        except subprocess.TimeoutExpired:
            mail.kill()
        if balancer is not None:
            balancer.stop()
        if started_kafka:
            stop_kafka(args.kafka_port)
        print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
