"""Side-by-side ingest comparison (issue 15): Klaxon, a one-INSERT Django ceiling and
Alerta, under the same SNS CloudWatch traffic from the same load generator.

Run from the repository root::

    .venv/bin/python bench/compare.py [--rounds 5] [--alarms 300] [--targets klaxon,ceiling,alerta]

What happens (see bench/README.md for the details and how to read the output):

1. A private PostgreSQL cluster is started on its own port (``--pg URL`` uses an existing
   server instead) and each target gets its own database there.
2. Each target is started with 4 sync gunicorn workers: Klaxon (``config.wsgi``, SNS
   signatures verified with the local test certificate, and a Celery worker on Redis so
   that the tasks a request queues are counted too); the ceiling (bench/ceiling/: one
   view, one INSERT, persistent connections); Alerta (``alerta-server`` from PyPI in its
   own virtualenv, bench/.alerta-venv, made on first use; PostgreSQL backend; its
   CloudWatch webhook ``POST /webhooks/cloudwatch``).
3. Every body is built and signed before the clock starts, one plan per round: N alarms
   x (ALARM + 3 repeats + OK for 80 %). Each target gets a warm-up, then the rounds run
   interleaved (round 1: Klaxon, ceiling, Alerta; round 2: the same ...), each target
   receiving the same bodies in a round.
4. After each run the target's database is checked (stored alerts / incidents, closed
   ones); a wrong result makes the exit status 1. Throughput, latency, CPU per request
   (web + worker + PostgreSQL) per run and the medians over the rounds are printed with
   the issue's ratios and targets.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import ingest  # first: puts the repository root on sys.path
import paging_latency
import psycopg
import redis
from celery import Celery
from ingest import Check, Config, CpuSnapshot, Plan, RunResult
from pg_cluster import PrivateCluster

from tests.sns_peer import SnsPeer

BENCH = Path(__file__).resolve().parent
ALERTA_VENV = BENCH / ".alerta-venv"
ALERTA_VERSION = "9.1.0"
TARGETS = ("klaxon", "ceiling", "alerta")
LABELS = {
    "klaxon": "Klaxon",
    "ceiling": "ceiling (Django view + 1 INSERT)",
    "alerta": f"Alerta {ALERTA_VERSION}",
}
# Issue 15's targets for Klaxon.
TARGET_VS_CEILING = 0.5
TARGET_VS_ALERTA = 4.0
TARGET_P99_MS = 30.0
TARGET_CPU_MS = 2.5
# gunicorn 27 opens a control socket at one fixed path per user; three servers at once
# must not share it. Every target gets the same flags.
GUNICORN_EXTRA = ("--no-control-socket",)


# --------------------------------------------------------------------------- options


@dataclass
class Options:
    rounds: int
    alarms: int
    concurrency: int
    workers: int
    celery_concurrency: int
    repeats: int
    ok_percent: int
    interleave: int
    warmup: int
    base_port: int
    pg: str
    redis: str
    redis_db: int
    suffix: str
    targets: list[str]
    keep_db: bool
    strict: bool
    wait_quiet: float

    @property
    def broker(self) -> str:
        return f"{self.redis.rstrip('/')}/{self.redis_db}"

    def port(self, offset: int) -> int:
        return self.base_port + offset if self.base_port else ingest.free_port()


def parse_args(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (5)")
    parser.add_argument("--alarms", type=int, default=300, help="distinct alarms a round (300)")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight (8)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers each (4)")
    parser.add_argument(
        "--celery-concurrency", type=int, default=2, help="Klaxon's Celery pool processes (2)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="repeat ALARMs per alarm (3)")
    parser.add_argument("--ok-percent", type=int, default=80, help="alarms that end OK (80)")
    parser.add_argument(
        "--interleave", type=int, default=4, help="alarms each client thread alternates (4)"
    )
    parser.add_argument("--warmup", type=int, default=200, help="warm-up requests each (200)")
    parser.add_argument(
        "--base-port",
        "--port",
        type=int,
        default=0,
        help="Klaxon on this port, the ceiling +1, Alerta +2, the private PostgreSQL +3 "
        "(default: free ports)",
    )
    parser.add_argument(
        "--pg",
        default="own",
        help="'own' (default): a private PostgreSQL cluster for the run; or a server URL "
        "such as postgresql://postgres@127.0.0.1:5432 (then PostgreSQL CPU leaves out "
        "backends that exit during a run)",
    )
    parser.add_argument("--redis", default="redis://127.0.0.1:6379", help="Redis server URL")
    parser.add_argument(
        "--redis-db", type=int, default=13, help="Redis database for Klaxon's broker (flushed!)"
    )
    parser.add_argument(
        "--suffix",
        default="cmp",
        help="database names are <target>_bench_<suffix> (cmp); they are dropped and recreated",
    )
    parser.add_argument(
        "--targets", default=",".join(TARGETS), help="comma-separated, in the order run"
    )
    parser.add_argument("--keep-db", action="store_true", help="keep the databases afterwards")
    parser.add_argument(
        "--strict", action="store_true", help="exit 2 when Klaxon misses one of the targets"
    )
    ingest.add_wait_quiet_argument(parser)
    args = parser.parse_args(argv)
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    unknown = sorted(set(targets) - set(TARGETS))
    if unknown or not targets or len(set(targets)) != len(targets):
        parser.error(f"--targets: a list of distinct names out of {', '.join(TARGETS)}")
    if min(args.rounds, args.alarms, args.concurrency, args.workers) < 1 or args.repeats < 0:
        parser.error("--rounds, --alarms, --concurrency and --workers must be >= 1")
    if not 0 <= args.ok_percent <= 100:
        parser.error("--ok-percent must be within 0..100")
    if not args.suffix.replace("_", "").isalnum():
        parser.error("--suffix: letters, digits and _ only")
    values = vars(args) | {"targets": targets}
    return Options(**values)


# --------------------------------------------------------------------------- targets


def _plain_env() -> dict[str, str]:
    """This environment without what would leak Klaxon's settings into another app."""
    drop = ("GUNICORN_CMD_ARGS", "DJANGO_SETTINGS_MODULE", "PYTHONPATH", "DATABASE_URL")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update({"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"})
    return env


class Target:
    """One system under test: its database, its processes, its check."""

    name = ""
    path = ""
    status = 200  # what a stored alarm is answered with

    def __init__(self, options: Options, pg: str, port: int, tmp: Path) -> None:
        self.options = options
        self.pg = pg
        self.port = port
        self.tmp = tmp
        self.db_name = f"{self.name}_bench_{options.suffix}"
        self.cfg = Config(
            alarms=options.alarms, concurrency=options.concurrency, workers=options.workers,
            worker_class="sync", threads=1, repeats=options.repeats,
            ok_percent=options.ok_percent, warmup=options.warmup,
            interleave=options.interleave, pg=pg, db_name=self.db_name,
            broker=options.broker, cache_url="", keep_db=options.keep_db,
            strict=options.strict, wait_quiet=options.wait_quiet,
        )  # fmt: skip
        self.web_pids: list[int] = []
        self.worker_pids: list[int] = []
        self.logs: list[Path] = []

    @property
    def label(self) -> str:
        return LABELS[self.name]

    def start(self, stack: contextlib.ExitStack, peer: SnsPeer) -> None:
        raise NotImplementedError

    @property
    def warmup_path(self) -> str:
        return self.path

    def round_path(self, round_no: int) -> str:
        return self.path

    def drain(self) -> float:
        """Waits for the work the run queued; returns the seconds waited."""
        return 0.0

    def check(self, round_no: int, plan: Plan, result: RunResult) -> Check:
        raise NotImplementedError

    def drop(self) -> None:
        ingest.drop_database(self.cfg)

    @property
    def database_url(self) -> str:
        return ingest._database_url(self.cfg, self.db_name)

    def _serve(
        self,
        stack: contextlib.ExitStack,
        env: dict[str, str],
        *,
        app: str,
        health: str,
        python: str = sys.executable,
        cwd: Path = ingest.ROOT,
    ) -> None:
        log = self.tmp / f"{self.name}-gunicorn.log"
        self.logs.append(log)
        proc = stack.enter_context(
            ingest.gunicorn(
                self.cfg, env, self.port, log, app=app, python=python, cwd=cwd,
                extra=GUNICORN_EXTRA,
            )
        )  # fmt: skip
        ingest.wait_healthy(proc, self.port, log, path=health)
        self.web_pids = [proc.pid, *ingest.wait_workers(proc.pid, self.options.workers)]

    def _expect_answers(self, check: Check, plan: Plan, result: RunResult) -> None:
        check.expect(f"answers {self.status}", result.statuses.get(self.status, 0), plan.total)
        check.expect("other answers", result.total - result.statuses.get(self.status, 0), 0)


class Klaxon(Target):
    name = "klaxon"

    def start(self, stack: contextlib.ExitStack, peer: SnsPeer) -> None:
        ingest.recreate_database(self.cfg)
        env = ingest.server_env(self.cfg, self.tmp / "klaxon-var", peer)
        ingest.manage(env, "migrate", "--no-input", "-v", "0")
        names = ["bench warm-up", *(f"bench round {r}" for r in range(1, self.options.rounds + 1))]
        self.integrations = ingest.create_named_integrations(env, names)
        self._serve(stack, env, app="config.wsgi:application", health="/healthz")
        log = self.tmp / "klaxon-worker.log"
        self.logs.append(log)
        worker = stack.enter_context(
            paging_latency.worker_process(
                env, log, concurrency=self.options.celery_concurrency, loglevel="WARNING"
            )
        )
        app = Celery("bench-compare", broker=self.options.broker)
        try:
            paging_latency.wait_worker_ready(app, worker, log)
        finally:
            app.close()
        pool = ingest.wait_workers(worker.pid, self.options.celery_concurrency)
        self.worker_pids = [worker.pid, *pool]
        self.broker = stack.enter_context(
            contextlib.closing(redis.Redis.from_url(self.options.broker, socket_timeout=5))
        )

    @property
    def warmup_path(self) -> str:
        return self.integrations[0][1]

    def round_path(self, round_no: int) -> str:
        return self.integrations[round_no][1]

    def drain(self) -> float:
        """Until nothing waits in Klaxon's queues and the worker holds nothing unacked (up
        to 30 s), so that the CPU of the tasks the run queued is counted with it."""
        began = time.monotonic()
        while time.monotonic() - began < 30:
            counts = [paging_latency.queue_depths(self.broker, q) for q in ("critical", "celery")]
            if not any(waiting or unacked for waiting, unacked in counts):
                break
            time.sleep(0.05)
        return time.monotonic() - began

    def check(self, round_no: int, plan: Plan, result: RunResult) -> Check:
        return ingest.check_database(self.cfg, self.integrations[round_no][0], plan, result)


class Ceiling(Target):
    name = "ceiling"
    path = "/sns"

    def start(self, stack: contextlib.ExitStack, peer: SnsPeer) -> None:
        ingest.recreate_database(self.cfg)
        url = self.database_url
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute((BENCH / "ceiling" / "schema.sql").read_text())
        env = _plain_env() | {
            "DJANGO_SETTINGS_MODULE": "ceiling.settings",
            "PYTHONPATH": str(BENCH),
            "CEILING_DATABASE_URL": url,
        }
        self._serve(stack, env, app="ceiling.wsgi:application", health="/healthz")

    def check(self, round_no: int, plan: Plan, result: RunResult) -> Check:
        check = Check()
        self._expect_answers(check, plan, result)
        prefix = _round_prefix(round_no) + "%"
        with psycopg.connect(self.database_url) as conn:
            states: dict[str, int] = dict(
                conn.execute(
                    "SELECT state, count(*) FROM ceiling_alarm WHERE alarm_name LIKE %s "
                    "GROUP BY state",
                    (prefix,),
                ).fetchall()
            )
            row = conn.execute(
                "SELECT count(DISTINCT alarm_name), count(DISTINCT message_id) "
                "FROM ceiling_alarm WHERE alarm_name LIKE %s",
                (prefix,),
            ).fetchone()
        assert row is not None
        alarms = len(plan.alarms)
        check.expect("rows", sum(states.values()), plan.total)
        check.expect("  distinct alarms", row[0], alarms)
        check.expect("  distinct MessageIds", row[1], plan.total)
        check.expect("  ALARM rows", states.get("ALARM", 0), alarms * (self.options.repeats + 1))
        check.expect("  OK rows (closed)", states.get("OK", 0), plan.resolved)
        return check


class Alerta(Target):
    name = "alerta"
    path = "/webhooks/cloudwatch"
    status = 201  # Alerta answers a stored alert with 201 Created, new or not

    def start(self, stack: contextlib.ExitStack, peer: SnsPeer) -> None:
        python = ensure_alerta_venv()
        ingest.recreate_database(self.cfg)
        env = _plain_env() | {
            "DATABASE_URL": self.database_url,
            # Alerta's defaults, said out loud: the webhook takes no API key, debug is
            # off; its default plugins (reject, blackout ...) stay on.
            "AUTH_REQUIRED": "False",
            "DEBUG": "False",
            "SECRET_KEY": "alerta-bench-not-a-secret-" + "x" * 32,
        }
        env.pop("ALERTA_SVR_CONF_FILE", None)
        # Each worker runs the schema script when it starts; four at once on an empty
        # database collide (duplicate key in pg_type). Create it once first.
        init = subprocess.run(
            [python, "-c", "from alerta import create_app; create_app()"],
            cwd=self.tmp,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if init.returncode != 0:
            raise SystemExit(f"Alerta could not create its schema:\n{init.stderr[-3000:]}")
        self._serve(
            stack, env, app="alerta:create_app()", health="/management/gtg", python=python,
            cwd=self.tmp,
        )  # fmt: skip

    def check(self, round_no: int, plan: Plan, result: RunResult) -> Check:
        check = Check()
        self._expect_answers(check, plan, result)
        prefix = _round_prefix(round_no) + "%"
        with psycopg.connect(self.database_url) as conn:
            rows = conn.execute(
                "SELECT status, severity, duplicate_count, count(*) FROM alerts "
                "WHERE event LIKE %s GROUP BY status, severity, duplicate_count",
                (prefix,),
            ).fetchall()
            distinct = conn.execute(
                "SELECT count(DISTINCT (environment, resource, event)) FROM alerts "
                "WHERE event LIKE %s",
                (prefix,),
            ).fetchone()
        assert distinct is not None
        alarms = len(plan.alarms)
        by_status: dict[str, int] = {}
        for status, _, _, count in rows:
            by_status[status] = by_status.get(status, 0) + count
        open_repeated = sum(
            n for status, sev, dup, n in rows if status == "open" and dup == self.options.repeats
        )
        closed_normal = sum(
            n for status, sev, _, n in rows if status == "closed" and sev == "normal"
        )
        check.expect("alerts", sum(by_status.values()), alarms)
        check.expect("  distinct (environment, resource, event)", distinct[0], alarms)
        check.expect("  closed (OK, severity normal)", closed_normal, plan.resolved)
        check.expect(
            f"  open with duplicate_count {self.options.repeats}",
            open_repeated,
            alarms - plan.resolved,
        )
        check.expect("  any other", alarms - closed_normal - open_repeated, 0)
        return check


def ensure_alerta_venv() -> str:
    """bench/.alerta-venv with alerta-server, psycopg2 and the same gunicorn as Klaxon's;
    made on first use (a minute; needs PyPI), reused while the requirements match."""
    requirements = [
        f"alerta-server=={ALERTA_VERSION}",
        # Alerta's postgres extra builds psycopg2 from source; the binary wheel is the same
        # driver without a compiler.
        "psycopg2-binary",
        f"gunicorn=={importlib.metadata.version('gunicorn')}",
    ]
    python = ALERTA_VENV / "bin" / "python"
    stamp = ALERTA_VENV / "requirements.txt"
    wanted = "\n".join(requirements) + "\n"
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return str(python)
    print(f"  making {ALERTA_VENV.relative_to(ingest.ROOT)} ({', '.join(requirements)}) ...")
    shutil.rmtree(ALERTA_VENV, ignore_errors=True)
    steps = [
        [sys.executable, "-m", "venv", str(ALERTA_VENV)],
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            *requirements,
        ],
    ]
    for command in steps:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(
                f"{' '.join(command[:4])} failed:\n{(done.stdout + done.stderr)[-3000:]}"
            )
    stamp.write_text(wanted)
    return str(python)


TARGET_CLASSES: dict[str, type[Target]] = {"klaxon": Klaxon, "ceiling": Ceiling, "alerta": Alerta}


# --------------------------------------------------------------------------- measuring


class PostgresMeter:
    """CPU used by PostgreSQL for one target's run. With the private cluster: the whole
    cluster's CPU (exact, including backends that exit). With a shared server: the
    backends of the target's database alive at the end of the run (as bench/ingest.py);
    a backend that exited during the run is not counted."""

    def __init__(self, cluster: PrivateCluster | None, pg: str) -> None:
        self.cluster = cluster
        self.pg = pg

    def snapshot(self, db_name: str) -> dict[int, float]:
        if self.cluster is not None:
            return {0: self.cluster.cpu()}
        with psycopg.connect(f"{self.pg.rstrip('/')}/postgres") as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s", (db_name,)
            ).fetchall()
        return {int(pid): ingest._proc_cpu([int(pid)]) for (pid,) in rows}

    @staticmethod
    def used(before: dict[int, float], after: dict[int, float]) -> float:
        return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


@dataclass
class Run:
    """One target's timed run in one round."""

    target: str
    round_no: int
    result: RunResult
    web: float  # CPU seconds
    worker: float
    postgres: float
    redis: float
    busy: float  # machine, core-seconds
    idle: float
    drained: float
    check: Check = field(default_factory=Check)

    @property
    def n(self) -> int:
        return max(1, self.result.total)

    @property
    def rps(self) -> float:
        return self.result.total / self.result.duration

    def latency_ms(self, q: float) -> float:
        return ingest.percentile(self.result.all_latencies, q) * 1000

    def per_request_ms(self, seconds: float) -> float:
        return 1000 * seconds / self.n

    @property
    def cpu_ms(self) -> float:
        """Web + worker + PostgreSQL, per request: what issue 15's target counts."""
        return self.per_request_ms(self.web + self.worker + self.postgres)

    @property
    def others_pct(self) -> float:
        ours = self.result.client_cpu + self.web + self.worker + self.postgres + self.redis
        return 100 * max(0.0, self.busy - ours) / max(1e-9, self.busy + self.idle)


def _group_cpu(before: CpuSnapshot, after: CpuSnapshot, pids: Sequence[int]) -> float:
    total = 0.0
    for pid in pids:
        if pid in after.processes:
            total += after.processes[pid][1] - before.processes.get(pid, ("", 0.0))[1]
    return total


def _redis_pids(snapshot: CpuSnapshot) -> list[int]:
    return [pid for pid, (name, _) in snapshot.processes.items() if "redis-server" in name]


def timed_run(
    target: Target, round_no: int, plan: Plan, meter: PostgresMeter, options: Options
) -> Run:
    pg_before = meter.snapshot(target.db_name)
    before = CpuSnapshot.take([], [])
    result = ingest.run_traffic(
        plan,
        host="127.0.0.1",
        port=target.port,
        path=target.round_path(round_no),
        concurrency=options.concurrency,
        interleave=options.interleave,
    )
    drained = target.drain()
    after = CpuSnapshot.take([], [])
    pg_after = meter.snapshot(target.db_name)
    redis_pids = _redis_pids(after)
    return Run(
        target=target.name,
        round_no=round_no,
        result=result,
        web=_group_cpu(before, after, target.web_pids),
        worker=_group_cpu(before, after, target.worker_pids),
        postgres=PostgresMeter.used(pg_before, pg_after),
        redis=_group_cpu(before, after, redis_pids),
        busy=after.busy - before.busy,
        idle=after.idle - before.idle,
        drained=drained,
    )


# --------------------------------------------------------------------------- report


def _round_prefix(round_no: int) -> str:
    return f"r{round_no}-"


def print_run(run: Run) -> None:
    r = run
    print(
        f"  round {r.round_no} {r.target:<8} {r.rps:7.1f} req/s  p50 {r.latency_ms(50):6.1f}  "
        f"p99 {r.latency_ms(99):6.1f} ms  CPU/req {r.cpu_ms:5.2f} ms (web "
        f"{r.per_request_ms(r.web):.2f} + worker {r.per_request_ms(r.worker):.2f} + pg "
        f"{r.per_request_ms(r.postgres):.2f}; client {r.per_request_ms(r.result.client_cpu):.2f}"
        f", redis {r.per_request_ms(r.redis):.2f})  others {r.others_pct:3.0f}%  "
        f"check {'PASS' if r.check.passed else 'FAIL'}",
        flush=True,
    )
    if r.drained >= 0.5:
        print(f"    (waited {r.drained:.1f} s for the worker's queue to drain)")
    for error in r.result.errors:
        print(f"    client error: {error}")


@dataclass
class Summary:
    target: str
    rounds: int
    rps: float
    p50: float
    p99: float
    cpu: float
    web: float
    worker: float
    postgres: float
    client: float
    redis: float
    others_pct: float

    @classmethod
    def of(cls, runs: Sequence[Run]) -> Summary:
        med = statistics.median
        return cls(
            target=runs[0].target,
            rounds=len(runs),
            rps=med(r.rps for r in runs),
            p50=med(r.latency_ms(50) for r in runs),
            p99=med(r.latency_ms(99) for r in runs),
            cpu=med(r.cpu_ms for r in runs),
            web=med(r.per_request_ms(r.web) for r in runs),
            worker=med(r.per_request_ms(r.worker) for r in runs),
            postgres=med(r.per_request_ms(r.postgres) for r in runs),
            client=med(r.per_request_ms(r.result.client_cpu) for r in runs),
            redis=med(r.per_request_ms(r.redis) for r in runs),
            others_pct=med(r.others_pct for r in runs),
        )

    def as_json(self) -> dict[str, object]:
        return {k: (round(v, 2) if isinstance(v, float) else v) for k, v in vars(self).items()}


def _round_ratios(runs: Sequence[Run], first: str, second: str) -> list[float]:
    """``first``'s req/s over ``second``'s in each round: the two ran next to each other,
    so a neighbour's load weighs on both alike."""
    rps = {(r.target, r.round_no): r.rps for r in runs}
    rounds = sorted({r.round_no for r in runs})
    return [rps[first, n] / rps[second, n] for n in rounds]


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report(
    runs: list[Run], options: Options, machine: dict[str, object]
) -> tuple[dict[str, Summary], dict[str, bool]]:
    summaries = {
        name: Summary.of([r for r in runs if r.target == name])
        for name in options.targets
        if any(r.target == name for r in runs)
    }
    print(
        f"\nmedians over {options.rounds} interleaved rounds ({options.alarms} alarms, "
        f"{runs[0].result.total} POSTs a run, {options.concurrency} in flight, "
        f"{options.workers} gunicorn workers each)\n"
    )
    print("| target | req/s | p50 / p99 ms | CPU ms per request | others busy |")
    print("|---|---|---|---|---|")
    for s in summaries.values():
        split = f"web {s.web:.2f} + worker {s.worker:.2f} + PostgreSQL {s.postgres:.2f}"
        print(
            f"| {LABELS[s.target]} | {s.rps:,.0f} | {s.p50:.1f} / {s.p99:.1f} | "
            f"{s.cpu:.2f} ({split}) | {s.others_pct:.0f} % |"
        )
    print(
        "\n(CPU per request counts the web server, the worker and PostgreSQL; besides it, "
        "per request: "
        + ", ".join(
            f"{s.target} client {s.client:.2f} ms, Redis {s.redis:.2f} ms"
            for s in summaries.values()
        )
        + ". Redis is shared with other users of this machine.)"
    )

    goals: dict[str, bool] = {}
    print("\ntargets (issue 15's are Klaxon's; the others' CPU and p99 are shown for scale)")
    klaxon = summaries.get("klaxon")
    if klaxon is not None:
        for other, want in (("ceiling", TARGET_VS_CEILING), ("alerta", TARGET_VS_ALERTA)):
            if other in summaries:
                ratio = klaxon.rps / summaries[other].rps
                goals[f"klaxon_vs_{other}"] = ratio >= want
                paired = _round_ratios(runs, "klaxon", other)
                print(
                    f"  Klaxon / {other:<8} {ratio:5.2f}x req/s (target >= {want:g}x): "
                    f"{_verdict(ratio >= want)}  (ratio of the medians; round by round "
                    f"{', '.join(f'{r:.2f}' for r in paired)}: median "
                    f"{statistics.median(paired):.2f}x)"
                )
    for s in summaries.values():
        cpu_ok, p99_ok = s.cpu <= TARGET_CPU_MS, s.p99 <= TARGET_P99_MS
        if s.target == "klaxon":
            goals["klaxon_cpu"], goals["klaxon_p99"] = cpu_ok, p99_ok
        print(
            f"  {LABELS[s.target]:<33} CPU per request {s.cpu:5.2f} ms (<= {TARGET_CPU_MS:g}): "
            f"{_verdict(cpu_ok)};  p99 {s.p99:5.1f} ms (<= {TARGET_P99_MS:g}): "
            f"{_verdict(p99_ok)}"
        )
    print(
        f"  machine: load average {machine['load_before']} before, {machine['load_after']} "
        f"after; speed index {machine['speed_before']} / {machine['speed_after']} ms "
        f"(lower is faster); other processes {machine['quiet_pct']} % busy just before"
    )
    return summaries, goals


# --------------------------------------------------------------------------- main


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    # Ctrl-C and SIGTERM must reach the finally blocks that stop the servers (SIGINT may
    # arrive ignored when started in the background by a shell).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _terminate)
    print(
        f"Ingest comparison: {', '.join(LABELS[t] for t in options.targets)}; "
        f"{options.rounds} rounds x {options.alarms} alarms; Klaxon's broker {options.broker}"
    )
    # The processes (on the stack) stop before their logs and var/ directory go.
    with tempfile.TemporaryDirectory(prefix="bench-cmp-") as tmp, contextlib.ExitStack() as stack:
        return _run(options, stack, Path(tmp))


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def _postgres(options: Options) -> Iterator[tuple[str, PrivateCluster | None]]:
    if options.pg != "own":
        print(
            f"  PostgreSQL at {options.pg}: only backends alive at the end of a run are "
            "counted (a connection per request, as Alerta makes, is not)"
        )
        yield options.pg, None
        return
    cluster = PrivateCluster(options.port(3))
    try:
        cluster.start()
        print(f"  private PostgreSQL on 127.0.0.1:{cluster.port} ({cluster.root})")
        yield cluster.url, cluster
    finally:
        cluster.stop(keep=options.keep_db)
        if options.keep_db:
            print(
                f"  kept the PostgreSQL cluster {cluster.data} (stopped); to look at it:\n"
                f"    {cluster.start_command()}\n    psql {cluster.url}/<database>"
            )


@contextlib.contextmanager
def _flushed(url: str) -> Iterator[None]:
    client = redis.Redis.from_url(url, socket_timeout=5)
    client.flushdb()
    try:
        yield
    finally:
        with contextlib.suppress(redis.RedisError):
            client.flushdb()
        client.close()


def _run(options: Options, stack: contextlib.ExitStack, tmp: Path) -> int:
    pg, cluster = stack.enter_context(_postgres(options))
    if "klaxon" in options.targets:
        stack.enter_context(_flushed(options.broker))
    peer = SnsPeer().start()
    stack.callback(peer.stop)

    targets: list[Target] = []
    for offset, name in enumerate(TARGETS):
        if name in options.targets:
            targets.append(TARGET_CLASSES[name](options, pg, options.port(offset), tmp))
    targets.sort(key=lambda t: options.targets.index(t.name))
    for target in targets:
        began = time.perf_counter()
        if not options.keep_db:
            stack.callback(target.drop)
        target.start(stack, peer)
        print(
            f"  {target.label} on 127.0.0.1:{target.port} (database {target.db_name}; "
            f"{len(target.web_pids) - 1} gunicorn workers"
            + (
                f", Celery worker with {len(target.worker_pids) - 1} processes"
                if target.worker_pids
                else ""
            )
            + f") ready in {time.perf_counter() - began:.1f} s"
        )

    began = time.perf_counter()
    start = datetime.now(UTC) - timedelta(days=1)

    def plan(alarms: int, prefix: str, ok_percent: int) -> Plan:
        return ingest.build_plan(
            alarms=alarms, repeats=options.repeats, ok_percent=ok_percent, prefix=prefix,
            cert_url=peer.cert_url, start=start,
        )  # fmt: skip

    warm = plan(max(1, math.ceil(options.warmup / (options.repeats + 2))), "warmup-", 100)
    plans = {
        r: plan(options.alarms, _round_prefix(r), options.ok_percent)
        for r in range(1, options.rounds + 1)
    }
    total = plans[1].total
    print(
        f"  signed {warm.total + total * options.rounds} bodies in "
        f"{time.perf_counter() - began:.1f} s; a run: {options.alarms} alarms x (ALARM + "
        f"{options.repeats} repeats) + OK for {plans[1].resolved} = {total} POSTs, "
        f"{options.concurrency} in flight"
    )
    for target in targets:
        result = ingest.run_traffic(
            warm, host="127.0.0.1", port=target.port, path=target.warmup_path,
            concurrency=options.concurrency, interleave=options.interleave,
        )  # fmt: skip
        target.drain()
        ok = result.statuses.get(target.status, 0)
        print(f"  warm-up {target.name}: {ok} of {result.total} answered {target.status}")
        if ok != result.total:
            _show_logs(targets)
            raise SystemExit(f"the warm-up of {target.name} failed: {dict(result.statuses)}")

    quiet = ingest.wait_quiet(options.wait_quiet)
    machine: dict[str, object] = {
        "cores": os.cpu_count(),
        "load_before": _load(),
        "quiet_pct": round(100 * quiet),
        "speed_before": round(ingest.speed_index(), 1),
    }
    print(
        f"  machine: load average {machine['load_before']}; other processes "
        f"{machine['quiet_pct']} % busy just before; speed index {machine['speed_before']} ms"
    )
    meter = PostgresMeter(cluster, pg)
    print("\nruns (CPU per request = web + worker + PostgreSQL; others = other processes' share)")
    runs: list[Run] = []
    for round_no, round_plan in plans.items():
        for target in targets:
            run = timed_run(target, round_no, round_plan, meter, options)
            run.check = target.check(round_no, round_plan, run.result)
            runs.append(run)
            print_run(run)
    machine["speed_after"] = round(ingest.speed_index(), 1)
    machine["load_after"] = _load()

    failed = [r for r in runs if not r.check.passed]
    for run in failed[:3]:
        print(f"\ncheck of {run.target}, round {run.round_no}: FAIL")
        for what, got, want in run.check.lines:
            mark = "ok" if got == want else "MISMATCH"
            print(f"  {what:<44} {got!s:>8}  expected {want!s:<8} {mark}")
    if failed:
        _show_logs(targets)
    summaries, goals = report(runs, options, machine)
    print(f"\ncheck: {len(runs) - len(failed)} of {len(runs)} runs stored what was sent: ", end="")
    print(_verdict(not failed))
    summary = {
        "alarms": options.alarms,
        "rounds": options.rounds,
        "requests_per_run": total,
        "concurrency": options.concurrency,
        "workers": options.workers,
        "postgres": "private cluster" if cluster is not None else "shared server",
        "medians": {name: s.as_json() for name, s in summaries.items()},
        "klaxon_per_round_ratios": {
            other: [round(x, 3) for x in _round_ratios(runs, "klaxon", other)]
            for other in ("ceiling", "alerta")
            if {"klaxon", other} <= set(options.targets)
        },
        "goals": {k: _verdict(v) for k, v in goals.items()},
        "check": _verdict(not failed),
        "machine": machine,
    }
    print("BENCH_RESULT " + json.dumps(summary))
    if failed:
        return 1
    if options.strict and not all(goals.values()):
        return 2
    return 0


def _show_logs(targets: Sequence[Target]) -> None:
    for target in targets:
        for log in target.logs:
            text = log.read_text(errors="replace") if log.exists() else ""
            if any(word in text for word in ("Traceback", "ERROR", "CRITICAL")):
                print(f"\n{log.name} (tail):\n{text[-3000:]}")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit("interrupted: the servers were stopped")
