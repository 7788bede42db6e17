from __future__ import annotations

from django.urls import path

from accounts import views

app_name = "accounts"
urlpatterns = [path("", views.team_list, name="teams")]
