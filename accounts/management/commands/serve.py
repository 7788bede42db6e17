from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Serve the dashboard (gunicorn) with a Celery worker and beat; one Ctrl-C stops all."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--bind", default=os.environ.get("KLAXON_BIND", "127.0.0.1:8000"))
        parser.add_argument("--web-workers", type=int, default=2)

    def handle(self, *args: Any, **options: Any) -> None:
        python = sys.executable
        commands = {
            "web": [
                python, "-m", "gunicorn", "config.wsgi:application",
                "--bind", options["bind"], "--workers", str(options["web_workers"]),
                "--access-logfile", "-", "--graceful-timeout", "5",
            ],
            "worker": [
                python, "-m", "celery", "-A", "config", "worker", "--beat",
                "--loglevel", "INFO", "--concurrency", "2", "-Q", "critical,celery",
            ],
        }  # fmt: skip
        children = {name: subprocess.Popen(cmd) for name, cmd in commands.items()}
        stopping = False

        def stop(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        self.stdout.write(f"Klaxon is up at http://{options['bind']}  (Ctrl-C stops everything)")
        exit_code = 0
        while not stopping:
            for name, child in children.items():
                if child.poll() is not None:
                    self.stderr.write(f"{name} exited with {child.returncode}; stopping.")
                    stopping, exit_code = True, 1
            time.sleep(0.5)
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for child in children.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
        sys.exit(exit_code)
