from __future__ import annotations

from django.urls import URLPattern, path

from schedules import feeds

app_name = "feeds"
# Secret iCal URLs, mounted at /ical/: the token is the only credential.
urlpatterns: list[URLPattern] = [
    path("schedules/<str:token>.ics", feeds.schedule_feed, name="schedule"),
    path("users/<str:token>.ics", feeds.user_feed, name="user"),
]
