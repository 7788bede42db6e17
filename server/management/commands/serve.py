from __future__ import annotations

import os
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from server.supervisor import ChildSpec, Supervisor

ROLES = ("all", "web", "worker", "scheduler")


def child_specs(
    role: str, *, bind: str, web_workers: int, worker_concurrency: int
) -> list[ChildSpec]:
    """The processes one node runs for ``role`` ("all" is one machine with everything)."""
    python = sys.executable
    web = ChildSpec(
        "web",
        [
            python, "-m", "gunicorn", "config.wsgi:application",
            "--bind", bind, "--workers", str(web_workers),
            "--access-logfile", "-", "--graceful-timeout", "5",
            # Secret path segments (integration and feed tokens) masked in the log.
            "--logger-class", "config.access_log.MaskingLogger",
        ],
    )  # fmt: skip
    worker = ChildSpec(
        "worker",
        [
            python, "-m", "celery", "-A", "config", "worker",
            "--loglevel", "INFO", "--concurrency", str(worker_concurrency),
            "-Q", "critical,celery",
            # No worker-to-worker chatter: nothing uses it, and it slows a reconnect.
            "--without-mingle", "--without-gossip",
        ],
    )  # fmt: skip
    scheduler = ChildSpec(
        "scheduler",
        [
            python, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO",
            "--schedule", settings.CELERY_BEAT_SCHEDULE_FILENAME,
        ],
    )  # fmt: skip
    return {
        "all": [web, worker, scheduler],
        "web": [web],
        "worker": [worker],
        "scheduler": [scheduler],
    }[role]


class Command(BaseCommand):
    help = (
        "Run Klaxon's processes (web server, Celery worker, scheduler) and keep them "
        "running: a process that exits is started again. One Ctrl-C stops all."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--role", choices=ROLES, default="all")
        parser.add_argument("--bind", default=os.environ.get("KLAXON_BIND", "127.0.0.1:8000"))
        parser.add_argument("--web-workers", type=int, default=2)
        parser.add_argument("--worker-concurrency", type=int, default=2)

    def handle(self, *args: Any, **options: Any) -> None:
        specs = child_specs(
            options["role"],
            bind=options["bind"],
            web_workers=options["web_workers"],
            worker_concurrency=options["worker_concurrency"],
        )

        def say(text: str) -> None:
            self.stderr.write(text)
            self.stderr.flush()

        supervisor = Supervisor(specs, say=say)
        if any(spec.name == "web" for spec in specs):
            self.stdout.write(
                f"Klaxon is up at http://{options['bind']}  (Ctrl-C stops everything)"
            )
        sys.exit(supervisor.run())
