"""A small threaded HTTP server for fake JSON APIs: routes by regex, an auth check,
a request log, and failures queued on purpose (``fail_with``) to test error handling."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit


@dataclass(frozen=True)
class Call:
    path: str
    query: dict[str, str]
    headers: dict[str, str]


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any  # JSON-able, or str for a text body
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


Handler = Callable[[dict[str, str], dict[str, str]], Reply]  # (path groups, query) -> reply


@dataclass
class FakeJsonApi:
    routes: list[tuple[str, Handler, bool]] = field(default_factory=list)  # (regex, fn, auth)
    calls: list[Call] = field(default_factory=list)
    queued_failures: list[Reply] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    def authorized(self, headers: dict[str, str]) -> bool:
        raise NotImplementedError

    def refusal(self) -> Reply:
        raise NotImplementedError

    @property
    def base_url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def fail_with(self, *replies: Reply) -> None:
        """Answer the next requests with these replies, in order, before serving again."""
        with self.lock:
            self.queued_failures.extend(replies)

    def calls_to(self, path: str) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.path == path]

    def _dispatch(self, raw_path: str, headers: dict[str, str]) -> Reply:
        parts = urlsplit(raw_path)
        query = dict(parse_qsl(parts.query))
        with self.lock:
            self.calls.append(Call(parts.path, query, headers))
            if self.queued_failures:
                return self.queued_failures.pop(0)
        for pattern, handler, needs_auth in self.routes:
            match = re.fullmatch(pattern, parts.path)
            if match is None:
                continue
            if needs_auth and not self.authorized(headers):
                return self.refusal()
            try:
                return handler(match.groupdict(), query)
            except LookupError:
                return Reply(404, {"message": f"Nothing at {parts.path}"})
        return Reply(404, {"message": f"No route for {parts.path}"})

    def start(self) -> Self:
        fake = self

        class RequestHandler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
                reply = fake._dispatch(self.path, dict(self.headers.items()))
                if isinstance(reply.body, str):
                    data = reply.body.encode()
                else:
                    data = json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(data)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), RequestHandler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
