from __future__ import annotations

from django.urls import URLPattern

app_name = "feeds"
# Filled by the iCal work: /ical/schedules/<token>.ics and /ical/users/<token>.ics.
urlpatterns: list[URLPattern] = []
