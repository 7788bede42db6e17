from __future__ import annotations

from django.urls import path

from accounts import views

app_name = "accounts"
urlpatterns = [
    path("", views.team_list, name="teams"),
    path("new/", views.team_create, name="team-create"),
    path("<int:pk>/", views.team_detail, name="team-detail"),
    path("<int:pk>/edit/", views.team_edit, name="team-edit"),
    path("<int:pk>/delete/", views.team_delete, name="team-delete"),
    path("<int:pk>/members/", views.member_add, name="member-add"),
    path("<int:pk>/members/<int:membership_pk>/role/", views.member_role, name="member-role"),
    path(
        "<int:pk>/members/<int:membership_pk>/remove/", views.member_remove, name="member-remove"
    ),
]
