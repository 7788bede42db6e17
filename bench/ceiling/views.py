from __future__ import annotations

import json

from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest

_INSERT = "INSERT INTO ceiling_alarm (message_id, alarm_name, state, body) VALUES (%s, %s, %s, %s)"


def alarm(request: HttpRequest) -> HttpResponse:
    """Parse the SNS envelope and the CloudWatch alarm in it; store it with one INSERT
    (autocommit: one round trip)."""
    if request.method != "POST":
        return HttpResponse(status=405)
    try:
        body = request.body.decode()
        envelope = json.loads(body)
        message = json.loads(envelope["Message"])
        values = [envelope["MessageId"], message["AlarmName"], message["NewStateValue"], body]
    except (UnicodeDecodeError, ValueError, KeyError, TypeError):
        return HttpResponseBadRequest("not an SNS CloudWatch notification")
    with connection.cursor() as cursor:
        cursor.execute(_INSERT, values)
    return HttpResponse("stored", content_type="text/plain")


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")
