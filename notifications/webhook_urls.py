"""/webhooks/twilio/...: the URLs an admin pastes into the Twilio console."""

from __future__ import annotations

from django.urls import path

from notifications import webhooks

urlpatterns = [
    path("sms/", webhooks.sms_reply, name="twilio-sms"),
    path("voice/", webhooks.voice, name="twilio-voice"),
    path("status/", webhooks.status_callback, name="twilio-status"),
]
