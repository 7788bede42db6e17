"""/profile/...: the signed-in user's contact methods and notification rules."""

from __future__ import annotations

from django.urls import path

from accounts import profile_views as views

app_name = "profile"
urlpatterns = [
    path("", views.profile, name="index"),
    path("calendar/rotate/", views.rotate_feed, name="rotate-feed"),
    path("methods/add/<str:kind>/", views.add_method, name="add-method"),
    path("methods/<int:pk>/send-code/", views.send_code, name="send-code"),
    path("methods/<int:pk>/verify/", views.verify, name="verify"),
    path("methods/<int:pk>/test/<str:channel>/", views.send_test, name="send-test"),
    path("methods/<int:pk>/delete/", views.delete_method, name="delete-method"),
    path("rules/add/<str:event>/", views.add_rule, name="add-rule"),
    path("rules/<int:pk>/delete/", views.delete_rule, name="delete-rule"),
]
