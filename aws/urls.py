from __future__ import annotations

from django.urls import path

from aws import views

app_name = "aws"
urlpatterns = [
    path("detections/", views.detection_list, name="detections"),
    path("patterns/", views.pattern_test, name="pattern-test"),
    path("integrations/<int:pk>/setup/", views.integration_setup, name="setup"),
    path("integrations/<int:pk>/credentials/", views.credentials_edit, name="credentials"),
    path(
        "integrations/<int:pk>/credentials/remove/",
        views.credentials_remove,
        name="credentials-remove",
    ),
    path(
        "integrations/<int:pk>/credentials/test/",
        views.credentials_test,
        name="credentials-test",
    ),
]
