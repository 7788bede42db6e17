from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from retention.services import retention_prune


class Command(BaseCommand):
    help = "Delete rows older than their table's retention (RETENTION_*_DAYS) now."

    def handle(self, *args: Any, **options: Any) -> None:
        for table, count in retention_prune().items():
            self.stdout.write(f"{table}: {count} rows deleted")
