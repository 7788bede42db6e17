"""Who did what, from where: the facts a responder needs from one CloudTrail record.

:func:`cloudtrail_evidence` turns a record (a dict, as CloudTrail writes it) into an
:class:`Evidence`: the identity (type, ARN, user name, access key id cut to its last four
characters), source IP and user agent, the event's name, source, region and time, its
error, whether MFA was used, and a link to the event in the CloudTrail console. Every
page that shows CloudTrail evidence (metric-alarm evidence, EventBridge events) goes
through it and the partial ``templates/aws/_evidence.html``.

Pure: no Django, no database, no network. A record is data from someone else's account:
any value may be missing, of the wrong type or huge, and none of it can fail here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import quote

__all__ = ["Evidence", "cloudtrail_evidence", "mask_access_key"]

# Long enough for any real value (ARNs are at most 2,048 characters; user agents are cut
# by CloudTrail at 1 KB), short enough that a crafted record cannot bloat a page.
_MAX_TEXT: Final = 2048
# Region codes such as eu-west-1 or us-gov-west-1; anything else gets no console link,
# so a crafted record cannot steer the link to another host.
_REGION_RE: Final = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}")
_EVENT_ID_RE: Final = re.compile(r"[0-9A-Za-z-]{1,128}")
# What CloudTrail writes for a failed sign-in with a user name the account does not have
# (so a typo'd password is not logged as a user name).
_HIDDEN_USER_NAME: Final = "HIDDEN_DUE_TO_SECURITY_REASONS"


def _text(value: object) -> str:
    """A record value as display text: strings and numbers only, bounded."""
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, str | int | float):
        return str(value)[:_MAX_TEXT]
    return ""


def _get(record: object, *path: str) -> object:
    node = record
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def mask_access_key(key: str) -> str:
    """``AKIAIOSFODNN7EXAMPLE`` -> ``…MPLE``: enough to tell keys apart, not to use one."""
    return f"…{key[-4:]}" if key else ""


def _event_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _mfa_used(record: dict[str, Any]) -> bool | None:
    """Console sign-ins say MFAUsed Yes/No; API calls made with a session say whether
    the session was authenticated with MFA. None when the record does not tell."""
    signin = _get(record, "additionalEventData", "MFAUsed")
    if isinstance(signin, str) and signin in ("Yes", "No"):
        return signin == "Yes"
    session = _get(record, "userIdentity", "sessionContext", "attributes", "mfaAuthenticated")
    if isinstance(session, str) and session in ("true", "false"):
        return session == "true"
    if isinstance(session, bool):
        return session
    return None


def _user_name(identity: object) -> str:
    """The name a person recognises: the IAM user, ``root``, or the role's session."""
    name = _text(_get(identity, "userName"))
    if name == _HIDDEN_USER_NAME:
        return "a user name that does not exist (hidden by AWS)"
    if name:
        return name
    kind = _text(_get(identity, "type"))
    if kind == "Root":
        return "root"
    arn = _text(_get(identity, "arn"))
    if kind == "AssumedRole" and ":assumed-role/" in arn:
        # arn:aws:sts::111122223333:assumed-role/<role>/<session>
        return arn.split(":assumed-role/", 1)[1]
    issuer = _text(_get(identity, "sessionContext", "sessionIssuer", "userName"))
    return issuer


@dataclass(frozen=True)
class Evidence:
    """The who/where/what of one CloudTrail record, ready to show."""

    event_id: str
    event_name: str
    event_source: str
    event_time: datetime | None
    region: str
    account_id: str
    identity_type: str
    arn: str
    user_name: str
    access_key_id: str
    """Masked to its last four characters (``…MPLE``), or empty."""
    invoked_by: str
    source_ip: str
    user_agent: str
    error_code: str
    error_message: str
    mfa_used: bool | None
    console_url: str
    """The event in the CloudTrail console, or empty when the record gives no usable
    region or event id."""

    @property
    def who(self) -> str:
        """One phrase naming the actor: ``alice``, ``ci-deploy/github-actions-5123``."""
        return (
            self.user_name
            or self.arn
            or (f"an AWS service ({self.invoked_by})" if self.invoked_by else "")
            or self.identity_type
            or "unknown"
        )

    @property
    def failed(self) -> bool:
        return bool(self.error_code or self.error_message)

    @property
    def mfa_text(self) -> str:
        return {True: "yes", False: "no", None: "not recorded"}[self.mfa_used]


def _console_url(region: str, event_id: str) -> str:
    if not _REGION_RE.fullmatch(region) or not _EVENT_ID_RE.fullmatch(event_id):
        return ""
    return (
        f"https://{region}.console.aws.amazon.com/cloudtrailv2/home?region={region}"
        f"#/events/{quote(event_id, safe='')}"
    )


def cloudtrail_evidence(record: dict[str, Any]) -> Evidence:
    """The evidence in ``record`` (a CloudTrail record as a dict); never raises."""
    record = record if isinstance(record, dict) else {}
    identity = record.get("userIdentity")
    region = _text(record.get("awsRegion"))
    event_id = _text(record.get("eventID"))
    error_message = _text(record.get("errorMessage"))
    # A failed console sign-in has no errorCode; its response says Failure.
    if not error_message and _get(record, "responseElements", "ConsoleLogin") == "Failure":
        error_message = "Failure"
    return Evidence(
        event_id=event_id,
        event_name=_text(record.get("eventName")),
        event_source=_text(record.get("eventSource")),
        event_time=_event_time(record.get("eventTime")),
        region=region,
        account_id=_text(_get(identity, "accountId")) or _text(record.get("recipientAccountId")),
        identity_type=_text(_get(identity, "type")),
        arn=_text(_get(identity, "arn")),
        user_name=_user_name(identity),
        access_key_id=mask_access_key(_text(_get(identity, "accessKeyId"))),
        invoked_by=_text(_get(identity, "invokedBy")),
        source_ip=_text(record.get("sourceIPAddress")),
        user_agent=_text(record.get("userAgent")),
        error_code=_text(record.get("errorCode")),
        error_message=error_message,
        mfa_used=_mfa_used(record),
        console_url=_console_url(region, event_id),
    )
