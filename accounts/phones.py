"""Phone numbers are stored in E.164 (+447700900123), the form Twilio expects."""

from __future__ import annotations

import phonenumbers


class InvalidPhone(ValueError):
    pass


def to_e164(raw: str) -> str:
    """Normalise a number written with a country code (+44 7700 900123) to E.164."""
    try:
        number = phonenumbers.parse(raw.strip(), None)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(
            f"{raw!r} is not a phone number with a country code, e.g. +44 7700 900123"
        ) from exc
    # "Possible" (right length for its country), not "valid": test ranges such as Twilio's
    # +1 500 555 xxxx must pass; a number is proven by the SMS code sent to it.
    if not phonenumbers.is_possible_number(number):
        raise InvalidPhone(f"{raw!r} has the wrong length for its country")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
