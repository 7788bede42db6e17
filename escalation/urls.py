from __future__ import annotations

from django.urls import path

from escalation import views

app_name = "policies"
urlpatterns = [
    path("", views.policy_list, name="list"),
    path("new/", views.policy_create, name="create"),
    path("<int:pk>/", views.policy_detail, name="detail"),
    path("<int:pk>/edit/", views.policy_edit, name="edit"),
    path("<int:pk>/delete/", views.policy_delete, name="delete"),
    path("<int:pk>/steps/new/", views.step_create, name="step-create"),
    path("<int:pk>/steps/<int:step_pk>/", views.step_edit, name="step-edit"),
    path("<int:pk>/steps/<int:step_pk>/delete/", views.step_remove, name="step-delete"),
    path("<int:pk>/steps/<int:step_pk>/move/", views.step_move, name="step-move"),
]
