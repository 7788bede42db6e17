"""A small process supervisor: keeps each child running, restarting one that exits with a
growing pause, until it is told to stop.

``manage.py serve`` runs Klaxon's processes under it (the web server, the Celery worker,
the scheduler). A child that dies, whatever the reason, is started again after
``BACKOFF_START`` seconds, doubling up to ``BACKOFF_MAX`` while it keeps dying quickly;
once it has stayed up for ``STABLE_AFTER`` seconds the pause starts small again. The
others keep running meanwhile: a worker crash must not take the web server (and with it
the inbound URL) down.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

BACKOFF_START = 1.0
BACKOFF_MAX = 30.0
STABLE_AFTER = 60.0
STOP_TIMEOUT = 15.0


@dataclass(frozen=True)
class ChildSpec:
    name: str
    command: Sequence[str]


@dataclass
class _Child:
    spec: ChildSpec
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    start_after: float = 0.0  # monotonic time; 0 = at once
    backoff: float = BACKOFF_START
    restarts: int = 0
    history: list[int] = field(default_factory=list)  # exit codes seen


class Supervisor:
    def __init__(
        self,
        children: Sequence[ChildSpec],
        *,
        say: Callable[[str], None],
        env: dict[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._children = [_Child(spec) for spec in children]
        self._say = say
        self._env = env
        self._clock = clock
        self._stopping = False

    def stop(self, *args: object) -> None:
        """Ask the loop to stop (a signal handler)."""
        self._stopping = True

    def run(self, *, poll: float = 0.5) -> int:
        """Start every child and keep them running until ``stop``; then stop them all."""
        signal.signal(signal.SIGINT, self.stop)
        signal.signal(signal.SIGTERM, self.stop)
        try:
            while not self._stopping:
                self.tick()
                time.sleep(poll)
        finally:
            self.shutdown()
        return 0

    def tick(self) -> None:
        """Start what is due to start; notice what has exited and plan its restart."""
        now = self._clock()
        for child in self._children:
            process = child.process
            if process is None:
                if now >= child.start_after:
                    self._start(child, now)
                continue
            code = process.poll()
            if code is None:
                if now - child.started_at >= STABLE_AFTER:
                    child.backoff = BACKOFF_START
                continue
            child.history.append(code)
            child.process = None
            child.restarts += 1
            pause = child.backoff
            child.backoff = min(child.backoff * 2, BACKOFF_MAX)
            child.start_after = now + pause
            self._say(
                f"serve: {child.spec.name} exited with {code}; restarting in {pause:.0f} s "
                f"(restart {child.restarts})"
            )

    def _start(self, child: _Child, now: float) -> None:
        try:
            child.process = subprocess.Popen(list(child.spec.command), env=self._env)
        except OSError as exc:
            pause = child.backoff
            child.backoff = min(child.backoff * 2, BACKOFF_MAX)
            child.start_after = now + pause
            self._say(f"serve: cannot start {child.spec.name}: {exc}; trying in {pause:.0f} s")
            return
        child.started_at = now
        self._say(f"serve: {child.spec.name} started (pid {child.process.pid})")

    def pids(self) -> dict[str, int]:
        return {c.spec.name: c.process.pid for c in self._children if c.process is not None}

    def shutdown(self) -> None:
        """SIGTERM every child, then SIGKILL what is still running after STOP_TIMEOUT."""
        running = [c.process for c in self._children if c.process and c.process.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait()
