"""`make bench`: throughput, latency, event lag and scale of the real stack, each figure beside
its ceiling measured in the same run. Writes a JSON report and prints it as a table.

    .venv/bin/python tests/bench/harness.py [--sizes 10k,100k,1M] [--out .bench/report.json]

What runs: PostgreSQL and Kafka (the test servers), every service as its own process started by
deploy/local/launcher.py with --database postgres, a bare FastAPI app (the HTTP ceiling) and
Kafka's own ProducerPerformance (the broker ceiling). HTTP load comes from wrk (C, one thread,
pinned to the second core with taskset, closed loop with a fixed number of connections); an
async httpx generator stands in when wrk is absent (the smoke test in `make test`).

Every process this starts is stopped at the end, the databases and topics it made are dropped,
also when the run is stopped with SIGTERM (exit code 143).
See docs/performance.md for the method and the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import httpx2

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SERVICES = {"gateway": 0, "customer": 1, "sales": 2, "service-desk": 3, "billing": 4}
# The services that keep a copy of every customer (tessera_shared.known_customers).
COPY_KEEPERS = ("sales", "service-desk", "billing", "notifications")
# One harness at a time per PostgreSQL server: the launcher's database names are fixed.
LOCK_ID = 0x7E55B3C4
CUSTOMER_BODY = '{"kind": "person", "name": "Bench %s", "email": "bench.%s@example.com"}'


# ----------------------------------------------------------------------------- small helpers


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def parse_size(text: str) -> int:
    text = text.strip().lower()
    mult = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if text[-1:] in "km" else text) * mult)


def size_label(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1_000 and n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex(("127.0.0.1", port)) == 0


def pg_dsn(url: str, db: str = "postgres") -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://").rstrip("/") + f"/{db}"


def token(roles: tuple[str, ...] = ("admin",), subject: str = "bench") -> str:
    from tessera_shared.auth import TokenCodec
    from tessera_shared.settings import LOCAL_SIGNING_KEY

    codec = TokenCodec(algorithm="HS256", signing_key=LOCAL_SIGNING_KEY, issuer="tessera-gateway", audience="tessera")
    return codec.issue(subject, roles, ttl=timedelta(hours=3))


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (``/proc/<pid>/stat`` utime + stime)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # After "pid (comm)": state is field 3, utime and stime fields 14 and 15 (proc(5)).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def runqueue_seconds(pid: int) -> float | None:
    """Seconds the process's threads have been runnable but waiting for a CPU so far (the second
    field of ``/proc/<pid>/task/*/schedstat``): on a loaded machine, wall time that is neither its
    CPU nor its waiting on the database."""
    total = 0
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                total += int((task / "schedstat").read_text().split()[1])
    except OSError:
        return None
    return total / 1e9


def cpu_spent(
    before: dict[str, float], after: dict[str, float], idle: dict[str, float], window: float, units: int
) -> tuple[dict[str, float], dict[str, float]]:
    """CPU seconds per unit of work of each kind of process (the keys' part before ``:``), gross and
    net of what each spends idle (``idle``: seconds per second, ``window``: the seconds measured);
    a process that started meanwhile counts from zero."""
    gross: dict[str, float] = {}
    net: dict[str, float] = {}
    for key, spent_until in after.items():
        name = key.split(":")[0]
        spent = spent_until - before.get(key, 0.0)
        gross[name] = gross.get(name, 0.0) + spent / units
        net[name] = net.get(name, 0.0) + (spent - idle.get(key, 0.0) * window) / units
    return gross, net


def children_of(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            out += [int(c) for c in (task / "children").read_text().split()]
    return out


def services_cpu(launcher_pid: int) -> dict[str, float]:
    """CPU seconds so far of each service the launcher started (``tessera_<svc>.main``), replicas summed."""
    out: dict[str, float] = {}
    for pid in children_of(launcher_pid):
        with contextlib.suppress(OSError):
            m = re.search(rb"tessera_(\w+)\.main", Path(f"/proc/{pid}/cmdline").read_bytes())
            cpu = cpu_seconds(pid)
            if m and cpu is not None:
                svc = m.group(1).decode().replace("_", "-")
                out[svc] = out.get(svc, 0.0) + cpu
    return out


# ----------------------------------------------------------------------------- the report


@dataclass
class Report:
    rows: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(
        self,
        name: str,
        value: float | None,
        unit: str,
        ceiling_name: str | None = None,
        ceiling_value: float | None = None,
        *,
        lower_is_better: bool = False,
        **extra: Any,
    ) -> None:
        ratio = None
        if value is not None and ceiling_value:
            ratio = round(value / ceiling_value, 3)
        row: dict[str, Any] = {
            "name": name,
            "value": None if value is None else round(value, 2),
            "unit": unit,
            "ceiling_name": ceiling_name,
            "ceiling_value": None if ceiling_value is None else round(ceiling_value, 2),
            "ratio": ratio,
        }
        if lower_is_better:
            row["lower_is_better"] = True  # a cost: a rising ratio is the worse one (tools/bench_compare.py)
        if extra:
            row["extra"] = extra
        self.rows.append(row)
        log(
            f"{name}: {row['value']} {unit}"
            + (f"  (ceiling {ceiling_name}: {row['ceiling_value']}, ratio {ratio})" if ceiling_name else "")
        )

    def table(self) -> str:
        head = ("name", "value", "unit", "ceiling", "ceiling value", "ratio")
        lines = [
            (
                r["name"],
                _fmt(r["value"]),
                r["unit"],
                r["ceiling_name"] or "",
                _fmt(r["ceiling_value"]),
                _fmt(r["ratio"]),
            )
            for r in self.rows
        ]
        widths = [max(len(str(x)) for x in col) for col in zip(head, *lines, strict=True)]
        out = [
            " | ".join(str(h).ljust(w) for h, w in zip(head, widths, strict=True)),
            "-+-".join("-" * w for w in widths),
        ]
        out += [" | ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)) for line in lines]
        return "\n".join(out)


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:,.3f}" if abs(v) < 10 else f"{v:,.1f}"
    return str(v)


# ----------------------------------------------------------------------------- load generation


@dataclass
class LoadResult:
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int
    requests: int
    # Server CPU per request (microseconds) of each process named to Load.run, over all runs.
    cpu_us: dict[str, float] = field(default_factory=dict)


@dataclass
class Load:
    """Closed-loop HTTP load: wrk when present, else an async httpx generator."""

    use_wrk: bool
    connections: int
    duration: float
    warmup: float
    reps: int
    tmp: Path

    async def run(
        self,
        url_format: str,
        *,
        tok: str | None,
        method: str = "GET",
        ids: list[str] | None = None,
        body: str | None = None,
        headers: dict[str, str] | None = None,
        servers: dict[str, int] | None = None,
    ) -> tuple[LoadResult, list[LoadResult]]:
        """Warm-up, then ``reps`` runs; returns the median run (by req/s) and all runs. With
        ``servers`` (name -> pid), the median run carries each server's CPU per request over all
        the runs (``/proc`` before and after: CPU stays comparable on a shared machine, req/s not)."""
        extra = headers or {}
        if self.warmup > 0:
            await self._once(url_format, tok, method, ids, body, self.warmup, extra)
        before = {name: cpu_seconds(pid) for name, pid in (servers or {}).items()}
        runs = [await self._once(url_format, tok, method, ids, body, self.duration, extra) for _ in range(self.reps)]
        after = {name: cpu_seconds(pid) for name, pid in (servers or {}).items()}
        ordered = sorted(runs, key=lambda r: r.rps)
        median = ordered[len(ordered) // 2]
        done = sum(r.requests for r in runs)
        for name, t0 in before.items():
            t1 = after[name]
            if t0 is not None and t1 is not None and done:
                median.cpu_us[name] = round((t1 - t0) / done * 1e6, 1)
        return median, runs

    async def _once(
        self,
        url_format: str,
        tok: str | None,
        method: str,
        ids: list[str] | None,
        body: str | None,
        duration: float,
        headers: dict[str, str],
    ) -> LoadResult:
        if self.use_wrk:
            return await self._wrk(url_format, tok, method, ids, body, duration, headers)
        return await self._httpx(url_format, tok, method, ids, body, duration, headers)

    async def _wrk(
        self,
        url_format: str,
        tok: str | None,
        method: str,
        ids: list[str] | None,
        body: str | None,
        duration: float,
        headers: dict[str, str],
    ) -> LoadResult:
        m = re.match(r"(https?://[^/]+)(/.*)", url_format)
        assert m, url_format
        base, path = m.groups()
        ids_file, body_file = "-", "-"
        if ids:
            ids_file = str(self.tmp / "ids.txt")
            Path(ids_file).write_text("\n".join(ids) + "\n")  # noqa: ASYNC240 - before the load starts
        if body:
            body_file = str(self.tmp / "body.json")
            Path(body_file).write_text(body)  # noqa: ASYNC240 - before the load starts
        # One wrk thread pinned to CPU 1: wrk's C loop needs a few per cent of a core at these
        # rates, and pinning keeps it from migrating onto the core the server is busy on.
        cmd = [
            *taskset(),
            "wrk",
            "-t1",
            f"-c{self.connections}",
            f"-d{max(1, round(duration))}s",
            "--timeout",
            "10s",
            "-s",
            str(HERE / "wrk.lua"),
            base,
            "--",
            path,
            tok or "-",
            method,
            ids_file,
            body_file,
            ";".join(f"{k}={v}" for k, v in headers.items()) or "-",
        ]
        proc = await asyncio.create_subprocess_exec(
            *cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        out, err = await proc.communicate()
        line = next((x for x in out.decode().splitlines() if x.startswith("BENCHJSON ")), None)
        if line is None:
            raise RuntimeError(f"wrk failed: {out.decode()[-2000:]} {err.decode()[-2000:]}")
        d = json.loads(line[len("BENCHJSON ") :])
        errors = d["status_errors"] + d["connect_errors"] + d["read_errors"] + d["write_errors"] + d["timeouts"]
        return LoadResult(
            rps=d["requests"] / (d["duration_us"] / 1e6),
            p50_ms=d["p50_us"] / 1000,
            p95_ms=d["p95_us"] / 1000,
            p99_ms=d["p99_us"] / 1000,
            errors=errors,
            requests=d["requests"],
        )

    async def _httpx(
        self,
        url_format: str,
        tok: str | None,
        method: str,
        ids: list[str] | None,
        body: str | None,
        duration: float,
        extra: dict[str, str],
    ) -> LoadResult:
        headers = {**extra, **({"Authorization": f"Bearer {tok}"} if tok else {})}
        if body:
            headers["Content-Type"] = "application/json"
        latencies: list[float] = []
        errors = 0
        deadline = time.perf_counter() + duration
        limits = httpx.Limits(max_connections=self.connections, max_keepalive_connections=self.connections)
        async with httpx.AsyncClient(limits=limits, timeout=10) as client:

            async def worker(w: int) -> None:
                nonlocal errors
                i = w
                while time.perf_counter() < deadline:
                    i += 1
                    url = url_format % ids[i % len(ids)] if ids else url_format
                    content = body.replace("%s", uuid.uuid4().hex) if body else None
                    t0 = time.perf_counter()
                    try:
                        r = await client.request(method, url, headers=headers, content=content)
                        if r.status_code >= 400:
                            errors += 1
                    except httpx.HTTPError:
                        errors += 1
                    latencies.append(time.perf_counter() - t0)

            start = time.perf_counter()
            await asyncio.gather(*(worker(w) for w in range(self.connections)))
            elapsed = time.perf_counter() - start
        ms = [x * 1000 for x in latencies]
        return LoadResult(
            rps=len(ms) / elapsed,
            p50_ms=pct(ms, 50),
            p95_ms=pct(ms, 95),
            p99_ms=pct(ms, 99),
            errors=errors,
            requests=len(ms),
        )


def taskset() -> list[str]:
    if shutil.which("taskset") and (os.cpu_count() or 1) >= 2:
        return ["taskset", "-c", str((os.cpu_count() or 2) - 1)]
    return []


# ----------------------------------------------------------------------------- processes


class Process:
    def __init__(self, name: str, cmd: list[str], env: dict[str, str], log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            cmd,
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE if name == "launcher" else self._log,
            stderr=subprocess.STDOUT,
            text=name == "launcher",
        )

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 40) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()


async def wait_http(
    url: str, timeout: float = 60, proc: Process | None = None, headers: dict[str, str] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=1) as c:
        while time.monotonic() < deadline:
            if proc is not None and proc.proc.poll() is not None:
                raise RuntimeError(f"{proc.name} exited; see {proc.log_path}")
            with contextlib.suppress(httpx.HTTPError):
                if (await c.get(url, headers=headers)).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise TimeoutError(f"{url} not ready in {timeout}s")


def launcher_supports_db_prefix() -> bool:
    return "--db-prefix" in (ROOT / "deploy/local/launcher.py").read_text()


class Stack:
    """The launcher with --database postgres, on ports base..base+4."""

    def __init__(self, args: argparse.Namespace, namespace: str, db_prefix: str, work: Path) -> None:
        self.args = args
        self.namespace = namespace
        self.db_prefix = db_prefix
        self.work = work
        self.launcher: Process | None = None
        self.base = args.base_port

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.base + SERVICES[service]}"

    def db_name(self, service: str) -> str:
        return f"{self.db_prefix}{service.replace('-', '_')}"

    async def start(self) -> None:
        busy = [self.base + o for o in SERVICES.values() if port_open(self.base + o)]
        if busy:
            raise RuntimeError(f"ports {busy} are in use")
        env = dict(os.environ)
        for svc in SERVICES:
            pre = f"TESSERA_{svc.replace('-', '_').upper()}_"
            # Scheduled jobs would wake up in the middle of a measurement; they are benchmarked apart.
            env[pre + "JOBS_ENABLED"] = "false"
        # One bench token makes every request: lift its per-token limit (1,200/min by default).
        env["TESSERA_GATEWAY_RATE_LIMIT_PER_MINUTE"] = "100000000"
        cmd = [
            sys.executable,
            str(ROOT / "deploy/local/launcher.py"),
            "--base-port",
            str(self.base),
            "--data-dir",
            str(self.work / "data"),
            "--kafka-bootstrap",
            self.args.kafka,
            "--namespace",
            self.namespace,
            "--database",
            "postgres",
            "--postgres-url",
            self.args.pg + "/postgres",
            "--quiet",
        ]
        if self.db_prefix != "tessera_":
            cmd += ["--db-prefix", self.db_prefix]
        self.launcher = Process("launcher", cmd, env, self.work / "launcher.log")
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + 150
        out = self.launcher.proc.stdout
        assert out is not None
        lines: list[str] = []
        while time.monotonic() < deadline:
            line = await loop.run_in_executor(None, out.readline)
            lines.append(line)
            if "Tessera CRM is running" in line:
                break
            if not line and self.launcher.proc.poll() is not None:
                logs = "".join(p.read_text()[-2000:] for p in (self.work / "data/logs").glob("*.log"))
                raise RuntimeError(f"launcher exited: {''.join(lines)}\n{logs}")
        else:
            raise TimeoutError("stack not ready in 150 s")
        # Drain the launcher's stdout so that it never blocks on a full pipe.
        loop.run_in_executor(None, lambda: [None for _ in iter(out.readline, "")])

    def pids(self) -> dict[str, int]:
        assert self.launcher is not None
        found: dict[str, int] = {}
        for pid in children_of(self.launcher.proc.pid):
            with contextlib.suppress(OSError):
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode()
                for svc in SERVICES:
                    if f"tessera_{svc.replace('-', '_')}.main" in cmdline:
                        found[svc] = pid
        return found

    def stop(self) -> None:
        if self.launcher is not None:
            self.launcher.stop(signal.SIGINT, timeout=60)


class RssSampler:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.peak: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None

    def sample(self) -> dict[str, float]:
        now = {svc: rss_mb(pid) or 0.0 for svc, pid in self.stack.pids().items()}
        for svc, v in now.items():
            self.peak[svc] = max(self.peak.get(svc, 0.0), v)
        return now

    async def _loop(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(0.5)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


# ----------------------------------------------------------------------------- databases


class LockHeld(RuntimeError):
    pass


@contextlib.asynccontextmanager
async def server_lock(pg: str, wait: float) -> AsyncIterator[None]:
    conn = await asyncpg.connect(pg_dsn(pg))
    try:
        deadline = time.monotonic() + wait
        while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_ID):
            if time.monotonic() > deadline:
                raise LockHeld("another bench run holds the lock on this PostgreSQL server")
            await asyncio.sleep(1)
        yield
    finally:
        with contextlib.suppress(Exception):
            await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_ID)
        await conn.close()


async def recreate_databases(pg: str, names: list[str]) -> None:
    conn = await asyncpg.connect(pg_dsn(pg))
    try:
        for name in names:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def drop_databases(pg: str, names: list[str]) -> None:
    conn = await asyncpg.connect(pg_dsn(pg))
    try:
        for name in names:
            with contextlib.suppress(Exception):
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def timed_sql(conn: asyncpg.Connection, sql: str, *params: Any, runs: int) -> float:
    """Median milliseconds of a query run by the database alone (one prepared statement)."""
    stmt = await conn.prepare(sql)
    await stmt.fetch(*params)
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        await stmt.fetch(*params)
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


async def timed_get(client: httpx.AsyncClient, url: str, headers: dict[str, str], runs: int) -> float:
    """Median milliseconds of one GET, sequential (one request at a time), after one warm-up."""
    r = await client.get(url, headers=headers)
    r.raise_for_status()
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        r = await client.get(url, headers=headers)
        samples.append((time.perf_counter() - t0) * 1000)
        r.raise_for_status()
    return statistics.median(samples)


# ----------------------------------------------------------------------------- the rows


class Bench:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.report = Report()
        self.tag = uuid.uuid4().hex[:8]
        self.namespace = f"bench{self.tag}."
        self.db_prefix = f"bench{self.tag}_" if launcher_supports_db_prefix() else "tessera_"
        self.use_wrk = args.loadgen == "wrk" or (args.loadgen == "auto" and shutil.which("wrk") is not None)
        self.load = Load(self.use_wrk, args.connections, args.duration, args.warmup, args.reps, work)
        self.tok = token()
        self.auth = {"Authorization": f"Bearer {self.tok}"}
        self.stack = Stack(args, self.namespace, self.db_prefix, work)
        self.rss = RssSampler(self.stack)
        self.topics: list[str] = []

    def dsn(self, service: str) -> str:
        return pg_dsn(self.args.pg, self.stack.db_name(service))

    # --- row 1 ---------------------------------------------------------------------------
    async def bare_fastapi(self) -> LoadResult:
        port = self.args.base_port + 10
        cmd = [
            sys.executable,
            "-m",
            "uvicorn",
            "bare_app:create_app",
            "--factory",
            "--app-dir",
            str(HERE),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--loop",
            "uvloop",
            "--http",
            "httptools",
        ]
        proc = Process("bare", cmd, dict(os.environ), self.work / "bare.log")
        try:
            await wait_http(f"http://127.0.0.1:{port}/v1/things/x", proc=proc)
            ids = [str(uuid.uuid4()) for _ in range(100)]
            res, _ = await self.load.run(
                f"http://127.0.0.1:{port}/v1/things/%s", tok=None, ids=ids, servers={"bare": proc.proc.pid}
            )
        finally:
            proc.stop()
        self.report.add("1 bare FastAPI GET (ceiling)", res.rps, "req/s", **extra_p(res))
        self._cpu_row("1 bare FastAPI GET", res)
        return res

    async def limit_app(self, ids: list[str]) -> LoadResult:
        """Row 1b: the real ceiling of a read by id (tests/bench/limit_app.py): PyJWT verify, the
        same customer row by asyncpg (prepared), orjson; against the stack's customer database."""
        from tessera_shared.settings import LOCAL_SIGNING_KEY

        port = self.args.base_port + 11
        cmd = [
            sys.executable,
            "-m",
            "uvicorn",
            "limit_app:create_app",
            "--factory",
            "--app-dir",
            str(HERE),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--loop",
            "uvloop",
            "--http",
            "httptools",
        ]
        env = {**os.environ, "BENCH_LIMIT_DSN": self.dsn("customer"), "BENCH_LIMIT_KEY": LOCAL_SIGNING_KEY}
        proc = Process("limit", cmd, env, self.work / "limit.log")
        try:
            await wait_http(f"http://127.0.0.1:{port}/v1/customers/{ids[0]}", proc=proc, headers=self.auth)
            res, _ = await self.load.run(
                f"http://127.0.0.1:{port}/v1/customers/%s", tok=self.tok, ids=ids, servers={"limit": proc.proc.pid}
            )
        finally:
            proc.stop()
        self.report.add(
            "1b the limit: PyJWT + asyncpg prepared read + orjson (ceiling)", res.rps, "req/s", **extra_p(res)
        )
        self._cpu_row("1b the limit", res)
        return res

    def _cpu_row(self, prefix: str, res: LoadResult, ceiling: LoadResult | None = None) -> None:
        """Server CPU per request beside a row's req/s (each process's share under ``extra``)."""
        if not res.cpu_us:
            return
        total = sum(res.cpu_us.values())
        ceiling_total = sum(ceiling.cpu_us.values()) if ceiling is not None and ceiling.cpu_us else None
        self.report.add(
            f"{prefix}: server CPU per request",
            total,
            "us CPU/request",
            "the limit's CPU per request" if ceiling_total else None,
            ceiling_total,
            lower_is_better=True,
            **{f"cpu_us_{name}": v for name, v in res.cpu_us.items()},
        )

    # --- rows 2-5 ------------------------------------------------------------------------
    async def http_rows(self, bare: LoadResult | None) -> None:
        gw, cust = self.stack.url("gateway"), self.stack.url("customer")
        pids = self.stack.pids()
        direct_servers = {"customer": pids["customer"]} if "customer" in pids else {}
        gw_servers: dict[str, int] = {s: pids[s] for s in ("gateway", "customer") if s in pids}
        async with httpx.AsyncClient(timeout=30) as c:
            ids = []
            for i in range(self.args.ids):
                r = await c.post(
                    f"{gw}/api/v1/customers",
                    headers=self.auth,
                    json={"kind": "person", "name": f"Seed {i} {self.tag}", "email": f"seed{i}.{self.tag}@example.com"},
                )
                r.raise_for_status()
                ids.append(r.json()["id"])
        self.customer_ids = ids
        await self.wait_outbox_drained("customer", 60)
        # The real ceiling of rows 2, 3 and 5b, measured beside them (tests/bench/limit_app.py).
        limit = await self.limit_app(ids)
        direct, _ = await self.load.run(f"{cust}/v1/customers/%s", tok=self.tok, ids=ids, servers=direct_servers)
        self._http_row("2 customer GET by id, direct", direct, limit, bare, target=0.50)
        self._cpu_row("2 customer GET by id, direct", direct, limit)
        via_gw, _ = await self.load.run(f"{gw}/api/v1/customers/%s", tok=self.tok, ids=ids, servers=gw_servers)
        self._http_row("3 customer GET by id, via gateway", via_gw, limit, bare, target=0.35)
        self._cpu_row("3 customer GET by id, via gateway", via_gw, limit)
        if "gateway" in via_gw.cpu_us:
            self.report.add(
                "3 gateway CPU per forwarded GET",
                via_gw.cpu_us["gateway"],
                "us CPU/request",
                "target",
                400,
                lower_is_better=True,
            )
        if "customer" in via_gw.cpu_us and "customer" in direct.cpu_us:
            # What the customer process spends more on a request behind the gateway than called directly.
            self.report.add(
                "3 customer CPU per request behind the gateway",
                via_gw.cpu_us["customer"],
                "us CPU/request",
                "customer CPU per request, direct",
                direct.cpu_us["customer"],
                lower_is_better=True,
            )
        await self.layers()
        post, _ = await self.load.run(
            f"{gw}/api/v1/customers", tok=self.tok, method="POST", body=CUSTOMER_BODY, servers=gw_servers
        )
        self._http_row(
            "4 customer POST via gateway (outbox)", post, bare, None, target=None, ceiling_name="1 bare FastAPI"
        )
        self._cpu_row("4 customer POST via gateway", post)
        await self.wait_outbox_drained("customer", 120)
        view_url = f"{gw}/api/v1/customers/%s/360"
        # Composed every time (Cache-Control: no-cache): the cost of the composition itself.
        all_servers = dict(pids)
        fresh, _ = await self.load.run(
            view_url, tok=self.tok, ids=ids, headers={"Cache-Control": "no-cache"}, servers=all_servers
        )
        self._http_row(
            "5b customer 360 view, composed every time (no-cache)", fresh, limit, None, target=None, row3=via_gw
        )
        self._cpu_row("5b customer 360 view, composed every time", fresh, limit)
        # As frontends call it: the gateway's view cache answers repeats until an event about the
        # customer (or the TTL) drops the view. The 200 customers are all viewed within the warm-up.
        before = await self.view_cache_stats(gw)
        view, _ = await self.load.run(view_url, tok=self.tok, ids=ids, servers=all_servers)
        after = await self.view_cache_stats(gw)
        hits, misses = after["hits"] - before["hits"], after["misses"] - before["misses"]
        self._http_row(
            "5 customer 360 view via gateway", view, via_gw, None, target=0.35, ceiling_name="3 GET via gateway"
        )
        self._cpu_row("5 customer 360 view via gateway", view)
        self.report.add("5 customer 360 p99", view.p99_ms, "ms", "3x row 3 p99", 3 * via_gw.p99_ms, target="<= 1.0")
        self.report.add(
            "5 view cache hit ratio (warm-up and runs)",
            round(hits / max(1, hits + misses), 4),
            "ratio",
            "all requests",
            1.0,
            live=after["live"],
            hits=hits,
            misses=misses,
        )

    # Row 2's request taken apart (tests/bench/layers.py): CPU per request in process, each layer
    # beside the bare app's, so that the report shows where the gap to row 1 is.
    LAYERS = (
        ("the service's middleware, first route (GET /healthz)", "service_middleware"),
        ("+ the last of its routes, role check, constant body", "routing_and_role"),
        ("GET /v1/customers/{id} as served", "get_by_id"),
        ("the same row by asyncpg alone (prepared)", "database_alone"),
    )

    async def layers(self) -> None:
        cmd = [
            sys.executable,
            str(HERE / "layers.py"),
            "--pg",
            self.args.pg,
            "--requests",
            str(self.args.layer_requests),
        ]
        proc = await asyncio.create_subprocess_exec(
            *cmd, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        out, err = await proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"layers.py failed: {err.decode()[-2000:]}")
        cpu = json.loads(out.decode().strip().splitlines()[-1])
        unit = "us CPU/request"
        self.report.add("2 layers: bare FastAPI, in process", cpu["bare"], unit)
        for label, key in self.LAYERS:
            self.report.add(
                f"2 layers: {label}", cpu[key], unit, "bare FastAPI, in process", cpu["bare"], lower_is_better=True
            )

    async def view_cache_stats(self, gw: str) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=10) as c:
            ready = (await c.get(f"{gw}/readyz")).json()
        return ready.get("view_cache") or {"live": False, "hits": 0, "misses": 0}

    def _http_row(
        self,
        name: str,
        res: LoadResult,
        ceiling: LoadResult | None,
        bare: LoadResult | None,
        target: float | None,
        *,
        ceiling_name: str = "1b the limit",
        row3: LoadResult | None = None,
    ) -> None:
        """A row's req/s beside its ceiling (the limit for rows 2, 3 and 5b); its ratio to the bare
        app (and 5b's to row 3) under ``extra``."""
        others: dict[str, Any] = {}
        if bare is not None and bare.rps:
            others["ratio_to_bare"] = round(res.rps / bare.rps, 4)
        if row3 is not None and row3.rps:
            others["ratio_to_row_3"] = round(res.rps / row3.rps, 4)
        self.report.add(
            name,
            res.rps,
            "req/s",
            ceiling_name if ceiling is not None else None,
            ceiling.rps if ceiling is not None else None,
            **({"target": f">= {target}"} if target else {}),  # type: ignore[arg-type]  # mypy reads **dict[str, str] against every keyword
            **extra_p(res),
            **others,
        )

    # --- row 6 ---------------------------------------------------------------------------
    async def event_lag(self) -> None:
        sales, billing = self.stack.url("sales"), self.stack.url("billing")
        # httpx2: httpx 0.28's pool costs ~2 ms of CPU per request at this concurrency, which made
        # the load generator itself the limit of the loaded rate (about 60 wins/s).
        async with httpx2.AsyncClient(timeout=30, limits=httpx2.Limits(max_connections=64)) as c:
            # Deals of customers the customer service knows (200, ten deals each when loaded): a
            # deal.won of an unknown customer would be parked there, which measures the dead letters.
            # Deals go to the customers in turn, so with fewer deals than 200 (the smoke test's tiny
            # size: 13) each has a customer of its own whatever their number: no more are made.
            customers = []
            for i in range(min(200, self.args.lag_deals + int(self.args.lag_rate * self.args.lag_seconds))):
                r = await c.post(
                    f"{self.stack.url('customer')}/v1/customers",
                    headers=self.auth,
                    json={
                        "kind": "organization",
                        "name": f"Lag {self.tag} {i}",
                        "email": f"lag{i}.{self.tag}@example.com",
                    },
                )
                r.raise_for_status()
                customers.append(r.json()["id"])
            # Their customer.created reach sales and billing (was a fixed 2 s sleep).
            await self.wait_known(("sales", "billing"), customers, 30)
            deals_made = itertools.count()

            async def new_deal() -> str:
                r = await c.post(
                    f"{sales}/v1/deals",
                    headers=self.auth,
                    json={
                        "customer_id": customers[next(deals_made) % len(customers)],
                        "title": "Bench licence",
                        "amount": "100.00",
                        "currency": "EUR",
                    },
                )
                r.raise_for_status()
                return r.json()["id"]

            async def visible(deal_id: str) -> bool:
                r = await c.get(f"{billing}/v1/invoices", params={"deal_id": deal_id}, headers=self.auth)
                return r.status_code == 200 and bool(r.json()["items"])

            # Idle: one deal at a time; won, then GET until billing shows its invoice.
            lags = []
            for _ in range(self.args.lag_deals):
                deal_id = await new_deal()
                await asyncio.sleep(0.05)
                r = await c.post(f"{sales}/v1/deals/{deal_id}/win", headers=self.auth, json={})
                r.raise_for_status()
                t0 = time.perf_counter()
                while not await visible(deal_id):
                    if time.perf_counter() - t0 > 30:
                        raise TimeoutError(f"invoice for deal {deal_id} not visible in 30 s")
                    await asyncio.sleep(0.005)
                lags.append((time.perf_counter() - t0) * 1000)
            self.report.add("6 event lag deal.won->invoice idle p50", pct(lags, 50), "ms")
            self.report.add(
                "6 event lag deal.won->invoice idle p99", pct(lags, 99), "ms", "target", 500, samples=len(lags)
            )

            # Loaded: wins fired open-loop at the target rate; the lag of each is read from the
            # database (invoice row's created_at minus the moment the win was acknowledged), so
            # that polling does not add load. A sample of deals is also polled over HTTP.
            total = int(self.args.lag_rate * self.args.lag_seconds)
            sem = asyncio.Semaphore(32)

            async def make() -> str:
                async with sem:
                    return await new_deal()

            deal_ids = await asyncio.gather(*(make() for _ in range(total)))
            await asyncio.sleep(1)
            won_at: dict[str, float] = {}
            failed = 0

            async def win(deal_id: str) -> None:
                nonlocal failed
                try:
                    r = await c.post(f"{sales}/v1/deals/{deal_id}/win", headers=self.auth, json={})
                    if r.status_code == 200:
                        won_at[deal_id] = time.time()
                    else:
                        failed += 1
                except httpx2.HTTPError:
                    failed += 1

            # What the processes spend idle (pollers, relays, metrics), over a quiet window once the
            # deals' own events are through, so that it can be taken out of the wins' share.
            await self.wait_outbox_drained("sales", 30)
            idle, cpu0, t0 = await self._idle_cpu(self.args.idle_window)
            start = time.perf_counter()
            tasks = []
            for i, deal_id in enumerate(deal_ids):
                delay = start + i / self.args.lag_rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(win(deal_id)))
            await asyncio.gather(*tasks)
            achieved = len(won_at) / (time.perf_counter() - start)
            conn = await asyncpg.connect(self.dsn("billing"))
            try:
                deadline = time.monotonic() + 120
                while True:
                    rows = await conn.fetch(
                        "SELECT deal_id::text AS d, extract(epoch FROM created_at) AS t "
                        "FROM invoices WHERE deal_id = ANY($1::uuid[])",
                        list(won_at),
                    )
                    if len(rows) >= len(won_at) or time.monotonic() > deadline:
                        break
                    await asyncio.sleep(0.5)
            finally:
                await conn.close()
            loaded = [max(0.0, (float(r["t"]) - won_at[r["d"]]) * 1000) for r in rows]
            missing = len(won_at) - len(rows)
            # CPU per won deal, per process: from the wins' start until what they set off is done
            # (every outbox relayed, then the consumers of the last events).
            for svc in ("sales", "billing", "customer"):
                await self.wait_outbox_drained(svc, 60)
            cpu1, window = await self._stack_cpu(), time.perf_counter() - t0
            gross_s, net_s = cpu_spent(cpu0, cpu1, idle, window, max(len(won_at), 1))
            gross = {name: seconds * 1000 for name, seconds in gross_s.items()}
            net = {name: seconds * 1000 for name, seconds in net_s.items()}
            for name in gross:
                self.report.add(f"6 CPU per won deal, loaded: {name}", net[name], "ms", gross_ms=round(gross[name], 2))
            self.report.add(
                "6 CPU per won deal, loaded: total",
                sum(net.values()),
                "ms",
                "target",
                7,
                lower_is_better=True,
                gross_ms=round(sum(gross.values()), 2),
                wins=len(won_at),
                seconds=round(window, 1),
                loadavg=round(os.getloadavg()[0], 2),
            )
            self.report.add(
                f"6 event lag loaded, wins/s achieved (asked {self.args.lag_rate:g})",
                achieved,
                "wins/s",
                "asked",
                self.args.lag_rate,
                failed=failed,
            )
            self.report.add("6 event lag deal.won->invoice loaded p50", pct(loaded, 50), "ms")
            self.report.add(
                "6 event lag deal.won->invoice loaded p99",
                pct(loaded, 99),
                "ms",
                "target",
                2000,
                samples=len(loaded),
                missing_after_120s=missing,
            )

    async def _idle_cpu(self, seconds: float) -> tuple[dict[str, float], dict[str, float], float]:
        """What each process spends idle (pollers, relays, metrics) in CPU seconds per second, over
        a quiet window of ``seconds``; with the snapshot at its end and its time."""
        quiet0, q0 = await self._stack_cpu(), time.perf_counter()
        await asyncio.sleep(seconds)
        cpu0, t0 = await self._stack_cpu(), time.perf_counter()
        idle = {k: (v - quiet0.get(k, v)) / (t0 - q0) for k, v in cpu0.items() if k != "harness"}
        return idle, cpu0, t0

    async def _stack_cpu(self) -> dict[str, float]:
        """CPU seconds so far of each service process, of each PostgreSQL backend connected to the
        stack's databases (``postgresql:<pid>``; their pools hold most for the run) and of this harness."""
        assert self.stack.launcher is not None
        out = services_cpu(self.stack.launcher.proc.pid)
        conn = await asyncpg.connect(self.dsn("customer"))
        try:
            names = [self.stack.db_name(s) for s in (*SERVICES, "notifications")]
            pids = await conn.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = ANY($1::text[]) AND pid <> pg_backend_pid()", names
            )
        finally:
            await conn.close()
        for r in pids:
            cpu = cpu_seconds(r["pid"])
            if cpu is not None:
                out[f"postgresql:{r['pid']}"] = cpu
        out["harness"] = time.process_time()
        return out

    # --- row 8 ---------------------------------------------------------------------------
    async def bulk_import(self) -> None:
        n = self.args.import_rows
        lines = [
            json.dumps(
                {
                    "external_id": f"bench-{self.tag}-{i}",
                    "kind": "person" if i % 3 else "organization",
                    "name": f"Imported {i} {self.tag}",
                    "email": f"imp{i}.{self.tag}@example.com",
                    "tags": ["import"],
                }
            )
            for i in range(n)
        ]
        body = ("\n".join(lines) + "\n").encode()
        cust = self.stack.url("customer")
        async with httpx.AsyncClient(timeout=900) as c:
            t0 = time.perf_counter()
            r = await c.post(
                f"{cust}/v1/customers/import",
                content=body,
                headers={**self.auth, "Content-Type": "application/x-ndjson"},
            )
            elapsed = time.perf_counter() - t0
        if r.status_code == 404:
            self.report.notes.append("POST /v1/customers/import missing: row 8 not measured")
            return
        r.raise_for_status()
        out = r.json()
        # Ceiling: the database alone writing the same rows (COPY of the customer rows).
        ceiling = await self._copy_ceiling(n)
        self.report.add(
            f"8 bulk import {size_label(n)} customers (NDJSON, direct)",
            out["created"] / elapsed,
            "rows/s",
            "target",
            2000,
            created=out["created"],
            failed=out["failed"],
            seconds=round(elapsed, 1),
            db_copy_rows_per_s=round(ceiling),
        )
        # The relay inside the service then publishes the import's events: its drain rate.
        conn = await asyncpg.connect(self.dsn("customer"))
        try:
            t0 = time.perf_counter()
            start_backlog = await conn.fetchval("SELECT count(*) FROM outbox_events WHERE sent_at IS NULL")
            while (left := await conn.fetchval("SELECT count(*) FROM outbox_events WHERE sent_at IS NULL")) > 0:
                if time.perf_counter() - t0 > self.args.drain_timeout:
                    break
                await asyncio.sleep(0.5)
            drained = start_backlog - left
            if start_backlog:
                self.report.add(
                    "8b in-service relay drain after import",
                    drained / (time.perf_counter() - t0),
                    "events/s",
                    None,
                    None,
                    backlog_at_end_of_import=start_backlog,
                    left=left,
                )
        finally:
            await conn.close()

    # --- rows 15 and 16 (issue 23: batch upsert, ?expand=) ------------------------------
    async def batch_upsert(self) -> None:
        """Batch upsert of N customers in calls of 1,000 (direct to the customer service), then the
        same calls again (every input unchanged), then with every name changed (every input
        updated), beside COPY of as many customer rows. Calls go one at a time (the row's figure);
        the created pass is repeated with two calls in flight on new keys (``two_in_flight``)."""
        n, size = self.args.batch_rows, 1000

        def calls(tag: str, name: str) -> list[bytes]:
            return [
                json.dumps(
                    {
                        "id_property": "external_id",
                        "inputs": [
                            {
                                "external_id": f"batch-{tag}-{i}",
                                "kind": "person",
                                "name": f"{name} {i} {tag}",
                                "email": f"batch{i}.{tag}@example.com",
                                "tags": ["batch"],
                            }
                            for i in range(start, min(n, start + size))
                        ],
                    }
                ).encode()
                for start in range(0, n, size)
            ]

        url = f"{self.stack.url('customer')}/v1/customers/batch/upsert"
        headers = {**self.auth, "Content-Type": "application/json"}
        pid = self.stack.pids().get("customer")

        made: list[str] = []  # the ids the last pass created

        async def run(c: httpx.AsyncClient, bodies: list[bytes], in_flight: int) -> tuple[float, dict[str, int], Any]:
            """(seconds, statuses, (customer CPU us per row, customer seconds waiting for a CPU))."""
            counts: dict[str, int] = {}
            queue = list(reversed(bodies))
            made.clear()

            async def worker() -> None:
                while queue:
                    r = await c.post(url, content=queue.pop(), headers=headers)
                    r.raise_for_status()
                    for item in r.json()["results"]:
                        counts[item["status"]] = counts.get(item["status"], 0) + 1
                        if item["status"] == "created":
                            made.append(item["id"])

            cpu0, wait0 = (cpu_seconds(pid), runqueue_seconds(pid)) if pid else (None, None)
            t0 = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(in_flight)))
            took = time.perf_counter() - t0
            cpu1, wait1 = (cpu_seconds(pid), runqueue_seconds(pid)) if pid else (None, None)
            rows = max(1, sum(counts.values()))
            cpu = None if cpu0 is None or cpu1 is None else round((cpu1 - cpu0) / rows * 1e6, 1)
            wait = None if wait0 is None or wait1 is None else round(wait1 - wait0, 2)
            return took, counts, (cpu, wait)

        async with httpx.AsyncClient(timeout=300) as c:
            probe = await c.post(url, content=b'{"id_property": "id", "inputs": [{}]}', headers=headers)
            if probe.status_code == 404:
                self.report.notes.append("POST /v1/customers/batch/upsert missing: row 15 not measured")
                return
            bodies = calls(self.tag, "Batch")
            cpu0, t0 = await self._stack_cpu(), time.perf_counter()
            created_s, created, created_cpu = await run(c, bodies, 1)
            # The whole stack's CPU for the created pass: until the relay has published its events,
            # every service that keeps a customer copy has applied them, and what they set off
            # (billing's credit profiles announced, consumed by sales and notifications) is done.
            await self.wait_outbox_drained("customer", 120)
            await self.wait_known(COPY_KEEPERS, list(made), 300)
            await self.wait_outbox_drained("billing", 120)
            cpu1, window = await self._stack_cpu(), time.perf_counter() - t0
            # Idle measured after, with the stack quiet again (before, a stack just started is not).
            idle, _, _ = await self._idle_cpu(self.args.idle_window)
            stack_gross, stack_net = cpu_spent(cpu0, cpu1, idle, window, max(1, len(made)))
            stack_us = sum(v for k, v in stack_net.items() if k != "harness") * 1e6
            unchanged_s, unchanged, unchanged_cpu = await run(c, bodies, 1)
            updated_s, updated, updated_cpu = await run(c, calls(self.tag, "Renamed"), 1)
            # Two calls in flight need two calls (the smoke test's tiny size has one).
            two_s, two, _ = await run(c, calls(f"{self.tag}b", "Batch"), 2) if len(bodies) > 1 else (1.0, {}, None)
        ceiling = await self._copy_ceiling(n)
        self.report.add(
            f"15 batch upsert {size_label(n)} customers ({len(bodies)} calls of {size}, direct)",
            created.get("created", 0) / created_s,
            "rows/s",
            "COPY of as many customer rows",
            ceiling,
            target_rows_per_s=5000,
            seconds=round(created_s, 2),
            customer_cpu_us_per_row=created_cpu[0],
            customer_runqueue_wait_s=created_cpu[1],
            statuses=created,
            unchanged_pass_rows_per_s=round(unchanged.get("unchanged", 0) / unchanged_s),
            unchanged_cpu_us_per_row=unchanged_cpu[0],
            unchanged_pass=unchanged,
            updated_pass_rows_per_s=round(updated.get("updated", 0) / updated_s),
            updated_cpu_us_per_row=updated_cpu[0],
            updated_pass=updated,
            loadavg=round(os.getloadavg()[0], 2),
            two_in_flight_rows_per_s=round(two["created"] / two_s) if two else None,
        )
        # What one new customer costs the whole stack (its processes and PostgreSQL's backends, net
        # of idle; Kafka's broker not counted), as the rate that cost allows on this machine's
        # cores if nothing else ran and every part overlapped perfectly: an upper bound of the row.
        self.report.add(
            "15 batch upsert: the rate the stack's CPU per new customer allows on all cores",
            (os.cpu_count() or 1) * 1e6 / max(stack_us, 1.0),
            "rows/s",
            "target",
            5000,
            stack_cpu_us_per_row=round(stack_us, 1),
            by_process_us={k: round(v * 1e6, 1) for k, v in sorted(stack_net.items())},
            gross_us=round(sum(v for k, v in stack_gross.items() if k != "harness") * 1e6, 1),
            cores=os.cpu_count(),
            seconds=round(window, 1),
        )
        await self.wait_outbox_drained("customer", 120)

    async def expand_page(self) -> None:
        """A page of 200 deals through the gateway with ?expand=customer (one batch read of the
        page's customers) beside the same page without it."""
        gw = self.stack.url("gateway")
        async with httpx.AsyncClient(timeout=30) as c:
            # The page's 200 customers and deals, eight pairs in flight: their making is not what
            # the row measures, and one pair at a time left the stack's processes mostly waiting.
            in_flight = asyncio.Semaphore(8)

            async def pair(i: int) -> None:
                async with in_flight:
                    r = await c.post(
                        f"{gw}/api/v1/customers",
                        headers=self.auth,
                        json={"kind": "person", "name": f"Expand {i} {self.tag}", "email": f"exp{i}.{self.tag}@x.com"},
                    )
                    r.raise_for_status()
                    deal = {"customer_id": r.json()["id"], "title": f"Deal {i}", "amount": "100.00", "currency": "EUR"}
                    (await c.post(f"{gw}/api/v1/deals", headers=self.auth, json=deal)).raise_for_status()

            await asyncio.gather(*(pair(i) for i in range(200)))
            page = await c.get(f"{gw}/api/v1/deals?limit=200&expand=customer", headers=self.auth)
            page.raise_for_status()
            embedded = sum(1 for d in page.json()["items"] if d.get("customer"))
        await self.wait_outbox_drained("customer", 60)
        await self.wait_outbox_drained("sales", 60)
        pids = self.stack.pids()
        servers: dict[str, int] = {s: pids[s] for s in ("gateway", "sales", "customer") if s in pids}
        # One request at a time (a page of 200 is a heavy answer: under 32 connections a 5 s run
        # completes too few of them to measure): latency and the three processes' CPU per request.
        plain = await self._sequential(f"{gw}/api/v1/deals?limit=200", servers)
        expanded = await self._sequential(f"{gw}/api/v1/deals?limit=200&expand=customer", servers)
        self.report.add(
            "16 200-deal page with ?expand=customer via gateway, p50",
            expanded.p50_ms,
            "ms",
            "the same page without expand",
            plain.p50_ms,
            lower_is_better=True,
            target="ratio < 2",
            p99_ms=round(expanded.p99_ms, 1),
            plain_p99_ms=round(plain.p99_ms, 1),
            requests=expanded.requests,
            errors=expanded.errors + plain.errors,
            customers_embedded=embedded,
        )
        if expanded.cpu_us and plain.cpu_us:
            # On a shared machine latency moves with the neighbours; CPU per request much less.
            self.report.add(
                "16 200-deal page with ?expand=customer: server CPU per request",
                sum(expanded.cpu_us.values()),
                "us CPU/request",
                "the same page without expand",
                sum(plain.cpu_us.values()),
                lower_is_better=True,
                target="ratio < 2",
                **{f"cpu_us_{k}": v for k, v in expanded.cpu_us.items()},
                **{f"plain_cpu_us_{k}": v for k, v in plain.cpu_us.items()},
            )

    async def _sequential(self, url: str, servers: dict[str, int], n: int = 40) -> LoadResult:
        """``n`` GETs one after the other (after 5 to warm up): latency percentiles, and each
        server's CPU per request over them."""
        latencies: list[float] = []
        errors = 0
        async with httpx.AsyncClient(timeout=60) as c:
            for _ in range(5):
                await c.get(url, headers=self.auth)
            before = {name: cpu_seconds(pid) for name, pid in servers.items()}
            for _ in range(n):
                t0 = time.perf_counter()
                r = await c.get(url, headers=self.auth)
                latencies.append((time.perf_counter() - t0) * 1000)
                errors += r.status_code != 200
            after = {name: cpu_seconds(pid) for name, pid in servers.items()}
        cpu = {
            name: round((after[name] - t0) / n * 1e6, 1)  # type: ignore[operator]
            for name, t0 in before.items()
            if t0 is not None and after[name] is not None
        }
        return LoadResult(
            rps=n / (sum(latencies) / 1000),
            p50_ms=pct(latencies, 50),
            p95_ms=pct(latencies, 95),
            p99_ms=pct(latencies, 99),
            errors=errors,
            requests=n,
            cpu_us=cpu,
        )

    async def _copy_ceiling(self, n: int) -> float:
        conn = await asyncpg.connect(self.dsn("customer"))
        try:
            await conn.execute("CREATE TEMP TABLE bench_copy (LIKE customers INCLUDING ALL)")
            cols = [
                "id",
                "kind",
                "name",
                "email",
                "status",
                "tags",
                "created_at",
                "updated_at",
                "version",
                "name_key",
                "external_id",
                "channels",
                "custom_attributes",
                "preferences",
                "purchase_count",
                "lifetime_values",
                "monetary",
                "country",
            ]
            import datetime as dt

            now = dt.datetime.now(dt.UTC)
            records = [
                (
                    uuid.uuid4(),
                    "person",
                    f"Copy {i}",
                    f"c{i}@example.com",
                    "prospect",
                    '["import"]',
                    now,
                    now,
                    1,
                    f"copy {i}",
                    f"copy-{i}",
                    "[]",
                    "{}",
                    "[]",
                    0,
                    "{}",
                    0,
                    "DE",
                )
                for i in range(n)
            ]
            t0 = time.perf_counter()
            await conn.copy_records_to_table("bench_copy", records=records, columns=cols)
            return n / (time.perf_counter() - t0)
        finally:
            await conn.close()

    # --- row 9 ---------------------------------------------------------------------------
    async def scale(self) -> None:
        sizes = self.args.sizes
        cconn = await asyncpg.connect(self.dsn("customer"))
        bconn = await asyncpg.connect(self.dsn("billing"))
        results: dict[str, dict[int, float]] = {}
        try:
            # Start from empty tables: the rows above left some customers and invoices behind.
            await cconn.execute("TRUNCATE customers CASCADE")
            await bconn.execute("TRUNCATE ledger_entries, receivable_balances, receivable_totals")
            have = 0
            cust, billing = self.stack.url("customer"), self.stack.url("billing")
            async with httpx.AsyncClient(timeout=120) as c:
                for n in sizes:
                    t0 = time.perf_counter()
                    await cconn.execute(SEED_CUSTOMERS, have + 1, n)
                    await bconn.execute(SEED_LEDGER, have + 1, n)
                    await cconn.execute("ANALYZE customers")
                    await bconn.execute("ANALYZE ledger_entries, receivable_balances, receivable_totals")
                    # The seeding's dirty pages written back now, not during the reads measured next.
                    await cconn.execute("CHECKPOINT")
                    have = n
                    log(f"seeded {size_label(n)} customers and ledger entries in {time.perf_counter() - t0:.1f}s")
                    # A cursor half-way down: what a client holds after walking n/2 rows.
                    mid = await cconn.fetchval("SELECT id FROM customers ORDER BY id OFFSET $1 LIMIT 1", n // 2)
                    from tessera_shared.http.pagination import configure_cursor_key, encode_cursor, list_scope
                    from tessera_shared.settings import LOCAL_SIGNING_KEY

                    # Cursors are signed with a key derived from the stack's token signing key, for
                    # their list and filters (here the unfiltered list).
                    configure_cursor_key(LOCAL_SIGNING_KEY)
                    cursor = encode_cursor([mid], list_scope("/v1/customers", []))
                    runs = self.args.scale_runs
                    cases = {
                        "list page at depth": (f"{cust}/v1/customers?limit=50&cursor={cursor}", LIST_SQL, (mid,)),
                        "filtered list (country+status)": (
                            f"{cust}/v1/customers?limit=50&country=SE&status=loyal",
                            FILTER_SQL,
                            ("SE", "loyal"),
                        ),
                        "search q= prefix": (f"{cust}/v1/customers?limit=50&q=jon", SEARCH_SQL, ("jon%",)),
                        "ageing report": (f"{billing}/v1/reports/aging?limit=50", AGING_SQL, ()),
                    }
                    for name, (url, sql, params) in cases.items():
                        api = await timed_get(c, url, self.auth, runs)
                        db = await timed_sql(bconn if "ageing" in name else cconn, sql, *params, runs=runs)
                        results.setdefault(name, {})[n] = api
                        self.report.add(
                            f"9 {name} @ {size_label(n)}", api, "ms", "database alone", db, lower_is_better=True
                        )
        finally:
            await cconn.close()
            await bconn.close()
        first, last = sizes[0], sizes[-1]
        for name, by_size in results.items():
            self.report.add(
                f"9 {name} growth {size_label(first)}->{size_label(last)}",
                by_size[last] / by_size[first],
                "x",
                "target",
                1.5,
                lower_is_better=True,
            )
        # Clear the big tables before the import, so that its figure does not include 1M rows of index.
        c2 = await asyncpg.connect(self.dsn("customer"))
        try:
            await c2.execute("TRUNCATE customers CASCADE")
            await c2.execute("VACUUM ANALYZE customers")
            await c2.execute("CHECKPOINT")
        finally:
            await c2.close()

    # --- row 11 --------------------------------------------------------------------------
    async def scheduled_jobs(self) -> None:
        """The issues' job targets at the largest size: each job the scheduler runs, in-process
        against a scratch database seeded by SQL (tests/bench/jobs_*.py), under a minute."""
        from jobs_billing import overdue_job
        from jobs_customer import value_job

        n = self.args.sizes[-1]
        overdue = await overdue_job(self.args.pg, n)
        self.report.add(
            f"11 billing overdue job ({size_label(n)} open invoices, 10% newly overdue)",
            overdue["seconds"],
            "s",
            "target",
            60,
            lower_is_better=True,
            **{k: v for k, v in overdue.items() if k != "seconds"},
        )
        value = await value_job(self.args.pg, n)
        self.report.add(
            f"11 customer value recompute ({size_label(n)} customers, first run)",
            value["seconds"],
            "s",
            "target",
            60,
            lower_is_better=True,
            **{k: v for k, v in value.items() if k != "seconds"},
        )
        self.report.add(
            f"11 customer value recompute ({size_label(n)} customers, steady state)",
            value["second_run_seconds"],
            "s",
            "target",
            60,
            lower_is_better=True,
        )

    # --- row 17 (issue 23 item 5) ---------------------------------------------------------
    async def bulk_export(self) -> None:
        """A CSV export of n customers by the exports job, in a process of its own (its peak RSS),
        beside COPY ... TO STDOUT of the same columns (tests/bench/export_customers.py). n is
        BENCH_EXPORT (10k), or the largest of BENCH_SIZES when that is set (1M: the issue's
        targets, < 60 s and < 300 MB)."""
        from export_customers import export_job

        n = parse_size(os.environ.get("BENCH_EXPORT", "10k"))
        if os.environ.get("BENCH_SIZES"):
            n = max(n, self.args.sizes[-1])
        out = await export_job(self.args.pg, n)
        self.report.add(
            f"17 bulk export {size_label(n)} customers as CSV (exports job, own process)",
            out["seconds"],
            "s",
            "COPY ... TO STDOUT of the same columns",
            out["copy_seconds"],
            lower_is_better=True,
            target="< 60 s and peak RSS < 300 MB at 1M",
            **{k: v for k, v in out.items() if k not in ("seconds", "copy_seconds")},
        )

    # --- row 7 ---------------------------------------------------------------------------
    async def relay_vs_producer_perf(self, envelope: str) -> None:
        from sqlalchemy import text

        from tessera_shared.db import create_engine, session_factory
        from tessera_shared.infra_tables import metadata
        from tessera_shared.kafka import ensure_topics, make_producer
        from tessera_shared.outbox import OutboxRelay

        n = self.args.relay_rows
        db = f"bench{self.tag}_relay"
        ns = f"bench{self.tag}relay."
        topic, perf_topic = f"{ns}crm.customer", f"{ns}perf"
        self.topics += [topic, perf_topic]
        await ensure_topics(self.args.kafka, [topic, perf_topic], partitions=6)
        await recreate_databases(self.args.pg, [db])
        try:
            engine = create_engine(f"{self.args.pg}/{db}")
            async with engine.begin() as conn:
                await conn.run_sync(metadata.create_all)
            sessions = session_factory(engine)
            async with sessions() as s, s.begin():
                await s.execute(
                    text(
                        "INSERT INTO outbox_events (event_id, topic, key, event_type, envelope, created_at) "
                        "SELECT gen_random_uuid(), 'crm.customer', md5(i::text), 'customer.created', :env, now() "
                        "FROM generate_series(1, :n) AS i"
                    ),
                    {"env": envelope, "n": n},
                )
            relay = OutboxRelay(
                service="bench",
                sessions=sessions,
                namespace=ns,
                producer_factory=lambda: make_producer(self.args.kafka, client_id="bench-relay"),
            )
            t0 = time.perf_counter()
            relay.start()
            deadline = time.monotonic() + 600
            while relay.published < n and time.monotonic() < deadline:  # noqa: ASYNC110 - a counter, no event
                await asyncio.sleep(0.05)
            elapsed = time.perf_counter() - t0
            published = relay.published
            await relay.stop()
            await engine.dispose()
        finally:
            await drop_databases(self.args.pg, [db])
        relay_rate = published / elapsed
        perf = await self._producer_performance(perf_topic, n, len(envelope.encode()))
        self.report.add(
            f"7 outbox relay throughput ({size_label(n)} x {len(envelope)} B)",
            relay_rate,
            "events/s",
            "Kafka ProducerPerformance (same producer settings)",
            perf,
            target=">= 0.30",
        )

    async def _producer_performance(self, topic: str, n: int, size: int) -> float:
        from tessera_shared.kafka import MAX_BATCH_BYTES  # the relay producer's batch size

        cmd = [
            "java",
            "-Xmx512m",
            "-cp",
            str(ROOT / ".local/kafka/lib/*"),
            "org.apache.kafka.tools.ProducerPerformance",
            "--topic",
            topic,
            "--num-records",
            str(n),
            "--record-size",
            str(size),
            "--throughput",
            "-1",
            "--producer-props",
            f"bootstrap.servers={self.args.kafka}",
            "acks=all",
            "enable.idempotence=true",
            "linger.ms=2",
            f"batch.size={MAX_BATCH_BYTES}",
        ]
        proc = await asyncio.create_subprocess_exec(
            *cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        out, _ = await asyncio.wait_for(proc.communicate(), 600)
        text = out.decode()
        m = re.findall(r"(\d+) records sent, ([\d.]+) records/sec", text)
        if not m:
            raise RuntimeError(f"ProducerPerformance said: {text[-2000:]}")
        return float(m[-1][1])

    # --- row 10 --------------------------------------------------------------------------
    def rss_rows(self, idle: dict[str, float]) -> None:
        for svc in SERVICES:
            self.report.add(f"10 RSS idle {svc}", idle.get(svc), "MB", "target", 150, lower_is_better=True)
        for svc in SERVICES:
            self.report.add(f"10 RSS loaded (peak) {svc}", self.rss.peak.get(svc), "MB")

    # --- the run -------------------------------------------------------------------------
    async def run(self) -> Report:
        a = self.args
        log(
            f"load generator: {'wrk (taskset ' + ' '.join(taskset()) + ')' if self.use_wrk else 'httpx (async)'}; "
            f"{a.connections} connections, {a.warmup:g}s warm-up, {a.reps} x {a.duration:g}s, median"
        )
        names = [self.stack.db_name(s) for s in SERVICES]
        self.topics += __import__("tessera_shared.kafka", fromlist=["x"]).contract_topics(self.namespace)
        lock = server_lock(a.pg, a.lock_wait) if self.db_prefix == "tessera_" else contextlib.nullcontext()
        async with lock:
            await recreate_databases(a.pg, names)
            try:
                bare = await self.step("1", self.bare_fastapi)
                log("starting the stack (launcher, --database postgres)")
                await self.stack.start()
                try:
                    await asyncio.sleep(3)
                    idle = self.rss.sample()
                    self.rss.peak.clear()
                    self.rss.start()
                    if a.hold:
                        await self.hold()
                    await self.step("2-5", lambda: self.http_rows(bare))
                    await self.step("6", self.event_lag)
                    envelope = await self._sample_envelope()
                    await self.step("9", self.scale)
                    await self.step("14", lambda: __import__("search_rows").search_scale(self))  # search, 2 groups
                    await self.step("8", self.bulk_import)
                    await self.step("15", self.batch_upsert)
                    await self.step("16", self.expand_page)
                    pipelines = __import__("pipeline_rows").pipeline_forecast  # row 18, a pipeline's forecast
                    await self.step("18", lambda: pipelines(self))
                    custom_fields = __import__("custom_field_rows").custom_field_filter  # row 20 ("customer" too)
                    await self.step("20", lambda: custom_fields(self, "deal"))
                    await self.step("20c", lambda: custom_fields(self, "customer"))  # the same over customers
                    await self.step("19", lambda: __import__("transfer_rows").transfer_deals(self))  # 100k transfer
                    await self.rss.stop()
                    self.rss_rows(idle)
                finally:
                    await self.rss.stop()
                    self.stack.stop()
                await self.step("7", lambda: self.relay_vs_producer_perf(envelope))
                await self.step("11", self.scheduled_jobs)
                notifications = __import__("notifications_rows").notifications_rows  # row 12, its own process
                await self.step("12", lambda: notifications(self.report, pg=a.pg, kafka=a.kafka, work=self.work))
                webhooks = __import__("webhooks_rows").webhooks_rows  # row 13, its own processes
                await self.step("13", lambda: webhooks(self.report, pg=a.pg, kafka=a.kafka, work=self.work))
                await self.step("17", self.bulk_export)
            finally:
                await drop_databases(a.pg, names)
                await self._delete_topics()
        return self.report

    async def wait_outbox_drained(self, service: str, timeout: float) -> None:
        """Let the relay publish what the previous row wrote before the next row is measured."""
        conn = await asyncpg.connect(self.dsn(service))
        try:
            deadline = time.monotonic() + timeout
            while await conn.fetchval("SELECT count(*) FROM outbox_events WHERE sent_at IS NULL") > 0:
                if time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
        finally:
            await conn.close()
        await asyncio.sleep(self.args.settle)  # and the consumers of those events

    async def wait_known(self, services: tuple[str, ...], customer_ids: list[str], timeout: float) -> None:
        """Until each of ``services`` has applied the customer.created of every one of ``customer_ids``."""
        deadline = time.monotonic() + timeout
        for service in services:
            conn = await asyncpg.connect(self.dsn(service))
            try:
                sql = "SELECT count(*) FROM known_customers WHERE customer_id = ANY($1::uuid[])"
                while await conn.fetchval(sql, customer_ids) < len(customer_ids):
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"{service} did not learn {len(customer_ids)} customers in {timeout:g} s")
                    await asyncio.sleep(0.1)
            finally:
                await conn.close()

    async def hold(self) -> None:
        """Profiling aid: keep the stack up with some customers, print what a profiler needs."""
        async with httpx.AsyncClient(timeout=30) as c:
            ids = []
            for i in range(50):
                r = await c.post(
                    f"{self.stack.url('gateway')}/api/v1/customers",
                    headers=self.auth,
                    json={"kind": "person", "name": f"Hold {i}", "email": f"hold{i}@example.com"},
                )
                ids.append(r.json()["id"])
        (self.work.parent / "bench-hold.json").write_text(
            json.dumps({"pids": self.stack.pids(), "token": self.tok, "ids": ids, "base": self.stack.base})
        )
        log(f"holding {self.args.hold:g}s; see {self.work.parent / 'bench-hold.json'}")
        await asyncio.sleep(self.args.hold)

    async def step(self, row: str, fn: Callable[[], Awaitable[Any]]) -> Any:
        if self.args.only and row not in self.args.only:
            return None
        t0 = time.perf_counter()
        try:
            return await fn()
        except Exception as exc:
            if self.args.strict:
                raise
            self.report.notes.append(f"row {row} failed: {exc!r}")
            log(f"row {row} failed: {exc!r}")
            return None
        finally:
            log(f"row {row} took {time.perf_counter() - t0:.0f}s")

    async def _sample_envelope(self) -> str:
        conn = await asyncpg.connect(self.dsn("customer"))
        try:
            env = await conn.fetchval("SELECT envelope FROM outbox_events ORDER BY seq LIMIT 1")
        finally:
            await conn.close()
        return env or json.dumps({"specversion": "1.0", "id": str(uuid.uuid4()), "data": {"x": "y" * 600}})

    async def _delete_topics(self) -> None:
        from aiokafka.admin import AIOKafkaAdminClient

        admin = AIOKafkaAdminClient(bootstrap_servers=self.args.kafka)
        try:
            await asyncio.wait_for(admin.start(), 10)
            existing = set(await admin.list_topics())
            mine = [t for t in existing if t.startswith(f"bench{self.tag}")]
            if mine:
                await admin.delete_topics(mine)
        except Exception as exc:
            log(f"could not delete topics: {exc!r}")
        finally:
            await admin.close()


def extra_p(res: LoadResult) -> dict[str, Any]:
    return {
        "p50_ms": round(res.p50_ms, 2),
        "p95_ms": round(res.p95_ms, 2),
        "p99_ms": round(res.p99_ms, 2),
        "errors": res.errors,
        "requests": res.requests,
    }


# Seed rows directly (never through HTTP). Names cycle through surnames so that a prefix search
# has realistic selectivity; country and status cycle on co-prime periods.
SEED_CUSTOMERS = """
INSERT INTO customers (id, kind, name, email, owner_id, status, tags, created_at, updated_at, version, name_key,
                       channels, custom_attributes, preferences, purchase_count, lifetime_values, monetary,
                       country, tier, relation)
SELECT md5('bench-customer-' || i)::uuid,
       CASE WHEN i % 4 = 0 THEN 'organization' ELSE 'person' END,
       initcap(s.surname) || ' ' || i,
       s.surname || '.' || i || '@example.com',
       'rep' || (i % 20),
       (ARRAY['non_customer','prospect','first_time','repeat','loyal','churned'])[(i % 6) + 1],
       '[]'::jsonb, now() - (i % 1000) * interval '1 hour', now(), 1,
       s.surname || ' ' || i,
       '[]'::jsonb, '{}'::jsonb, '[]'::jsonb, 0, '{}'::jsonb, 0,
       (ARRAY['DE','FR','GB','US','ES','IT','NL','SE','PL','AT','DK'])[(i % 11) + 1],
       (ARRAY['key','ordinary','small'])[(i % 3) + 1], 'consumer'
FROM generate_series($1::int, $2::int) AS i,
     LATERAL (SELECT (ARRAY['smith','jones','brown','taylor','wilson','davies','evans','thomas','johnson',
                            'roberts','walker','wright','robinson','thompson','white','hughes','edwards','green',
                            'hall','wood','harris','lewis','martin','jackson','clarke','clark','turner','hill',
                            'scott','cooper','morris','ward','moore','king','watson','baker','harrison','morgan',
                            'patel','young','allen','mitchell','james','anderson','phillips','lee','bell','parker',
                            'davis','jonas'])[(i % 50) + 1] AS surname) AS s
"""
# Ledger rows in pairs per invoice k = (i + 1) / 2: i odd is its issue (k % 400 days ago, due 30 days
# later, one in ten in USD), i even its payment if it has one (older than 60 days: paid in full but
# one in twenty; younger: one in three half paid). The same statement adds the rows to the read
# model the service keeps with the ledger (receivable_balances, receivable_totals).
SEED_LEDGER = """
WITH src AS (
  SELECT i, k, md5('bench-invoice-' || k)::uuid AS invoice_id, md5('bench-customer-' || (k / 10))::uuid AS customer_id,
         CASE WHEN k % 10 = 0 THEN 'USD' ELSE 'EUR' END AS currency, current_date - k % 400 AS issued,
         k % 400 AS age, (100 + k % 900)::numeric AS total
  FROM generate_series($1::int, $2::int) AS i, LATERAL (SELECT (i + 1) / 2 AS k) AS kk
), entries AS (
  INSERT INTO ledger_entries (id, invoice_id, customer_id, currency, kind, amount, entry_date, due_date, created_at)
  SELECT md5('bench-ledger-' || i)::uuid, invoice_id, customer_id, currency,
         CASE WHEN i % 2 = 1 THEN 'invoiced' ELSE 'collected' END,
         CASE WHEN i % 2 = 1 THEN total WHEN age >= 60 THEN -total ELSE -(total / 2) END,
         CASE WHEN i % 2 = 1 THEN issued WHEN age >= 60 THEN issued + 20 + k % 40 ELSE issued + age / 2 END,
         issued + 30, now()
  FROM src WHERE i % 2 = 1 OR (age >= 60 AND k % 20 <> 0) OR (age < 60 AND k % 3 = 0)
  RETURNING customer_id, currency, due_date, amount, entry_date
), balances AS (
  INSERT INTO receivable_balances (customer_id, currency, due_date, amount)
  SELECT customer_id, currency, due_date, sum(amount) FROM entries GROUP BY 1, 2, 3 HAVING sum(amount) <> 0
  ON CONFLICT (customer_id, currency, due_date) DO UPDATE SET amount = receivable_balances.amount + excluded.amount
)
INSERT INTO receivable_totals (currency, due_date, amount, first_entry_date)
SELECT currency, due_date, sum(amount), min(entry_date) FROM entries GROUP BY 1, 2
ON CONFLICT (currency, due_date) DO UPDATE SET amount = receivable_totals.amount + excluded.amount,
    first_entry_date = least(receivable_totals.first_entry_date, excluded.first_entry_date)
"""
LIST_SQL = "SELECT * FROM customers WHERE merged_into_id IS NULL AND id > $1 ORDER BY id LIMIT 51"
FILTER_SQL = (
    "SELECT * FROM customers WHERE merged_into_id IS NULL AND country = $1 AND status = $2 ORDER BY id LIMIT 51"
)
SEARCH_SQL = "SELECT * FROM customers WHERE merged_into_id IS NULL AND name_key LIKE $1 ORDER BY name_key, id LIMIT 51"
AGING_SQL = """
WITH later AS (SELECT customer_id, currency, due_date, -amount AS amount FROM ledger_entries
               WHERE entry_date > current_date),
totals AS (
  SELECT currency,
         sum(CASE WHEN due_date >= current_date THEN amount ELSE 0 END) AS current,
         sum(CASE WHEN due_date < current_date AND due_date >= current_date - 30 THEN amount ELSE 0 END) AS d30,
         sum(CASE WHEN due_date < current_date - 30 AND due_date >= current_date - 60 THEN amount ELSE 0 END) AS d60,
         sum(CASE WHEN due_date < current_date - 60 AND due_date >= current_date - 90 THEN amount ELSE 0 END) AS d90,
         sum(CASE WHEN due_date < current_date - 90 THEN amount ELSE 0 END) AS over90
  FROM (SELECT currency, due_date, amount, first_entry_date FROM receivable_totals
        UNION ALL SELECT currency, due_date, amount, NULL FROM later) AS t
  GROUP BY currency HAVING min(first_entry_date) <= current_date ORDER BY currency),
page AS (
  SELECT customer_id, currency,
         sum(CASE WHEN due_date >= current_date THEN amount ELSE 0 END) AS current,
         sum(CASE WHEN due_date < current_date AND due_date >= current_date - 30 THEN amount ELSE 0 END) AS d30,
         sum(CASE WHEN due_date < current_date - 30 AND due_date >= current_date - 60 THEN amount ELSE 0 END) AS d60,
         sum(CASE WHEN due_date < current_date - 60 AND due_date >= current_date - 90 THEN amount ELSE 0 END) AS d90,
         sum(CASE WHEN due_date < current_date - 90 THEN amount ELSE 0 END) AS over90
  FROM (SELECT customer_id, currency, due_date, amount FROM receivable_balances UNION ALL SELECT * FROM later) AS b
  GROUP BY customer_id, currency HAVING sum(amount) <> 0 ORDER BY customer_id, currency LIMIT 51)
SELECT (SELECT json_agg(totals) FROM totals), (SELECT json_agg(page) FROM page)
"""

# ----------------------------------------------------------------------------- entry point


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--pg",
        default=os.environ.get("TESSERA_TEST_PG", "postgresql+asyncpg://postgres@127.0.0.1:55432"),
        help="PostgreSQL server URL (no database)",
    )
    p.add_argument("--kafka", default=os.environ.get("TESSERA_TEST_KAFKA", "127.0.0.1:19092"))
    p.add_argument("--base-port", type=int, default=int(os.environ.get("BENCH_BASE_PORT", "18200")))
    p.add_argument("--sizes", default=os.environ.get("BENCH_SIZES", "10k,100k,1M"))
    p.add_argument("--duration", type=float, default=float(os.environ.get("BENCH_DURATION", "10")))
    p.add_argument("--warmup", type=float, default=3)
    p.add_argument("--reps", type=int, default=int(os.environ.get("BENCH_REPS", "3")))
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--loadgen", choices=["auto", "wrk", "httpx"], default="auto")
    p.add_argument("--ids", type=int, default=200, help="customers created for the GET rows")
    p.add_argument("--layer-requests", type=int, default=3000, help="requests per pass of tests/bench/layers.py")
    p.add_argument("--lag-deals", type=int, default=50)
    p.add_argument("--lag-rate", type=float, default=float(os.environ.get("BENCH_LAG_RATE", "200")))
    p.add_argument("--lag-seconds", type=float, default=10)
    p.add_argument("--import-rows", type=parse_size, default=parse_size(os.environ.get("BENCH_IMPORT", "100k")))
    p.add_argument("--batch-rows", type=parse_size, default=parse_size(os.environ.get("BENCH_BATCH", "100k")))
    p.add_argument("--relay-rows", type=parse_size, default=parse_size(os.environ.get("BENCH_RELAY", "100k")))
    p.add_argument("--drain-timeout", type=float, default=120)
    p.add_argument("--scale-runs", type=int, default=31)
    p.add_argument("--lock-wait", type=float, default=600)
    p.add_argument(
        "--settle",
        type=float,
        default=2,
        help="seconds left to the consumers after a row's outbox is drained, before the next row",
    )
    p.add_argument(
        "--idle-window",
        type=float,
        default=5,
        help="seconds over which each process's idle CPU is measured before rows 6 and 15 (taken out of their CPU)",
    )
    p.add_argument("--only", default="", help="comma-separated rows to run (1,2-5,6,7,8,9,11,...,20,20c)")
    p.add_argument("--hold", type=float, default=0, help="keep the stack up this long before the rows (profiling)")
    p.add_argument("--strict", action="store_true", help="fail on the first failing row")
    p.add_argument("--out", type=Path, default=ROOT / ".bench/report.json")
    p.add_argument(
        "--history",
        type=Path,
        default=ROOT / ".bench/history",
        help="add the run to <history>/<commit>.json (tools/bench_compare.py); --no-history to skip",
    )
    p.add_argument("--no-history", dest="history", action="store_const", const=None)
    args = p.parse_args(argv)
    args.sizes = sorted(parse_size(s) for s in args.sizes.split(",") if s.strip())
    args.only = [x.strip() for x in args.only.split(",") if x.strip()]
    args.pg = args.pg.rstrip("/")
    return args


async def amain(args: argparse.Namespace) -> Report:
    # A run stopped with SIGTERM (a job runner's timeout, `kill`) still stops its stack and drops
    # the databases and topics it made: the cancellation runs the same finally blocks as an error.
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    with tempfile.TemporaryDirectory(prefix="tessera-bench-") as tmp:
        bench = Bench(args, Path(tmp))
        started = time.perf_counter()
        try:
            report = await bench.run()
        finally:
            logs = Path(tmp) / "data/logs"
            keep = args.out.parent / "logs"
            if logs.exists():
                shutil.rmtree(keep, ignore_errors=True)
                shutil.copytree(logs, keep)
        report.notes.append(
            f"total {time.perf_counter() - started:.0f}s; sizes "
            f"{','.join(size_label(s) for s in args.sizes)}; load generator "
            f"{'wrk' if bench.use_wrk else 'httpx'}; cpus {os.cpu_count()}; "
            f"loadavg at end {os.getloadavg()[0]:.2f}"
        )
        return report


def keep_history(args: argparse.Namespace, report: Report) -> Path:
    """The run added to ``<history>/<commit>.json`` (every run of one commit in one file), which
    tools/bench_compare.py compares between commits, the runs of one commit giving the noise."""
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    dirty = bool(subprocess.run(["git", "status", "--porcelain", "-uno"], cwd=ROOT, capture_output=True).stdout)
    path = args.history / f"{commit or 'unknown'}.json"
    history: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {"commit": commit, "runs": []}
    history["runs"].append(
        {
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "dirty": dirty,
            "sizes": [size_label(n) for n in args.sizes],
            "only": args.only,
            "rows": report.rows,
        }
    )
    args.history.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(history, indent=1) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        report = asyncio.run(amain(args))
    except LockHeld as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 3
    except asyncio.CancelledError:
        print("bench: stopped (SIGTERM); the stack was stopped and what the run made dropped", file=sys.stderr)
        return 143
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report.rows, indent=1) + "\n")
    (args.out.parent / "notes.json").write_text(json.dumps(report.notes, indent=1) + "\n")
    if args.history is not None:
        log(f"history: {keep_history(args, report)}")
    print(report.table())
    for note in report.notes:
        print(f"note: {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
