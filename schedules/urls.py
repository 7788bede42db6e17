from __future__ import annotations

from django.urls import path

from schedules import views

app_name = "schedules"
urlpatterns = [
    path("", views.schedule_list, name="list"),
    path("new/", views.schedule_create, name="create"),
    path("<int:pk>/", views.schedule_detail, name="detail"),
    path("<int:pk>/edit/", views.schedule_edit, name="edit"),
    path("<int:pk>/delete/", views.schedule_delete, name="delete"),
    path("<int:pk>/rotate-feed/", views.schedule_rotate_feed, name="rotate-feed"),
    path("<int:pk>/layers/new/", views.layer_create, name="layer-create"),
    path("<int:pk>/layers/<int:layer_pk>/", views.layer_edit, name="layer-edit"),
    path("<int:pk>/layers/<int:layer_pk>/delete/", views.layer_delete, name="layer-delete"),
    path("<int:pk>/overrides/new/", views.override_create, name="override-create"),
    path(
        "<int:pk>/overrides/<int:override_pk>/delete/",
        views.override_delete,
        name="override-delete",
    ),
]
