"""manage.py serve keeps its processes running: one that exits is started again after a
pause that grows while it keeps failing, and the others are left alone."""

from __future__ import annotations

import sys
import time

from server.management.commands.serve import child_specs
from server.supervisor import BACKOFF_MAX, ChildSpec, Supervisor


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def run_until(supervisor: Supervisor, clock: Clock, condition: object, limit: float = 20) -> None:
    deadline = time.monotonic() + limit
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition never met"
        supervisor.tick()
        time.sleep(0.05)


def test_a_child_that_exits_is_restarted_after_a_growing_pause_and_others_keep_running() -> None:
    said: list[str] = []
    clock = Clock()
    crasher = ChildSpec("crasher", [sys.executable, "-c", "raise SystemExit(3)"])
    steady = ChildSpec("steady", [sys.executable, "-c", "import time; time.sleep(60)"])
    supervisor = Supervisor([crasher, steady], say=said.append, clock=clock)
    try:
        run_until(supervisor, clock, lambda: any("exited with 3" in s for s in said))
        steady_pid = supervisor.pids()["steady"]
        assert "crasher exited with 3; restarting in 1 s (restart 1)" in said[-1]

        supervisor.tick()  # not yet: the pause has not passed
        assert "crasher" not in supervisor.pids()
        clock.now += 1
        run_until(supervisor, clock, lambda: sum("exited with 3" in s for s in said) == 2)
        assert "restarting in 2 s (restart 2)" in said[-1]

        for _ in range(8):  # keeps failing: the pause doubles up to its cap
            clock.now += BACKOFF_MAX
            count = sum("exited with" in s for s in said)
            run_until(supervisor, clock, lambda c=count: sum("exited with" in s for s in said) > c)
        assert said[-1].endswith(f"restarting in {BACKOFF_MAX:.0f} s (restart 10)")
        assert supervisor.pids()["steady"] == steady_pid
    finally:
        supervisor.shutdown()
    assert not supervisor.pids() or all(
        p.poll() is not None for p in [c.process for c in supervisor._children] if p
    )


def test_shutdown_stops_every_child() -> None:
    clock = Clock()
    sleeper = ChildSpec("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"])
    supervisor = Supervisor([sleeper, sleeper], say=lambda s: None, clock=clock)
    supervisor.tick()
    processes = [c.process for c in supervisor._children]
    supervisor.shutdown()
    assert all(p is not None and p.poll() is not None for p in processes)


def test_each_role_runs_its_own_processes() -> None:
    def names(role: str) -> list[str]:
        specs = child_specs(role, bind="127.0.0.1:8000", web_workers=2, worker_concurrency=2)
        return [s.name for s in specs]

    assert names("all") == ["web", "worker", "scheduler"]
    assert names("web") == ["web"]
    assert names("worker") == ["worker"]
    assert names("scheduler") == ["scheduler"]
    [worker] = child_specs("worker", bind="x", web_workers=1, worker_concurrency=3)
    assert "-Q" in worker.command and "critical,celery" in worker.command
    assert "--beat" not in worker.command  # the scheduler is its own process
