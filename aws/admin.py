from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from aws.models import AwsCredentials, CloudTrailEvidence


class ReadOnly(admin.ModelAdmin):  # type: ignore[type-arg]
    """Seen, not changed, here: credentials are set on the integration page (encrypted,
    audited); evidence is written by the search."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AwsCredentials)
class AwsCredentialsAdmin(ReadOnly):
    list_display = ["integration", "kind", "hint", "region", "updated_at", "test_ok"]
    # Never the encrypted secret, not even as ciphertext.
    exclude = ["secret"]


@admin.register(CloudTrailEvidence)
class CloudTrailEvidenceAdmin(ReadOnly):
    list_display = ["incident", "event_id", "event_time", "source", "log_group"]
    list_filter = ["source"]
