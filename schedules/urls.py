from __future__ import annotations

from django.urls import include, path

from schedules import views

schedule_patterns = ([path("", views.schedule_list, name="list")], "schedules")
policy_patterns = ([path("", views.policy_list, name="list")], "policies")

urlpatterns = [
    path("schedules/", include(schedule_patterns)),
    path("escalation-policies/", include(policy_patterns)),
]
