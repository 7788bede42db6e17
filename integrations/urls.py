from __future__ import annotations

from django.urls import path

from integrations import views

app_name = "integrations"
urlpatterns = [
    path("", views.integration_list, name="list"),
    path("new/", views.integration_create, name="create"),
    path("<int:pk>/", views.integration_detail, name="detail"),
    path("<int:pk>/edit/", views.integration_edit, name="edit"),
    path("<int:pk>/delete/", views.integration_delete, name="delete"),
    path("<int:pk>/rotate/", views.integration_rotate, name="rotate"),
    path("<int:pk>/rebind/", views.integration_rebind, name="rebind"),
    path("<int:pk>/test-alert/", views.integration_test_alert, name="test-alert"),
    path("inbound-log/", views.inbound_list, name="inbound-list"),
    path("inbound-log/<int:pk>/", views.inbound_detail, name="inbound-detail"),
    path("inbound-log/<int:pk>/confirm/", views.inbound_confirm, name="inbound-confirm"),
]
