"""boto3 sessions for an integration's read-only AWS credentials, and AWS errors in words.

Every client goes to ``settings.AWS_ENDPOINT_URL`` when it is set (tests point it at
moto's server; a private VPC endpoint works the same way), with short timeouts and
botocore's standard retry mode (it backs off on throttling by itself, three tries).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Final

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
)
from django.conf import settings

from aws import crypto
from aws.models import AwsCredentials

__all__ = ["AwsProblem", "aws_problem", "session_for", "client"]

_CONFIG: Final = Config(
    connect_timeout=5,
    read_timeout=15,
    retries={"max_attempts": 3, "mode": "standard"},
    user_agent_extra="klaxon",
)
_SESSION_NAME: Final = "klaxon-evidence"
_XML_CODE: Final = re.compile(r"<Code>([^<]{1,100})</Code>")
_XML_MESSAGE: Final = re.compile(r"<Message>([^<]{0,500})</Message>")

_DENIED: Final = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedAccess"}
)
_THROTTLED: Final = frozenset(
    {"Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded"}
)
_BAD_CREDENTIALS: Final = frozenset(
    {
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidAccessKeyId",
    }
)


class AwsProblem(Exception):
    """An AWS call failed; ``str()`` says why in words a responder understands."""


@dataclass(frozen=True)
class Session:
    """A boto3 session and the region its clients use."""

    boto: Any
    region: str

    def client(self, service: str, region: str | None = None) -> Any:
        return client(self.boto, service, region or self.region)


def client(session: Any, service: str, region: str) -> Any:
    return session.client(
        service,
        region_name=region,
        endpoint_url=settings.AWS_ENDPOINT_URL or None,
        config=_CONFIG,
    )


def _error_parts(response: dict[str, Any]) -> tuple[str, str, int]:
    """The error code, message and HTTP status of a failed call. Some endpoints (proxies,
    local emulators) answer a JSON-protocol call with an XML error body, which botocore
    then reports as code "403" and the XML as message: the XML is read here."""
    error = response.get("Error", {})
    code = str(error.get("Code", ""))
    message = " ".join(str(error.get("Message", "")).split())
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    if message.startswith("<"):
        found_code = _XML_CODE.search(message)
        found_message = _XML_MESSAGE.search(message)
        code = found_code[1] if found_code else code
        message = found_message[1] if found_message else ""
    if code.isdigit() and not status:
        status = int(code)
    return code, message[:500], status


def aws_problem(exc: Exception, doing: str) -> AwsProblem:
    """``exc`` from botocore as an AwsProblem saying what failed while ``doing``."""
    if isinstance(exc, ClientError):
        code, message, status = _error_parts(exc.response)
        said = f"{code}: {message}" if message else code
        if code in _BAD_CREDENTIALS:
            return AwsProblem(f"AWS did not accept the credentials to {doing} ({said})")
        if code in _DENIED or (status == 403 and code not in _THROTTLED):
            return AwsProblem(f"no permission to {doing} ({said})")
        if code in _THROTTLED or status == 429:
            return AwsProblem(f"AWS throttled the request to {doing}; try again later ({said})")
        return AwsProblem(f"AWS refused to {doing} ({said})")
    if isinstance(exc, NoCredentialsError):
        return AwsProblem(
            f"no AWS credentials to {doing}: assuming a role needs credentials on the Klaxon "
            "host (an instance profile, or AWS_ACCESS_KEY_ID in the environment)"
        )
    if isinstance(exc, EndpointConnectionError):
        return AwsProblem(f"AWS could not be reached to {doing} ({exc})")
    return AwsProblem(f"could not {doing} ({type(exc).__name__}: {exc})")


def session_for(credentials: AwsCredentials) -> Session:
    """A session acting with ``credentials``: the stored keys, or the role assumed with
    the Klaxon host's own credentials. Raises AwsProblem (and crypto.Unreadable)."""
    stored: dict[str, str] = json.loads(crypto.decrypt(credentials.secret))
    region = credentials.region
    if credentials.kind == AwsCredentials.Kind.KEYS:
        boto = boto3.session.Session(
            aws_access_key_id=stored["access_key_id"],
            aws_secret_access_key=stored["secret_access_key"],
            region_name=region,
        )
        return Session(boto, region)
    host = boto3.session.Session(region_name=region)
    options: dict[str, Any] = {
        "RoleArn": stored["role_arn"],
        "RoleSessionName": _SESSION_NAME,
        "DurationSeconds": 900,
    }
    if stored.get("external_id"):
        options["ExternalId"] = stored["external_id"]
    try:
        answer = client(host, "sts", region).assume_role(**options)
    except (BotoCoreError, ClientError) as exc:
        raise aws_problem(exc, f"assume the role {stored['role_arn']}") from None
    temporary = answer["Credentials"]
    boto = boto3.session.Session(
        aws_access_key_id=temporary["AccessKeyId"],
        aws_secret_access_key=temporary["SecretAccessKey"],
        aws_session_token=temporary["SessionToken"],
        region_name=region,
    )
    return Session(boto, region)
