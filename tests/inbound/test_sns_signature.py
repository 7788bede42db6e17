"""SNS envelope parsing and signature verification (integrations.sources.sns): no database.

The oracle is tests/fixtures/sns/real_signed.json: genuine Amazon-signed deliveries with
their (now expired) certificates. Signature maths is checked with the clock set to each
message's own Timestamp, which lies inside its certificate's validity window; expiry is
checked separately with the real clock.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509

from integrations.sources import sns
from integrations.sources.sns import (
    DEFAULT_CERT_URL_PATTERN,
    CertificateInvalid,
    CertificateUrlNotAllowed,
    MalformedMessage,
    SignatureInvalid,
    SnsEnvelope,
    SnsError,
    check_certificate_url,
    parse_envelope,
    string_to_sign,
    verify,
    verify_signature,
)
from tests.conftest import FIXTURES
from tests.sns_signing import certificate_pem, sign_body, signed_envelope

FIXTURE = FIXTURES / "sns" / "real_signed.json"


def _load_cases() -> list[tuple[str, bytes, dict[str, Any]]]:
    data = json.loads(FIXTURE.read_text(encoding="utf-8"))
    cases: list[tuple[str, bytes, dict[str, Any]]] = []
    for set_index, item in enumerate(data["sets"]):
        pem = item["certificate_pem"].encode("ascii")
        for group in ("messages", "lambda_style_messages"):
            for index, message in enumerate(item.get(group, [])):
                label = (
                    f"set{set_index}-{group.split('_')[0]}{index}-"
                    f"{message['Type']}-v{message['SignatureVersion']}"
                    f"{'-subject' if message.get('Subject') else ''}"
                )
                cases.append((label, pem, message))
    return cases


CASES = _load_cases()
CASE_IDS = [label for label, _, _ in CASES]

SIGNED_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
}
SIGNED_FIELDS["UnsubscribeConfirmation"] = SIGNED_FIELDS["SubscriptionConfirmation"]


def body_of(message: dict[str, Any]) -> bytes:
    return json.dumps(message).encode("utf-8")


def moment_of(env: SnsEnvelope) -> datetime:
    """The message's own Timestamp: a clock inside its certificate's validity window."""
    return datetime.fromisoformat(env.timestamp.replace("Z", "+00:00"))


def check(message: dict[str, Any], pem: bytes, now: datetime | None = None) -> None:
    env = parse_envelope(body_of(message))
    verify_signature(env, certificate_pem=pem, now=now or moment_of(env))


def flipped(text: str, index: int) -> str:
    """``text`` with the character at ``index`` changed to a different one."""
    code = ord(text[index]) ^ 1
    if 0xD800 <= code <= 0xDFFF:  # keep it encodable
        code = ord("x") if text[index] != "x" else ord("y")
    return text[:index] + chr(code) + text[index + 1 :]


# ------------------------------------------------------------------ the fixtures themselves


def test_fixture_covers_what_the_readme_promises() -> None:
    types = {(m["Type"], m["SignatureVersion"]) for _, _, m in CASES}
    assert ("SubscriptionConfirmation", "1") in types
    assert ("UnsubscribeConfirmation", "2") in types
    assert ("Notification", "1") in types and ("Notification", "2") in types
    assert any("SigningCertUrl" in m for _, _, m in CASES)
    assert any("Subject" in m and m["Subject"] is None for _, _, m in CASES)
    assert any(m.get("Subject") for _, _, m in CASES)
    assert len(CASES) == 15


def test_fixture_certificates_validity_windows() -> None:
    windows = sorted(
        {
            (cert.not_valid_before_utc, cert.not_valid_after_utc)
            for cert in (x509.load_pem_x509_certificate(pem) for _, pem, _ in CASES)
        }
    )
    assert windows == [
        (datetime(2021, 9, 7, tzinfo=UTC), datetime(2022, 8, 17, 23, 59, 59, tzinfo=UTC)),
        (datetime(2025, 11, 10, tzinfo=UTC), datetime(2026, 10, 14, 23, 59, 59, tzinfo=UTC)),
    ]


# ---------------------------------------------------------------------- real signatures


@pytest.mark.parametrize(("label", "pem", "message"), CASES, ids=CASE_IDS)
def test_real_message_verifies(label: str, pem: bytes, message: dict[str, Any]) -> None:
    check(message, pem)


@pytest.mark.parametrize(("label", "pem", "message"), CASES, ids=CASE_IDS)
def test_any_single_changed_character_in_a_signed_field_fails(
    label: str, pem: bytes, message: dict[str, Any]
) -> None:
    now = moment_of(parse_envelope(body_of(message)))  # fixed clock: Timestamp is tampered too
    tried = 0
    for name in SIGNED_FIELDS[message["Type"]]:
        value = message.get(name)
        if value is None:
            continue
        for index in range(len(value)):
            tampered = {**message, name: flipped(value, index)}
            expected: type[SnsError] = MalformedMessage if name == "Type" else SignatureInvalid
            with pytest.raises(expected):
                check(tampered, pem, now)
            tried += 1
    assert tried > 100


@pytest.mark.parametrize(("label", "pem", "message"), CASES, ids=CASE_IDS)
def test_wrong_hash_algorithm_fails(label: str, pem: bytes, message: dict[str, Any]) -> None:
    other = "2" if message["SignatureVersion"] == "1" else "1"
    env = parse_envelope(body_of({**message, "SignatureVersion": other}))
    with pytest.raises(SignatureInvalid, match="^bad signature: "):
        verify_signature(env, certificate_pem=pem, now=moment_of(env))


SUBJECT_CASES = [case for case in CASES if case[2].get("Subject")]
NO_SUBJECT_NOTIFICATIONS = [
    case for case in CASES if case[2]["Type"] == "Notification" and not case[2].get("Subject")
]


@pytest.mark.parametrize(
    ("label", "pem", "message"), SUBJECT_CASES, ids=[c[0] for c in SUBJECT_CASES]
)
def test_dropping_subject_fails(label: str, pem: bytes, message: dict[str, Any]) -> None:
    without = {k: v for k, v in message.items() if k != "Subject"}
    with pytest.raises(SignatureInvalid):
        check(without, pem)
    with pytest.raises(SignatureInvalid):
        check({**message, "Subject": None}, pem)


@pytest.mark.parametrize(
    ("label", "pem", "message"),
    NO_SUBJECT_NOTIFICATIONS,
    ids=[c[0] for c in NO_SUBJECT_NOTIFICATIONS],
)
def test_adding_subject_fails(label: str, pem: bytes, message: dict[str, Any]) -> None:
    with pytest.raises(SignatureInvalid):
        check({**message, "Subject": "injected"}, pem)
    with pytest.raises(SignatureInvalid):
        check({**message, "Subject": ""}, pem)  # empty is present, unlike null


@pytest.mark.parametrize(("label", "pem", "message"), CASES, ids=CASE_IDS)
def test_unsigned_fields_are_not_covered(label: str, pem: bytes, message: dict[str, Any]) -> None:
    """UnsubscribeURL and SigningCertURL are outside the signature: never trust them alone."""
    env = parse_envelope(body_of(message))
    changed = replace(
        env,
        unsubscribe_url="https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&x=1",
        signing_cert_url="https://sns.eu-west-1.amazonaws.com/other.pem",
    )
    verify_signature(changed, certificate_pem=pem, now=moment_of(env))


def test_lambda_style_and_http_style_keys_parse_the_same() -> None:
    by_id: dict[tuple[str, str], list[SnsEnvelope]] = {}
    for _, _, message in CASES:
        env = parse_envelope(body_of(message))
        by_id.setdefault((env.message_id, env.signature_version), []).append(env)
    lambda_seen = 0
    for envs in by_id.values():
        first = envs[0]
        for other in envs[1:]:
            assert other == first  # raw is excluded from comparison
            assert string_to_sign(other) == string_to_sign(first)
            lambda_seen += 1
        assert first.signing_cert_url.startswith("https://sns.")
        if first.type == "Notification":
            assert first.unsubscribe_url and "Action=Unsubscribe" in first.unsubscribe_url
    assert lambda_seen >= 6


def test_string_to_sign_layout() -> None:
    _, _, message = next(c for c in CASES if c[2].get("Subject"))
    env = parse_envelope(body_of(message))
    assert (
        string_to_sign(env)
        == (
            f"Message\n{env.message}\nMessageId\n{env.message_id}\nSubject\n{env.subject}\n"
            f"Timestamp\n{env.timestamp}\nTopicArn\n{env.topic_arn}\nType\nNotification\n"
        ).encode()
    )
    _, _, confirmation = next(c for c in CASES if c[2]["Type"] == "SubscriptionConfirmation")
    env = parse_envelope(body_of(confirmation))
    c = confirmation
    assert (
        string_to_sign(env)
        == (
            f"Message\n{c['Message']}\nMessageId\n{c['MessageId']}\n"
            f"SubscribeURL\n{c['SubscribeURL']}\nTimestamp\n{c['Timestamp']}\n"
            f"Token\n{c['Token']}\nTopicArn\n{c['TopicArn']}\nType\nSubscriptionConfirmation\n"
        ).encode()
    )
    assert "\n" in c["Message"]  # values go in verbatim, embedded newlines included


# ----------------------------------------------------------------------- certificate rules


@pytest.mark.parametrize(("label", "pem", "message"), CASES, ids=CASE_IDS)
def test_expired_certificate_rejected_at_real_time(
    label: str, pem: bytes, message: dict[str, Any]
) -> None:
    cert = x509.load_pem_x509_certificate(pem)
    assert cert.not_valid_after_utc < datetime.now(UTC)
    with pytest.raises(CertificateInvalid) as info:
        check(message, pem, now=datetime.now(UTC))
    expected = cert.not_valid_after_utc.strftime("%Y-%m-%d %H:%M:%S UTC")
    assert info.value.reason == f"certificate expired on {expected}"


def test_validity_window_edges() -> None:
    _, pem, message = CASES[0]
    cert = x509.load_pem_x509_certificate(pem)
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    check(message, pem, now=start)
    check(message, pem, now=end)
    check(message, pem, now=end.replace(tzinfo=None))  # naive is taken as UTC
    with pytest.raises(CertificateInvalid, match="^certificate expired on 2026-10-14"):
        check(message, pem, now=end + timedelta(seconds=1))
    with pytest.raises(CertificateInvalid, match="^certificate not valid before 2025-11-10"):
        check(message, pem, now=start - timedelta(seconds=1))


def test_expiry_is_reported_before_signature() -> None:
    _, pem, message = CASES[0]
    with pytest.raises(CertificateInvalid):
        check({**message, "Message": "tampered"}, pem, now=datetime(2030, 1, 1, tzinfo=UTC))


def test_unsupported_signature_version() -> None:
    _, pem, message = CASES[0]
    for version in ("3", "0", "", "1 ", "SHA1"):
        env = parse_envelope(body_of({**message, "SignatureVersion": version}))
        with pytest.raises(SignatureInvalid) as info:
            verify_signature(env, certificate_pem=pem, now=moment_of(env))
        assert info.value.reason == f"unsupported SignatureVersion: {version!r}"


@pytest.mark.parametrize(
    "signature", ["not base64!", "", "AAAA", "QUJD\n", "Zm9v=bar", "é", "A" * 344]
)
def test_bad_signature_values(signature: str) -> None:
    _, pem, message = CASES[0]
    env = parse_envelope(body_of({**message, "Signature": signature}))
    with pytest.raises(SignatureInvalid, match="^bad signature: "):
        verify_signature(env, certificate_pem=pem, now=moment_of(env))


@pytest.mark.parametrize(
    "pem",
    [
        b"",
        b"hello",
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        b"\xff\xfe",
    ],
)
def test_unreadable_certificate(pem: bytes) -> None:
    _, _, message = CASES[0]
    env = parse_envelope(body_of(message))
    with pytest.raises(CertificateInvalid, match="^certificate "):
        verify_signature(env, certificate_pem=pem, now=moment_of(env))


def test_wrong_certificate_fails() -> None:
    _, _, message = CASES[0]
    env = parse_envelope(body_of(message))
    with pytest.raises(SignatureInvalid):
        verify_signature(env, certificate_pem=certificate_pem(), now=datetime.now(UTC))


def test_parsed_keys_are_cached() -> None:
    _, pem, message = CASES[0]
    env = parse_envelope(body_of(message))
    verify_signature(env, certificate_pem=pem, now=moment_of(env))
    before = sns._load_certificate.cache_info()
    for _ in range(5):
        verify_signature(env, certificate_pem=bytes(pem), now=moment_of(env))
    after = sns._load_certificate.cache_info()
    assert after.hits - before.hits == 5
    assert after.misses == before.misses


# ---------------------------------------------------------------------- certificate URLs

ALLOWED_CERT_URLS = [
    "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
    "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-7506a1e35b36ef5a444dd1a8e7cc3ed8.pem",
    "https://sns.eu-central-1.amazonaws.com/SimpleNotificationService-x.pem",
    "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-x.pem",
    "https://sns.us-gov-west-1.amazonaws.com/a/b/c.pem",
] + [str(case[2].get("SigningCertURL") or case[2].get("SigningCertUrl")) for case in CASES]

REJECTED_CERT_URLS = [
    "http://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
    "https://sns.us-east-1.amazonaws.com.evil.com/x.pem",
    "https://sns.us-east-1.amazonaws.com@evil.com/x.pem",
    "https://evil.com/sns.us-east-1.amazonaws.com/x.pem",
    "https://evil.com/x.pem",
    "https://sns.us-east-1.amazonaws.com/x.pem.txt",
    "https://sns.us-east-1.amazonaws.com/x.crt",
    "https://sns.us-east-1.amazonaws.com/x.pem?x=1",
    "https://sns.us-east-1.amazonaws.com/x?.pem",
    "https://sns.us-east-1.amazonaws.com/x#.pem",
    "https://sns.us-east-1.amazonaws.com:8443/x.pem",
    "https://sns.us-east-1.amazonaws.com/a@evil.com/x.pem",
    "https://sns.us-east-1.amazonaws.com\\@evil.com/x.pem",
    "https://sns.us-east-1.amazonaws.com/x .pem",
    "https://sns.us-east-1.amazonaws.com/x\n.pem",
    "https://sns.US-EAST-1.amazonaws.com/x.pem",
    "https://sqs.us-east-1.amazonaws.com/x.pem",
    "https://sns.amazonaws.com/x.pem",
    "https://xsns.us-east-1.amazonaws.com/x.pem",
    "https://sns.us-east-1.amazonaws.com.cn.evil.com/x.pem",
    "file:///etc/passwd.pem",
    " https://sns.us-east-1.amazonaws.com/x.pem",
    "",
]


@pytest.mark.parametrize("url", ALLOWED_CERT_URLS)
def test_certificate_url_allowed(url: str) -> None:
    check_certificate_url(url, DEFAULT_CERT_URL_PATTERN)
    check_certificate_url(url)  # the default pattern is the same


@pytest.mark.parametrize("url", REJECTED_CERT_URLS)
def test_certificate_url_rejected(url: str) -> None:
    with pytest.raises(CertificateUrlNotAllowed) as info:
        check_certificate_url(url, DEFAULT_CERT_URL_PATTERN)
    assert info.value.reason.startswith("certificate URL not allowed: ")


def test_userinfo_refused_even_if_the_pattern_allows_it() -> None:
    for url in ("https://a@b/x.pem", "https://b\\c/x.pem", "https://b/x y.pem"):
        with pytest.raises(CertificateUrlNotAllowed):
            check_certificate_url(url, r".*")
    check_certificate_url("http://127.0.0.1:4566/x.pem", r"http://127\.0\.0\.1:4566/.*\.pem")


class RecordingFetcher:
    def __init__(self, pem: bytes) -> None:
        self.pem = pem
        self.calls: list[str] = []

    def __call__(self, url: str) -> bytes:
        self.calls.append(url)
        return self.pem


@pytest.mark.parametrize("url", REJECTED_CERT_URLS)
def test_verify_never_fetches_a_disallowed_url(url: str) -> None:
    _, pem, message = CASES[0]
    env = replace(parse_envelope(body_of(message)), signing_cert_url=url)
    fetcher = RecordingFetcher(pem)
    with pytest.raises(CertificateUrlNotAllowed):
        verify(
            env,
            fetch_certificate=fetcher,
            cert_url_pattern=DEFAULT_CERT_URL_PATTERN,
            now=moment_of(env),
        )
    assert fetcher.calls == []


def test_verify_does_not_fetch_for_an_unsupported_version() -> None:
    _, pem, message = CASES[0]
    env = parse_envelope(body_of({**message, "SignatureVersion": "3"}))
    fetcher = RecordingFetcher(pem)
    with pytest.raises(SignatureInvalid):
        verify(
            env,
            fetch_certificate=fetcher,
            cert_url_pattern=DEFAULT_CERT_URL_PATTERN,
            now=moment_of(env),
        )
    assert fetcher.calls == []


@pytest.mark.parametrize(("label", "pem", "message"), CASES, ids=CASE_IDS)
def test_verify_fetches_the_allowed_url(label: str, pem: bytes, message: dict[str, Any]) -> None:
    env = parse_envelope(body_of(message))
    fetcher = RecordingFetcher(pem)
    verify(
        env,
        fetch_certificate=fetcher,
        cert_url_pattern=DEFAULT_CERT_URL_PATTERN,
        now=moment_of(env),
    )
    assert fetcher.calls == [env.signing_cert_url]


# ------------------------------------------------------------------------ envelope errors


def _without(message: dict[str, Any], *names: str) -> bytes:
    return body_of({k: v for k, v in message.items() if k not in names})


NOTIFICATION = next(m for _, _, m in CASES if m["Type"] == "Notification")
CONFIRMATION = next(m for _, _, m in CASES if m["Type"] == "SubscriptionConfirmation")
LAMBDA = next(m for _, _, m in CASES if "SigningCertUrl" in m)

MALFORMED: list[tuple[bytes, str]] = [
    (b"", "empty body"),
    (b"  \n", "empty body"),
    (b"not json", "malformed JSON: Expecting value: line 1 column 1 (char 0)"),
    (b'{"Type": "Notification",', "malformed JSON: "),
    (b"[]", "expected a JSON object, got array"),
    (b'[{"Type": "Notification"}]', "expected a JSON object, got array"),
    (b'"Notification"', "expected a JSON object, got string"),
    (b"42", "expected a JSON object, got number"),
    (b"null", "expected a JSON object, got null"),
    (b"true", "expected a JSON object, got boolean"),
    (b"\xff\xfe{}", "body is not valid UTF-8 (bad byte at offset 0)"),
    (b'{"Type": "Notification\xc3"}', "body is not valid UTF-8"),
    (b"[" * 100_000, "malformed JSON: nested too deeply"),
    (b"{}", "missing field: Type"),
    (b'{"Type": null}', "missing field: Type"),
    (b'{"Type": "Foo"}', "unknown Type: 'Foo'"),
    (b'{"Type": "notification"}', "unknown Type: 'notification'"),
    (b'{"Type": ["Notification"]}', "field Type must be a string, got array"),
    (b'{"Type": "Notification", "Type": "Notification"}', "duplicate field: 'Type'"),
    (b'{"Type": "Notification"}', "missing field: MessageId"),
    (body_of({**NOTIFICATION, "MessageId": 5}), "field MessageId must be a string, got number"),
    (body_of({**NOTIFICATION, "Message": {"a": 1}}), "field Message must be a string, got object"),
    (body_of({**NOTIFICATION, "Subject": 1}), "field Subject must be a string, got number"),
    (body_of({**NOTIFICATION, "Message": "\ud800"}), "field Message contains invalid Unicode"),
    (
        body_of({**NOTIFICATION, "SigningCertUrl": "https://sns.x.amazonaws.com/other.pem"}),
        "conflicting fields: SigningCertURL and SigningCertUrl",
    ),
    (_without(CONFIRMATION, "SubscribeURL"), "missing field: SubscribeURL"),
    (_without(CONFIRMATION, "Token"), "missing field: Token"),
    (_without(LAMBDA, "SigningCertUrl"), "missing field: SigningCertURL"),
] + [
    (_without(NOTIFICATION, name), f"missing field: {name}")
    for name in (
        "MessageId",
        "TopicArn",
        "Message",
        "Timestamp",
        "SignatureVersion",
        "Signature",
        "SigningCertURL",
    )
]


@pytest.mark.parametrize(("body", "reason"), MALFORMED, ids=[r for _, r in MALFORMED])
def test_parse_envelope_reasons(body: bytes, reason: str) -> None:
    with pytest.raises(MalformedMessage) as info:
        parse_envelope(body)
    assert info.value.reason.startswith(reason), info.value.reason
    assert str(info.value) == info.value.reason


def test_long_values_are_shortened_in_reasons() -> None:
    with pytest.raises(MalformedMessage) as info:
        parse_envelope(json.dumps({"Type": "X" * 10_000}).encode())
    assert len(info.value.reason) < 200


def test_optional_fields() -> None:
    env = parse_envelope(body_of(NOTIFICATION))
    assert env.subject is None and env.token is None and env.subscribe_url is None
    assert env.raw == NOTIFICATION
    env = parse_envelope(body_of(CONFIRMATION))
    assert env.token == CONFIRMATION["Token"]
    assert env.subscribe_url == CONFIRMATION["SubscribeURL"]
    assert env.unsubscribe_url is None
    # Both spellings present and equal is fine.
    both = {**LAMBDA, "SigningCertURL": LAMBDA["SigningCertUrl"]}
    assert parse_envelope(body_of(both)).signing_cert_url == LAMBDA["SigningCertUrl"]


def test_bytes_like_and_wrong_type_bodies() -> None:
    body = body_of(NOTIFICATION)
    loose: Any = bytearray(body)  # callers may hand over any bytes-like object
    assert parse_envelope(loose) == parse_envelope(body)
    loose = memoryview(body)
    assert parse_envelope(loose) == parse_envelope(body)
    for wrong in (body.decode(), 5, None):
        loose = wrong
        with pytest.raises(MalformedMessage, match="^body must be bytes"):
            parse_envelope(loose)


# ------------------------------------------------------------------- property-style fuzzing


def _random_json_value(rng: random.Random) -> Any:
    return rng.choice(
        [
            None,
            True,
            0,
            -1.5,
            10**30,
            "",
            "\ud83d",
            "x" * rng.randint(0, 50),
            [],
            [1, [2]],
            {},
            {"Type": "Notification"},
            "Notification",
            "SubscriptionConfirmation",
        ]
    )


def _mutations(rng: random.Random, seeds: list[bytes]) -> list[bytes]:
    out: list[bytes] = []
    for _ in range(400):
        out.append(rng.randbytes(rng.randint(0, 300)))
    for _ in range(1500):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 8)):
            op = rng.randrange(4)
            pos = rng.randrange(len(data)) if data else 0
            if op == 0 and data:
                data[pos] = rng.randrange(256)
            elif op == 1 and data:
                del data[pos : pos + rng.randint(1, 20)]
            elif op == 2:
                data[pos:pos] = rng.choice([b'"', b"{", b"}", b"[", b",", b"\\", b"\x00", b"\xc3"])
            else:
                data = data[: rng.randrange(len(data) + 1)]
        out.append(bytes(data))
    for _ in range(1500):
        message = dict(rng.choice(CASES)[2])
        for _ in range(rng.randint(1, 3)):
            key = rng.choice([*message.keys(), "Subject", "SubscribeUrl", "Extra"])
            if rng.random() < 0.3:
                message.pop(key, None)
            else:
                message[key] = _random_json_value(rng)
        out.append(json.dumps(message).encode("utf-8", errors="surrogatepass"))
    return out


def test_fuzzed_inputs_raise_only_sns_errors() -> None:
    rng = random.Random(20261121)
    seeds = [body_of(m) for _, _, m in CASES]
    pems = {m["MessageId"]: pem for _, pem, m in CASES}
    parsed = 0
    for body in _mutations(rng, seeds):
        try:
            env = parse_envelope(body)
        except SnsError as exc:
            assert isinstance(exc.reason, str) and exc.reason
            continue
        parsed += 1
        pem = pems.get(env.message_id, CASES[0][1])
        fetcher: Callable[[str], bytes] = RecordingFetcher(pem)
        try:
            string_to_sign(env)
            verify(
                env,
                fetch_certificate=fetcher,
                cert_url_pattern=DEFAULT_CERT_URL_PATTERN,
                now=datetime(2022, 8, 1, tzinfo=UTC),
            )
        except SnsError:
            pass
    assert parsed > 50  # the loop did reach the verifier


# ------------------------------------------------------------------ our own signing helper


@pytest.mark.parametrize("version", ["1", "2"])
@pytest.mark.parametrize(
    "msg_type", ["Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"]
)
@pytest.mark.parametrize("subject", [None, "Alarm: high CPU"])
def test_signing_helper_round_trip(version: str, msg_type: str, subject: str | None) -> None:
    body = signed_envelope(
        type=msg_type, message='{"AlarmName": "cpu"}', subject=subject, signature_version=version
    )
    assert set(body) >= {"Type", "MessageId", "Signature", "SigningCertURL", "Timestamp"}
    if msg_type == "Notification":
        assert "UnsubscribeURL" in body and "Token" not in body
        assert body.get("Subject") == subject
    else:
        assert "Action=ConfirmSubscription" in body["SubscribeURL"] and body["Token"]
    env = parse_envelope(json.dumps(body).encode())
    fetcher = RecordingFetcher(certificate_pem())
    verify(
        env,
        fetch_certificate=fetcher,
        cert_url_pattern=DEFAULT_CERT_URL_PATTERN,
        now=datetime.now(UTC),
    )
    assert fetcher.calls == [body["SigningCertURL"]]
    with pytest.raises(SignatureInvalid):
        check({**body, "Message": body["Message"] + " "}, certificate_pem(), datetime.now(UTC))
    check(sign_body({**body, "Message": "edited"}), certificate_pem(), datetime.now(UTC))


def test_signing_helper_defaults_and_overrides() -> None:
    body = signed_envelope(
        message="hi",
        message_id="m-1",
        timestamp="2026-01-02T03:04:05.678Z",
        topic_arn="arn:aws:sns:eu-west-1:111122223333:t",
        cert_url="https://sns.eu-west-1.amazonaws.com/x.pem",
    )
    assert body["MessageId"] == "m-1"
    assert body["Timestamp"] == "2026-01-02T03:04:05.678Z"
    assert body["UnsubscribeURL"].startswith("https://sns.eu-west-1.amazonaws.com/")
    assert body["SignatureVersion"] == "2"
    assert signed_envelope(message="a")["MessageId"] != signed_envelope(message="a")["MessageId"]
    confirm = signed_envelope(
        type="SubscriptionConfirmation",
        message="confirm",
        subscribe_url="http://127.0.0.1:9/?Action=ConfirmSubscription",
    )
    assert confirm["SubscribeURL"] == "http://127.0.0.1:9/?Action=ConfirmSubscription"
    check(confirm, certificate_pem(), datetime.now(UTC))
    cert = x509.load_pem_x509_certificate(certificate_pem())
    assert cert.not_valid_before_utc < datetime.now(UTC) < cert.not_valid_after_utc
    assert certificate_pem() is certificate_pem()  # generated once per process
