from __future__ import annotations

from django.contrib import admin

from schedules.models import Layer, LayerMember, Override, Schedule


class LayerInline(admin.StackedInline):  # type: ignore[type-arg]
    model = Layer
    extra = 0


class OverrideInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Override
    extra = 0


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "team", "time_zone"]
    inlines = [LayerInline, OverrideInline]


class LayerMemberInline(admin.TabularInline):  # type: ignore[type-arg]
    model = LayerMember
    extra = 1


@admin.register(Layer)
class LayerAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "schedule", "turn", "handoff_time"]
    inlines = [LayerMemberInline]
