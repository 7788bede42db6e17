from __future__ import annotations

from typing import Any

from django import forms

from accounts.models import Team, User
from escalation.models import EscalationPolicy, EscalationStep
from schedules.models import Schedule


class PolicyForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = EscalationPolicy
        fields = ["name", "team", "repeat"]
        widgets = {"repeat": forms.NumberInput(attrs={"min": 0, "max": 9})}


class StepForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = EscalationStep
        fields = ["delay_minutes", "users", "schedules", "teams"]
        labels = {
            "delay_minutes": "Wait (minutes)",
            "users": "Notify these users",
            "schedules": "Notify whoever is on call in",
            "teams": "Notify everyone in",
        }
        widgets = {
            "users": forms.CheckboxSelectMultiple,
            "schedules": forms.CheckboxSelectMultiple,
            "teams": forms.CheckboxSelectMultiple,
        }

    def __init__(self, *args: Any, policy: EscalationPolicy, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.policy = policy
        self.fields["users"].queryset = User.objects.filter(is_active=True).order_by("username")  # type: ignore[attr-defined]
        self.fields["schedules"].queryset = Schedule.objects.order_by("name")  # type: ignore[attr-defined]
        self.fields["teams"].queryset = Team.objects.order_by("name")  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not (data.get("users") or data.get("schedules") or data.get("teams")):
            raise forms.ValidationError("Pick at least one user, schedule or team to notify.")
        return data


class StepMoveForm(forms.Form):
    direction = forms.ChoiceField(choices=[("up", "up"), ("down", "down")])
