"""Where one inbound request's time goes: phases, SQL round trips, and a cProfile.

Run from the repository root::

    .venv/bin/python bench/profile_inbound.py [--alarms 200] [--top 25]

It builds the same signed CloudWatch traffic as bench/ingest.py, but sends it one request
at a time through Django's WSGI handler inside this process (the production code path
minus gunicorn's HTTP parsing), against a fresh PostgreSQL database
(``klaxon_bench_profile``, dropped afterwards unless ``--keep-db``). It prints:

* per request kind (ALARM that opens, repeated ALARM, OK): SQL round trips, including
  the connection health check and the transaction's BEGIN/COMMIT that Django's query
  log does not show, and the statements themselves;
* CPU time (this process only, ``time.thread_time``) and wall time per phase: the whole
  request, token lookup, envelope parse, signature verification, the transaction;
* time spent waiting for PostgreSQL (wall time of each statement), and a baseline for
  the framework itself (``/healthz`` through the same handler);
* the top functions of a cProfile of the whole run.
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import functools
import io
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import ingest  # first: puts the repository root on sys.path

from tests.sns_peer import SnsPeer


@dataclass
class Phase:
    calls: int = 0
    cpu: float = 0.0
    wall: float = 0.0


@dataclass
class Counters:
    phases: dict[str, Phase] = field(default_factory=lambda: collections.defaultdict(Phase))
    queries: int = 0
    query_wall: float = 0.0
    health_checks: int = 0
    commits: int = 0
    statements: list[str] = field(default_factory=list)
    recording: bool = False
    in_transaction: bool = False

    def reset(self) -> None:
        self.phases = collections.defaultdict(Phase)
        self.queries = self.health_checks = self.commits = 0
        self.query_wall = 0.0
        self.statements = []


COUNTERS = Counters()


_STACK: list[str] = []


@contextmanager
def timed(name: str) -> Iterator[None]:
    """Account CPU and wall time to ``name`` nested under the phases running now."""
    _STACK.append(name)
    key = " > ".join(_STACK)
    phase = COUNTERS.phases[key]  # created on entry, so parents print before children
    cpu, wall = time.thread_time(), time.perf_counter()
    try:
        yield
    finally:
        phase.calls += 1
        phase.cpu += time.thread_time() - cpu
        phase.wall += time.perf_counter() - wall
        _STACK.pop()


def _wrap(owner: Any, attribute: str, name: str) -> None:
    original = getattr(owner, attribute)

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with timed(name):
            return original(*args, **kwargs)

    setattr(owner, attribute, wrapper)


def _wrap_saves() -> None:
    """Time Model.save per model, split into INSERT and UPDATE."""
    from django.db import models

    original = models.Model.save

    @functools.wraps(original)
    def save(self: models.Model, *args: Any, **kwargs: Any) -> None:
        what = "INSERT" if self._state.adding else "UPDATE"
        with timed(f"{type(self).__name__}.save() {what}"):
            original(self, *args, **kwargs)

    setattr(models.Model, "save", save)  # noqa: B010


def instrument() -> None:
    """Time the phases of the inbound path and count every round trip to PostgreSQL."""
    from django.db import connection
    from django.db.backends.postgresql.base import DatabaseWrapper
    from django.db.models import QuerySet

    from incidents import services as incident_services
    from integrations import inbound
    from integrations.sources import cloudwatch, sns

    _wrap(inbound, "integration_for_token", "token lookup")
    _wrap(sns, "parse_envelope", "parse envelope")
    _wrap(sns, "verify", "verify signature")
    _wrap(inbound, "_apply", "transaction (_apply)")
    _wrap(cloudwatch, "parse_alarm", "parse CloudWatch alarm")
    _wrap(incident_services, "incident_apply_alarm", "incident_apply_alarm")
    _wrap_saves()
    _wrap(QuerySet, "first", "QuerySet.first()")
    _wrap(DatabaseWrapper, "commit", "COMMIT")

    def execute(
        execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        if COUNTERS.recording and connection.in_atomic_block and not COUNTERS.in_transaction:
            # psycopg sends BEGIN just before the first statement of a transaction.
            COUNTERS.statements.append("BEGIN  -- sent by psycopg on its own")
        COUNTERS.in_transaction = connection.in_atomic_block
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            COUNTERS.queries += 1
            COUNTERS.query_wall += time.perf_counter() - began
            if COUNTERS.recording:
                COUNTERS.statements.append(" ".join(sql.split())[:150])

    connection.execute_wrappers.append(execute)

    original_is_usable = DatabaseWrapper.is_usable

    def is_usable(self: DatabaseWrapper) -> bool:
        began = time.perf_counter()
        try:
            return bool(original_is_usable(self))
        finally:
            COUNTERS.health_checks += 1
            COUNTERS.query_wall += time.perf_counter() - began
            if COUNTERS.recording:
                COUNTERS.statements.append("SELECT 1  -- CONN_HEALTH_CHECKS")

    setattr(DatabaseWrapper, "is_usable", is_usable)  # noqa: B010

    original_commit = getattr(DatabaseWrapper, "_commit")  # noqa: B009

    def commit(self: DatabaseWrapper) -> None:
        began = time.perf_counter()
        try:
            original_commit(self)
        finally:
            COUNTERS.commits += 1
            COUNTERS.in_transaction = False
            COUNTERS.query_wall += time.perf_counter() - began
            if COUNTERS.recording:
                COUNTERS.statements.append("COMMIT")

    setattr(DatabaseWrapper, "_commit", commit)  # noqa: B010


def call(handler: Callable[..., Any], path: str, request: ingest.Request | None) -> int:
    """One request through the WSGI handler, as gunicorn would call it."""
    body = request.body if request is not None else b""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST" if request is not None else "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    if request is not None:
        for key, value in request.headers.items():
            name = key.upper().replace("-", "_")
            if name == "CONTENT_TYPE":
                environ[name] = value
            else:
                environ["HTTP_" + name] = value
    status: list[str] = []

    def start_response(line: str, headers: list[tuple[str, str]], exc: Any = None) -> None:
        status.append(line)

    response = handler(environ, start_response)
    try:
        for _chunk in response:
            pass
    finally:
        close = getattr(response, "close", None)
        if close is not None:
            close()  # sends request_finished, like gunicorn does
    return int(status[0].split()[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--alarms", type=int, default=200)
    parser.add_argument("--top", type=int, default=25, help="functions shown from cProfile")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--db-name", default="klaxon_bench_profile")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/3")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--settings", default="config.settings", help="DJANGO_SETTINGS_MODULE")
    parser.add_argument("--no-cprofile", action="store_true", help="phases and SQL only")
    parser.add_argument(
        "--callers", action="append", default=[], help="print cProfile callers of this regex"
    )
    args = parser.parse_args()
    if "bench" not in args.db_name:
        parser.error("--db-name must contain 'bench': the database is dropped and recreated")
    cfg = ingest.Config(
        alarms=args.alarms,
        concurrency=1,
        workers=1,
        worker_class="sync",
        threads=1,
        repeats=3,
        ok_percent=90,
        warmup=0,
        interleave=1,
        pg=args.pg,
        db_name=args.db_name,
        broker=args.broker,
        cache_url="",
        keep_db=args.keep_db,
        strict=False,
        settings=args.settings,
    )
    peer = SnsPeer().start()
    ingest.recreate_database(cfg)
    try:
        with tempfile.TemporaryDirectory(prefix="klaxon-profile-") as tmp:
            env = ingest.server_env(cfg, Path(tmp) / "var", peer)
            ingest.manage(env, "migrate", "--no-input", "-v", "0")
            (_, warm_path), (_, path) = ingest.create_integrations(env)
            os.environ.update(env)
            return _profile(
                cfg, peer, warm_path, path, 0 if args.no_cprofile else args.top, args.callers
            )
    finally:
        from django.db import connections

        connections.close_all()
        if not cfg.keep_db:
            ingest.drop_database(cfg)
        peer.stop()


def _profile(
    cfg: ingest.Config, peer: SnsPeer, warm_path: str, path: str, top: int, callers: list[str]
) -> int:
    import django

    django.setup()
    from django.core.handlers.wsgi import WSGIHandler

    handler = WSGIHandler()
    instrument()
    start = datetime.now(UTC) - timedelta(days=1)
    plan_args: dict[str, Any] = {"repeats": 3, "cert_url": peer.cert_url, "start": start}
    warm = ingest.build_plan(alarms=20, ok_percent=100, prefix="warmup-", **plan_args)
    plan = ingest.build_plan(alarms=cfg.alarms, ok_percent=90, prefix="", **plan_args)
    # The first alarm that ends with OK shows every kind of request; it is left out below.
    shown = next(a for a in plan.alarms if a[-1].kind == ingest.RESOLVE)
    sequence = [r for alarm in plan.alarms if alarm is not shown for r in alarm]

    for request in (r for alarm in warm.alarms for r in alarm):
        assert call(handler, warm_path, request) == 200
    for _ in range(200):
        call(handler, "/healthz", None)

    # 1. Round trips and statements, per kind, on one alarm.
    print("SQL round trips per request (one alarm: ALARM, repeats, OK)")
    for request in shown:
        COUNTERS.reset()
        COUNTERS.recording = True
        assert call(handler, path, request) == 200
        COUNTERS.recording = False
        trips = COUNTERS.queries + COUNTERS.health_checks + 2 * COUNTERS.commits
        print(
            f"  {request.kind:<15} {trips} round trips: {COUNTERS.health_checks} health check, "
            f"{COUNTERS.queries} statements, {COUNTERS.commits} BEGIN + COMMIT"
        )
        if request.kind != ingest.APPEND or request is shown[1]:
            for statement in COUNTERS.statements:
                print(f"    {statement}")

    # 2. Phases, sequentially (1 in flight).
    COUNTERS.reset()
    baseline_cpu, baseline_wall = time.thread_time(), time.perf_counter()
    for _ in range(500):
        call(handler, "/healthz", None)
    health_cpu = (time.thread_time() - baseline_cpu) / 500
    health_wall = (time.perf_counter() - baseline_wall) / 500
    COUNTERS.reset()
    rest = sequence
    for request in rest:
        with timed("whole request (WSGI handler)"):
            assert call(handler, path, request) == 200
    n = len(rest)
    print(f"\nper request, {n} requests one at a time (CPU = this process only)")
    print(f"  {'phase (nested phases are part of their parent)':<50} {'CPU ms':>8} {'wall ms':>8}")
    seen = {key: index for index, key in enumerate(COUNTERS.phases)}

    def tree_order(key: str) -> tuple[int, ...]:
        parts = key.split(" > ")
        return tuple(seen[" > ".join(parts[: i + 1])] for i in range(len(parts)))

    for key in sorted(COUNTERS.phases, key=tree_order):
        phase = COUNTERS.phases[key]
        parts = key.split(" > ")
        label = "  " * (len(parts) - 1) + parts[-1]
        if phase.calls != n:
            label += f" (x{phase.calls / n:.2f})"
        print(f"  {label:<50} {1000 * phase.cpu / n:8.3f} {1000 * phase.wall / n:8.3f}")
    print(
        f"  {'SQL wall (all round trips)':<50} {'':>8} {1000 * COUNTERS.query_wall / n:8.3f}"
        f"   ({(COUNTERS.queries + COUNTERS.health_checks + 2 * COUNTERS.commits) / n:.1f}"
        " round trips)"
    )
    print(
        f"  {'GET /healthz (framework only)':<50} {1000 * health_cpu:8.3f} "
        f"{1000 * health_wall:8.3f}"
    )

    if top <= 0:
        return 0
    # 3. cProfile on a fresh set of alarms.
    more = ingest.build_plan(
        alarms=cfg.alarms, ok_percent=90, prefix="profiled-", **{**plan_args, "start": start}
    )
    profiler = cProfile.Profile(time.thread_time)
    requests = [r for alarm in more.alarms for r in alarm]
    profiler.enable()
    for request in requests:
        call(handler, path, request)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    for pattern in callers:
        stats.print_callers(pattern)
    print(f"\ncProfile (CPU clock) over {len(requests)} requests")
    print(out.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
