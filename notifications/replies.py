"""What a responder's SMS reply asks for: acknowledge or resolve, and maybe which incident.

The page says "Reply 4 to ack, 6 to resolve (or '4 42')", so the digits are the main
form; the words are there for people who type them anyway. A pure function: no database.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

ACKNOWLEDGE = "acknowledge"
RESOLVE = "resolve"

_ACTIONS = {
    "4": ACKNOWLEDGE,
    "a": ACKNOWLEDGE,
    "ack": ACKNOWLEDGE,
    "acknowledge": ACKNOWLEDGE,
    "6": RESOLVE,
    "r": RESOLVE,
    "resolve": RESOLVE,
}

# A digit command needs something between it and the incident number ("4 42", "4 #42"):
# "442" could mean "4 42" or "44 2". A word may run straight into it ("ack42").
# At most 18 digits: anything longer cannot be an incident id (and would overflow a
# bigint in the query).
_REPLY = re.compile(
    r"(?:(?P<digit>[46])(?:[\s#:,.\-]+(?P<n1>\d{1,18}))?"
    r"|(?P<word>acknowledge|ack|a|resolve|r)(?:[\s#:,.\-]*(?P<n2>\d{1,18}))?)"
)
_SURROUNDING = string.whitespace + string.punctuation + "\u00a0\u2018\u2019\u201c\u201d"


@dataclass(frozen=True)
class Reply:
    action: str  # ACKNOWLEDGE or RESOLVE
    incident_id: int | None = None  # None: "my latest page"


def parse_reply(body: str) -> Reply | None:
    """The command in an SMS reply, or None when it is not one (the caller sends help).

    Case does not matter, nor spaces and punctuation around it ("Ack!", " 4. ");
    an incident number may follow ("4 42", "ack #42", "6: 42")."""
    text = body.strip(_SURROUNDING).lower()
    match = _REPLY.fullmatch(text)
    if match is None:
        return None
    command = match["digit"] or match["word"]
    number = match["n1"] or match["n2"]
    return Reply(_ACTIONS[command], int(number) if number else None)
