"""Forms of the profile page: contact methods, verification codes, notification rules.

They check the shape of the input; what may be saved (E.164, duplicates, a channel the
method can carry) is decided by accounts.contacts, whose ContactError the views put
back on the form."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms

from accounts.models import ContactMethod, NotificationRule


class PhoneForm(forms.Form):
    value = forms.CharField(
        label="Phone number",
        max_length=40,
        help_text="With the country code, e.g. +44 7700 900123 or +1 415 555 0100.",
        widget=forms.TextInput(attrs={"type": "tel", "inputmode": "tel", "autocomplete": "tel"}),
    )


class EmailForm(forms.Form):
    value = forms.CharField(
        label="Email address",
        max_length=254,
        widget=forms.TextInput(
            attrs={"type": "email", "inputmode": "email", "autocomplete": "email"}
        ),
    )


def method_form(kind: str, data: Any = None) -> PhoneForm | EmailForm:
    """The add form for ``kind``; prefixed so both fit on one page with distinct ids."""
    if kind == ContactMethod.Kind.PHONE:
        return PhoneForm(data, prefix="phone")
    return EmailForm(data, prefix="email")


class VerifyForm(forms.Form):
    code = forms.CharField(
        label="Code from the SMS",
        max_length=12,
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "size": 8}
        ),
    )

    def __init__(self, *args: Any, method_id: int, **kwargs: Any) -> None:
        # One form per unverified phone on the page: ids must differ.
        kwargs.setdefault("auto_id", f"id_verify{method_id}_%s")
        super().__init__(*args, **kwargs)


class RuleForm(forms.Form):
    """ "Notify me by <channel> at <method> after <delay>" for one event (the prefix)."""

    contact_method = forms.TypedChoiceField(label="Send to", coerce=int)
    channel = forms.ChoiceField(label="By", choices=NotificationRule.Channel.choices)
    delay_minutes = forms.IntegerField(
        label="After (minutes)",
        min_value=0,
        max_value=1440,
        initial=0,
        help_text="0 for at once; at most 1440 (a day).",
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )

    def __init__(self, *args: Any, methods: Iterable[ContactMethod], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Choices from methods the page already loaded: no query per form, and only the
        # user's own verified methods can be picked.
        self.methods = {m.pk: m for m in methods if m.is_verified}
        field = self.fields["contact_method"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = [
            (pk, f"{m.value} ({m.get_kind_display().lower()})") for pk, m in self.methods.items()
        ]

    def clean_contact_method(self) -> ContactMethod:
        return self.methods[self.cleaned_data["contact_method"]]
