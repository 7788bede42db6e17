"""Sign our own SNS messages for tests (a helper module, not a test file).

One RSA-2048 key and a self-signed certificate (CN=sns.amazonaws.com, valid from a day
ago to a year ahead) are made once per process. ``signed_envelope`` returns a complete
SNS HTTP delivery body, signed the way Amazon signs, ready for ``json.dumps``; serve
``certificate_pem()`` at its ``SigningCertURL`` (or return it from a fake fetcher).

The canonical string is built here independently of integrations.sources.sns, so a
round trip through ``verify()`` cross-checks both.
"""

from __future__ import annotations

import base64
import functools
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

DEFAULT_TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:klaxon-test"
DEFAULT_CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-test.pem"

_CONFIRMATIONS = ("SubscriptionConfirmation", "UnsubscribeConfirmation")


@functools.cache
def _key_and_cert() -> tuple[rsa.RSAPrivateKey, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return key, cert.public_bytes(serialization.Encoding.PEM)


def certificate_pem() -> bytes:
    """The PEM certificate whose key signs every ``signed_envelope``."""
    return _key_and_cert()[1]


def _canonical(body: dict[str, Any]) -> bytes:
    if body["Type"] in _CONFIRMATIONS:
        keys = [
            "Message",
            "MessageId",
            "SubscribeURL",
            "Timestamp",
            "Token",
            "TopicArn",
            "Type",
        ]
    else:
        keys = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
    lines = [f"{k}\n{body[k]}\n" for k in keys if body.get(k) is not None]
    return "".join(lines).encode("utf-8")


def sign_body(body: dict[str, Any]) -> dict[str, Any]:
    """(Re)compute ``Signature`` for a body dict after editing it; returns a new dict."""
    algorithm: hashes.HashAlgorithm = (
        hashes.SHA1() if body["SignatureVersion"] == "1" else hashes.SHA256()
    )
    signature = _key_and_cert()[0].sign(_canonical(body), padding.PKCS1v15(), algorithm)
    return {**body, "Signature": base64.b64encode(signature).decode("ascii")}


def _region(topic_arn: str) -> str:
    parts = topic_arn.split(":")
    return parts[3] if len(parts) > 3 and parts[3] else "us-east-1"


def signed_envelope(
    *,
    type: str = "Notification",
    message: str,
    topic_arn: str = DEFAULT_TOPIC_ARN,
    cert_url: str = DEFAULT_CERT_URL,
    subject: str | None = None,
    message_id: str | None = None,
    timestamp: str | None = None,
    subscribe_url: str | None = None,
    signature_version: str = "2",
) -> dict[str, Any]:
    """A complete, correctly signed SNS delivery body.

    Notifications carry ``UnsubscribeURL`` (and ``Subject`` when given); confirmations
    carry ``SubscribeURL`` (a realistic one unless given) and a random ``Token``.
    ``subscribe_url`` is ignored for notifications.
    """
    region = _region(topic_arn)
    if timestamp is None:
        timestamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    body: dict[str, Any] = {
        "Type": type,
        "MessageId": message_id if message_id is not None else str(uuid.uuid4()),
        "TopicArn": topic_arn,
        "Message": message,
        "Timestamp": timestamp,
        "SignatureVersion": signature_version,
        "Signature": "",
        "SigningCertURL": cert_url,
    }
    if type in _CONFIRMATIONS:
        token = secrets.token_hex(64)
        body["Token"] = token
        body["SubscribeURL"] = subscribe_url or (
            f"https://sns.{region}.amazonaws.com/?Action=ConfirmSubscription"
            f"&TopicArn={topic_arn}&Token={token}"
        )
    else:
        if subject is not None:
            body["Subject"] = subject
        body["UnsubscribeURL"] = (
            f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe"
            f"&SubscriptionArn={topic_arn}:{uuid.uuid4()}"
        )
    return sign_body(body)
