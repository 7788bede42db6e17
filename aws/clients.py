"""AWS calls with an integration's read-only credentials, and AWS errors in words.

Every call goes to ``settings.AWS_ENDPOINT_URL`` when it is set (tests point it at moto's
server; a private VPC endpoint works the same way), with short timeouts and botocore's
standard retry mode (it backs off on throttling by itself, three tries in all). Any
failure leaves as :class:`AwsProblem`, whose text says what went wrong.

boto3 is imported by the functions that use it, not at the top: it costs about 180 ms and
25 MB per process, and only the worker running an evidence search (or a web process
testing credentials) calls AWS; every other process never pays for it.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any, Final

from django.conf import settings

from aws import crypto
from aws.models import AwsCredentials

__all__ = ["AwsProblem", "Session", "aws_problem", "session_for"]

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


@cache
def _config() -> Any:
    from botocore.config import Config

    return Config(
        connect_timeout=5,
        read_timeout=15,
        retries={"max_attempts": 3, "mode": "standard"},
        user_agent_extra="klaxon",
    )


def _client(boto: Any, service: str, region: str) -> Any:
    return boto.client(
        service,
        region_name=region,
        endpoint_url=settings.AWS_ENDPOINT_URL or None,
        config=_config(),
    )


class Session:
    """Credentials to act with, and the region calls go to unless told otherwise."""

    def __init__(self, boto: Any, region: str) -> None:
        self.boto = boto
        self.region = region
        self._clients: dict[tuple[str, str], Any] = {}

    def call(
        self, service: str, operation: str, doing: str, *, region: str = "", **params: Any
    ) -> Any:
        """``service.operation(**params)``'s answer; AwsProblem saying what failed while
        ``doing`` otherwise."""
        from botocore.exceptions import BotoCoreError, ClientError

        key = (service, region or self.region)
        if key not in self._clients:
            self._clients[key] = _client(self.boto, *key)
        try:
            return getattr(self._clients[key], operation)(**params)
        except (BotoCoreError, ClientError) as exc:
            raise aws_problem(exc, doing) from None


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
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

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
    import boto3

    stored: dict[str, str] = json.loads(crypto.decrypt(credentials.secret))
    region = credentials.region
    if credentials.kind == AwsCredentials.Kind.KEYS:
        boto = boto3.session.Session(
            aws_access_key_id=stored["access_key_id"],
            aws_secret_access_key=stored["secret_access_key"],
            region_name=region,
        )
        return Session(boto, region)
    options: dict[str, Any] = {
        "RoleArn": stored["role_arn"],
        "RoleSessionName": _SESSION_NAME,
        "DurationSeconds": 900,
    }
    if stored.get("external_id"):
        options["ExternalId"] = stored["external_id"]
    host = Session(boto3.session.Session(region_name=region), region)
    answer = host.call("sts", "assume_role", f"assume the role {stored['role_arn']}", **options)
    temporary = answer["Credentials"]
    boto = boto3.session.Session(
        aws_access_key_id=temporary["AccessKeyId"],
        aws_secret_access_key=temporary["SecretAccessKey"],
        aws_session_token=temporary["SessionToken"],
        region_name=region,
    )
    return Session(boto, region)
