"""Twilio webhooks: SMS replies, voice TwiML and keypresses, delivery status callbacks.

Each request is checked against X-Twilio-Signature over the public URL Twilio called
(KLAXON_BASE_URL + path and query: behind a proxy the request's own host is not what
Twilio signed), and leaves exactly one InboundMessage row (source "twilio"), accepted or
rejected, saved in the same transaction as the change it made."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from twilio.twiml.messaging_response import (  # type: ignore[import-untyped,unused-ignore]
    MessagingResponse,
)
from twilio.twiml.voice_response import (  # type: ignore[import-untyped,unused-ignore]
    VoiceResponse,
)

from accounts.models import ContactMethod
from accounts.phones import InvalidPhone, to_e164
from accounts.roles import NotAllowed, respond_refusal
from config.ids import parse_id
from escalation.engine import escalation_escalate_now
from incidents.models import Incident, IncidentEvent
from incidents.services import incident_acknowledge, incident_resolve
from integrations.inbound_log import ReceivedRequest, loggable_headers
from integrations.models import InboundMessage
from integrations.text import valid_text
from notifications import messages, replies, twilio_gateway
from notifications.delivery_status import (
    NOT_FINAL,
    VOICEMAIL,
    apply_status,
    parse_status_callback,
)
from notifications.models import Notification

Via = IncidentEvent.Via

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)

Outcome = InboundMessage.Outcome

SMS_REPLY = "SMS reply"
VOICE = "Voice"
STATUS_CALLBACK = "Status callback"

SMS_HELP = "Reply 4 to acknowledge or 6 to resolve your latest page, or '4 42' for incident 42."
SMS_TITLE_CHARS = 70


# --- The shared part: method, signature, Inbound Log ----------------------------------


@dataclass(frozen=True)
class Handled:
    """What a handler did: the answer for Twilio and the Inbound Log's outcome."""

    response: HttpResponse
    outcome: str
    reason: str = ""
    incident_id: int | None = None


Handler = Callable[[HttpRequest, Mapping[str, str]], Handled]


def _log(
    received: ReceivedRequest,
    outcome: str,
    reason: str,
    *,
    message_id: str = "",
    incident_id: int | None = None,
) -> InboundMessage:
    row = received.row(
        outcome=outcome, reason=reason, message_id=message_id, incident_id=incident_id
    )
    row.save()
    return row


def _plain(text: str, status: int = 200) -> HttpResponse:
    return HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")


def _twiml(response: VoiceResponse | MessagingResponse) -> HttpResponse:
    return HttpResponse(str(response), content_type="text/xml; charset=utf-8")


def _is_json(request: HttpRequest) -> bool:
    return request.content_type == "application/json"


def _signature_problem(request: HttpRequest, url: str, body: str) -> str | None:
    """Why the request is not signed by our Twilio account, or None when it is."""
    if not settings.TWILIO_AUTH_TOKEN:
        return "Twilio is not configured (no TWILIO_AUTH_TOKEN)"
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature:
        return "missing X-Twilio-Signature"
    if _is_json(request):
        # The signature covers a JSON body only through the bodySHA256 the URL carries.
        if "bodySHA256" not in parse_qs(urlsplit(url).query):
            return "JSON body without bodySHA256 in the URL: the body is not signed"
        params: Mapping[str, str] | str = body
    else:
        params = request.POST
    if not twilio_gateway.signature_is_valid(url, params, signature):
        return (
            "X-Twilio-Signature does not match "
            "(check KLAXON_BASE_URL is the public URL Twilio calls)"
        )
    return None


def _params(request: HttpRequest, body: str) -> dict[str, str]:
    """The request's parameters (form or JSON), as valid text: a JSON escape such as
    "\ud800" must not reach a query or the Inbound Log as a lone surrogate."""
    if not _is_json(request):
        return {valid_text(k): valid_text(v) for k, v in request.POST.dict().items()}
    try:
        data = json.loads(body)
        if not isinstance(data, dict):
            return {}
        return {
            valid_text(str(k)): valid_text(v) if isinstance(v, str) else json.dumps(v)
            for k, v in data.items()
        }
    except (ValueError, RecursionError):  # not JSON, or nested too deep to walk
        return {}


def _message_id(params: Mapping[str, str]) -> str:
    return params.get("MessageSid") or params.get("SmsSid") or params.get("CallSid") or ""


def _webhook(request: HttpRequest, message_type: str, handler: Handler) -> HttpResponse:
    received_at = timezone.now()
    try:
        raw = request.body
    except RequestDataTooBig:
        raw = None
    received = ReceivedRequest(
        source=InboundMessage.Source.TWILIO,
        integration=None,
        received_at=received_at,
        source_ip=request.META.get("REMOTE_ADDR"),
        body=raw or b"",
        headers=loggable_headers(dict(request.headers)),
        message_type=message_type,
    )
    if raw is None:
        reason = "body too large for a Twilio webhook"
        _log(received, Outcome.REJECTED, reason)
        return _plain(reason, 413)
    if request.method != "POST":
        reason = f"method {request.method} not allowed: Twilio posts to this URL"
        _log(received, Outcome.REJECTED, reason)
        response = _plain(reason, 405)
        response["Allow"] = "POST"
        return response

    body = raw.decode("utf-8", errors="replace")
    url = settings.KLAXON_BASE_URL + request.get_full_path()
    problem = _signature_problem(request, url, body)
    if problem is not None:
        _log(received, Outcome.REJECTED, problem)
        return _plain(problem, 403)

    params = _params(request, body)
    try:
        # The change and its log row commit together: a 2xx means both are stored.
        with transaction.atomic():
            handled = handler(request, params)
            _log(
                received,
                handled.outcome,
                handled.reason,
                message_id=_message_id(params),
                incident_id=handled.incident_id,
            )
    except Exception:
        logger.exception("Twilio %s webhook failed", message_type)
        # Rolled back; still leave the one row this request owes the Inbound Log.
        _log(
            received,
            Outcome.REJECTED,
            "error while handling the request (see the server log)",
            message_id=_message_id(params),
        )
        return _plain("error while handling the request", 500)
    return handled.response


@csrf_exempt
def sms_reply(request: HttpRequest) -> HttpResponse:
    return _webhook(request, SMS_REPLY, _handle_sms_reply)


@csrf_exempt
def voice(request: HttpRequest) -> HttpResponse:
    return _webhook(request, VOICE, _handle_voice)


@csrf_exempt
def status_callback(request: HttpRequest) -> HttpResponse:
    return _webhook(request, STATUS_CALLBACK, _handle_status)


# --- Who did what to an incident ----------------------------------------------------------


def _acknowledged_now(incident: Incident, user: User, since: datetime) -> bool:
    """Whether ``incident`` (as the service returned it) was acknowledged by this call."""
    return (
        incident.state == Incident.State.ACKNOWLEDGED
        and incident.acknowledged_by_id == user.pk
        and incident.acknowledged_at is not None
        and incident.acknowledged_at >= since
    )


def _resolved_now(incident: Incident, user: User, since: datetime) -> bool:
    return (
        incident.state == Incident.State.RESOLVED
        and incident.resolved_by_id == user.pk
        and incident.resolved_at is not None
        and incident.resolved_at >= since
    )


def _already(incident: Incident) -> str:
    """ "acknowledged by bob", "resolved": the incident's state in words, with who did it."""
    if incident.state == Incident.State.ACKNOWLEDGED:
        by = incident.acknowledged_by
        return f"acknowledged by {by.get_username()}" if by else "acknowledged"
    if incident.state == Incident.State.RESOLVED:
        by = incident.resolved_by
        return f"resolved by {by.get_username()}" if by else "resolved"
    return "triggered"


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


# --- SMS replies ----------------------------------------------------------------------------


def _sms(text: str) -> HttpResponse:
    response = MessagingResponse()
    response.message(messages.gsm7(text))
    return _twiml(response)


def _sender(raw: str) -> str:
    try:
        return to_e164(raw)
    except InvalidPhone:
        return raw.strip()


def _handle_sms_reply(request: HttpRequest, params: Mapping[str, str]) -> Handled:
    sender = _sender(params.get("From", ""))
    # A deactivated user's number is still theirs: the incident services refuse them
    # (politely, and on the timeline) like a viewer, rather than "not registered".
    method = (
        ContactMethod.objects.select_related("user")
        .filter(kind=ContactMethod.Kind.PHONE, value=sender, verified_at__isnull=False)
        .order_by("-user__is_active", "pk")
        .first()
        if sender
        else None
    )
    if method is None:
        profile = f"{settings.KLAXON_BASE_URL}/profile/"
        return Handled(
            _sms(
                "This number is not registered with Klaxon. "
                f"Add it on your profile page: {profile}"
            ),
            Outcome.IGNORED,
            f"{sender or 'no From number'} is not a verified number of a user",
        )
    user = method.user
    body = params.get("Body", "")
    reply = replies.parse_reply(body)
    if reply is None:
        return Handled(
            _sms(SMS_HELP),
            Outcome.IGNORED,
            f"{user.get_username()} sent {_short(body, 60)!r}: not a command",
        )

    acknowledge = reply.action == replies.ACKNOWLEDGE
    incident_id = reply.incident_id
    if incident_id is None:
        # "My latest page": the newest incident this user was paged for that the
        # command still applies to.
        states = [Incident.State.TRIGGERED]
        if not acknowledge:
            states.append(Incident.State.ACKNOWLEDGED)
        incident_id = (
            Notification.objects.filter(
                user=user,
                purpose=Notification.Purpose.TRIGGERED,
                incident__state__in=states,
            )
            .order_by("-id")
            .values_list("incident_id", flat=True)
            .first()
        )
        if incident_id is None:
            what = (
                "triggered incident to acknowledge" if acknowledge else "open incident to resolve"
            )
            return Handled(
                _sms(f"You have no {what}. Reply '{'4' if acknowledge else '6'} 42' for #42."),
                Outcome.IGNORED,
                f"{user.get_username()} has no paged {what}",
            )

    since = timezone.now()
    try:
        if acknowledge:
            incident = incident_acknowledge(incident_id=incident_id, user=user, via=Via.SMS)
        else:
            incident = incident_resolve(incident_id=incident_id, user=user, via=Via.SMS)
    except Incident.DoesNotExist:
        return Handled(
            _sms(f"There is no incident #{incident_id}."),
            Outcome.IGNORED,
            f"{user.get_username()} named incident #{incident_id}, which does not exist",
        )
    except NotAllowed as refusal:
        return Handled(
            _sms(f"Not done: #{incident_id} is unchanged. {refusal.sentence}"),
            Outcome.REJECTED,
            f"refused: {refusal.reason}",
            incident_id,
        )

    title = _short(incident.title, SMS_TITLE_CHARS)
    if acknowledge and _acknowledged_now(incident, user, since):
        return Handled(
            _sms(f"Acknowledged #{incident.pk}: {title}."),
            Outcome.ACKNOWLEDGED,
            f"acknowledged by {user.get_username()}",
            incident.pk,
        )
    if not acknowledge and _resolved_now(incident, user, since):
        return Handled(
            _sms(f"Resolved #{incident.pk}: {title}."),
            Outcome.RESOLVED,
            f"resolved by {user.get_username()}",
            incident.pk,
        )
    state = _already(incident)
    return Handled(
        _sms(f"#{incident.pk} was already {state}."),
        Outcome.IGNORED,
        f"{user.get_username()} asked to {reply.action} #{incident.pk}: already {state}",
        incident.pk,
    )


# --- Voice ----------------------------------------------------------------------------------

VOICE_MACHINE = "This is Klaxon with an alert. Open Klaxon to respond."
VOICE_NO_KEY = "We did not get a key. Goodbye."
# 1 acknowledge, 2 resolve, 3 escalate now (messages.VOICE_MENU reads them out).
VOICE_KEYS = ("1", "2", "3")


def _spoken(number: int) -> str:
    # Digit by digit, as messages.voice_triggered reads it.
    return " ".join(str(number))


def _say_and_hang_up(*texts: str) -> HttpResponse:
    response = VoiceResponse()
    for text in texts:
        response.say(text)
    response.hangup()
    return _twiml(response)


def _menu(notification: Notification, incident: Incident, *, before: str = "") -> HttpResponse:
    """The keypad menu for what can still be done to ``incident``; a resolved one only
    gets its state read out."""
    spoken = _spoken(incident.pk)
    if incident.state == Incident.State.RESOLVED:
        return _say_and_hang_up(
            *([before] if before else []),
            f"This is Klaxon. Incident {spoken} is already {_already(incident)}. Goodbye.",
        )
    if incident.state == Incident.State.TRIGGERED:
        prompt = f"{messages.voice_triggered(incident)} {messages.VOICE_MENU}"
    else:
        prompt = (
            f"This is Klaxon. Incident {spoken} is already {_already(incident)}: "
            f"{incident.title}. Press 2 to resolve."
        )
    # The same URL the call started on (absolute, so it is what Twilio signs next time).
    action = f"{settings.KLAXON_BASE_URL}{reverse('twilio-voice')}?n={notification.pk}"
    response = VoiceResponse()
    gather = response.gather(num_digits=1, action=action, method="POST", timeout=10)
    if before:
        gather.say(before)
    gather.say(prompt)
    response.say(VOICE_NO_KEY)
    response.hangup()
    return _twiml(response)


def _notification_for_call(raw_id: str | None) -> Notification | None:
    pk = parse_id(raw_id)
    if pk is None:
        return None
    return (
        Notification.objects.select_related("incident", "user", "incident__acknowledged_by")
        .filter(pk=pk)
        .first()
    )


def _handle_voice(request: HttpRequest, params: Mapping[str, str]) -> Handled:
    # ?n= is ours (place_call put it in the URL) and covered by the signature.
    raw_id = request.GET.get("n")
    notification = _notification_for_call(raw_id)
    if notification is None:
        return Handled(
            _say_and_hang_up("This is Klaxon. This call is no longer valid. Goodbye."),
            Outcome.IGNORED,
            f"no notification {raw_id!r} for this call",
        )
    incident = notification.incident
    if notification.purpose == Notification.Purpose.TEST or incident is None:
        return Handled(
            _say_and_hang_up(messages.voice_test()),
            Outcome.ANSWERED,
            f"test call to {notification.destination} answered",
        )

    answered_by = params.get("AnsweredBy", "").strip().lower()
    if answered_by.startswith("machine") or answered_by == "fax":
        # Not a person: the status callback must not count the call as delivered.
        Notification.objects.filter(pk=notification.pk, status__in=NOT_FINAL).update(
            provider_status=VOICEMAIL, updated_at=timezone.now()
        )
        return Handled(
            _say_and_hang_up(VOICE_MACHINE),
            Outcome.ANSWERED,
            f"answered by {answered_by}: short message left, not acknowledged",
            incident.pk,
        )

    user = notification.user
    key = params.get("Digits", "").strip()
    if key in VOICE_KEYS:
        return _voice_key(incident, user, key)
    # No menu for someone who may not use it: the rule the keys' services apply.
    refusal = respond_refusal(user, "respond to")
    if refusal is not None:
        return Handled(
            _say_and_hang_up(f"This is Klaxon. {refusal.sentence} Goodbye."),
            Outcome.REJECTED,
            f"refused: {refusal.reason}",
            incident.pk,
        )
    if key:
        return Handled(
            _menu(notification, incident, before="That key is not on the menu."),
            Outcome.ANSWERED,
            f"{user.get_username()} pressed {key[:8]!r}: not on the menu",
            incident.pk,
        )
    return Handled(
        _menu(notification, incident),
        Outcome.ANSWERED,
        f"call to {user.get_username()} answered; menu read",
        incident.pk,
    )


def _voice_key(incident: Incident, user: User, key: str) -> Handled:
    try:
        return _act_on_key(incident, user, key)
    except NotAllowed as refusal:
        return Handled(
            _say_and_hang_up(
                f"This is Klaxon. {refusal.sentence} "
                f"Incident {_spoken(incident.pk)} is unchanged. Goodbye."
            ),
            Outcome.REJECTED,
            f"refused: {refusal.reason} (key {key})",
            incident.pk,
        )


def _act_on_key(incident: Incident, user: User, key: str) -> Handled:
    """Key 1, 2 or 3 through the incident services; NotAllowed passes up."""
    spoken = _spoken(incident.pk)
    name = user.get_username()
    since = timezone.now()
    if key == "1":
        after = incident_acknowledge(incident_id=incident.pk, user=user, via=Via.VOICE)
        if _acknowledged_now(after, user, since):
            return Handled(
                _say_and_hang_up(f"Incident {spoken} is acknowledged. Goodbye."),
                Outcome.ACKNOWLEDGED,
                f"acknowledged by {name} (key 1)",
                incident.pk,
            )
    elif key == "2":
        after = incident_resolve(incident_id=incident.pk, user=user, via=Via.VOICE)
        if _resolved_now(after, user, since):
            return Handled(
                _say_and_hang_up(f"Incident {spoken} is resolved. Goodbye."),
                Outcome.RESOLVED,
                f"resolved by {name} (key 2)",
                incident.pk,
            )
    else:  # "3"
        if escalation_escalate_now(incident_id=incident.pk, user=user, via=Via.VOICE):
            return Handled(
                _say_and_hang_up(f"Escalating incident {spoken} to the next step now. Goodbye."),
                Outcome.ESCALATED,
                f"{name} escalated now (key 3)",
                incident.pk,
            )
        after = Incident.objects.select_related("acknowledged_by", "resolved_by").get(
            pk=incident.pk
        )
        if after.state == Incident.State.TRIGGERED:
            return Handled(
                _say_and_hang_up(f"Incident {spoken} has no further escalation step. Goodbye."),
                Outcome.IGNORED,
                f"{name} pressed 3: no escalation step left",
                incident.pk,
            )
    state = _already(after)
    return Handled(
        _say_and_hang_up(f"Incident {spoken} is already {state}. Goodbye."),
        Outcome.IGNORED,
        f"{name} pressed {key}: already {state}",
        incident.pk,
    )


# --- Delivery status callbacks ------------------------------------------------------------


def _handle_status(request: HttpRequest, params: Mapping[str, str]) -> Handled:
    report = parse_status_callback(params)
    if report is None:
        # 200 all the same: Twilio must not retry something we can never use.
        reason = "no MessageStatus or CallStatus with its SID"
        return Handled(_plain(f"ignored: {reason}"), Outcome.IGNORED, reason)
    applied = apply_status(report)
    notification = applied.notification
    return Handled(
        _plain(("updated: " if applied.changed else "ignored: ") + applied.reason),
        Outcome.STATUS_UPDATED if applied.changed else Outcome.IGNORED,
        applied.reason,
        notification.incident_id if notification is not None else None,
    )
