"""Slack: incident messages with buttons in a channel, kept up to date in place, the
timeline as thread replies, and personal DMs; plus the pure functions for Slack's
requests to Klaxon (signature check, button clicks, the /klaxon command).

Outgoing calls go through the official ``slack_sdk`` WebClient with the bot token
(``SLACK_BOT_TOKEN``, scopes chat:write, im:write, users:read.email) against
``SLACK_API_BASE`` (default https://slack.com/api/, so tests can point the real client
at a local fake). Without a token, sends are recorded (outbox), not made.

``send`` picks the call from the destination: a channel id (C..., G...) gets the
incident message (or, when the message has a ``reference`` "channel:ts" from an earlier
post, that message is updated in place and the text is added to its thread); a user id
(U..., W...) or an email address gets a DM. The button values carry the incident number;
``parse_interaction`` reads them back after ``verify_slack_request`` has checked the
request against ``SLACK_SIGNING_SECRET``.

Errors: ratelimited (HTTP 429, Retry-After), 5xx, Slack's internal_error /
fatal_error / service_unavailable / request_timeout, timeouts and connection failures
are transient; everything else Slack refuses (channel_not_found, not_in_channel,
invalid_auth, account_inactive, token_revoked, is_archived, missing_scope, ...) is
permanent and its message says what to do."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Self
from urllib.error import URLError
from urllib.parse import parse_qs

from django.conf import settings
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web import SlackResponse

from notifications.channels.base import (
    Channel,
    ChannelError,
    Delivery,
    OutgoingMessage,
    PermanentChannelError,
    TransientChannelError,
    register,
)
from notifications.channels.http import retry_after_seconds

DEFAULT_API_BASE = "https://slack.com/api/"
ACTION_PREFIX = "klaxon_"
ACTIONS = ("acknowledge", "resolve", "escalate")
SIGNATURE_MAX_AGE = 5 * 60  # seconds; Slack's own advice against replays
HEADER_CHARS = 150  # Slack's limit for a header block
SECTION_CHARS = 2900  # under Slack's 3000 for a section's text

TRANSIENT_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
# What to do about the permanent errors an admin can fix.
ERROR_HINTS = {
    "channel_not_found": "the Slack channel does not exist, or the Klaxon app cannot see it",
    "not_in_channel": "the Klaxon app is not in that channel: /invite it there",
    "is_archived": "the Slack channel is archived",
    "invalid_auth": "SLACK_BOT_TOKEN is not a valid token",
    "not_authed": "no Slack token was sent (SLACK_BOT_TOKEN)",
    "token_revoked": "the Slack token was revoked: reinstall the app",
    "account_inactive": "the Slack app's token belongs to a deactivated account or workspace",
    "missing_scope": "the Slack app lacks a permission scope",
    "users_not_found": "no Slack user has that email address",
    "user_not_found": "no such Slack user",
    "user_disabled": "that Slack user is deactivated",
    "message_not_found": "the Slack message to update no longer exists",
    "cant_update_message": "that Slack message cannot be updated by the app",
    "msg_too_long": "the message is too long for Slack",
    "invalid_blocks": "Slack refused the message layout",
}


class SlackRequestError(ValueError):
    """A request from Slack that must be refused; the message says why."""


# --- Outgoing ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SlackMessageRef:
    """Where a posted message lives: stored as "channel:ts" (the Delivery provider id)."""

    channel: str
    ts: str

    def __str__(self) -> str:
        return f"{self.channel}:{self.ts}"

    @classmethod
    def parse(cls, value: str) -> SlackMessageRef:
        channel, _, ts = value.partition(":")
        if not channel or not ts:
            raise ValueError(f"not a Slack message reference (channel:ts): {value!r}")
        return cls(channel, ts)


def escape(text: str) -> str:
    """``text`` safe in Slack mrkdwn: no <!channel> pings or <url|links> from alarm text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def action_buttons(message: OutgoingMessage) -> list[dict[str, Any]]:
    """Acknowledge (while triggered), Resolve and Escalate (until resolved), and a link
    to the incident. ``action_id`` is ``klaxon_<action>``, ``value`` the incident number."""
    incident = message.incident
    if incident is None:
        return []
    buttons: list[dict[str, Any]] = []
    wanted = []
    if incident.state == "triggered":
        wanted.append(("acknowledge", "Acknowledge", "primary"))
    if incident.state != "resolved":
        wanted += [("resolve", "Resolve", ""), ("escalate", "Escalate", "danger")]
    for action, label, style in wanted:
        button: dict[str, Any] = {
            "type": "button",
            "text": {"type": "plain_text", "text": label},
            "action_id": f"{ACTION_PREFIX}{action}",
            "value": str(incident.number),
        }
        if style:
            button["style"] = style
        buttons.append(button)
    if incident.url:
        buttons.append(
            {
                "type": "button",
                "text": {"type": "plain_text", "text": "Open in Klaxon"},
                "action_id": f"{ACTION_PREFIX}open",
                "url": incident.url,
            }
        )
    return buttons


def incident_blocks(message: OutgoingMessage) -> list[dict[str, Any]]:
    """The Block Kit message for ``message``: title, what happened, state, severity,
    integration, the description, the buttons."""
    incident = message.incident
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _short(message.headline(), HEADER_CHARS)},
        }
    ]
    if message.text:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": _short(escape(message.text), SECTION_CHARS)},
            }
        )
    if incident is None:
        return blocks
    fields = [f"*State*\n{escape(incident.state.capitalize())}"]
    if incident.severity:
        fields.append(f"*Severity*\n{escape(incident.severity)}")
    if incident.integration:
        fields.append(f"*Integration*\n{escape(incident.integration)}")
    blocks.append({"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]})
    if incident.description:
        blocks.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": _short(escape(incident.description), SECTION_CHARS),
                },
            }
        )
    if buttons := action_buttons(message):
        blocks.append(
            {
                "type": "actions",
                "block_id": f"klaxon_incident_{incident.number}",
                "elements": buttons,
            }
        )
    return blocks


def fallback_text(message: OutgoingMessage) -> str:
    """The plain text Slack shows in notifications and where blocks cannot be shown."""
    incident = message.incident
    parts = [message.headline()]
    if incident is not None:
        parts.append(f"({incident.state})")
    if message.text:
        parts.append(f"- {message.text}")
    return escape(" ".join(parts))


def _channel_error(exc: Exception) -> ChannelError:
    """The ChannelError a slack_sdk or network failure means."""
    if isinstance(exc, SlackApiError):
        response = exc.response
        status = int(getattr(response, "status_code", 0) or 0)
        data = response.data if isinstance(response.data, dict) else {}
        error = str(data.get("error") or "")
        if not re.fullmatch(r"[a-z_]{1,64}", error):  # e.g. an HTML error page's summary
            error = f"http_{status}"
        headers = {str(k).lower(): str(v) for k, v in (response.headers or {}).items()}
        said = f"Slack answered {error}"
        if status == 429 or status >= 500 or error in TRANSIENT_ERRORS:
            retry_after = retry_after_seconds(headers.get("retry-after"))
            return TransientChannelError(
                f"{said}; will try again", code=error, retry_after=retry_after
            )
        hint = ERROR_HINTS.get(error, "")
        if error == "missing_scope" and data.get("needed"):
            hint += f" ({data['needed']})"
        return PermanentChannelError(f"{said}: {hint}" if hint else said, code=error)
    if isinstance(exc, TimeoutError) or (
        isinstance(exc, URLError) and isinstance(exc.reason, TimeoutError)
    ):
        return TransientChannelError("Slack did not answer in time", code="timeout")
    if isinstance(exc, OSError):  # URLError is one: refused, reset, DNS
        return TransientChannelError(f"Slack could not be reached: {exc}", code="unreachable")
    return PermanentChannelError(f"Slack client error: {exc.__class__.__name__}: {exc}")


@register
class SlackChannel(Channel):
    kind = "slack"

    def __init__(self, *, token: str, api_base: str = DEFAULT_API_BASE, timeout: int = 10) -> None:
        """An empty ``token`` means not configured: sends are recorded (outbox)."""
        self.outbox = not token
        # No retry handlers: Celery owns retries, a channel makes each call once.
        self.client = WebClient(
            token=token or None, base_url=api_base, timeout=timeout, retry_handlers=[]
        )

    @classmethod
    def from_settings(cls, options: Mapping[str, str] | None = None) -> Self:
        return cls(
            token=getattr(settings, "SLACK_BOT_TOKEN", ""),
            api_base=getattr(settings, "SLACK_API_BASE", "") or DEFAULT_API_BASE,
            timeout=int(getattr(settings, "SLACK_TIMEOUT", 10)),
        )

    def _call(self, call: Callable[[], SlackResponse]) -> dict[str, Any]:
        """Make one Web API call; its data, or the ChannelError its failure means."""
        try:
            data = call().data
        except (SlackClientError, OSError) as exc:
            raise _channel_error(exc) from exc
        return data if isinstance(data, dict) else {}

    def post_incident(self, channel: str, message: OutgoingMessage) -> SlackMessageRef:
        """Post the incident message to ``channel`` (an id)."""
        data = self._call(
            lambda: self.client.chat_postMessage(
                channel=channel,
                text=fallback_text(message),
                blocks=incident_blocks(message),
                unfurl_links=False,
            )
        )
        return SlackMessageRef(str(data.get("channel") or channel), str(data["ts"]))

    def update_incident(self, ref: SlackMessageRef, message: OutgoingMessage) -> None:
        """Rewrite the posted message (new state, buttons) where it is."""
        self._call(
            lambda: self.client.chat_update(
                channel=ref.channel,
                ts=ref.ts,
                text=fallback_text(message),
                blocks=incident_blocks(message),
            )
        )

    def post_thread_reply(self, ref: SlackMessageRef, text: str) -> SlackMessageRef:
        """Add a timeline line under the posted message."""
        data = self._call(
            lambda: self.client.chat_postMessage(
                channel=ref.channel, thread_ts=ref.ts, text=escape(text)
            )
        )
        return SlackMessageRef(ref.channel, str(data["ts"]))

    def open_dm(self, user_id: str) -> str:
        """The id of the DM conversation with ``user_id``."""
        data = self._call(lambda: self.client.conversations_open(users=user_id))
        return str(data["channel"]["id"])

    def lookup_user_by_email(self, email: str) -> str:
        """The Slack user id for ``email`` (PermanentChannelError users_not_found)."""
        data = self._call(lambda: self.client.users_lookupByEmail(email=email))
        return str(data["user"]["id"])

    def send_dm(self, user: str, message: OutgoingMessage) -> SlackMessageRef:
        """DM the incident message to ``user`` (a user id, or an email to look up)."""
        user_id = self.lookup_user_by_email(user) if "@" in user else user
        return self.post_incident(self.open_dm(user_id), message)

    def send(self, message: OutgoingMessage) -> Delivery:
        sent = Delivery(body=fallback_text(message), subject=message.headline())
        if self.outbox:
            return replace(sent, provider_status="recorded", outbox=True)
        if message.reference:
            try:
                ref = SlackMessageRef.parse(message.reference)
            except ValueError as exc:
                raise PermanentChannelError(str(exc), code="reference") from exc
            self.update_incident(ref, message)
            if message.text:
                self.post_thread_reply(ref, message.text)
            return replace(sent, provider_id=str(ref), provider_status="updated")
        destination = message.destination.strip()
        if destination.startswith(("C", "G")):
            ref = self.post_incident(destination, message)
        elif destination.startswith(("U", "W")) or "@" in destination:
            ref = self.send_dm(destination, message)
        else:
            raise PermanentChannelError(
                f"{destination!r} is not a Slack channel id (C...), user id (U...) or email",
                code="destination",
            )
        return replace(sent, provider_id=str(ref), provider_status="posted")


# --- Incoming ---------------------------------------------------------------------------


def verify_slack_request(
    body: bytes, timestamp: str, signature: str, secret: str, now: float
) -> None:
    """Check Slack's signature (X-Slack-Signature over ``v0:{timestamp}:{body}`` with
    the signing secret, X-Slack-Request-Timestamp within 5 minutes of ``now``); raise
    SlackRequestError saying what is wrong."""
    if not secret:
        raise SlackRequestError("SLACK_SIGNING_SECRET is not set: Slack requests are refused")
    if not timestamp or not signature:
        raise SlackRequestError("the request is not signed (X-Slack-Signature is missing)")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise SlackRequestError("X-Slack-Request-Timestamp is not a number") from None
    if abs(now - sent_at) > SIGNATURE_MAX_AGE:
        raise SlackRequestError(
            "the request is more than 5 minutes old (or the clocks disagree): refused as a "
            "possible replay"
        )
    basestring = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret.encode(), basestring, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise SlackRequestError("the Slack signature does not match (wrong signing secret?)")


def _form(body: bytes) -> dict[str, str]:
    try:
        fields = parse_qs(body.decode(), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise SlackRequestError("the request body is not UTF-8") from None
    return {key: values[0] for key, values in fields.items()}


@dataclass(frozen=True)
class SlackAction:
    """A button pressed on an incident message."""

    action: str  # acknowledge, resolve or escalate
    incident_number: int
    user_id: str
    user_name: str
    team_id: str
    channel_id: str
    message_ts: str
    response_url: str


def parse_interaction(body: bytes) -> SlackAction:
    """The button click in an interaction request (a form with a ``payload`` JSON field,
    type ``block_actions``); SlackRequestError for anything else."""
    raw = _form(body).get("payload")
    if not raw:
        raise SlackRequestError("the interaction has no payload")
    try:
        payload = json.loads(raw)
    except ValueError:
        raise SlackRequestError("the interaction payload is not JSON") from None
    if not isinstance(payload, dict) or payload.get("type") != "block_actions":
        kind = payload.get("type") if isinstance(payload, dict) else None
        raise SlackRequestError(f"unsupported interaction type {kind!r}")
    actions = payload.get("actions") or []
    if not actions or not isinstance(actions[0], dict):
        raise SlackRequestError("the interaction names no action")
    first = actions[0]
    action_id = str(first.get("action_id", ""))
    action = action_id.removeprefix(ACTION_PREFIX)
    if not action_id.startswith(ACTION_PREFIX) or action not in ACTIONS:
        raise SlackRequestError(f"unknown action {action_id!r}")
    try:
        number = int(str(first.get("value", "")))
    except ValueError:
        raise SlackRequestError("the button carries no incident number") from None
    user = payload.get("user") or {}
    container = payload.get("container") or {}
    return SlackAction(
        action=action,
        incident_number=number,
        user_id=str(user.get("id", "")),
        user_name=str(user.get("username") or user.get("name") or ""),
        team_id=str((payload.get("team") or {}).get("id", "")),
        channel_id=str((payload.get("channel") or {}).get("id", container.get("channel_id", ""))),
        message_ts=str(container.get("message_ts", "")),
        response_url=str(payload.get("response_url", "")),
    )


SLASH_HELP = """\
`{command} oncall [schedule]`: who is on call now
`{command} ack <incident number>`: acknowledge an incident
`{command} resolve <incident number>`: resolve an incident
`{command} help`: this list"""

_SLASH_ACTIONS = {
    "oncall": "oncall",
    "on-call": "oncall",
    "ack": "acknowledge",
    "acknowledge": "acknowledge",
    "resolve": "resolve",
    "help": "help",
    "": "help",
}
_NUMBER = re.compile(r"#?(\d{1,18})")


@dataclass(frozen=True)
class SlashCommand:
    """``/klaxon ...`` understood. ``action`` is oncall, acknowledge, resolve or help;
    ``problem`` says why the text was not understood (then action is help)."""

    action: str
    incident_number: int | None
    argument: str  # what follows the action (a schedule name for oncall)
    command: str
    user_id: str
    user_name: str
    team_id: str
    channel_id: str
    response_url: str
    problem: str = ""

    def help_text(self) -> str:
        text = SLASH_HELP.format(command=self.command or "/klaxon")
        return f"{self.problem}\n{text}" if self.problem else text


def parse_slash_command(body: bytes) -> SlashCommand:
    """A slash command request (form fields command, text, user_id...)."""
    form = _form(body)
    words = form.get("text", "").split(maxsplit=1)
    verb = words[0].lower() if words else ""
    argument = words[1].strip() if len(words) > 1 else ""
    action = _SLASH_ACTIONS.get(verb)
    problem = ""
    number: int | None = None
    if action is None:
        action, problem = "help", f"Unknown command {verb!r}."
    elif action in ("acknowledge", "resolve"):
        match = _NUMBER.fullmatch(argument)
        if match is None:
            action, problem = "help", f"`{verb}` needs an incident number, e.g. `{verb} 12`."
        else:
            number = int(match[1])
    return SlashCommand(
        action=action,
        incident_number=number,
        argument=argument,
        command=form.get("command", "/klaxon"),
        user_id=form.get("user_id", ""),
        user_name=form.get("user_name", ""),
        team_id=form.get("team_id", ""),
        channel_id=form.get("channel_id", ""),
        response_url=form.get("response_url", ""),
        problem=problem,
    )


def ephemeral_reply(text: str) -> dict[str, str]:
    """The JSON answer to a command or click that only its sender sees."""
    return {"response_type": "ephemeral", "text": text}
