from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts.signin import SignInView
from aws.api import aws_setup, filter_pattern_test
from config import health, settings_page
from config.api import router
from integrations.views import inbound

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="incidents:list"), name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("login/", SignInView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # One sign-in form, throttled (accounts/throttle.py): the admin's own would not be.
    path("admin/login/", RedirectView.as_view(pattern_name="login", query_string=True)),
    path("admin/", admin.site.urls),
    path("in/<str:token>/", inbound, name="inbound"),
    path("incidents/", include("incidents.urls")),
    path("integrations/", include("integrations.urls")),
    path("schedules/", include("schedules.urls")),
    path("escalation-policies/", include("escalation.urls")),
    path("teams/", include("accounts.urls")),
    path("notifications/", include("notifications.urls")),
    path("reports/", include("reports.urls")),
    path("audit/", include("audit.urls")),
    path("aws/", include("aws.urls")),
    path("profile/", include("accounts.profile_urls")),
    path("settings/", settings_page.settings_page, name="settings"),
    path("webhooks/twilio/", include("notifications.webhook_urls")),
    path("ical/", include("schedules.feed_urls")),
    path("api/v1/filter-patterns/test/", filter_pattern_test, name="filter-pattern-test"),
    path("api/v1/integrations/<int:id>/aws-setup/", aws_setup, name="integration-aws-setup"),
    path("api/v1/", include(router.urls)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
]

handler404 = "config.errors.page_not_found"
