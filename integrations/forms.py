from __future__ import annotations

from django import forms

from integrations.models import Integration


class IntegrationForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Integration
        fields = [
            "name",
            "kind",
            "team",
            "escalation_policy",
            "enabled",
            "insufficient_data_as_alarm",
            "security_mode",
        ]
