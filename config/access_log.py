"""Secrets in request paths stay out of the logs Klaxon writes.

Some URLs are themselves the credential: an integration's inbound URL
(``/in/<token>/``), the iCal feeds (``/ical/schedules/<token>.ics``,
``/ical/users/<token>.ics``) and the acknowledge/resolve links in emails
(``/notifications/act/<token>/``). Anyone who can read a log line holding one could
post alarms, read the schedules or act on an incident. Each log line keeps only the last
four characters of such a token (``/in/…Xy9Q/``): enough to tell two apart.

- ``MaskingLogger``: gunicorn's logger for the access log and its error log
  (``gunicorn --logger-class config.access_log.MaskingLogger``).
- ``MaskSecretPaths``: a logging filter, on the handler in settings.LOGGING, for
  Django's own lines (``django.request``: "Not Found: /in/<token>/").
"""

from __future__ import annotations

import logging
import re
from typing import Any

from gunicorn.glogging import Logger

# The segment after one of these prefixes is a secret, up to the next "/", "?", "#",
# quote or space (and ".ics" for the feeds). Percent-encoded or not, it is masked whole.
_SECRET_PATH = re.compile(
    r"(?P<prefix>/in/|/ical/schedules/|/ical/users/|/notifications/act/)"
    r"(?P<token>[^/?#\s\"']+?)"
    r"(?P<suffix>\.ics)?(?=[/?#\s\"']|$)"
)


def _masked(match: re.Match[str]) -> str:
    # As audit.services.mask_secret (not imported: gunicorn loads this module before
    # Django is set up).
    return match["prefix"] + "…" + match["token"][-4:] + (match["suffix"] or "")


def mask_secret_paths(text: str) -> str:
    """``text`` with the token in every secret URL path cut to its last 4 characters."""
    return _SECRET_PATH.sub(_masked, text)


_TRACEBACKS = logging.Formatter()


class MaskSecretPaths(logging.Filter):
    """Masks secret URL paths in a log record's message (it never drops a record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        # Formatted here, once: the handler's formatter then uses the masked text as is.
        record.msg, record.args = mask_secret_paths(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            # A traceback's messages may quote the path or the token (a database error
            # with its query): formatted and masked too; formatters reuse exc_text.
            record.exc_text = _TRACEBACKS.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_secret_paths(record.exc_text)
        return True


class MaskingLogger(Logger):
    """gunicorn's logger, with secret URL paths masked in the access and error logs."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.access_log, self.error_log):
            if not any(isinstance(f, MaskSecretPaths) for f in log.filters):
                log.addFilter(MaskSecretPaths())
