from __future__ import annotations

from django import forms

from integrations.models import Integration
from integrations.services import EDITABLE_FIELDS


class IntegrationForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Integration
        # What a person may edit is the service's list: the form cannot offer more.
        fields = list(EDITABLE_FIELDS)
