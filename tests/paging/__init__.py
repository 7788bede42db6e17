"""Paging: escalation steps, notification rows and their sending, Twilio webhooks (SMS
replies, voice keys, status callbacks), the role check on every channel, end to end."""
