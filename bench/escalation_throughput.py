"""Escalation benchmark: how fast do N overdue escalation steps get run?

Creates a fresh PostgreSQL database (``klaxon_bench_escalation``), a two-step policy
(step 1: a user; step 2: a schedule) and N triggered incidents whose first step is due
but was never queued, as after a broker outage. Starts Celery workers (prefork, 2
processes by default) on a private Redis database, sends ``rekick_due_escalations``
through the broker once (what beat does every 15 s), and polls the database until every
incident has had step 1 recorded. Prints the time and throughput, checks that each
incident was escalated and paged exactly once, then stops the workers and drops the
database (unless ``--keep-db``).

    .venv/bin/python bench/escalation_throughput.py [--incidents 10000] [--processes 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import psycopg
import redis
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 30.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--processes", type=int, default=2, help="worker processes (prefork)")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--db-name", default="klaxon_bench_escalation")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/8")
    parser.add_argument("--timeout", type=float, default=180.0)
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--strict", action="store_true", help=f"fail when over {TARGET_SECONDS} s")
    args = parser.parse_args()
    if "bench" not in args.db_name:
        parser.error("--db-name must contain 'bench' (the database is dropped)")
    return args


def recreate_database(pg: str, name: str, *, drop_only: bool = False) -> None:
    with psycopg.connect(f"{pg}/postgres", autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        if not drop_only:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def create_data(count: int) -> None:
    """A policy (step 1: alice; step 2: the Primary schedule) and ``count`` incidents
    whose first step is overdue, inserted in bulk."""
    import datetime as dt

    from django.utils import timezone

    from accounts.contacts import responder_create
    from escalation.engine import new_escalation_token
    from escalation.models import EscalationPolicy, EscalationStep
    from incidents.models import Incident
    from integrations.models import Integration
    from schedules.models import Layer, LayerMember, Schedule

    # Verified contact methods and the default rules: each step queues real sends.
    alice = responder_create(username="alice", email="", phone="+15005550001")
    bob = responder_create(username="bob", email="bob@example.com")
    schedule = Schedule.objects.create(name="Primary")
    layer = Layer.objects.create(
        schedule=schedule,
        name="Weekly",
        start=dt.date(2026, 1, 5),
        turn=Layer.Turn.WEEKLY,
        handoff_time=dt.time(9),
    )
    LayerMember.objects.create(layer=layer, user=bob, position=0)
    policy = EscalationPolicy.objects.create(name="Bench", repeat=1)
    EscalationStep.objects.create(policy=policy, position=0, delay_minutes=5).users.set([alice])
    EscalationStep.objects.create(policy=policy, position=1, delay_minutes=10).schedules.set(
        [schedule]
    )
    integration = Integration.objects.create(name="Bench", escalation_policy=policy)
    now = timezone.now()
    due = now - timedelta(seconds=1)
    Incident.objects.bulk_create(
        (
            Incident(
                integration=integration,
                dedup_key=f"arn:aws:cloudwatch:eu-west-1:111122223333:alarm:bench-{i}",
                title=f"Bench alarm {i}",
                created_at=now,
                last_seen_at=now,
                next_escalation_at=due,
                escalation_token=new_escalation_token(),
            )
            for i in range(count)
        ),
        batch_size=2000,
    )


def start_workers(env: dict[str, str], processes: int) -> subprocess.Popen[bytes]:
    # BENCH_WORKER_LOGLEVEL=INFO shows each task's run time on stderr.
    loglevel = os.environ.get("BENCH_WORKER_LOGLEVEL", "")
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "prefork",
         "--concurrency", str(processes), "--loglevel", loglevel or "WARNING",
         "--without-heartbeat", "--without-gossip", "--without-mingle",
         "-Q", "critical,celery"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=None if loglevel else subprocess.DEVNULL,
    )  # fmt: skip


def wait_ready(proc: subprocess.Popen[bytes]) -> None:
    from config.celery import app

    result = app.send_task("klaxon.ping", args=["ready"])
    deadline = time.monotonic() + 60
    while not result.ready():
        if proc.poll() is not None:
            raise RuntimeError(f"workers exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError("workers did not answer within 60 s")
        time.sleep(0.1)


def escalated_count() -> int:
    from incidents.models import Incident

    return Incident.objects.filter(escalation_step__gte=1).count()


def check(count: int) -> list[str]:
    """Each incident escalated once, paged once (one "Paging alice" line, her two rules as
    two Notification rows), and its next step in the future."""
    from django.db.models import Count, Q
    from django.utils import timezone

    from incidents.models import Incident, IncidentEvent
    from notifications.models import Notification

    problems = []
    per_kind = dict(
        IncidentEvent.objects.values_list("kind").annotate(n=Count("id")).values_list("kind", "n")
    )
    if per_kind.get("escalated") != count:
        problems.append(f"escalated events {per_kind.get('escalated')} != {count}")
    pages = IncidentEvent.objects.filter(kind="notified", message__startswith="Paging ").count()
    if pages != count:
        problems.append(f"paging lines {pages} != {count}")
    rows = Notification.objects.filter(purpose="triggered").count()
    if rows != 2 * count:
        problems.append(f"notification rows {rows} != {2 * count} (SMS now, voice later)")
    wrong = Incident.objects.filter(
        ~Q(escalation_step=1) | Q(next_escalation_at__lte=timezone.now())
    ).count()
    if wrong:
        problems.append(f"{wrong} incidents not at step 2 with a future due time")
    return problems


def main() -> int:
    args = parse_args()
    var_dir = tempfile.mkdtemp(prefix="klaxon-bench-escalation-")
    env = {
        **os.environ,
        "DATABASE_URL": f"{args.pg.replace('postgresql://', 'postgres://')}/{args.db_name}",
        "CELERY_BROKER_URL": args.broker,
        "CELERY_RESULT_BACKEND": args.broker,
        "KLAXON_VAR_DIR": var_dir,
        "LOG_LEVEL": "WARNING",
        "DEBUG": "false",
    }
    print(f"database {args.db_name}: recreate and migrate ...", flush=True)
    recreate_database(args.pg, args.db_name)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    setup_django(env)
    from django.db import connection

    from config.celery import app

    broker = redis.Redis.from_url(args.broker)
    broker.flushdb()
    workers: subprocess.Popen[bytes] | None = None
    ok = False
    try:
        started = time.monotonic()
        create_data(args.incidents)
        print(f"created {args.incidents} overdue incidents in {time.monotonic() - started:.1f} s")
        workers = start_workers(env, args.processes)
        wait_ready(workers)
        print(f"{args.processes} worker processes (prefork) ready on {args.broker}", flush=True)

        t0 = time.monotonic()
        rekick = app.send_task("incidents.tasks.rekick_due_escalations")
        done = 0
        last_report = t0
        while done < args.incidents and time.monotonic() - t0 < args.timeout:
            time.sleep(0.25)
            done = escalated_count()
            if time.monotonic() - last_report >= 5:
                last_report = time.monotonic()
                print(f"  {last_report - t0:5.1f} s: {done} escalated", flush=True)
        elapsed = time.monotonic() - t0
        queued = rekick.get(timeout=30)
        rate = done / elapsed if elapsed else 0.0
        print(f"re-kick queued:      {queued}")
        print(f"incidents escalated: {done} of {args.incidents}")
        print(f"seconds:             {elapsed:.2f} (target {TARGET_SECONDS:.0f})")
        print(f"throughput:          {rate:.0f} incidents/s")
        problems = check(args.incidents) if done == args.incidents else ["timed out"]
        ok = not problems
        print("check:", "PASS" if ok else "FAIL: " + "; ".join(problems))
        result = {
            "incidents": args.incidents,
            "escalated": done,
            "seconds": round(elapsed, 2),
            "per_second": round(rate, 1),
            "processes": args.processes,
            "within_target": elapsed <= TARGET_SECONDS,
            "check": "PASS" if ok else "FAIL",
        }
        print("BENCH_RESULT " + json.dumps(result))
        if args.strict and elapsed > TARGET_SECONDS:
            ok = False
    finally:
        if workers is not None:
            workers.terminate()
            try:
                workers.wait(timeout=30)
            except subprocess.TimeoutExpired:
                workers.kill()
                workers.wait()
        broker.flushdb()
        connection.close()
        if not args.keep_db:
            recreate_database(args.pg, args.db_name, drop_only=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
