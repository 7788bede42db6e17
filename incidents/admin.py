from __future__ import annotations

from django.contrib import admin

from incidents.models import Incident, IncidentEvent


class IncidentEventInline(admin.TabularInline):  # type: ignore[type-arg]
    model = IncidentEvent
    extra = 0


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["id", "title", "state", "integration", "alarm_count", "created_at"]
    list_filter = ["state", "integration"]
    search_fields = ["title", "dedup_key"]
    inlines = [IncidentEventInline]
