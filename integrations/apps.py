from __future__ import annotations

from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations and the Inbound Log"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from integrations.inbound import forget_cached_integrations
        from integrations.models import Integration

        # Cache upkeep, not business logic: an edited, rotated or deleted integration
        # must not be served from this process's token cache.
        post_save.connect(forget_cached_integrations, sender=Integration)
        post_delete.connect(forget_cached_integrations, sender=Integration)
