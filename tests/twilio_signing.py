"""Signs webhook requests the way Twilio does, written from Twilio's description of the
algorithm (not with the twilio package, so the checker is tested against an independent
implementation): base64(HMAC-SHA1(auth token, URL + each POST parameter's name and value,
sorted by name))."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping


def twilio_signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    payload = url + "".join(f"{name}{params[name]}" for name in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()
