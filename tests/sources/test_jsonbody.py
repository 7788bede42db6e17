"""Decoding inbound JSON with bounded work (integrations.sources.jsonbody)."""

from __future__ import annotations

import pytest

from integrations.sources.events import SourceError
from integrations.sources.jsonbody import MAX_NESTING, MAX_VALUES, decode_json


def reason(body: bytes, content_type: str = "") -> str:
    with pytest.raises(SourceError) as caught:
        decode_json(body, content_type=content_type)
    assert caught.value.field == ""
    return str(caught.value)


def test_a_json_object_decodes() -> None:
    assert decode_json(b'{"a": [1, 2.5, "x", null, true]}') == {"a": [1, 2.5, "x", None, True]}


def test_a_byte_order_mark_is_ignored() -> None:
    assert decode_json('\ufeff{"a": 1}'.encode()) == {"a": 1}


def test_json_sent_as_text_plain_is_accepted() -> None:
    assert decode_json(b"{}", content_type="text/plain; charset=utf-8") == {}


def test_form_bodies_are_refused_by_content_type() -> None:
    assert "not application/x-www-form-urlencoded" in reason(
        b"routing_key=x", "application/x-www-form-urlencoded"
    )


def test_empty_body_is_refused() -> None:
    assert "empty" in reason(b"  \n")


def test_syntax_errors_say_where() -> None:
    assert "line 1, column 7" in reason(b'{"a": }')


def test_invalid_utf8_is_refused() -> None:
    assert "not UTF-8" in reason(b'{"a": "\xff"}')


def test_too_large_bodies_are_refused_before_decoding() -> None:
    with pytest.raises(SourceError, match="at most 10 are accepted"):
        decode_json(b'{"a": "0123456789"}', max_bytes=10)


def test_deep_nesting_is_refused() -> None:
    body = b"[" * (MAX_NESTING + 1) + b"]" * (MAX_NESTING + 1)
    assert f"deeper than {MAX_NESTING}" in reason(body)


def test_pathological_nesting_does_not_crash() -> None:
    assert "nested deeper" in reason(b"[" * 200_000)


def test_too_many_values_are_refused() -> None:
    body = b"[" + b",".join([b"0"] * (MAX_VALUES + 1)) + b"]"
    assert f"more than {MAX_VALUES}" in reason(body)


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e999"])
def test_non_finite_numbers_are_refused(literal: bytes) -> None:
    assert "non-finite" in reason(b'{"v": ' + literal + b"}")


def test_nul_characters_are_refused() -> None:
    assert "NUL" in reason(b'{"a": "x\\u0000y"}')
    assert "NUL" in reason(b'{"x\\u0000": 1}')


def test_lone_surrogates_are_refused() -> None:
    assert "surrogate" in reason(b'{"a": "\\ud800"}')


def test_huge_integers_are_refused_not_crashing() -> None:
    assert "not usable JSON" in reason(b'{"a": ' + b"9" * 5000 + b"}")
