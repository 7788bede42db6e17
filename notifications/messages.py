"""What Klaxon says: SMS texts, voice scripts and emails about an incident.

SMS texts keep to the GSM-7 alphabet where they can (one SMS segment holds 160 GSM-7
characters but only 70 once a single character needs UCS-2)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.template.loader import render_to_string

if TYPE_CHECKING:
    from incidents.models import Incident
    from notifications.models import Notification

# The GSM 03.38 basic character set (the extension table is left out: each of its
# characters costs two).
_GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_LOOKALIKES = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201c": '"', "\u201d": '"',
    "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u2026": "...", "\u00a0": " ",
    "\t": " ", "[": "(", "]": ")", "{": "(", "}": ")", "|": "/", "~": "-",
    "^": "", "\\": "/", "\u20ac": "EUR", "\u2022": "*", "\u00b7": "*",
}  # fmt: skip

SMS_TITLE_CHARS = 70


def gsm7(text: str) -> str:
    """``text`` in GSM-7 characters: lookalikes replaced, accents dropped where the accented
    letter is not in the alphabet, anything else as '?'."""
    out: list[str] = []
    for char in text:
        if char in _GSM7:
            out.append(char)
        elif char in _LOOKALIKES:
            out.append(_LOOKALIKES[char])
        else:
            base = unicodedata.normalize("NFKD", char)
            kept = "".join(c for c in base if c in _GSM7)
            out.append(kept or "?")
    return "".join(out)


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


@dataclass(frozen=True)
class Facts:
    number: int
    title: str
    account: str
    region: str
    link: str

    @property
    def where(self) -> str:
        parts = [p for p in (self.account and f"acct {self.account}", self.region) if p]
        return ", ".join(parts)


def facts(incident: Incident) -> Facts:
    details = incident.details or {}
    return Facts(
        number=incident.pk,
        title=incident.title,
        account=str(details.get("account_id") or ""),
        region=str(details.get("region_code") or details.get("region") or ""),
        link=settings.KLAXON_BASE_URL + incident.get_absolute_url(),
    )


def sms_triggered(incident: Incident) -> str:
    f = facts(incident)
    where = f" ({f.where})" if f.where else ""
    return gsm7(
        f"Klaxon #{f.number} TRIGGERED: {_short(f.title, SMS_TITLE_CHARS)}{where}. "
        f"Reply 4 to ack, 6 to resolve (or '4 {f.number}'). {f.link}"
    )


def sms_resolved(incident: Incident) -> str:
    f = facts(incident)
    return gsm7(f"Klaxon #{f.number} RESOLVED: {_short(f.title, SMS_TITLE_CHARS)}. {f.link}")


def sms_test() -> str:
    return "Klaxon test message: this phone number can receive pages. No reply needed."


def sms_verification(code: str) -> str:
    return f"Your Klaxon verification code is {code}. It expires in 10 minutes."


MASKED_CODE = "******"


def body_seen_by(row: Notification, viewer_id: int | None) -> str:
    """A notification's text as ``viewer_id`` may see it: a verification code is its
    owner's alone (the Outbox and the API show everyone's messages)."""
    if row.purpose == "verify" and row.body and viewer_id != row.user_id:
        return sms_verification(MASKED_CODE)
    return row.body


def voice_triggered(incident: Incident) -> str:
    """What the call says before the keypad menu."""
    f = facts(incident)
    # Digits read one by one ("4 2") are easier to catch on a bad line than "forty-two".
    number = " ".join(str(f.number))
    where = f" in {f.where.replace('acct', 'account')}" if f.where else ""
    return f"This is Klaxon. Incident {number} is triggered: {f.title}{where}."


VOICE_MENU = "Press 1 to acknowledge. Press 2 to resolve. Press 3 to escalate now."


def voice_test() -> str:
    return "This is a Klaxon test call. This number can receive pages. Goodbye."


@dataclass(frozen=True)
class Email:
    subject: str
    text: str
    html: str


def email_incident(
    incident: Incident, *, purpose: str, ack_url: str = "", resolve_url: str = ""
) -> Email:
    f = facts(incident)
    state = "TRIGGERED" if purpose == "triggered" else "RESOLVED"
    context = {
        "incident": incident,
        "facts": f,
        "state": state,
        "ack_url": ack_url,
        "resolve_url": resolve_url,
        "link_hours": int(settings.EMAIL_LINK_MAX_AGE_HOURS),
    }
    return Email(
        subject=f"[Klaxon] #{f.number} {state}: {_short(f.title, 120)}",
        text=render_to_string("notifications/email_incident.txt", context),
        html=render_to_string("notifications/email_incident.html", context),
    )


def email_test() -> Email:
    text = "This is a Klaxon test email: this address can receive pages."
    return Email(subject="[Klaxon] Test email", text=text, html=f"<p>{text}</p>")
