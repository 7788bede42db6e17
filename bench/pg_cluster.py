"""A private PostgreSQL cluster for one benchmark run: its own data directory and port.

Why not the shared server: the CPU a request costs in PostgreSQL is read from /proc, per
backend process. A backend that exits during the run (an application that connects per
request, as Alerta does) takes its CPU with it, and the shared server's other backends
serve other people's tests. Every process of a private cluster is the benchmark's, and
the postmaster's counters for its exited children (cutime, cstime) keep what the
short-lived backends used, so ``cpu()`` is the cluster's whole CPU, exactly.

The cluster is initialised with Debian's ``initdb`` (as the ``postgres`` user when run as
root, since PostgreSQL refuses to run as root), with default settings, trust
authentication and listening on 127.0.0.1 only; ``stop()`` removes it.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

import ingest


def _bindir() -> Path:
    """Where initdb and pg_ctl are: pg_config's answer, else the newest Debian version."""
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        out = subprocess.run(
            ["pg_config", "--bindir"], capture_output=True, text=True, check=True
        ).stdout.strip()
        if (Path(out) / "initdb").exists():
            return Path(out)
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: p.parts)
    if not found:
        raise SystemExit("initdb not found: install PostgreSQL's server package, or use --pg URL")
    return found[-1].parent


class PrivateCluster:
    def __init__(self, port: int) -> None:
        self.port = port
        self.bindir = _bindir()
        self.root = Path(tempfile.mkdtemp(prefix="klaxon-bench-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.started = False

    @property
    def url(self) -> str:
        """Server URL without a database name (as the benchmarks' ``--pg`` takes it)."""
        return f"postgresql://postgres@127.0.0.1:{self.port}"

    def _run(self, *args: str) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise SystemExit(f"{args[0]} failed:\n{result.stdout}{result.stderr}")

    def start(self) -> PrivateCluster:
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8")
        self._run(*self._start_args())
        self.started = True
        return self

    def _start_args(self) -> list[str]:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        return ["pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start"]

    def start_command(self) -> str:
        """The shell command that starts the cluster again (after ``stop(keep=True)``)."""
        args = [str(self.bindir / "pg_ctl"), *self._start_args()[1:]]
        prefix = "runuser -u postgres -- " if os.geteuid() == 0 else ""
        return prefix + " ".join(shlex.quote(a) for a in args)

    def stop(self, *, keep: bool = False) -> None:
        """Stops the server; removes the data directory unless ``keep``."""
        if self.started:
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
            self.started = False
        if not keep:
            shutil.rmtree(self.root, ignore_errors=True)

    def postmaster(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def cpu(self) -> float:
        """CPU seconds used by the whole cluster since it started: the postmaster, its live
        children (backends, checkpointer, WAL writer ...) and the children that exited."""
        pid = self.postmaster()
        fields = ingest._proc_stat(pid)
        if fields is None:
            return 0.0
        # utime, stime, cutime, cstime (fields 14-17 of /proc/<pid>/stat)
        own = sum(int(v) for v in fields[11:15]) / ingest._CLOCK_TICKS
        return own + ingest._proc_cpu(ingest._children(pid))
