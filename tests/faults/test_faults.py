"""Every part of Klaxon survives the loss and return of every other part, unattended.

Each test runs a real node (``manage.py serve``: gunicorn, a Celery worker and beat under
the supervisor) on a private Redis, sends signed SNS alarms over HTTP as SNS does
(retrying what is not answered 2xx), breaks one part for real, and then checks at a
Twilio-compatible fake that every page went out exactly once, and how long Klaxon took
to recover (kept in test-results/fault-recovery.json)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from django.utils import timezone

from escalation import engine
from incidents.models import Incident
from tests.factories import IncidentFactory, IntegrationFactory
from tests.faults.harness import (
    BEAT_SECONDS,
    ROOT,
    KlaxonNode,
    PostgresCluster,
    RedisServer,
    keep_log,
)
from tests.faults.paging import ALICE, BOB, calls, paging_setup, sms
from tests.sns_peer import SnsPeer
from tests.twilio_server import FakeTwilio
from tests.waiting import wait_for

pytestmark = pytest.mark.fault


def test_a_redis_restart_while_the_worker_holds_delayed_messages_loses_and_repeats_nothing(
    node: KlaxonNode,
    redis_server: RedisServer,
    twilio: FakeTwilio,
    record_recovery: dict[str, float],
) -> None:
    paging = paging_setup(voice_after_minutes=1)
    assert node.post_alarm(paging.token, "disk-full").status == 200
    wait_for(lambda: sms(twilio, ALICE) == 1, "alice's SMS")
    paged_at = time.time()
    # The worker now holds two delayed messages, unacknowledged: step 2 (Bob) and
    # Alice's voice call, both due a minute after step 1. Celery 5.7.0 crashed on the
    # restart below whenever it held any.
    wait_for(lambda: redis_server.command("HLEN", "unacked") == "2", "the held messages")
    worker = node.pids()["worker"]

    redis_server.stop()
    time.sleep(3)
    redis_server.start()  # empty: what the broker held is gone
    back = time.monotonic()

    # A new alarm is paged as soon as the worker is back on the broker.
    assert node.post_alarm(paging.token, "cpu-high").status == 200
    wait_for(lambda: sms(twilio, ALICE) == 2, "the SMS for an alarm after the restart")
    record_recovery["broker_back_to_new_page"] = time.monotonic() - back
    assert node.pids()["worker"] == worker and node.restarts("worker") == 0

    # The lost delayed messages are replaced from the database when they fall due.
    wait_for(lambda: sms(twilio, BOB) >= 1, "step 2 for disk-full", timeout=120)
    record_recovery["step_2_late_by"] = time.time() - (paged_at + 60)
    assert record_recovery["step_2_late_by"] <= BEAT_SECONDS + 5
    wait_for(lambda: calls(twilio, ALICE) >= 1, "alice's delayed voice call", timeout=60)
    # Step 2 and the call of cpu-high (due a minute after it) come too, once each.
    wait_for(lambda: sms(twilio, BOB) == 2 and calls(twilio, ALICE) == 2, "cpu-high's", 90)
    time.sleep(3 * BEAT_SECONDS)
    assert (sms(twilio, ALICE), sms(twilio, BOB), calls(twilio, ALICE)) == (2, 2, 2)
    assert node.alive()


def test_while_redis_is_down_ingest_answers_fast_and_paging_resumes_when_it_returns(
    node: KlaxonNode,
    redis_server: RedisServer,
    twilio: FakeTwilio,
    record_recovery: dict[str, float],
) -> None:
    paging = paging_setup()
    node.warm_up()
    redis_server.stop()

    answer = node.post_alarm(paging.token, "disk-full")
    assert answer.status == 200, answer.text
    assert answer.seconds < 1.0
    record_recovery["ingest_answer_while_down"] = answer.seconds
    incident = Incident.objects.get(title="disk-full")
    assert incident.state == Incident.State.TRIGGERED

    ready = node.get("/readyz")
    assert ready.status == 503 and "broker" in ready.text
    # A minute of outage, with more alarms arriving in it.
    slowest = answer.seconds
    for _n in range(6):
        time.sleep(10)
        later = node.post_alarm(paging.token, "disk-full")  # a repeat: appended
        assert later.status == 200, later.text
        slowest = max(slowest, later.seconds)
        assert node.get("/healthz").status == 200
    assert slowest < 1.0
    record_recovery["slowest_ingest_while_down"] = slowest
    assert sms(twilio, ALICE) == 0

    redis_server.start()
    back = time.monotonic()
    wait_for(lambda: sms(twilio, ALICE) == 1, "alice's SMS once Redis is back", timeout=60)
    record_recovery["broker_back_to_first_page"] = time.monotonic() - back
    # The step was overdue on the row; the beat re-kicks within an interval of the worker
    # consuming again (it reconnects every second).
    assert record_recovery["broker_back_to_first_page"] <= BEAT_SECONDS + 6
    assert node.restarts("worker") == 0
    time.sleep(3 * BEAT_SECONDS)
    assert sms(twilio, ALICE) == 1
    assert node.get("/readyz").status == 200


def test_a_killed_worker_is_restarted_and_pages_once(
    node: KlaxonNode, twilio: FakeTwilio, record_recovery: dict[str, float]
) -> None:
    paging = paging_setup()
    worker = node.pids()["worker"]
    os.kill(worker, signal.SIGKILL)
    killed = time.monotonic()

    assert node.post_alarm(paging.token, "disk-full").status == 200
    wait_for(lambda: sms(twilio, ALICE) == 1, "alice's SMS from the restarted worker")
    record_recovery["kill_to_page"] = time.monotonic() - killed
    assert node.restarts("worker") == 1 and node.pids()["worker"] != worker
    time.sleep(3 * BEAT_SECONDS)
    assert sms(twilio, ALICE) == 1


def gunicorn_workers(master: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True)
    return [int(pid) for pid in out.stdout.split()]


def test_killed_web_processes_are_replaced_and_every_alarm_is_stored_once(
    node: KlaxonNode, twilio: FakeTwilio, record_recovery: dict[str, float]
) -> None:
    paging = paging_setup()
    master = node.pids()["web"]
    [first, *_] = wait_for(lambda: gunicorn_workers(master), "gunicorn workers")

    os.kill(first, signal.SIGKILL)  # one web worker: gunicorn replaces it
    started = time.monotonic()
    assert node.deliver_alarm(paging.token, "disk-full").status == 200
    record_recovery["web_worker_kill_to_accept"] = time.monotonic() - started

    os.kill(master, signal.SIGKILL)  # the whole web server: the supervisor restarts it
    started = time.monotonic()
    wait_for(lambda: node.restarts("web") >= 1, "the supervisor to notice")
    # Its orphaned workers serve until they notice; then the new server takes the port.
    wait_for(lambda: node.pids()["web"] != master, "a new web server")
    answer = node.deliver_alarm(paging.token, "cpu-high", within=90)
    assert answer.status == 200, answer.text
    record_recovery["web_server_kill_to_accept"] = time.monotonic() - started

    wait_for(lambda: sms(twilio, ALICE) == 2, "one SMS per alarm")
    assert Incident.objects.filter(title__in=["disk-full", "cpu-high"]).count() == 2
    time.sleep(3 * BEAT_SECONDS)
    assert sms(twilio, ALICE) == 2


def test_a_killed_scheduler_is_restarted_and_rekicks_work_whose_message_was_lost(
    node: KlaxonNode, twilio: FakeTwilio, record_recovery: dict[str, float]
) -> None:
    paging = paging_setup()
    scheduler = node.pids()["scheduler"]
    os.kill(scheduler, signal.SIGKILL)
    killed = time.monotonic()
    # Due now, with no message on the broker: only the beat's re-kick can page it.
    IncidentFactory(
        integration=IntegrationFactory(escalation_policy=paging.policy),
        next_escalation_at=timezone.now(),
        escalation_token=engine.new_escalation_token(),
    )

    wait_for(lambda: sms(twilio, ALICE) == 1, "the re-kicked step", timeout=60)
    record_recovery["kill_to_rekicked_page"] = time.monotonic() - killed
    assert node.restarts("scheduler") == 1
    time.sleep(3 * BEAT_SECONDS)
    assert sms(twilio, ALICE) == 1


# --- PostgreSQL restarted (a private cluster) ---------------------------------------------


SETUP_SCRIPT = """
from tests.faults.paging import paging_setup
print("TOKEN=" + paging_setup().token)
"""


@pytest.fixture
def cluster() -> Iterator[PostgresCluster]:
    pg = PostgresCluster()
    if not (pg.bin / "initdb").exists():
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("PostgreSQL server binaries are needed for the fault tests")
        pytest.skip("PostgreSQL server binaries are not installed")
    pg.init()
    yield pg
    pg.destroy()


def test_a_postgresql_restart_delays_ingest_with_503s_and_loses_nothing(
    cluster: PostgresCluster,
    redis_server: RedisServer,
    twilio: FakeTwilio,
    peer: SnsPeer,
    record_recovery: dict[str, float],
) -> None:
    env = {**os.environ, "DATABASE_URL": cluster.url, "CI": "false"}
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--no-input", "-v0"], cwd=ROOT, env=env, check=True)
    setup = subprocess.run(
        [*manage, "shell", "-c", SETUP_SCRIPT], cwd=ROOT, env=env, check=True,
        capture_output=True, text=True,
    )  # fmt: skip
    token = setup.stdout.split("TOKEN=")[1].split()[0]
    node = KlaxonNode(cluster.url, redis_server.url, twilio, peer).start()
    try:
        assert node.post_alarm(token, "disk-full").status == 200
        wait_for(lambda: sms(twilio, ALICE) == 1, "alice's first SMS")

        cluster.stop()
        answer = node.post_alarm(token, "cpu-high")
        # Nothing could be stored: a 5xx, quickly, so SNS delivers it again.
        assert answer.status == 503, answer.text
        assert answer.seconds < 5
        time.sleep(5)
        cluster.start()
        back = time.monotonic()

        answer = node.deliver_alarm(token, "cpu-high")
        assert answer.status == 200, answer.text
        record_recovery["database_back_to_accept"] = time.monotonic() - back
        wait_for(lambda: sms(twilio, ALICE) == 2, "the SMS for the alarm after the restart")
        record_recovery["database_back_to_page"] = time.monotonic() - back
        time.sleep(3 * BEAT_SECONDS)
        assert sms(twilio, ALICE) == 2
        assert node.restarts("worker") == 0 and node.alive()
        count = subprocess.run(
            ["psql", cluster.url, "-tAc", "SELECT count(*) FROM incidents_incident"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert count.stdout.strip() == "2"
    finally:
        node.stop()
        keep_log(node, "test_a_postgresql_restart")
