from __future__ import annotations

from django.apps import AppConfig


class AwsConfig(AppConfig):
    name = "aws"
    verbose_name = "AWS security pack"
