from __future__ import annotations

from django.urls import path

from incidents import views

app_name = "incidents"
urlpatterns = [
    path("", views.incident_list, name="list"),
    path("acknowledge/", views.incident_bulk_acknowledge, name="bulk-acknowledge"),
    path("<int:pk>/", views.incident_detail, name="detail"),
    path("<int:pk>/acknowledge/", views.incident_acknowledge, name="acknowledge"),
    path("<int:pk>/resolve/", views.incident_resolve, name="resolve"),
    path("<int:pk>/escalate/", views.incident_escalate, name="escalate"),
    path("<int:pk>/note/", views.incident_note, name="note"),
]
