"""Encryption at rest for the AWS credentials an integration may hold.

Fernet (AES-128-CBC with an HMAC-SHA256, from ``cryptography``) with a key derived from
Django's ``SECRET_KEY`` by HKDF-SHA256, with a salt and an info string of its own, so
this key is unrelated to every other use of ``SECRET_KEY`` (sessions, signed links)
and a leak of one derived key tells nothing about the others.

Rotation: set the new ``SECRET_KEY`` and list the old one in ``SECRET_KEY_FALLBACKS``
(Django's own setting, read from the environment). Values encrypted under a fallback
still decrypt; new values are encrypted under the new key, and re-saving the
credentials (or :func:`reencrypt`) moves old ones over. Once every row is re-encrypted,
drop the fallback. Without the fallback, credentials encrypted under the old key cannot
be read: the integration page says so and an admin enters them again. Nothing else is
lost.
"""

from __future__ import annotations

import base64
from typing import Final

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

__all__ = ["Unreadable", "decrypt", "encrypt", "reencrypt"]

_SALT: Final = b"klaxon/aws-credentials"
_INFO: Final = b"klaxon aws credentials at rest, v1"


class Unreadable(Exception):
    """The value was encrypted under a key this process no longer has."""


def _fernet(secret: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=_INFO).derive(
        secret.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def _keys() -> MultiFernet:
    """The current key first (it encrypts), then each fallback (they only decrypt)."""
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet([_fernet(secret) for secret in secrets])


def encrypt(plaintext: str) -> str:
    return _keys().encrypt(plaintext.encode()).decode("ascii")


def decrypt(token: str) -> str:
    try:
        return _keys().decrypt(token.encode("ascii")).decode()
    except (InvalidToken, UnicodeError) as exc:
        raise Unreadable(
            "the stored AWS credentials cannot be decrypted (SECRET_KEY changed without "
            "listing the old one in SECRET_KEY_FALLBACKS): enter them again"
        ) from exc


def reencrypt(token: str) -> str:
    """``token`` encrypted under the current key (decrypted with any known key)."""
    try:
        return _keys().rotate(token.encode("ascii")).decode("ascii")
    except (InvalidToken, UnicodeError) as exc:
        raise Unreadable("the stored AWS credentials cannot be decrypted") from exc
