"""AWS credentials are encrypted at rest with a key derived from SECRET_KEY (aws/crypto.py)."""

from __future__ import annotations

from typing import Any

import pytest

from aws import crypto

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def test_a_value_round_trips_and_is_not_stored_readable() -> None:
    token = crypto.encrypt(SECRET)

    assert SECRET not in token
    assert crypto.decrypt(token) == SECRET
    assert crypto.encrypt(SECRET) != token  # a fresh IV each time


def test_after_a_key_rotation_the_old_key_as_fallback_still_decrypts(settings: Any) -> None:
    settings.SECRET_KEY = "old-key-" + "x" * 40
    token = crypto.encrypt(SECRET)
    settings.SECRET_KEY = "new-key-" + "y" * 40
    settings.SECRET_KEY_FALLBACKS = ["old-key-" + "x" * 40]

    assert crypto.decrypt(token) == SECRET
    moved = crypto.reencrypt(token)
    settings.SECRET_KEY_FALLBACKS = []
    assert crypto.decrypt(moved) == SECRET
    with pytest.raises(crypto.Unreadable, match="enter them again"):
        crypto.decrypt(token)


def test_the_key_is_not_secret_key_itself(settings: Any) -> None:
    """A Fernet key made straight from SECRET_KEY's bytes cannot read the value."""
    import base64

    from cryptography.fernet import Fernet, InvalidToken

    token = crypto.encrypt(SECRET)
    naive = Fernet(base64.urlsafe_b64encode(settings.SECRET_KEY.encode()[:32].ljust(32, b"0")))
    with pytest.raises(InvalidToken):
        naive.decrypt(token.encode())
