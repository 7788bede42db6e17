"""The plumbing the HTTP fakes share: a ThreadingHTTPServer on a free loopback port, run
in a thread, that records every request and answers what the fake's ``handle`` says,
or first any reply a test scripted with ``then_reply`` (a rate limit, a 500, a slow
answer)."""

from __future__ import annotations

import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Recorded:
    """One request as the fake received it (header names in lower case)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()}


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (to make a client time out)

    @classmethod
    def json(
        cls, status: int, data: Any, headers: dict[str, str] | None = None, delay: float = 0.0
    ) -> Reply:
        body = json.dumps(data).encode()
        return cls(status, body, {"Content-Type": "application/json", **(headers or {})}, delay)


class LocalServer:
    """Subclasses answer in ``handle``. ``host`` may be another loopback address, ``port``
    a given one (0: any free port); ``tls`` serves HTTPS with that context."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, tls: ssl.SSLContext | None = None
    ) -> None:
        self.host = host
        self.wanted_port = port
        self.tls = tls
        self.requests: list[Recorded] = []
        self.scripted: list[Reply] = []
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    def handle(self, request: Recorded) -> Reply:
        raise NotImplementedError

    def then_reply(self, *replies: Reply) -> None:
        """The next requests get these replies, in order, before ``handle`` is asked."""
        with self.lock:
            self.scripted.extend(replies)

    @property
    def port(self) -> int:
        assert self.server is not None, "start() the fake first"
        return int(self.server.server_address[1])

    @property
    def base_url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def _answer(self, request: Recorded) -> Reply:
        with self.lock:
            self.requests.append(request)
            scripted = self.scripted.pop(0) if self.scripted else None
        return scripted or self.handle(request)

    def start(self) -> Self:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                url = urlsplit(self.path)
                request = Recorded(
                    method=self.command,
                    path=url.path,
                    query={k: v[0] for k, v in parse_qs(url.query).items()},
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length),
                    at=time.time(),
                )
                reply = fake._answer(request)
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting: that was the point

            do_GET = do_POST = _serve  # noqa: N815 (the stdlib's names)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer((self.host, self.wanted_port), Handler)
        self.server.daemon_threads = True
        if self.tls is not None:
            self.server.socket = self.tls.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class WebhookReceiver(LocalServer):
    """A webhook endpoint (an outgoing webhook's receiver, a Teams workflow): records
    each request and answers ``status`` (202 like Workflows, 200 by default)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: ssl.SSLContext | None = None,
        *,
        status: int = 200,
        body: bytes = b"ok",
    ) -> None:
        super().__init__(host, port, tls)
        self.status = status
        self.body = body

    def handle(self, request: Recorded) -> Reply:
        return Reply(self.status, self.body, {"Content-Type": "text/plain"})

    def url(self, path: str = "/hook") -> str:
        return self.base_url + path
