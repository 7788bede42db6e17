"""Escalation through a real broker and real worker processes: duplicated, lost and
orphaned (worker killed) task messages still page each step exactly once."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import redis
from django.conf import settings
from django.utils import timezone
from kombu import Connection

from config.celery import app as celery_app
from escalation import engine
from escalation.models import EscalationPolicy, EscalationStep
from escalation.tasks import escalate, rekick_due_escalations
from incidents.models import Incident, IncidentEvent
from integrations.services import integration_send_test_alert
from tests.conftest import ROOT, WORKER_COMMAND, _worker_env
from tests.factories import IncidentFactory, IntegrationFactory, UserFactory
from tests.waiting import wait_for

pytestmark = pytest.mark.broker


def escalated_lines(incident_id: int) -> list[str]:
    return list(
        IncidentEvent.objects.filter(
            incident_id=incident_id, kind=IncidentEvent.Kind.ESCALATED
        ).values_list("message", flat=True)
    )


def two_step_policy(
    delay_minutes: int = 5, *, phones: bool = True
) -> tuple[EscalationPolicy, Any, Any]:
    alice = UserFactory(username="alice", phone="+15005550001" if phones else "")
    bob = UserFactory(username="bob", phone="+15005550002" if phones else "")
    policy = EscalationPolicy.objects.create(name="Platform", repeat=0)
    first = EscalationStep.objects.create(policy=policy, position=0, delay_minutes=delay_minutes)
    first.users.set([alice])
    second = EscalationStep.objects.create(policy=policy, position=1, delay_minutes=delay_minutes)
    second.users.set([bob])
    return policy, alice, bob


def due_incident(policy: EscalationPolicy) -> Incident:
    """A triggered incident whose first step is due now, with no message queued for it."""
    now = timezone.now()
    return IncidentFactory(
        integration=IntegrationFactory(escalation_policy=policy),
        next_escalation_at=now,
        escalation_token=engine.new_escalation_token(),
    )


def test_alarm_through_the_inbound_path_is_escalated_by_the_worker(celery_worker: Any) -> None:
    policy, alice, _ = two_step_policy()
    integration = IntegrationFactory(escalation_policy=policy)

    result = integration_send_test_alert(integration=integration, user=alice)

    incident = Incident.objects.get(integration=integration)
    assert result.status == 200, result.text
    wait_for(lambda: bool(escalated_lines(incident.pk)), "the first step")
    assert escalated_lines(incident.pk)[0].startswith(
        "Step 1 of 2 (round 1 of 1): notifying alice (user alice); next step at "
    )
    notified = IncidentEvent.objects.filter(incident=incident, kind=IncidentEvent.Kind.NOTIFIED)
    assert notified.first().message.startswith(  # type: ignore[union-attr]
        "Paging alice: SMS to +15005550001 now, voice call to +15005550001 after 5 min"
    )


def test_a_duplicated_task_pages_once(celery_worker: Any) -> None:
    policy, _, _ = two_step_policy()
    incident = due_incident(policy)

    # Results are not stored in production (the row is the result); this test asks.
    first = escalate.apply_async((incident.pk, incident.escalation_token), ignore_result=False)
    second = escalate.apply_async((incident.pk, incident.escalation_token), ignore_result=False)

    outcomes = sorted([first.get(timeout=30), second.get(timeout=30)])
    assert outcomes == [engine.ESCALATED, engine.STALE]
    assert len(escalated_lines(incident.pk)) == 1
    assert IncidentEvent.objects.filter(message__startswith="Paging ").count() == 1


def test_a_lost_message_is_replaced_by_the_beat(celery_worker: Any) -> None:
    policy, _, _ = two_step_policy()
    incident = due_incident(policy)  # due, but its message never reached the broker

    rekicked = rekick_due_escalations.apply_async(ignore_result=False)
    assert rekicked.get(timeout=30) == 1

    wait_for(lambda: bool(escalated_lines(incident.pk)), "the re-kicked step")
    incident.refresh_from_db()
    assert incident.escalation_step == 1
    assert incident.next_escalation_at is not None
    assert incident.next_escalation_at > timezone.now()


# --- A worker killed between steps ---------------------------------------------------------


def private_broker_url() -> str:
    """A Redis database of our own, so the shared session worker cannot take our tasks."""
    base, _, db = settings.CELERY_BROKER_URL.rpartition("/")
    return f"{base}/{(int(db) + 4) % 16}"


@pytest.fixture
def private_workers(transactional_db: Any) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    """Starts solo-pool workers on the test database and a private Redis database."""
    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        pytest.skip("needs a Redis broker (CELERY_BROKER_URL=redis://...)")
    url = private_broker_url()
    redis.Redis.from_url(url).flushdb()
    env = _worker_env(settings.DATABASES["default"]["NAME"])
    env["CELERY_BROKER_URL"] = env["CELERY_RESULT_BACKEND"] = url
    started: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(WORKER_COMMAND, cwd=ROOT, env=env)
        started.append(proc)
        return proc

    # This test talks to the private broker itself, never eagerly.
    celery_app.conf.CELERY_TASK_ALWAYS_EAGER = False
    try:
        yield start
    finally:
        for proc in started:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=15)
        redis.Redis.from_url(url).flushdb()


def test_a_worker_killed_between_steps_loses_no_step(
    private_workers: Callable[[], subprocess.Popen[bytes]],
) -> None:
    url = private_broker_url()
    broker = redis.Redis.from_url(url)
    # Email-only users: no delayed voice call whose message the worker would also hold.
    policy, _, bob = two_step_policy(delay_minutes=1, phones=False)
    incident = due_incident(policy)

    first_worker = private_workers()
    with Connection(url) as conn:
        escalate.apply_async(
            (incident.pk, incident.escalation_token), producer=conn.Producer(), ignore_result=False
        )
    wait_for(lambda: len(escalated_lines(incident.pk)) == 1, "step 1 on the first worker")
    incident.refresh_from_db()
    orphaned_token = incident.escalation_token
    # Step 2's message (eta one minute) is now held, unacknowledged, by the first worker.
    # (Step 1's own message stays unacknowledged until its task returns, which now
    # includes sending the pages due at once: wait until step 2's is the one held.)
    wait_for(
        lambda: (
            broker.hlen("unacked") == 1
            and any(orphaned_token in str(held) for held in broker.hvals("unacked"))
        ),
        "the worker to hold step 2's message",
    )

    first_worker.kill()
    first_worker.wait(timeout=15)

    # The minute passes (moved forward instead of waited for), then a new worker starts,
    # and Redis redelivers the orphaned message to it (as it would after the visibility
    # timeout); its eta is still a minute after step 1.
    Incident.objects.filter(pk=incident.pk).update(next_escalation_at=timezone.now())
    with Connection(url, transport_options={"visibility_timeout": 0}) as conn:
        conn.default_channel.qos.restore_visible(num=10)  # type: ignore[attr-defined]
    assert broker.llen("critical") == 1
    orphan = json.loads(broker.lindex("critical", 0))  # type: ignore[arg-type]
    orphan_eta = datetime.fromisoformat(orphan["headers"]["eta"])
    assert orphan["headers"]["argsrepr"] == repr((incident.pk, orphaned_token))
    private_workers()

    # The beat does not wait for the orphan's eta: it re-kicks the overdue step now.
    with Connection(url) as conn:
        rekick_due_escalations.apply_async(producer=conn.Producer())
    wait_for(lambda: len(escalated_lines(incident.pk)) == 2, "step 2 after the re-kick")

    # When the orphaned message's eta comes, the new worker runs it (and acknowledges it:
    # the broker then holds nothing), it finds a stale token and pages nobody.
    wait_for(
        lambda: (
            timezone.now() > orphan_eta
            and broker.hlen("unacked") == 0
            and broker.llen("critical") == 0
        ),
        "the orphaned message to run",
        timeout=90,
    )
    assert escalated_lines(incident.pk)[1].startswith("Step 2 of 2 (round 1 of 1): notifying bob")
    assert (
        IncidentEvent.objects.filter(
            kind=IncidentEvent.Kind.NOTIFIED, message__startswith="Paging bob"
        ).count()
        == 1
    )
    assert timezone.now() - incident.created_at < timedelta(minutes=5)
