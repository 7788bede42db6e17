"""Forms of the Teams page; the writes themselves are in accounts.teams."""

from __future__ import annotations

from django import forms

from accounts.models import Membership, Team


class TeamForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Team
        fields = ["name", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}


class MemberAddForm(forms.Form):
    username = forms.CharField(
        max_length=150,
        widget=forms.TextInput(
            attrs={"list": "usernames", "autocomplete": "off", "autocapitalize": "none"}
        ),
    )
    role = forms.ChoiceField(choices=Membership.Role.choices, initial=Membership.Role.RESPONDER)


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Membership.Role.choices)
