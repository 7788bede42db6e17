"""Notification channels, one module per kind; importing this package registers them all
(see notifications.channels.base for the contract and how to add one)."""

from notifications.channels import push, slack, teams, webhook

__all__ = ["push", "slack", "teams", "webhook"]
