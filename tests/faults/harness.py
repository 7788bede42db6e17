"""Real processes for the fault tests: a private redis-server, a private PostgreSQL
cluster, and a Klaxon node (``manage.py serve``: gunicorn, Celery worker and beat as the
supervisor's children), each on its own port, so a test can kill, stop and restart them
without disturbing anything else on the machine."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tests.sns_peer import SnsPeer
from tests.sns_signing import signed_envelope
from tests.twilio_server import FakeTwilio
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
ALARM_FIXTURE = ROOT / "tests/fixtures/cloudwatch/alarm_message_console_signin_failures_alarm.json"
# Beat re-kicks overdue work this often in the fault tests (15 s in production).
BEAT_SECONDS = 2.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def alarm_message(name: str, state: str = "ALARM", at: str | None = None) -> str:
    data = json.loads(ALARM_FIXTURE.read_text())
    data["AlarmName"] = name
    data["AlarmArn"] = f"arn:aws:cloudwatch:eu-west-1:123456789012:alarm:{name}"
    data["NewStateValue"] = state
    data["StateChangeTime"] = at or time.strftime("%Y-%m-%dT%H:%M:%S.000+0000", time.gmtime())
    return json.dumps(data)


class RedisServer:
    """A redis-server of our own that keeps nothing on disk (a restart loses everything
    in it, the harshest case for a broker)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for(self.answers, "redis-server to answer", timeout=20)
        return self

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=20)
        self.process = None

    def command(self, *args: str) -> str:
        out = subprocess.run(
            ["redis-cli", "-p", str(self.port), *args], capture_output=True, check=True
        )
        return out.stdout.decode().strip()


class PostgresCluster:
    """A PostgreSQL cluster of our own (initdb in a temporary folder, run by the
    ``postgres`` system user as PostgreSQL requires), for tests that restart it."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="klaxon-pg-"))
        self.data = self.dir / "data"
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/klaxon"
        bin_dirs = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
        self.bin = bin_dirs[-1] if bin_dirs else Path(shutil.which("pg_ctl") or "").parent

    def _run(self, *command: str) -> None:
        as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*as_postgres, *command], check=True, capture_output=True)

    def init(self) -> PostgresCluster:
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
                  "--auth", "trust", "--no-sync")  # fmt: skip
        self.start()
        self._run(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                  "-U", "postgres", "klaxon")  # fmt: skip
        return self

    def start(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-l",
                  str(self.dir / "log"), "-o", f"-p {self.port} -k {self.dir} -h 127.0.0.1",
                  "start")  # fmt: skip

    def stop(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-m", "fast", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@dataclass
class Answer:
    status: int
    text: str
    seconds: float


@dataclass
class KlaxonNode:
    """``manage.py serve --role <role>`` on its own port, as an operator runs it on a
    machine (all roles, or one: web, worker, scheduler)."""

    database_url: str
    broker_url: str
    twilio: FakeTwilio
    peer: SnsPeer
    role: str = "all"
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    var_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="klaxon-var-")))

    @property
    def log_path(self) -> Path:
        return self.var_dir / "serve.log"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.twilio.env())
        env.update(
            {
                "DATABASE_URL": self.database_url,
                "CELERY_BROKER_URL": self.broker_url,
                "CELERY_RESULT_BACKEND": self.broker_url,
                "KLAXON_VAR_DIR": str(self.var_dir),
                "KLAXON_BASE_URL": f"http://127.0.0.1:{self.port}",
                "SNS_CERT_URL_PATTERN": self.peer.cert_url_pattern,
                "SNS_SUBSCRIBE_URL_PATTERN": self.peer.subscribe_url_pattern,
                "ESCALATION_REKICK_SECONDS": str(BEAT_SECONDS),
                "NOTIFY_REKICK_GRACE_SECONDS": "3",
                "INTEGRATION_CACHE_SECONDS": "0",
                "CELERY_TASK_ALWAYS_EAGER": "false",
                "CI": "false",
                **self.extra_env,
            }
        )
        return env

    def start(self) -> KlaxonNode:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--role", self.role,
             "--bind", f"127.0.0.1:{self.port}", "--web-workers", "2",
             "--worker-concurrency", "2"],
            cwd=ROOT, env=self.env(), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        if self.role in ("all", "web"):
            wait_for(lambda: self.get("/healthz").status == 200, "the web server", timeout=60)
        wanted = {"all": {"web", "worker", "scheduler"}}.get(self.role, {self.role})
        wait_for(lambda: wanted <= set(self.pids()), "the node's processes")
        return self

    def kill(self) -> None:
        """The machine dies: every process of the node at once, the supervisor too."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        # Anything the supervisor left behind (it should leave nothing).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process = None

    def leads(self) -> bool:
        """For a scheduler: whether it said last that it leads."""
        said = re.findall(r"scheduler: (leading|standing by)", self.log())
        return bool(said) and said[-1] == "leading"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def pids(self) -> dict[str, int]:
        """The current pid of each supervised child, from the supervisor's log."""
        found: dict[str, int] = {}
        for name, pid in re.findall(r"serve: (\w+) started \(pid (\d+)\)", self.log()):
            found[name] = int(pid)
        return found

    def restarts(self, name: str) -> int:
        return len(re.findall(rf"serve: {name} exited with", self.log()))

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def request(self, method: str, path: str, body: bytes = b"", timeout: float = 20) -> Answer:
        return http_request(self.port, method, path, body, timeout=timeout)

    def get(self, path: str) -> Answer:
        return self.request("GET", path, timeout=5)

    def post_alarm(self, token: str, name: str, state: str = "ALARM") -> Answer:
        """One SNS delivery attempt of a signed CloudWatch alarm message."""
        body = signed_envelope(message=alarm_message(name, state), cert_url=self.peer.cert_url)
        return self.request("POST", f"/in/{token}/", json.dumps(body).encode())

    def warm_up(self) -> None:
        """Serve an alarm on every web worker once (a cold worker's first request loads
        modules and opens its database connection), to an integration that pages nobody."""
        from tests.factories import IntegrationFactory

        path = f"/in/{IntegrationFactory(name='Warm-up', escalation_policy=None).token}/"
        # Signed here, one after the other: the signing key is made on first use.
        bodies = [
            json.dumps(signed_envelope(message=alarm_message(f"warm-{n}"),
                                       cert_url=self.peer.cert_url)).encode()
            for n in range(8)
        ]  # fmt: skip
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda body: self.request("POST", path, body), bodies))
        assert all(a.status == 200 for a in answers), answers

    def deliver_alarm(
        self, token: str, name: str, state: str = "ALARM", *, within: float = 60
    ) -> Answer:
        """Deliver as SNS does: the same signed message again after any non-2xx answer
        (SNS retries 5xx and timeouts), until it is accepted."""
        return deliver(self.port, token, name, self.peer, state=state, within=within)


def http_request(
    port: int, method: str, path: str, body: bytes = b"", *, timeout: float = 20
) -> Answer:
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "text/plain"})
        response = conn.getresponse()
        text = response.read().decode(errors="replace")
        return Answer(response.status, text, time.monotonic() - started)
    except OSError as exc:
        return Answer(0, f"{type(exc).__name__}: {exc}", time.monotonic() - started)
    finally:
        conn.close()


def deliver(
    port: int, token: str, name: str, peer: SnsPeer, *, state: str = "ALARM", within: float = 60
) -> Answer:
    """Deliver a signed CloudWatch alarm as SNS does: the same message again after any
    non-2xx answer (SNS retries 5xx and timeouts), until it is accepted."""
    body = signed_envelope(message=alarm_message(name, state), cert_url=peer.cert_url)
    payload = json.dumps(body).encode()
    deadline = time.monotonic() + within
    while True:
        answer = http_request(port, "POST", f"/in/{token}/", payload)
        if 200 <= answer.status < 300 or time.monotonic() > deadline:
            return answer
        time.sleep(0.5)


# Where the fault tests leave the recovery times they measured, and each node's log.
TIMINGS = ROOT / "test-results" / "fault-recovery.json"


def keep_log(klaxon: KlaxonNode, name: str) -> None:
    TIMINGS.parent.mkdir(exist_ok=True)
    (TIMINGS.parent / f"{name}.log").write_text(klaxon.log())


class LoadBalancer:
    """HAProxy (Debian's) in front of web nodes, configured as deploy/haproxy.cfg is:
    health checks on /healthz, a node that refuses connections is marked down at once,
    and a request it could not take is dispatched to another."""

    def __init__(self, backends: list[int]) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="klaxon-lb-"))
        servers = "\n".join(
            f"    server web{n} 127.0.0.1:{port} check" for n, port in enumerate(backends, 1)
        )
        (self.dir / "haproxy.cfg").write_text(
            f"""global
    maxconn 500
defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    retries 2
    option redispatch
frontend klaxon
    bind 127.0.0.1:{self.port}
    default_backend web
backend web
    balance roundrobin
    option httpchk GET /healthz
    http-check expect status 200
    default-server inter 500ms fall 2 rise 2 observe layer4 error-limit 1 on-error mark-down
{servers}
"""
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> LoadBalancer:
        self.process = subprocess.Popen(
            ["haproxy", "-db", "-f", str(self.dir / "haproxy.cfg")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self._answers, "haproxy to answer", timeout=20)
        return self

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)
