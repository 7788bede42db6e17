"""Ingest benchmark: signed SNS CloudWatch traffic against Klaxon on gunicorn + PostgreSQL.

Run from the repository root::

    .venv/bin/python bench/ingest.py [--alarms 1000] [--concurrency 8] [--workers 4]

What happens (see bench/README.md for the details and how to read the output):

1. A fresh PostgreSQL database (``klaxon_bench``: dropped and recreated, dropped again at
   the end unless ``--keep-db``; nothing else is touched) is migrated and
   gets two integrations: one for the warm-up, one for the timed run. Both are already
   confirmed and pinned to the benchmark topic, like an integration in steady use.
2. The local SNS peer (tests/sns_peer.py) serves the test signing certificate; gunicorn
   serves ``config.wsgi:application`` with signature verification on.
3. Every request body is built and signed before the clock starts.
4. A warm-up on its own integration fills each worker's certificate cache, then the
   timed run replays N alarms (ALARM, 3 repeated ALARMs, then OK for most), each alarm's
   messages strictly in order, different alarms interleaved, a fixed number in flight.
5. Throughput, latency percentiles, CPU split and a check of the database are printed.
   The exit status is non-zero when the check fails (a slow run is not a failure unless
   ``--strict`` is given).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import http.client
import json
import math
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import redis
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.sns_peer import SnsPeer  # noqa: E402
from tests.sns_signing import signed_envelope  # noqa: E402

TOPIC_ARN = "arn:aws:sns:eu-west-1:111122223333:klaxon-alarms"
ACCOUNT = "111122223333"
REGION_NAME = "EU (Ireland)"
REGION_CODE = "eu-west-1"
SUBSCRIPTION_ARN = f"{TOPIC_ARN}:3c1b7e0e-5f7a-4c36-9d1e-2f0c4b8a9e11"
REPEAT_GAP = timedelta(minutes=5)

TARGET_RPS = 400.0
TARGET_P99_MS = 50.0

# Kinds of request, for per-kind latency.
CREATE, APPEND, RESOLVE = "ALARM (opens)", "ALARM (repeat)", "OK (resolves)"
KINDS = (CREATE, APPEND, RESOLVE)

# CIS-benchmark style CloudTrail metric-filter alarms: (name, description, metric, threshold).
_ALARM_TEMPLATES: tuple[tuple[str, str, str, float], ...] = (
    (
        "ConsoleSignInFailures",
        "More than 3 failed console sign-in attempts in 5 minutes",
        "ConsoleSigninFailureCount",
        3.0,
    ),
    ("UnauthorizedAPICalls", "Unauthorized API calls", "UnauthorizedAttemptCount", 1.0),
    ("RootAccountUsage", "The root account was used", "RootAccountUsageCount", 1.0),
    ("IAMPolicyChanges", "An IAM policy was changed", "IAMPolicyEventCount", 1.0),
    (
        "SecurityGroupChanges",
        "A security group was created, changed or deleted",
        "SecurityGroupEventCount",
        1.0,
    ),
    ("CloudTrailChanges", "A CloudTrail trail was changed", "CloudTrailEventCount", 1.0),
)


# --------------------------------------------------------------------------- traffic


@dataclass(frozen=True)
class Request:
    kind: str
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class Plan:
    """Every alarm's requests, in the order that alarm must send them."""

    alarms: list[list[Request]]
    resolved: int  # alarms that end with OK

    @property
    def total(self) -> int:
        return sum(len(a) for a in self.alarms)

    def count(self, kind: str) -> int:
        return sum(1 for a in self.alarms for r in a if r.kind == kind)


def _cloudwatch_time(moment: datetime) -> str:
    """CloudWatch's StateChangeTime spelling: 2026-11-21T03:15:12.884+0000."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def _sns_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _alarm_message(
    *, name: str, template: int, new: str, old: str, at: datetime, value: float
) -> str:
    _, description, metric, threshold = _ALARM_TEMPLATES[template]
    stamp = at.strftime("%d/%m/%y %H:%M:00")
    if new == "ALARM":
        reason = (
            f"Threshold Crossed: 1 out of the last 1 datapoints [{value} ({stamp})] was greater "
            f"than or equal to the threshold ({threshold}) (minimum 1 datapoint for "
            f"{old} -> ALARM transition)."
        )
    else:
        reason = (
            f"Threshold Crossed: 1 out of the last 1 datapoints [{value} ({stamp})] was not "
            f"greater than or equal to the threshold ({threshold}) (minimum 1 datapoint for "
            f"ALARM -> OK transition)."
        )
    topic = f"arn:aws:sns:{REGION_CODE}:{ACCOUNT}:klaxon-alarms"
    message = {
        "AlarmName": name,
        "AlarmDescription": description,
        "AWSAccountId": ACCOUNT,
        "AlarmConfigurationUpdatedTimestamp": "2026-11-02T09:12:44.101+0000",
        "NewStateValue": new,
        "NewStateReason": reason,
        "StateChangeTime": _cloudwatch_time(at),
        "Region": REGION_NAME,
        "AlarmArn": f"arn:aws:cloudwatch:{REGION_CODE}:{ACCOUNT}:alarm:{name}",
        "OldStateValue": old,
        "OKActions": [topic],
        "AlarmActions": [topic],
        "InsufficientDataActions": [],
        "Trigger": {
            "MetricName": metric,
            "Namespace": "CloudTrailMetrics",
            "StatisticType": "Statistic",
            "Statistic": "SUM",
            "Unit": None,
            "Dimensions": [],
            "Period": 300,
            "EvaluationPeriods": 1,
            "DatapointsToAlarm": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "Threshold": threshold,
            "TreatMissingData": "notBreaching",
            "EvaluateLowSampleCountPercentile": "",
        },
    }
    # CloudWatch publishes compact JSON inside the SNS Message string.
    return json.dumps(message, separators=(",", ":"))


def _request(*, kind: str, message: str, subject: str, at: datetime, cert_url: str) -> Request:
    message_id = str(uuid.uuid4())
    envelope = signed_envelope(
        message=message,
        topic_arn=TOPIC_ARN,
        cert_url=cert_url,
        subject=subject,
        message_id=message_id,
        timestamp=_sns_time(at + timedelta(milliseconds=80)),
    )
    # SNS's HTTP delivery body is pretty-printed JSON; these are the headers it sends.
    body = json.dumps(envelope, indent=2).encode()
    headers = {
        "Content-Type": "text/plain; charset=UTF-8",
        "User-Agent": "Amazon Simple Notification Service Agent",
        "x-amz-sns-message-type": "Notification",
        "x-amz-sns-message-id": message_id,
        "x-amz-sns-topic-arn": TOPIC_ARN,
        "x-amz-sns-subscription-arn": SUBSCRIPTION_ARN,
    }
    return Request(kind, body, headers)


def build_plan(
    *, alarms: int, repeats: int, ok_percent: int, prefix: str, cert_url: str, start: datetime
) -> Plan:
    """``alarms`` distinct alarms: ALARM, ``repeats`` later ALARMs, then OK for
    ``ok_percent`` % of them (spread evenly, so any slice of alarms has the same mix)."""
    plan: list[list[Request]] = []
    resolved = 0
    for i in range(alarms):
        template = i % len(_ALARM_TEMPLATES)
        name = f"{prefix}{_ALARM_TEMPLATES[template][0]}-{i:06d}"
        base = start + timedelta(seconds=i)
        sequence: list[Request] = []
        for step in range(repeats + 1):
            at = base + step * REPEAT_GAP
            message = _alarm_message(
                name=name,
                template=template,
                new="ALARM",
                old="OK" if step == 0 else "ALARM",
                at=at,
                value=4.0 + step,
            )
            kind = CREATE if step == 0 else APPEND
            subject = f'ALARM: "{name}" in {REGION_NAME}'
            sequence.append(
                _request(kind=kind, message=message, subject=subject, at=at, cert_url=cert_url)
            )
        # Bresenham-style spread: alarm i gets OK when the running share crosses a step.
        if (i + 1) * ok_percent // 100 > i * ok_percent // 100:
            at = base + (repeats + 1) * REPEAT_GAP
            message = _alarm_message(
                name=name, template=template, new="OK", old="ALARM", at=at, value=0.0
            )
            subject = f'OK: "{name}" in {REGION_NAME}'
            sequence.append(
                _request(kind=RESOLVE, message=message, subject=subject, at=at, cert_url=cert_url)
            )
            resolved += 1
        plan.append(sequence)
    return Plan(plan, resolved)


# --------------------------------------------------------------------------- client


@dataclass
class RunResult:
    duration: float
    latencies: dict[str, list[float]]  # kind -> seconds
    statuses: collections.Counter[int]
    errors: list[str]
    client_cpu: float  # seconds of CPU used by this process during the run

    @property
    def all_latencies(self) -> list[float]:
        return sorted(x for values in self.latencies.values() for x in values)

    @property
    def total(self) -> int:
        return sum(self.statuses.values())


def _send(
    conn: http.client.HTTPConnection, path: str, request: Request
) -> tuple[int, http.client.HTTPConnection]:
    """POST one request; returns (status, connection to use next). Status -1: no answer."""
    try:
        conn.request("POST", path, request.body, request.headers)
        response = conn.getresponse()
        response.read()
        if response.will_close:
            conn.close()  # the sync worker closes after each answer; reconnect lazily
        return response.status, conn
    except (OSError, http.client.HTTPException):
        conn.close()
        raise


def run_traffic(
    plan: Plan, *, host: str, port: int, path: str, concurrency: int, interleave: int
) -> RunResult:
    """Replay ``plan`` with exactly ``concurrency`` requests in flight.

    Each client thread holds up to ``interleave`` alarms at a time and round-robins
    between them, taking the next alarm from a shared queue when one finishes: an alarm's
    messages go one after the other (never two in flight), different alarms interleave.
    """
    queue: collections.deque[list[Request]] = collections.deque(plan.alarms)
    per_thread: list[tuple[list[tuple[str, float]], collections.Counter[int], list[str]]] = []
    start = threading.Barrier(concurrency + 1)

    def client() -> None:
        timings: list[tuple[str, float]] = []
        statuses: collections.Counter[int] = collections.Counter()
        errors: list[str] = []
        per_thread.append((timings, statuses, errors))
        conn = http.client.HTTPConnection(host, port, timeout=60)
        active: list[collections.deque[Request]] = []
        k = 0
        start.wait()
        while True:
            while len(active) < interleave:
                try:
                    active.append(collections.deque(queue.popleft()))
                except IndexError:
                    break
            if not active:
                break
            k %= len(active)
            request = active[k][0]
            began = time.perf_counter()
            try:
                status, conn = _send(conn, path, request)
            except (OSError, http.client.HTTPException) as exc:
                status = -1
                if len(errors) < 5:
                    errors.append(f"{type(exc).__name__}: {exc}")
            timings.append((request.kind, time.perf_counter() - began))
            statuses[status] += 1
            active[k].popleft()
            if active[k]:
                k += 1
            else:
                active.pop(k)
        conn.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    cpu_before = _self_cpu()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    duration = time.perf_counter() - began
    client_cpu = _self_cpu() - cpu_before

    latencies: dict[str, list[float]] = {kind: [] for kind in KINDS}
    statuses: collections.Counter[int] = collections.Counter()
    errors: list[str] = []
    for timings, thread_statuses, thread_errors in per_thread:
        for kind, seconds in timings:
            latencies[kind].append(seconds)
        statuses.update(thread_statuses)
        errors.extend(thread_errors)
    return RunResult(duration, latencies, statuses, errors, client_cpu)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (q in 0..100)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


# --------------------------------------------------------------------------- CPU accounting

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _proc_stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()  # fields from "state" (field 3) on


def _proc_cpu(pids: Sequence[int]) -> float:
    total = 0.0
    for pid in pids:
        fields = _proc_stat(pid)
        if fields is not None:
            total += (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS  # utime + stime
    return total


def _children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _proc_stat(int(entry.name))
            if fields is not None and int(fields[1]) == parent:
                found.append(int(entry.name))
    return found


_STAT_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


def _machine_ticks() -> dict[str, float]:
    """Core-seconds since boot per /proc/stat column (user, system, idle, steal ...)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    values += [0] * (len(_STAT_FIELDS) - len(values))
    return {name: value / _CLOCK_TICKS for name, value in zip(_STAT_FIELDS, values, strict=True)}


def _machine_cpu() -> tuple[float, float]:
    """(busy, idle) core-seconds since boot."""
    ticks = _machine_ticks()
    idle = ticks["idle"] + ticks["iowait"]
    return sum(ticks.values()) - idle, idle


def _context_switches() -> int:
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("ctxt "):
            return int(line.split()[1])
    return 0


def _is_postgres(pid: int) -> bool:
    try:
        return b"postgres" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def machine_busy(seconds: float = 1.0) -> float:
    """Fraction of all cores busy over the next ``seconds``."""
    busy0, idle0 = _machine_cpu()
    time.sleep(seconds)
    busy1, idle1 = _machine_cpu()
    return (busy1 - busy0) / max(1e-9, busy1 - busy0 + idle1 - idle0)


def speed_index() -> float:
    """Milliseconds of CPU a fixed pure-Python workload takes here and now (best of 5).

    The same code takes longer when the host is busy (shared caches, noisy neighbours
    outside this VM) even if this machine looks idle: compare it between runs."""
    best = math.inf
    for _ in range(5):
        began = time.thread_time()
        total = 0
        for i in range(100_000):
            total += len(str(i)) * (i & 7)
        best = min(best, time.thread_time() - began)
    return best * 1000


def wait_quiet(timeout: float, threshold: float = 0.10) -> float:
    """Sample the machine's load (other processes: we are idle now) until it is below
    ``threshold`` or ``timeout`` seconds have passed; returns the last sample."""
    deadline = time.monotonic() + timeout
    busy = machine_busy()
    while busy >= threshold and time.monotonic() < deadline:
        busy = machine_busy()
    return busy


def add_wait_quiet_argument(parser: argparse.ArgumentParser) -> None:
    """``--wait-quiet SECONDS``, as every benchmark takes it (see ``wait_quiet``)."""
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait up to this long for the machine to be idle (<10%% busy) before timing",
    )


@dataclass
class CpuSnapshot:
    server: float
    postgres: float
    busy: float
    idle: float
    switches: int
    processes: dict[int, tuple[str, float]]  # every process: (name, CPU seconds)
    ticks: dict[str, float]

    @classmethod
    def take(cls, server_pids: Sequence[int], pg_pids: Sequence[int]) -> CpuSnapshot:
        busy, idle = _machine_cpu()
        return cls(
            _proc_cpu(server_pids),
            _proc_cpu(pg_pids),
            busy,
            idle,
            _context_switches(),
            _all_processes(),
            _machine_ticks(),
        )


def _all_processes() -> dict[int, tuple[str, float]]:
    found: dict[int, tuple[str, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _proc_stat(int(entry.name))
        if fields is None:
            continue
        try:
            name = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        cpu = (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
        found[int(entry.name)] = (name.strip()[:70] or f"[pid {entry.name}]", cpu)
    return found


def busiest_others(
    before: CpuSnapshot, after: CpuSnapshot, ours: set[int], top: int = 3
) -> list[tuple[str, float]]:
    """The processes not part of the benchmark that used the most CPU in between."""
    deltas = []
    for pid, (name, cpu) in after.processes.items():
        if pid in ours:
            continue
        start = before.processes.get(pid, (name, 0.0))[1]
        deltas.append((name, cpu - start))
    deltas.sort(key=lambda item: -item[1])
    return [item for item in deltas[:top] if item[1] >= 0.05]


# --------------------------------------------------------------------------- setup


@dataclass
class Config:
    alarms: int
    concurrency: int
    workers: int
    worker_class: str
    threads: int
    repeats: int
    ok_percent: int
    warmup: int
    interleave: int
    pg: str
    db_name: str
    broker: str
    cache_url: str
    keep_db: bool
    strict: bool
    wait_quiet: float = 0.0
    settings: str = "config.settings"


def server_config(
    *,
    workers: int,
    pg: str,
    db_name: str,
    broker: str,
    keep_db: bool,
    strict: bool,
    wait_quiet: float,
    settings: str,
    warmup: int,
    alarms: int = 0,
    concurrency: int = 1,
) -> Config:
    """A Config for other benchmarks that use these helpers only to run the server (sync
    gunicorn workers, no ingest traffic of their own)."""
    return Config(
        alarms=alarms, concurrency=concurrency, workers=workers, worker_class="sync",
        threads=1, repeats=0, ok_percent=0, warmup=warmup, interleave=1, pg=pg,
        db_name=db_name, broker=broker, cache_url="", keep_db=keep_db, strict=strict,
        wait_quiet=wait_quiet, settings=settings,
    )  # fmt: skip


def _database_url(cfg: Config, name: str) -> str:
    return f"{cfg.pg.rstrip('/')}/{name}"


def recreate_database(cfg: Config) -> None:
    with psycopg.connect(_database_url(cfg, "postgres"), autocommit=True) as conn:
        name = sql.Identifier(cfg.db_name)
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))


def drop_database(cfg: Config) -> None:
    with psycopg.connect(_database_url(cfg, "postgres"), autocommit=True) as conn:
        name = sql.Identifier(cfg.db_name)
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))


def server_env(cfg: Config, var_dir: Path, peer: SnsPeer) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GUNICORN_CMD_ARGS", "CACHE_URL")}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": cfg.settings,
            # bench/ importable too, for alternative settings modules (--settings)
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(ROOT / "bench"), os.environ.get("PYTHONPATH", "")) if p
            ),
            "DATABASE_URL": _database_url(cfg, cfg.db_name),
            "CELERY_BROKER_URL": cfg.broker,
            "SNS_VERIFY_SIGNATURES": "true",
            "SNS_CERT_URL_PATTERN": peer.cert_url_pattern,
            "SNS_SUBSCRIBE_URL_PATTERN": peer.subscribe_url_pattern,
            "SNS_AUTO_CONFIRM": "false",
            "KLAXON_VAR_DIR": str(var_dir),
            "SECRET_KEY": "klaxon-bench-not-a-secret-" + "x" * 32,
            "DEBUG": "false",
            "LOG_LEVEL": "WARNING",
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
    )
    if cfg.cache_url:
        env["CACHE_URL"] = cfg.cache_url
    return env


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"manage.py {args[0]} failed (exit {result.returncode})")
    return result.stdout


_CREATE_INTEGRATIONS = f"""
import json
from integrations.models import Integration
rows = [
    Integration.objects.create(
        name=name, subscription_status="confirmed", topic_arn={TOPIC_ARN!r}
    )
    for name in __NAMES__
]
print("BENCH_JSON=" + json.dumps([[row.pk, row.inbound_path] for row in rows]))
"""


def create_named_integrations(env: dict[str, str], names: Sequence[str]) -> list[tuple[int, str]]:
    """One confirmed integration pinned to the benchmark topic per name: (id, inbound path)."""
    script = _CREATE_INTEGRATIONS.replace("__NAMES__", repr(list(names)))
    out = manage(env, "shell", "-c", script)
    line = next(x for x in out.splitlines() if x.startswith("BENCH_JSON="))
    return [(int(pk), str(path)) for pk, path in json.loads(line.removeprefix("BENCH_JSON="))]


def create_integrations(env: dict[str, str]) -> tuple[tuple[int, str], tuple[int, str]]:
    warm, timed = create_named_integrations(env, ("bench warm-up", "bench"))
    return warm, timed


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def gunicorn(
    cfg: Config,
    env: dict[str, str],
    port: int,
    log_path: Path,
    *,
    app: str = "config.wsgi:application",
    python: str = sys.executable,
    extra: Sequence[str] = (),
    cwd: Path = ROOT,
) -> Iterator[subprocess.Popen[bytes]]:
    """gunicorn serving ``app`` (Klaxon by default) with ``python`` (bench/compare.py runs
    other applications from their own virtualenvs with the same settings)."""
    command = [
        python,
        "-m",
        "gunicorn",
        app,
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(cfg.workers),
        "--worker-class",
        cfg.worker_class,
        "--log-level",
        "warning",
        "--error-logfile",
        "-",
    ]
    if cfg.worker_class == "gthread":
        command += ["--threads", str(cfg.threads)]
    command += extra
    with log_path.open("wb") as log:
        proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.terminate()  # SIGTERM: graceful stop of the master and its workers
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def wait_healthy(
    proc: subprocess.Popen[bytes], port: int, log_path: Path, path: str = "/healthz"
) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.stderr.write(log_path.read_text(errors="replace")[-4000:])
            raise SystemExit(f"gunicorn exited with status {proc.returncode}")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.1)
    raise SystemExit(f"gunicorn did not answer {path} within 60 s")


def wait_workers(master: int, workers: int) -> list[int]:
    deadline = time.monotonic() + 30
    while True:
        pids = _children(master)
        if len(pids) >= workers or time.monotonic() > deadline:
            return pids
        time.sleep(0.1)


def postgres_backends(cfg: Config) -> list[int]:
    """PIDs of the server processes serving the bench database (gunicorn's connections)."""
    with psycopg.connect(_database_url(cfg, "postgres")) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s", (cfg.db_name,)
        ).fetchall()
    return [int(pid) for (pid,) in rows if _is_postgres(int(pid))]


def broker_size(url: str) -> int | None:
    try:
        client = redis.Redis.from_url(url, socket_timeout=2)
        size = client.dbsize()
        client.close()
        return int(size)
    except redis.RedisError:
        return None


# --------------------------------------------------------------------------- check


@dataclass
class Check:
    lines: list[tuple[str, object, object]] = field(default_factory=list)

    def expect(self, what: str, got: object, want: object) -> None:
        self.lines.append((what, got, want))

    @property
    def passed(self) -> bool:
        return all(got == want for _, got, want in self.lines)


def check_database(cfg: Config, integration_id: int, plan: Plan, result: RunResult) -> Check:
    alarms = len(plan.alarms)
    check = Check()
    check.expect("answers 200", result.statuses.get(200, 0), plan.total)
    check.expect("non-200 answers", result.total - result.statuses.get(200, 0), 0)
    with psycopg.connect(_database_url(cfg, cfg.db_name)) as conn:
        states: dict[str, int] = dict(
            conn.execute(
                "SELECT state, count(*) FROM incidents_incident WHERE integration_id = %s "
                "GROUP BY state",
                (integration_id,),
            ).fetchall()
        )
        row = conn.execute(
            "SELECT count(*), count(DISTINCT dedup_key), "
            "count(*) FILTER (WHERE alarm_count <> %s) "
            "FROM incidents_incident WHERE integration_id = %s",
            (cfg.repeats + 1, integration_id),
        ).fetchone()
        assert row is not None
        incidents, keys, wrong_count = row
        outcomes: dict[str, int] = dict(
            conn.execute(
                "SELECT outcome, count(*) FROM integrations_inboundmessage "
                "WHERE integration_id = %s GROUP BY outcome",
                (integration_id,),
            ).fetchall()
        )
        events: dict[str, int] = dict(
            conn.execute(
                "SELECT e.kind, count(*) FROM incidents_incidentevent e "
                "JOIN incidents_incident i ON i.id = e.incident_id "
                "WHERE i.integration_id = %s GROUP BY e.kind",
                (integration_id,),
            ).fetchall()
        )
    check.expect("incidents", incidents, alarms)
    check.expect("distinct alarm keys", keys, alarms)
    check.expect("incidents resolved", states.get("resolved", 0), plan.resolved)
    check.expect("incidents open (triggered)", states.get("triggered", 0), alarms - plan.resolved)
    check.expect(f"incidents with alarm_count != {cfg.repeats + 1}", wrong_count, 0)
    check.expect("inbound rows", sum(outcomes.values()), plan.total)
    check.expect("  outcome created", outcomes.get("created", 0), alarms)
    check.expect("  outcome appended", outcomes.get("appended", 0), alarms * cfg.repeats)
    check.expect("  outcome resolved", outcomes.get("resolved", 0), plan.resolved)
    check.expect("  outcome rejected", outcomes.get("rejected", 0), 0)
    others = {k: v for k, v in outcomes.items() if k not in ("created", "appended", "resolved")}
    check.expect("  any other outcome", sum(others.values()), 0)
    check.expect("timeline events", sum(events.values()), plan.total)
    return check


# --------------------------------------------------------------------------- report


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f}"


def report(
    cfg: Config,
    plan: Plan,
    result: RunResult,
    before: CpuSnapshot,
    after: CpuSnapshot,
    pg_found: bool,
    ours: set[int],
) -> tuple[float, float, dict[str, float | None]]:
    values = result.all_latencies
    rps = result.total / result.duration
    p99 = percentile(values, 99)
    print("\nresults (timed run)")
    print(f"  requests        {result.total}  (200: {result.statuses.get(200, 0)}, ", end="")
    other = {k: v for k, v in result.statuses.items() if k != 200}
    print(f"other: {dict(other) or 0})")
    print(f"  duration        {result.duration:.2f} s")
    print(f"  throughput      {rps:.1f} requests/s")
    print(
        "  latency ms      "
        f"p50 {_ms(percentile(values, 50))}  p95 {_ms(percentile(values, 95))}  "
        f"p99 {_ms(p99)}  max {_ms(values[-1] if values else math.nan)}  "
        f"mean {_ms(sum(values) / max(1, len(values)))}"
    )
    for kind in KINDS:
        kind_values = sorted(result.latencies[kind])
        if kind_values:
            print(
                f"    {kind:<15} n={len(kind_values):<6} p50 {_ms(percentile(kind_values, 50))}"
                f"  p95 {_ms(percentile(kind_values, 95))}  p99 {_ms(percentile(kind_values, 99))}"
            )
    for error in result.errors:
        print(f"  client error: {error}")

    cores = os.cpu_count() or 1
    busy = after.busy - before.busy
    idle = after.idle - before.idle
    server = after.server - before.server
    pg = after.postgres - before.postgres
    n = max(1, result.total)
    print(f"\nCPU during the timed run (core-seconds; {cores} cores x {result.duration:.2f} s)")
    print(
        f"  machine busy    {busy:6.2f}  ({100 * busy / max(1e-9, busy + idle):.0f}% of capacity)"
    )
    rows = [("client (this)", result.client_cpu), ("gunicorn", server)]
    if pg_found:
        rows.append(("postgres bknds", pg))
    rows.append(
        ("everything else", max(0.0, busy - result.client_cpu - server - (pg if pg_found else 0)))
    )
    for label, seconds in rows:
        print(
            f"  {label:<15} {seconds:6.2f}  ({100 * seconds / max(1e-9, busy):4.1f}% of busy, "
            f"{1000 * seconds / n:5.2f} ms per request)"
        )
    parts = {k: after.ticks[k] - before.ticks[k] for k in after.ticks}
    print(
        "  machine split   "
        + ", ".join(
            f"{name} {parts[name]:.2f}" for name in ("user", "system", "softirq", "irq", "steal")
        )
    )
    for name, seconds in busiest_others(before, after, ours):
        print(f"    of which {seconds:6.2f}  {name}")
    switches = after.switches - before.switches
    print(f"  context switches {switches / n:.0f} per request (whole machine)")
    bench_cpu = result.client_cpu + server + (pg if pg_found else 0)
    print(
        f"  CPU per request (client + gunicorn + postgres backends): {1000 * bench_cpu / n:.2f} ms"
        f" -> about {n * cores / max(1e-9, bench_cpu):.0f} req/s if the benchmark had all "
        f"{cores} cores to itself"
    )
    extras = {
        "client_cpu_ms": round(1000 * result.client_cpu / n, 2),
        "gunicorn_cpu_ms": round(1000 * server / n, 2),
        "postgres_cpu_ms": round(1000 * pg / n, 2) if pg_found else None,
        "others_busy_pct": round(100 * max(0.0, busy - bench_cpu) / max(1e-9, busy + idle), 1),
        "dedicated_rps": round(n * cores / max(1e-9, bench_cpu), 1),
    }
    return rps, p99, extras


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--alarms", type=int, default=1000, help="distinct alarms (1000)")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight (8)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (4)")
    parser.add_argument("--worker-class", default="sync", help="gunicorn worker class (sync)")
    parser.add_argument("--threads", type=int, default=1, help="threads with gthread (1)")
    parser.add_argument("--repeats", type=int, default=3, help="repeat ALARMs per alarm (3)")
    parser.add_argument("--ok-percent", type=int, default=90, help="alarms that end OK (90)")
    parser.add_argument("--warmup", type=int, default=200, help="warm-up requests (200)")
    parser.add_argument(
        "--interleave", type=int, default=4, help="alarms each client thread alternates (4)"
    )
    parser.add_argument(
        "--pg", default="postgresql://postgres@127.0.0.1:5432", help="PostgreSQL server URL"
    )
    parser.add_argument(
        "--db-name", default="klaxon_bench", help="database to (re)create; must contain 'bench'"
    )
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/3", help="Celery broker")
    parser.add_argument("--cache-url", default="", help="CACHE_URL (default: per-process)")
    parser.add_argument("--keep-db", action="store_true", help="leave the bench DB afterwards")
    parser.add_argument("--strict", action="store_true", help="exit 2 when the target is missed")
    parser.add_argument(
        "--settings",
        default="config.settings",
        help="DJANGO_SETTINGS_MODULE for the server (default config.settings)",
    )
    add_wait_quiet_argument(parser)
    args = parser.parse_args(argv)
    cfg = Config(**vars(args))
    if cfg.alarms < 1 or cfg.concurrency < 1 or cfg.workers < 1 or cfg.repeats < 0:
        parser.error("--alarms, --concurrency and --workers must be >= 1, --repeats >= 0")
    if "bench" not in cfg.db_name:
        parser.error("--db-name must contain 'bench': the database is dropped and recreated")
    if not 0 <= cfg.ok_percent <= 100:
        parser.error("--ok-percent must be within 0..100")

    # Ctrl-C and SIGTERM must reach the finally blocks that stop gunicorn and the peer
    # (SIGINT may arrive ignored when started in the background by a shell).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _terminate)
    peer = SnsPeer().start()
    try:
        return _run(cfg, peer)
    finally:
        peer.stop()


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _run(cfg: Config, peer: SnsPeer) -> int:
    print(
        f"Klaxon ingest benchmark (database {cfg.db_name}, broker {cfg.broker}, "
        f"settings {cfg.settings})"
    )
    recreate_database(cfg)
    try:
        with tempfile.TemporaryDirectory(prefix="klaxon-bench-") as tmp:
            code = _run_in(cfg, peer, Path(tmp))
    finally:
        if not cfg.keep_db:
            drop_database(cfg)
    return code


def _run_in(cfg: Config, peer: SnsPeer, tmp: Path) -> int:
    env = server_env(cfg, tmp / "var", peer)
    began = time.perf_counter()
    manage(env, "migrate", "--no-input", "-v", "0")
    (warm_id, warm_path), (bench_id, bench_path) = create_integrations(env)
    print(
        f"  migrated and created integrations #{warm_id} (warm-up), #{bench_id} (timed) ", end=""
    )
    print(f"in {time.perf_counter() - began:.1f} s")

    began = time.perf_counter()
    start = datetime.now(UTC) - timedelta(days=1)
    warm_plan = build_plan(
        alarms=max(1, math.ceil(cfg.warmup / (cfg.repeats + 2))),
        repeats=cfg.repeats,
        ok_percent=100,
        prefix="warmup-",
        cert_url=peer.cert_url,
        start=start,
    )
    plan = build_plan(
        alarms=cfg.alarms,
        repeats=cfg.repeats,
        ok_percent=cfg.ok_percent,
        prefix="",
        cert_url=peer.cert_url,
        start=start,
    )
    body_bytes = sum(len(r.body) for a in plan.alarms for r in a)
    print(
        f"  signed {plan.total + warm_plan.total} bodies in {time.perf_counter() - began:.1f} s"
        f" (SignatureVersion 2, RSA-2048/SHA-256; mean body {body_bytes / plan.total:.0f} B)"
    )
    print(
        f"  traffic: {cfg.alarms} alarms x (ALARM + {cfg.repeats} repeats) + OK for "
        f"{plan.resolved} = {plan.total} requests; {cfg.concurrency} in flight, each client "
        f"thread alternating {cfg.interleave} alarms"
    )

    port = free_port()
    log_path = tmp / "gunicorn.log"
    with gunicorn(cfg, env, port, log_path) as proc:
        wait_healthy(proc, port, log_path)
        workers = wait_workers(proc.pid, cfg.workers)
        kind = cfg.worker_class + (
            f" x{cfg.threads} threads" if cfg.worker_class == "gthread" else ""
        )
        print(f"  gunicorn on 127.0.0.1:{port}: master {proc.pid}, {len(workers)} {kind} workers")

        warm = run_traffic(
            warm_plan,
            host="127.0.0.1",
            port=port,
            path=warm_path,
            concurrency=cfg.concurrency,
            interleave=cfg.interleave,
        )
        cert_path = peer.cert_url.rsplit(":", 1)[1].split("/", 1)[1]
        fetches = peer.hits["/" + cert_path]
        print(
            f"  warm-up: {warm.total} requests ({warm.statuses.get(200, 0)} x 200) in "
            f"{warm.duration:.2f} s; certificate fetched {fetches} times for "
            f"{cfg.workers} workers"
        )
        if warm.statuses.get(200, 0) != warm.total:
            print(f"  WARNING: warm-up answers {dict(warm.statuses)}; see {log_path}")
            print(log_path.read_text(errors="replace")[-3000:])

        quiet = wait_quiet(cfg.wait_quiet)
        speed = speed_index()
        print(
            f"  machine busy just before the run (other processes): {100 * quiet:.0f}%; "
            f"speed index {speed:.1f} ms (lower is faster)"
        )
        pg_pids = postgres_backends(cfg)
        server_pids = [proc.pid, *_children(proc.pid)]
        broker_before = broker_size(cfg.broker)
        before = CpuSnapshot.take(server_pids, pg_pids)
        result = run_traffic(
            plan,
            host="127.0.0.1",
            port=port,
            path=bench_path,
            concurrency=cfg.concurrency,
            interleave=cfg.interleave,
        )
        after = CpuSnapshot.take(server_pids, pg_pids)
        broker_after = broker_size(cfg.broker)
        fetched_during_run = peer.hits["/" + cert_path] - fetches
        speed_after = speed_index()
    log_text = log_path.read_text(errors="replace")

    ours = {os.getpid(), *server_pids, *pg_pids}
    rps, p99, extras = report(cfg, plan, result, before, after, pg_found=bool(pg_pids), ours=ours)
    print(f"  speed index before / after the run: {speed:.1f} / {speed_after:.1f} ms")
    print(
        f"  certificate fetches during the run: {fetched_during_run}; broker keys in "
        f"{cfg.broker}: {broker_before} before, {broker_after} after"
    )
    if any(word in log_text for word in ("Traceback", "ERROR", "CRITICAL")):
        print("\ngunicorn log (tail):")
        print(log_text[-3000:])

    check = check_database(cfg, bench_id, plan, result)
    print("\ncheck (database, timed integration only)")
    for what, got, want in check.lines:
        mark = "ok" if got == want else "MISMATCH"
        print(f"  {what:<36} {got!s:>8}  expected {want!s:<8} {mark}")
    print(f"  {'PASS' if check.passed else 'FAIL'}")

    met = rps >= TARGET_RPS and p99 * 1000 <= TARGET_P99_MS
    print(
        f"\ntarget >= {TARGET_RPS:.0f} req/s and p99 <= {TARGET_P99_MS:.0f} ms: "
        f"{'MET' if met else 'MISSED'} ({rps:.1f} req/s, p99 {p99 * 1000:.1f} ms)"
    )
    summary = {
        "alarms": cfg.alarms,
        "concurrency": cfg.concurrency,
        "workers": cfg.workers,
        "worker_class": cfg.worker_class,
        "settings": cfg.settings,
        "requests": result.total,
        "duration_s": round(result.duration, 3),
        "rps": round(rps, 1),
        "p50_ms": round(percentile(result.all_latencies, 50) * 1000, 2),
        "p95_ms": round(percentile(result.all_latencies, 95) * 1000, 2),
        "p99_ms": round(p99 * 1000, 2),
        "max_ms": round(result.all_latencies[-1] * 1000, 2),
        "non_200": result.total - result.statuses.get(200, 0),
        "check": "PASS" if check.passed else "FAIL",
        "target": "MET" if met else "MISSED",
        **extras,
    }
    summary["speed_index_ms"] = round(speed, 1)
    summary["speed_index_after_ms"] = round(speed_after, 1)
    print("BENCH_RESULT " + json.dumps(summary))
    if not check.passed:
        return 1
    if cfg.strict and not met:
        return 2
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit("interrupted: gunicorn and the SNS peer were stopped")
