"""Paging latency benchmark: from an ALARM's HTTP answer to the first SMS at Twilio.

Run from the repository root::

    .venv/bin/python bench/paging_latency.py [--rate 50] [--seconds 60] [--workers 2]

What happens (see bench/README.md for the details and how to read the output):

1. A fresh PostgreSQL database (``klaxon_bench_paging``: dropped and recreated, dropped
   again at the end unless ``--keep-db``) is migrated and gets ``--users`` (1) responders
   (verified phone, default rules: SMS at once), an escalation policy with one step paging
   them (30 minutes, no repeat) and one confirmed integration using that policy.
2. The local SNS peer serves the test signing certificate; a fake Twilio server
   (tests/twilio_server.py) records every SMS request with its arrival time; gunicorn
   serves Klaxon with signature verification on; a Celery worker (prefork, ``--workers``
   processes, ``-Q critical,celery``) sends through the real twilio client to the fake
   server. Redis database 5 is the broker and result backend; it is flushed before and
   after. Celery beat is not started.
3. Every request is built and signed before the clock starts: one new alarm (its own
   AlarmName and ARN, with a sequence number) per incident.
4. A short warm-up, then ``--rate`` alarms a second for ``--seconds``, open loop (each
   request is scheduled by the clock and sent from a thread pool, whatever the answers
   before it did), then up to ``--grace`` seconds for stragglers.
5. Per alarm: latency = arrival of its first SMS at the fake Twilio server minus the
   moment the load generator had the ALARM's answer. Prints count sent and received,
   p50/p90/p99/max, how many SMS were late or missing, PASS/FAIL against the target
   (p99 <= 1 s) and where the time went (timestamps from the database, queue depths
   sampled during the run, CPU per process group).
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import contextlib
import http.client
import json
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import ingest  # first: puts the repository root on sys.path
import psycopg
import redis
from celery import Celery
from ingest import Config, CpuSnapshot, Request

from tests.sns_peer import SnsPeer
from tests.twilio_server import FakeTwilio

TARGET_P99 = 1.0  # seconds, from the issue
MEMORY_GROWTH_PCT = 10.0  # issue 15: worker memory flat (within 10 %) over a 5-minute run
RUN_PREFIX = "run-"
WARM_PREFIX = "warm-"
# The SMS text starts "Klaxon #<incident> TRIGGERED: <AlarmName>"; ingest.build_plan names
# alarms "<prefix><template>-<sequence, 6 digits>".
_SMS_TITLE = re.compile(r"^Klaxon #(\d+) TRIGGERED: ([a-z]+-)[A-Za-z]+-(\d{6})\b")
WORKER_QUEUES = "critical,celery"


# --------------------------------------------------------------------------- options


@dataclass
class Options:
    rate: float
    seconds: float
    workers: int
    web_workers: int
    pool: str
    users: int
    step_minutes: int
    client_threads: int
    warmup: int
    grace: float
    target_ms: float
    pg: str
    db_name: str
    broker: str
    keep_db: bool
    strict: bool
    wait_quiet: float
    worker_loglevel: str
    worker_arg: list[str]
    settings: str
    port: int = 0

    @property
    def alarms(self) -> int:
        return max(1, round(self.rate * self.seconds))

    def ingest_config(self) -> Config:
        """The settings bench/ingest.py's helpers take (database, gunicorn, environment)."""
        return ingest.server_config(
            workers=self.web_workers,
            pg=self.pg,
            db_name=self.db_name,
            broker=self.broker,
            keep_db=self.keep_db,
            strict=self.strict,
            wait_quiet=self.wait_quiet,
            settings=self.settings,
            warmup=self.warmup,
            alarms=self.alarms,
            concurrency=self.client_threads,
        )


def parse_args(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rate", type=float, default=50.0, help="new alarms a second (50)")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the run (60)")
    parser.add_argument(
        "--workers", type=int, default=2, help="Celery worker processes (--concurrency, 2)"
    )
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn sync workers (2)")
    parser.add_argument("--pool", default="prefork", help="Celery pool (prefork)")
    parser.add_argument("--users", type=int, default=1, help="responders the step pages (1)")
    parser.add_argument(
        "--step-minutes", type=int, default=30, help="the step's delay (30): no 2nd page in a run"
    )
    parser.add_argument(
        "--client-threads", type=int, default=32, help="load generator threads (32)"
    )
    parser.add_argument("--warmup", type=int, default=20, help="warm-up alarms (20)")
    parser.add_argument(
        "--grace", type=float, default=30.0, help="seconds to wait for stragglers (30)"
    )
    parser.add_argument("--target-ms", type=float, default=TARGET_P99 * 1000, help="p99 target")
    parser.add_argument(
        "--pg", default="postgresql://postgres@127.0.0.1:5432", help="PostgreSQL server URL"
    )
    parser.add_argument(
        "--db-name", default="klaxon_bench_paging", help="database to (re)create; needs 'bench'"
    )
    parser.add_argument(
        "--broker", default="redis://127.0.0.1:6379/5", help="Celery broker (flushed!)"
    )
    parser.add_argument("--keep-db", action="store_true", help="leave the bench DB afterwards")
    parser.add_argument("--strict", action="store_true", help="exit 2 when the target is missed")
    ingest.add_wait_quiet_argument(parser)
    parser.add_argument(
        "--worker-loglevel", default="WARNING", help="Celery worker log level (WARNING)"
    )
    parser.add_argument(
        "--worker-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra argument for `celery worker` (repeatable), e.g. --worker-arg=-Ofair",
    )
    parser.add_argument(
        "--settings",
        default="config.settings",
        help="DJANGO_SETTINGS_MODULE for gunicorn and the worker (config.settings); bench/ "
        "and $PYTHONPATH are importable, for experiments",
    )
    parser.add_argument(
        "--port", type=int, default=0, help="gunicorn's port on 127.0.0.1 (default: a free one)"
    )
    args = parser.parse_args(argv)
    options = Options(**vars(args))
    if options.rate <= 0 or options.seconds <= 0:
        parser.error("--rate and --seconds must be > 0")
    if min(options.workers, options.web_workers, options.users, options.client_threads) < 1:
        parser.error("--workers, --web-workers, --users and --client-threads must be >= 1")
    if options.alarms > 999_999:
        parser.error("at most 999,999 alarms (the sequence number has 6 digits)")
    if "bench" not in options.db_name:
        parser.error("--db-name must contain 'bench': the database is dropped and recreated")
    return options


# --------------------------------------------------------------------------- setup

_SETUP = """
import json
from accounts.contacts import responder_create
from integrations.models import Integration
from escalation.models import EscalationPolicy, EscalationStep
users = [
    responder_create(
        username=f"oncall{i}", email=f"oncall{i}@example.com", phone=f"+1500555{i:04d}"
    )
    for i in range(1, {users} + 1)
]
policy = EscalationPolicy.objects.create(name="Bench paging", repeat=0)
step = EscalationStep.objects.create(policy=policy, position=0, delay_minutes={minutes})
step.users.set(users)
integration = Integration.objects.create(
    name="bench paging",
    subscription_status="confirmed",
    topic_arn={topic!r},
    escalation_policy=policy,
)
phones = [u.contact_methods.get(kind="phone").value for u in users]
print("BENCH_JSON=" + json.dumps([integration.pk, integration.inbound_path, phones]))
"""


def create_setup(env: dict[str, str], options: Options) -> tuple[int, str, list[str]]:
    """The responders, the one-step policy and the integration; returns the integration's
    id, its inbound path and the responders' phone numbers."""
    script = _SETUP.replace("{users}", str(options.users))
    script = script.replace("{minutes}", str(options.step_minutes))
    script = script.replace("{topic!r}", repr(ingest.TOPIC_ARN))
    out = ingest.manage(env, "shell", "-c", script)
    line = next(x for x in out.splitlines() if x.startswith("BENCH_JSON="))
    integration_id, path, phones = json.loads(line.removeprefix("BENCH_JSON="))
    return int(integration_id), str(path), [str(p) for p in phones]


@contextlib.contextmanager
def celery_worker(
    options: Options, env: dict[str, str], log_path: Path
) -> Iterator[subprocess.Popen[bytes]]:
    with worker_process(
        env,
        log_path,
        pool=options.pool,
        concurrency=options.workers,
        loglevel=options.worker_loglevel,
        extra=options.worker_arg,
    ) as proc:
        yield proc


@contextlib.contextmanager
def worker_process(
    env: dict[str, str],
    log_path: Path,
    *,
    pool: str = "prefork",
    concurrency: int = 2,
    loglevel: str = "WARNING",
    extra: Sequence[str] = (),
) -> Iterator[subprocess.Popen[bytes]]:
    """``celery worker`` as `manage.py serve` runs it (prefork, -Q critical,celery), without
    beat, heartbeat, gossip and mingle (one worker; they only add chatter). In its own
    session, so that it and its pool processes can be stopped together, even on Ctrl-C."""
    command = [
        sys.executable, "-m", "celery", "-A", "config", "worker",
        "--pool", pool, "--concurrency", str(concurrency),
        "-Q", WORKER_QUEUES, "--loglevel", loglevel,
        "--without-heartbeat", "--without-gossip", "--without-mingle",
        *extra,
    ]  # fmt: skip
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            command,
            cwd=ingest.ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield proc
        finally:
            _stop_group(proc, timeout=20)


def _stop_group(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM (Celery's warm shutdown) to the process, then SIGKILL to its process group
    if it has not exited in ``timeout`` seconds. The group is the one it leads (it was
    started in a new session), so nothing else is touched."""
    if proc.poll() is None:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=timeout)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # stray pool processes, if any
    if proc.poll() is None:
        proc.wait()


def wait_worker_ready(app: Celery, proc: subprocess.Popen[bytes], log_path: Path) -> None:
    """Wait until the worker answers a remote-control ping through the broker (this works
    whatever the result backend settings are)."""
    deadline = time.monotonic() + 60
    while not app.control.ping(timeout=0.5):
        if proc.poll() is not None:
            sys.stderr.write(log_path.read_text(errors="replace")[-4000:])
            raise SystemExit(f"the Celery worker exited with status {proc.returncode}")
        if time.monotonic() > deadline:
            raise SystemExit("the Celery worker did not answer a ping within 60 s")


# --------------------------------------------------------------------------- traffic


@dataclass
class Shot:
    """One alarm: when it was due to be sent, sent and answered (time.time())."""

    sequence: int
    due: float = math.nan
    started: float = math.nan
    answered: float = math.nan
    status: int = 0
    error: str = ""


@dataclass
class Traffic:
    shots: list[Shot]
    began: float  # time.time() of the first scheduled send
    ended: float  # time.time() when the last answer came

    @property
    def ok(self) -> list[Shot]:
        return [s for s in self.shots if s.status == 200]


def signed_alarms(count: int, prefix: str, peer: SnsPeer) -> list[Request]:
    """``count`` signed SNS notifications, each a new CloudWatch alarm going to ALARM, named
    ``<prefix><template>-<sequence>`` (ingest.build_plan with no repeats and no OK)."""
    start = datetime.now(UTC) - timedelta(seconds=count + 600)
    plan = ingest.build_plan(
        alarms=count, repeats=0, ok_percent=0, prefix=prefix, cert_url=peer.cert_url, start=start
    )
    return [alarm[0] for alarm in plan.alarms]


class Sender:
    """POSTs from a pool of threads, one keep-alive-if-offered connection per thread."""

    def __init__(self, port: int, path: str) -> None:
        self.port = port
        self.path = path
        self.local = threading.local()

    def post(self, request: Request) -> tuple[int, float]:
        """(status, time.time() when the whole answer was read)."""
        conn: http.client.HTTPConnection | None = getattr(self.local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self.local.conn = conn
        try:
            conn.request("POST", self.path, request.body, request.headers)
            response = conn.getresponse()
            response.read()
            answered = time.time()
            if response.will_close:
                conn.close()  # the sync worker closes after each answer; reconnect lazily
            return response.status, answered
        except (OSError, http.client.HTTPException):
            conn.close()
            raise


def run_open_loop(
    sender: Sender,
    requests: Sequence[Request],
    shots: Sequence[Shot],
    *,
    rate: float,
    threads: int,
) -> Traffic:
    """Send request i at ``start + i / rate`` (wall clock, open loop), each from a pool
    thread, so a slow answer never delays the requests after it. ``shots`` (one per
    request) are filled in as answers come, so a monitor can watch them."""

    def fire(shot: Shot, request: Request) -> None:
        shot.started = time.time()
        try:
            shot.status, shot.answered = sender.post(request)
        except (OSError, http.client.HTTPException) as exc:
            shot.status = -1
            shot.answered = time.time()
            shot.error = f"{type(exc).__name__}: {exc}"

    with concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix="alarm") as pool:
        began = time.time() + 0.05
        for shot, request in zip(shots, requests, strict=True):
            shot.due = began + shot.sequence / rate
            delay = shot.due - time.time()
            if delay > 0:
                time.sleep(delay)
            pool.submit(fire, shot, request)
    ended = max((s.answered for s in shots if not math.isnan(s.answered)), default=time.time())
    return Traffic(list(shots), began, ended)


# --------------------------------------------------------------------------- SMS


@dataclass
class Arrivals:
    """The fake Twilio server's SMS, by alarm sequence number."""

    first: dict[int, float] = field(default_factory=dict)  # earliest arrival per alarm
    per_phone: collections.Counter[tuple[int, str]] = field(default_factory=collections.Counter)
    unmatched: int = 0
    total: int = 0

    @property
    def duplicates(self) -> int:
        return sum(n - 1 for n in self.per_phone.values() if n > 1)


def sms_arrivals(fake: FakeTwilio, prefix: str) -> Arrivals:
    found = Arrivals()
    for request in fake.sent("Messages"):
        match = _SMS_TITLE.match(request.form.get("Body", ""))
        if match is None or match[2] != prefix:
            found.unmatched += match is None
            continue
        found.total += 1
        sequence = int(match[3])
        found.per_phone[(sequence, request.form.get("To", ""))] += 1
        if request.at < found.first.get(sequence, math.inf):
            found.first[sequence] = request.at
    return found


def wait_for_sms(fake: FakeTwilio, prefix: str, wanted: set[int], timeout: float) -> Arrivals:
    deadline = time.monotonic() + timeout
    while True:
        found = sms_arrivals(fake, prefix)
        if wanted <= found.first.keys() or time.monotonic() >= deadline:
            return found
        time.sleep(0.2)


# --------------------------------------------------------------------------- monitoring


def queue_depths(client: redis.Redis, queue: str = "critical") -> tuple[int, int]:
    """(messages waiting in ``queue``, messages delivered to a worker and not yet
    acknowledged, which includes every eta'd task it holds). kombu's Redis transport
    keeps a queue as lists (one per priority step) and unacked messages in a hash."""
    names = [queue, *(f"{queue}\x06\x16{p}" for p in range(1, 10))]
    with client.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.llen(name)
        pipe.hlen("unacked")
        counts = [int(n) for n in pipe.execute()]
    return sum(counts[:-1]), counts[-1]


_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def resident_bytes(pids: Iterable[int]) -> int:
    """The processes' resident set size (RSS) added up; a process gone counts 0."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE_SIZE
    return total


@dataclass
class MemorySamples:
    """RSS of each group of worker processes, sampled about once a second."""

    groups: dict[str, list[int]]  # label -> pids
    samples: list[tuple[float, dict[str, int]]] = field(default_factory=list)

    def take(self) -> dict[str, int]:
        sample = {label: resident_bytes(pids) for label, pids in self.groups.items()}
        self.samples.append((time.time(), sample))
        return sample


class Monitor(threading.Thread):
    """Samples the broker every 0.25 s and the workers' memory every second; prints
    progress every 5 s."""

    def __init__(
        self,
        client: redis.Redis,
        shots: Sequence[Shot],
        fake: FakeTwilio,
        memory: MemorySamples | None = None,
    ) -> None:
        super().__init__(daemon=True)
        self.client = client
        self.shots = shots
        self.fake = fake
        self.memory = memory or MemorySamples({})
        self.stop = threading.Event()
        self.samples: list[tuple[float, int, int]] = []  # (time.time(), waiting, unacked)
        self.began = time.time()

    def run(self) -> None:
        last_print = last_memory = time.monotonic()
        rss = sum(self.memory.take().values())
        while not self.stop.wait(0.25):
            if time.monotonic() - last_memory >= 1:
                last_memory = time.monotonic()
                rss = sum(self.memory.take().values())
            try:
                waiting, unacked = queue_depths(self.client)
            except redis.RedisError:
                continue
            self.samples.append((time.time(), waiting, unacked))
            if time.monotonic() - last_print >= 5:
                last_print = time.monotonic()
                answered = sum(1 for s in self.shots if not math.isnan(s.answered))
                sms = len(sms_arrivals(self.fake, RUN_PREFIX).first)
                print(
                    f"  {time.time() - self.began:5.1f} s: {answered} alarms answered, "
                    f"{sms} SMS received; queue critical {waiting} waiting, "
                    f"{unacked} unacked; worker RSS {rss / 2**20:.0f} MiB",
                    flush=True,
                )
        self.memory.take()  # the end of the run


# --------------------------------------------------------------------------- analysis


def _ms(seconds: float) -> str:
    if math.isinf(seconds):
        return "    missing"
    if math.isnan(seconds):
        return "          -"
    return f"{seconds * 1000:9.1f} ms"


def _summary(values: Sequence[float]) -> str:
    ordered = sorted(values)
    if not ordered:
        return "n=0"
    return (
        f"n={len(ordered):<5} p50 {_ms(ingest.percentile(ordered, 50))}  "
        f"p90 {_ms(ingest.percentile(ordered, 90))}  p99 {_ms(ingest.percentile(ordered, 99))}  "
        f"max {_ms(ordered[-1])}"
    )


@dataclass
class Phases:
    """Per alarm, from the database: the server's own timestamps (same clock)."""

    created: dict[int, float] = field(default_factory=dict)  # incident_open (web)
    stepped: dict[int, float] = field(default_factory=dict)  # escalation step ran (worker)
    planned: dict[int, float] = field(default_factory=dict)  # SMS row inserted (worker)
    sent: dict[int, float] = field(default_factory=dict)  # worker had Twilio's answer
    incidents: int = 0


_PHASES_SQL = """
SELECT i.title, i.created_at,
       (SELECT min(e.at) FROM incidents_incidentevent e
         WHERE e.incident_id = i.id AND e.kind = 'escalated'),
       (SELECT min(n.created_at) FROM notifications_notification n
         WHERE n.incident_id = i.id AND n.channel = 'sms' AND n.purpose = 'triggered'),
       (SELECT min(n.sent_at) FROM notifications_notification n
         WHERE n.incident_id = i.id AND n.channel = 'sms' AND n.purpose = 'triggered')
FROM incidents_incident i
WHERE i.integration_id = %s AND i.title LIKE %s
"""


def read_phases(cfg: Config, integration_id: int) -> Phases:
    phases = Phases()
    pattern = re.compile(re.escape(RUN_PREFIX) + r"[A-Za-z]+-(\d{6})$")
    url = f"{cfg.pg.rstrip('/')}/{cfg.db_name}"
    with psycopg.connect(url) as conn:
        rows = conn.execute(_PHASES_SQL, (integration_id, RUN_PREFIX + "%")).fetchall()
    for title, created, stepped, planned, sent in rows:
        match = pattern.match(title)
        if match is None:
            continue
        phases.incidents += 1
        sequence = int(match[1])
        for target, moment in (
            (phases.created, created),
            (phases.stepped, stepped),
            (phases.planned, planned),
            (phases.sent, sent),
        ):
            if moment is not None:
                target[sequence] = moment.timestamp()
    return phases


def _deltas(
    later: dict[int, float], earlier: dict[int, float], only: set[int] | None = None
) -> list[float]:
    keys = later.keys() & earlier.keys()
    if only is not None:
        keys &= only
    return [later[k] - earlier[k] for k in keys]


def _group_cpu(before: CpuSnapshot, after: CpuSnapshot, pids: set[int]) -> float:
    total = 0.0
    for pid in pids:
        if pid in after.processes:
            start = before.processes.get(pid, ("", 0.0))[1]
            total += after.processes[pid][1] - start
    return total


def _pids_named(snapshot: CpuSnapshot, word: str) -> set[int]:
    return {pid for pid, (name, _) in snapshot.processes.items() if word in name}


# --------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    # Ctrl-C and SIGTERM must reach the finally blocks that stop the children (SIGINT may
    # arrive ignored when started in the background by a shell).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _terminate)
    cfg = options.ingest_config()
    print(
        f"Klaxon paging latency benchmark: {options.rate:g} alarms/s for {options.seconds:g} s "
        f"({options.alarms} incidents); database {cfg.db_name}, broker {cfg.broker}"
    )
    broker = redis.Redis.from_url(cfg.broker, socket_timeout=5)
    broker.flushdb()
    peer = SnsPeer().start()
    fake = FakeTwilio().start()
    try:
        ingest.recreate_database(cfg)
        try:
            with tempfile.TemporaryDirectory(prefix="klaxon-bench-paging-") as tmp:
                return _run(options, cfg, peer, fake, broker, Path(tmp))
        finally:
            if not cfg.keep_db:
                ingest.drop_database(cfg)
    finally:
        fake.stop()
        peer.stop()
        with contextlib.suppress(redis.RedisError):
            broker.flushdb()
        broker.close()


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _run(
    options: Options,
    cfg: Config,
    peer: SnsPeer,
    fake: FakeTwilio,
    broker: redis.Redis,
    tmp: Path,
) -> int:
    env = ingest.server_env(cfg, tmp / "var", peer)
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER"):
        env.pop(name, None)
    env.update(fake.env())
    env["CELERY_RESULT_BACKEND"] = cfg.broker
    began = time.perf_counter()
    ingest.manage(env, "migrate", "--no-input", "-v", "0")
    integration_id, path, phones = create_setup(env, options)
    print(
        f"  migrated; integration #{integration_id} -> policy (1 step, "
        f"{options.step_minutes} min, no repeat) -> {len(phones)} responder(s) "
        f"{', '.join(phones)} in {time.perf_counter() - began:.1f} s"
    )

    began = time.perf_counter()
    warm_requests = signed_alarms(options.warmup, WARM_PREFIX, peer) if options.warmup else []
    requests = signed_alarms(options.alarms, RUN_PREFIX, peer)
    print(
        f"  signed {len(warm_requests) + len(requests)} alarms in "
        f"{time.perf_counter() - began:.1f} s (one new alarm, so one new incident, each)"
    )

    app = Celery("bench-paging", broker=cfg.broker, backend=cfg.broker)
    port = options.port or ingest.free_port()
    web_log, worker_log = tmp / "gunicorn.log", tmp / "worker.log"
    with (
        ingest.gunicorn(cfg, env, port, web_log) as web,
        celery_worker(options, env, worker_log) as worker,
    ):
        ingest.wait_healthy(web, port, web_log)
        web_pids = {web.pid, *ingest.wait_workers(web.pid, options.web_workers)}
        wait_worker_ready(app, worker, worker_log)
        pool_pids = ingest.wait_workers(worker.pid, options.workers)
        worker_pids = {worker.pid, *pool_pids}
        print(
            f"  gunicorn on 127.0.0.1:{port} ({options.web_workers} sync workers); celery "
            f"worker {worker.pid} ({options.pool}, {len(pool_pids)} processes, "
            f"-Q {WORKER_QUEUES}{''.join(' ' + a for a in options.worker_arg)})"
            f"; fake Twilio at {fake.base_url}"
        )
        sender = Sender(port, path)

        if warm_requests:
            warm_shots = [Shot(i) for i in range(len(warm_requests))]
            warm = run_open_loop(sender, warm_requests, warm_shots, rate=10.0, threads=4)
            warm_found = wait_for_sms(fake, WARM_PREFIX, {s.sequence for s in warm.ok}, timeout=60)
            print(
                f"  warm-up: {len(warm.ok)} of {len(warm.shots)} alarms answered 200, "
                f"{len(warm_found.first)} SMS received"
            )
            if len(warm.ok) != len(warm.shots) or len(warm_found.first) != len(warm.ok):
                _show_logs(web_log, worker_log, always=True)
                waiting, unacked = queue_depths(broker)
                print(f"queue critical: {waiting} waiting, {unacked} unacked")
                errors = {s.error for s in warm.shots if s.error}
                raise SystemExit(f"the warm-up did not page everyone; errors: {errors or '-'}")
        fake.clear()

        quiet = ingest.wait_quiet(options.wait_quiet)
        speed = ingest.speed_index()
        print(
            f"  machine busy just before the run (other processes): {100 * quiet:.0f}%; "
            f"speed index {speed:.1f} ms (lower is faster)"
        )
        pg_pids = set(ingest.postgres_backends(cfg))
        before = CpuSnapshot.take([], [])
        print(f"timed run: {options.alarms} alarms at {options.rate:g}/s")
        shots = [Shot(i) for i in range(len(requests))]
        memory = MemorySamples(
            {
                "celery worker (main process)": [worker.pid],
                f"celery pool ({len(pool_pids)} processes)": pool_pids,
            }
        )
        monitor = Monitor(broker, shots, fake, memory)
        monitor.start()
        try:
            traffic = run_open_loop(
                sender, requests, shots, rate=options.rate, threads=options.client_threads
            )
            wanted = {s.sequence for s in traffic.ok}
            found = wait_for_sms(fake, RUN_PREFIX, wanted, timeout=options.grace)
            waited = time.time() - traffic.ended
        finally:
            monitor.stop.set()
            monitor.join()
        after = CpuSnapshot.take([], [])
        speed_after = ingest.speed_index()
    app.close()

    ours = {os.getpid(), *web_pids, *worker_pids, *pg_pids}
    redis_pids = _pids_named(after, "redis-server")
    cpu = {
        "load generator + fakes (this process)": _group_cpu(before, after, {os.getpid()}),
        "gunicorn": _group_cpu(before, after, web_pids),
        "celery worker (main process)": _group_cpu(before, after, {worker.pid}),
        f"celery pool ({len(pool_pids)} processes)": _group_cpu(before, after, set(pool_pids)),
        "postgres backends": _group_cpu(before, after, pg_pids),
        "redis-server": _group_cpu(before, after, redis_pids),
    }
    busy = after.busy - before.busy
    idle = after.idle - before.idle
    others = ingest.busiest_others(before, after, ours | redis_pids)
    phases = read_phases(cfg, integration_id)
    _show_logs(web_log, worker_log, always=False)
    task_times = worker_task_times(worker_log)
    return report(
        options,
        traffic,
        found,
        phases,
        monitor.samples,
        cpu=cpu,
        busy=busy,
        idle=idle,
        others=others,
        split={k: after.ticks[k] - before.ticks[k] for k in after.ticks},
        waited=waited,
        speed=(speed, speed_after),
        task_times=task_times,
        memory=memory,
    )


def report_memory(memory: MemorySamples) -> dict[str, float | str | None]:
    """Prints the worker processes' RSS over the run (start, end, max, growth) against the
    target "worker memory flat (within 10 %)"; returns the figures for BENCH_RESULT."""
    if len(memory.samples) < 2:
        return {}
    seconds = memory.samples[-1][0] - memory.samples[0][0]
    print(
        f"\nworker memory (RSS, {len(memory.samples)} samples over {seconds:.0f} s, from the "
        "start of the run to the last SMS)"
    )
    series = {label: [sample[label] for _, sample in memory.samples] for label in memory.groups}
    series["all worker processes"] = [sum(sample.values()) for _, sample in memory.samples]
    for label, values in series.items():
        print(
            f"  {label:<38} start {values[0] / 2**20:7.1f} MiB  end {values[-1] / 2**20:7.1f} "
            f"MiB  max {max(values) / 2**20:7.1f} MiB  growth {_growth(values):+.1f} %"
        )
    total = series["all worker processes"]
    # Judged per group: the pool's pages shared with the main process would dilute the
    # main process's growth (where held eta messages live) in the total.
    growth = max(_growth(values) for values in series.values())
    flat = growth <= MEMORY_GROWTH_PCT
    print(
        f"  {'PASS' if flat else 'FAIL'}: worker memory flat (each line's growth from start "
        f"to end <= {MEMORY_GROWTH_PCT:.0f} %; the target is for a 5-minute run)"
    )
    return {
        "worker_rss_start_mib": round(total[0] / 2**20, 1),
        "worker_rss_end_mib": round(total[-1] / 2**20, 1),
        "worker_rss_max_mib": round(max(total) / 2**20, 1),
        "worker_rss_growth_pct": round(growth, 1),
        "memory_flat": "PASS" if flat else "FAIL",
    }


def _growth(values: Sequence[int]) -> float:
    return 100 * (values[-1] - values[0]) / max(1, values[0])


_SUCCEEDED = re.compile(r"Task ([\w.]+)\[[^\]]+\] succeeded in ([\d.eE+-]+)s")


def worker_task_times(log_path: Path) -> dict[str, list[float]]:
    """With ``--worker-loglevel INFO`` Celery logs each task's run time; by task name."""
    times: dict[str, list[float]] = {}
    if log_path.exists():
        for match in _SUCCEEDED.finditer(log_path.read_text(errors="replace")):
            times.setdefault(match[1], []).append(float(match[2]))
    return times


def _show_logs(web_log: Path, worker_log: Path, *, always: bool) -> None:
    for label, log_path in (("gunicorn", web_log), ("celery worker", worker_log)):
        text = log_path.read_text(errors="replace") if log_path.exists() else ""
        if always or any(word in text for word in ("Traceback", "ERROR", "CRITICAL")):
            print(f"\n{label} log (tail):")
            print(text[-3000:])


def report(
    options: Options,
    traffic: Traffic,
    found: Arrivals,
    phases: Phases,
    samples: list[tuple[float, int, int]],
    *,
    cpu: dict[str, float],
    busy: float,
    idle: float,
    others: list[tuple[str, float]],
    split: dict[str, float],
    waited: float,
    speed: tuple[float, float],
    task_times: dict[str, list[float]],
    memory: MemorySamples | None = None,
) -> int:
    target = options.target_ms / 1000
    ok = traffic.ok
    answered = {s.sequence: s.answered for s in ok}
    latency = {k: found.first[k] - t for k, t in answered.items() if k in found.first}
    missing = sorted(set(answered) - set(latency))
    # Missing SMS count as infinitely late: a page that never came is the worst latency.
    values = sorted([*latency.values(), *([math.inf] * len(missing))])
    late = sum(1 for v in latency.values() if v > target)
    p50, p90, p99 = (ingest.percentile(values, q) for q in (50, 90, 99))
    worst = values[-1] if values else math.nan
    window = traffic.ended - traffic.began
    achieved = len(ok) / window if window > 0 else 0.0
    lags = [s.started - s.due for s in traffic.shots]
    response = [s.answered - s.started for s in ok]
    statuses = collections.Counter(s.status for s in traffic.shots)
    errors = sorted({s.error for s in traffic.shots if s.error})
    sms_times = sorted(found.first.values())
    sms_span = sms_times[-1] - sms_times[0] if len(sms_times) > 1 else math.nan

    print("\nresults (timed run)")
    print(
        f"  alarms sent     {len(traffic.shots)}  (answered 200: {len(ok)}; "
        f"other: { {k: v for k, v in statuses.items() if k != 200} or 0 })"
    )
    print(
        f"  incidents/s     {achieved:.1f} achieved (target rate {options.rate:g}); "
        f"first send to last answer {window:.2f} s"
    )
    print(
        f"  SMS received    {len(latency)} alarms paged ({found.total} SMS requests, "
        f"{found.duplicates} duplicates, {found.unmatched} unrecognised); "
        f"{len(missing)} missing after waiting {waited:.1f} s"
    )
    if len(sms_times) > 1:
        print(
            f"  SMS rate        {(len(sms_times) - 1) / sms_span:.1f}/s "
            f"(first to last SMS {sms_span:.2f} s)"
        )
    print(
        f"  latency         p50 {_ms(p50)}  p90 {_ms(p90)}  p99 {_ms(p99)}  max {_ms(worst)}"
        + (f"  min {_ms(min(latency.values()))}" if latency else "")
    )
    if missing and latency:
        print(f"  of those received  {_summary(list(latency.values()))}  (missing left out)")
    print(f"  late (> {options.target_ms:.0f} ms) {late}; missing {len(missing)}")
    if missing:
        print(f"    missing alarms (first 10): {missing[:10]}")
    for error in errors[:5]:
        print(f"  client error: {error}")
    print(f"  ALARM answer time  {_summary(response)}")
    print(f"  send start lag     {_summary(lags)}  (behind the open-loop schedule)")

    # Where the time went: server timestamps from the database (the same clock).
    sms_first = found.first
    paged = set(latency)
    print("\nwhere the time went (per alarm; database timestamps, same clock)")
    print(f"  incidents in the database: {phases.incidents}")
    created_to_answer = _deltas(answered, phases.created, paged)
    answer_to_step = _deltas(phases.stepped, answered, paged)
    step_to_row = _deltas(phases.planned, phases.stepped, paged)
    row_to_sms = _deltas(sms_first, phases.planned, paged)
    sms_to_sent = _deltas(phases.sent, sms_first, paged)
    print(f"  incident INSERT -> ALARM answered   {_summary(created_to_answer)}")
    print(f"  ALARM answered -> step starts       {_summary(answer_to_step)}")
    print(f"  step starts -> SMS row inserted     {_summary(step_to_row)}")
    print(f"  SMS row inserted -> SMS at Twilio   {_summary(row_to_sms)}")
    print(f"  (SMS at Twilio -> worker saves sent {_summary(sms_to_sent)})")
    if samples:
        peak_wait = max(samples, key=lambda s: s[1])
        peak_unacked = max(s[2] for s in samples)
        mean_wait = sum(s[1] for s in samples) / len(samples)
        print(
            f"  queue critical: mean {mean_wait:.1f} waiting, peak {peak_wait[1]} at "
            f"{peak_wait[0] - traffic.began:.1f} s; peak unacked (held by the worker, "
            f"incl. eta'd tasks) {peak_unacked}"
        )
    for name, times in sorted(task_times.items()):
        print(f"  task {name:<34} {_summary(times)}  (run time in the worker, whole run)")
    # Per incident: the web side per alarm answered, the rest per incident paged (the
    # worker's CPU is only for the incidents it got to).
    answered_n, paged_n = max(1, len(ok)), max(1, len(latency))
    web_side = ("load generator + fakes (this process)", "gunicorn")
    cores = os.cpu_count() or 1
    total = busy + idle
    print(f"\nCPU from the start of the run to the last SMS (core-seconds; {cores} cores)")
    print(f"  machine busy    {busy:6.2f}  ({100 * busy / max(1e-9, total):.0f}% of capacity)")
    accounted = per_incident = 0.0
    for label, seconds in cpu.items():
        n, what = (answered_n, "alarm answered") if label in web_side else (paged_n, "paged")
        accounted += seconds
        per_incident += seconds / n
        print(f"  {label:<38} {seconds:6.2f}  ({1000 * seconds / n:5.2f} ms per {what})")
    print(
        f"  {'sum':<38} {accounted:6.2f}  ({1000 * per_incident:5.2f} ms per incident: at most "
        f"{cores / max(1e-9, per_incident):.0f} incidents/s on {cores} cores to itself)"
    )
    print(
        f"  {'everything else':<38} {max(0.0, busy - accounted):6.2f}  (other people's "
        "processes, also those that ended during the run)"
    )
    for name, seconds in others:
        print(f"    of which {seconds:6.2f}  {name}")
    print(
        "  machine split   "
        + ", ".join(f"{k} {split.get(k, 0.0):.2f}" for k in ("user", "system", "softirq", "steal"))
    )
    print(f"  speed index before / after: {speed[0]:.1f} / {speed[1]:.1f} ms")
    growth = report_memory(memory or MemorySamples({}))

    answered_all = len(ok) == len(traffic.shots)
    passed = answered_all and not found.duplicates and p99 <= target
    why = []
    if not answered_all:
        why.append(f"{len(traffic.shots) - len(ok)} alarms not answered 200")
    if found.duplicates:
        why.append(f"{found.duplicates} duplicate SMS")
    if p99 > target:
        why.append(f"p99 {_ms(p99).strip()} > {options.target_ms:.0f} ms")
    print(
        f"\n{'PASS' if passed else 'FAIL'}: target p99 <= {options.target_ms:.0f} ms at "
        f"{options.rate:g} incidents/s"
        + (f" ({'; '.join(why)})" if why else f" (p99 {_ms(p99).strip()})")
    )

    def rounded_ms(seconds: float) -> float | None:
        return None if not math.isfinite(seconds) else round(seconds * 1000, 1)

    summary = {
        "rate": options.rate,
        "seconds": options.seconds,
        "workers": options.workers,
        "web_workers": options.web_workers,
        "pool": options.pool,
        "worker_args": options.worker_arg,
        "sent": len(traffic.shots),
        "answered_200": len(ok),
        "received": len(latency),
        "achieved_per_s": round(achieved, 1),
        "p50_ms": rounded_ms(p50),
        "p90_ms": rounded_ms(p90),
        "p99_ms": rounded_ms(p99),
        "max_ms": rounded_ms(worst),
        "late": late,
        "missing": len(missing),
        "duplicates": found.duplicates,
        "speed_index_ms": round(speed[0], 1),
        "result": "PASS" if passed else "FAIL",
        **growth,
    }
    print("BENCH_RESULT " + json.dumps(summary))
    if not answered_all or found.duplicates:
        return 1
    if options.strict and not passed:
        return 2
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit("interrupted: gunicorn, the Celery worker and the fakes were stopped")
