"""A Twilio-compatible HTTP server for tests and benchmarks that need a real socket (a
Celery worker in another process sends to it through the real twilio client).

It answers the two calls Klaxon makes, Messages.json and Calls.json, the way Twilio's
API reference describes them (201 with a SID; 401 without Basic auth; 400 with code 21211
for numbers listed in ``invalid_numbers``), and records each request with the moment it
arrived (time.time()), so a benchmark can measure alarm-to-SMS latency."""

from __future__ import annotations

import base64
import itertools
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

ACCOUNT_SID = "AC" + "1" * 32
AUTH_TOKEN = "fake-twilio-auth-token"
FROM_NUMBER = "+15005550006"

_PATH = re.compile(r"/2010-04-01/Accounts/(?P<sid>AC\w+)/(?P<kind>Messages|Calls)\.json")


@dataclass(frozen=True)
class Request:
    at: float
    kind: str  # "Messages" or "Calls"
    form: dict[str, str]


@dataclass
class FakeTwilio:
    invalid_numbers: set[str] = field(default_factory=set)
    requests: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None
    _sids: Any = field(default_factory=lambda: itertools.count(1))

    @property
    def base_url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def env(self) -> dict[str, str]:
        """Settings that point a Klaxon process at this server."""
        return {
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_FROM_NUMBER": FROM_NUMBER,
            "TWILIO_API_BASE": self.base_url,
        }

    def sent(self, kind: str = "Messages", to: str | None = None) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.kind == kind and to in (None, r.form["To"])]

    def clear(self) -> None:
        with self.lock:
            self.requests.clear()

    def start(self, port: int = 0) -> FakeTwilio:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
                arrived = time.time()
                match = _PATH.fullmatch(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode()
                if match is None:
                    return self._answer(404, {"code": 20404, "message": "Not found"})
                expected = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
                if self.headers.get("Authorization") != f"Basic {expected}":
                    return self._answer(401, {"code": 20003, "message": "Authenticate"})
                form = {k: v[0] for k, v in parse_qs(raw).items()}
                kind = match["kind"]
                with fake.lock:
                    fake.requests.append(Request(arrived, kind, form))
                if form.get("To") in fake.invalid_numbers:
                    return self._answer(
                        400,
                        {"code": 21211, "message": "The 'To' number is not a valid phone number.",
                         "status": 400},
                    )  # fmt: skip
                prefix = "SM" if kind == "Messages" else "CA"
                sid = f"{prefix}{next(fake._sids):032x}"
                return self._answer(
                    201,
                    {"sid": sid, "account_sid": ACCOUNT_SID, "to": form.get("To"),
                     "from": form.get("From"), "status": "queued"},
                )  # fmt: skip

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
