from __future__ import annotations

from django.contrib import admin

from escalation.models import EscalationPolicy, EscalationStep


class EscalationStepInline(admin.StackedInline):  # type: ignore[type-arg]
    model = EscalationStep
    extra = 0
    filter_horizontal = ["users", "schedules", "teams"]


@admin.register(EscalationPolicy)
class EscalationPolicyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "team", "repeat"]
    inlines = [EscalationStepInline]
