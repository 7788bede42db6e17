"""Klaxon across machines: two web nodes behind HAProxy, two worker nodes and two
schedulers (one leads), each its own process group as a machine would be, on one
PostgreSQL and one Redis. Under a steady stream of alarms one machine of each kind dies
(SIGKILL to the whole group, supervisor included); every alarm is still stored once and
every page sent once."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from escalation.models import EscalationPolicy, EscalationStep
from incidents.models import Incident
from integrations.models import InboundMessage
from notifications.models import Notification
from tests.factories import IntegrationFactory, UserFactory
from tests.faults.conftest import database_url_for_processes
from tests.faults.harness import (
    BEAT_SECONDS,
    KlaxonNode,
    LoadBalancer,
    RedisServer,
    deliver,
    keep_log,
)
from tests.sns_peer import SnsPeer
from tests.twilio_server import FakeTwilio
from tests.waiting import wait_for

pytestmark = pytest.mark.fault

ALARMS = 120
RATE = 4.0  # alarms a second, sent by 4 SNS-like senders
PHONE = "+15005550401"


@pytest.fixture
def cluster(
    request: pytest.FixtureRequest,
    transactional_db: Any,
    redis_server: RedisServer,
    twilio: FakeTwilio,
    peer: SnsPeer,
) -> Iterator[dict[str, KlaxonNode]]:
    if shutil.which("haproxy") is None:
        pytest.fail("haproxy (Debian's package) is needed for the topology test")
    # A send cut off by a killed worker is failed after this long, never repeated.
    extra = {"NOTIFY_STUCK_SECONDS": "10"}
    nodes = {
        name: KlaxonNode(
            database_url_for_processes(), redis_server.url, twilio, peer, role=role,
            extra_env=extra,
        )
        for name, role in [
            ("web1", "web"), ("web2", "web"), ("worker1", "worker"), ("worker2", "worker"),
            ("scheduler1", "scheduler"), ("scheduler2", "scheduler"),
        ]
    }  # fmt: skip
    try:
        for node in nodes.values():
            node.start()
        yield nodes
    finally:
        for name, node in nodes.items():
            node.stop()
            keep_log(node, f"{request.node.name}-{name}")
            shutil.rmtree(node.var_dir, ignore_errors=True)


def test_losing_one_machine_of_each_kind_loses_no_alarm_and_repeats_no_page(
    cluster: dict[str, KlaxonNode],
    peer: SnsPeer,
    twilio: FakeTwilio,
    record_recovery: dict[str, float],
) -> None:
    alice = UserFactory(username="alice", phone=PHONE)
    alice.notification_rules.filter(channel="voice").delete()
    policy = EscalationPolicy.objects.create(name="Platform", repeat=0)
    EscalationStep.objects.create(policy=policy, position=0, delay_minutes=30).users.set([alice])
    token = IntegrationFactory(escalation_policy=policy).token
    balancer = LoadBalancer([cluster["web1"].port, cluster["web2"].port]).start()
    wait_for(lambda: cluster["scheduler1"].leads() or cluster["scheduler2"].leads(), "a leader")
    assert not (cluster["scheduler1"].leads() and cluster["scheduler2"].leads())

    accepted: dict[str, float] = {}
    lock = threading.Lock()

    start = time.monotonic()

    def send(n: int) -> None:
        time.sleep(max(0.0, start + n / RATE - time.monotonic()))  # a steady stream
        answer = deliver(balancer.port, token, f"alarm-{n:03d}", peer, within=90)
        assert answer.status == 200, answer.text
        with lock:
            accepted[f"alarm-{n:03d}"] = time.time()

    try:
        with ThreadPoolExecutor(16) as pool:
            sending = [pool.submit(send, n) for n in range(ALARMS)]
            time.sleep(ALARMS / RATE / 3)  # a third of the way in, three machines die
            leader = "scheduler1" if cluster["scheduler1"].leads() else "scheduler2"
            standby = "scheduler2" if leader == "scheduler1" else "scheduler1"
            for name in ("web1", "worker1", leader):
                cluster[name].kill()
            killed = time.monotonic()
            wait_for(lambda: cluster[standby].leads(), "the standby scheduler to lead", 30)
            record_recovery["scheduler_takeover"] = time.monotonic() - killed
            for future in sending:
                future.result()
        record_recovery["stream_seconds"] = time.monotonic() - start

        def settled() -> bool:
            pages = Notification.objects.filter(incident__isnull=False)
            return not pages.filter(status__in=["queued", "sending"]).exists() and (
                pages.count() == ALARMS
            )

        wait_for(settled, "every page to be sent or given up", timeout=120)
        time.sleep(3 * BEAT_SECONDS)
    finally:
        balancer.stop()

    # Every alarm stored once: one incident each, one accepted Inbound Log row each.
    assert Incident.objects.count() == ALARMS
    created = InboundMessage.objects.filter(outcome="created")
    assert created.count() == ALARMS
    assert created.values("applied_message_id").distinct().count() == ALARMS
    # Every page sent once. A send the dying worker was in the middle of cannot be known
    # to have gone out: it is failed and shown, never sent twice (docs/operations.md).
    sent = twilio.sent("Messages", to=PHONE)
    cut_off = Notification.objects.filter(status="failed", error__contains="stopped")
    assert len(sent) + cut_off.count() == ALARMS
    bodies = [r.form["Body"] for r in sent]
    assert len(set(bodies)) == len(bodies)  # no incident paged twice
    # Alarm accepted -> SMS at the fake Twilio.
    arrival = {}
    for request in sent:
        title = next((a for a in accepted if a in request.form["Body"]), None)
        if title is not None:
            arrival[title] = request.at - accepted[title]
    latencies = sorted(arrival.values())
    record_recovery["page_p50"] = latencies[len(latencies) // 2]
    record_recovery["page_p99"] = latencies[int(len(latencies) * 0.99) - 1]
    record_recovery["pages_cut_off"] = float(cut_off.count())
    assert record_recovery["page_p99"] < 15
