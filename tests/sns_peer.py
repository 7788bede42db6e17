"""A local stand-in for Amazon SNS's HTTPS side: it serves our test signing certificate
and answers ConfirmSubscription like SNS does. Counts every request so tests can prove
what was (not) fetched."""

from __future__ import annotations

import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from tests.sns_signing import certificate_pem

CONFIRM_XML = """<ConfirmSubscriptionResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <ConfirmSubscriptionResult>
    <SubscriptionArn>{arn}</SubscriptionArn>
  </ConfirmSubscriptionResult>
  <ResponseMetadata><RequestId>7a4b6c1e-0000-4000-8000-000000000000</RequestId></ResponseMetadata>
</ConfirmSubscriptionResponse>"""


class SnsPeer:
    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                peer.hits[url.path] += 1
                if url.path.endswith(".pem"):
                    self._answer(200, certificate_pem(), "application/x-x509-ca-cert")
                    return
                query = parse_qs(url.query)
                if query.get("Action") == ["ConfirmSubscription"]:
                    topic = query.get("TopicArn", ["arn:aws:sns:us-east-1:123456789012:t"])[0]
                    arn = f"{topic}:0f4d2c3e-1111-4222-8333-444455556666"
                    self._answer(200, CONFIRM_XML.format(arn=arn).encode(), "text/xml")
                    return
                self._answer(404, b"<Error>not found</Error>", "text/xml")

            def _answer(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def cert_url(self) -> str:
        return f"{self.base}/SimpleNotificationService-test.pem"

    def subscribe_url(self, topic_arn: str) -> str:
        return f"{self.base}/?Action=ConfirmSubscription&TopicArn={topic_arn}&Token=abc123"

    @property
    def cert_url_pattern(self) -> str:
        return rf"http://127\.0\.0\.1:{self.port}/[^?#]*\.pem"

    @property
    def subscribe_url_pattern(self) -> str:
        return rf"http://127\.0\.0\.1:{self.port}/\?([^#]*&)?Action=ConfirmSubscription(&[^#]*)?"

    def start(self) -> SnsPeer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
