"""URLs that are credentials (integration inbound URLs, iCal feeds, email action links)
are masked to their token's last 4 characters in gunicorn's access and error logs and in
Django's own log lines."""

from __future__ import annotations

import io
import logging
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.test import Client
from gunicorn.config import Config

from config.access_log import MaskingLogger, MaskSecretPaths, mask_secret_paths

TOKEN = "Zq3xV9kT2mLp8RwY4nBc6HdJ"


@pytest.mark.parametrize(
    ("path", "masked"),
    [
        (f"/in/{TOKEN}/", "/in/…6HdJ/"),
        (f"/ical/schedules/{TOKEN}.ics", "/ical/schedules/…6HdJ.ics"),
        (f"/ical/users/{TOKEN}.ics?x=1", "/ical/users/…6HdJ.ics?x=1"),
        (
            "/notifications/act/eyJuIjo0LCJhIjoiYWNrIn0:1vRx2c:Q2bYq-Abc_d/",
            "/notifications/act/…bc_d/",
        ),  # fmt: skip
        (f"https://klaxon.example.com/in/{TOKEN}", "https://klaxon.example.com/in/…6HdJ"),
    ],
)
def test_each_secret_path_keeps_only_the_tokens_last_four_characters(
    path: str, masked: str
) -> None:
    assert mask_secret_paths(f'"POST {path} HTTP/1.1" 200') == f'"POST {masked} HTTP/1.1" 200'


@pytest.mark.parametrize(
    "path", ["/incidents/42/", "/integrations/3/", "/api/v1/schedules/my-calendar/", "/login/"]
)
def test_other_paths_are_left_alone(path: str) -> None:
    assert mask_secret_paths(f"GET {path}") == f"GET {path}"


def gunicorn_logger(tmp_path: Path) -> tuple[MaskingLogger, Path, Path]:
    access, errors = tmp_path / "access.log", tmp_path / "error.log"
    cfg = Config()
    cfg.set("accesslog", str(access))
    cfg.set("errorlog", str(errors))
    cfg.set("access_log_format", '%(h)s "%(r)s" %(s)s "%(f)s" %(U)s')
    return MaskingLogger(cfg), access, errors


def test_gunicorn_access_log_masks_the_request_line_path_and_referer(tmp_path: Path) -> None:
    logger, access, _ = gunicorn_logger(tmp_path)
    environ = {
        "REQUEST_METHOD": "POST",
        "RAW_URI": f"/in/{TOKEN}/",
        "PATH_INFO": f"/in/{TOKEN}/",
        "QUERY_STRING": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.5",
        "HTTP_REFERER": f"https://klaxon.example.com/ical/users/{TOKEN}.ics",
    }
    response = SimpleNamespace(status="200 OK", headers=[], sent=2)
    request = SimpleNamespace(headers=[("REFERER", environ["HTTP_REFERER"])])

    logger.access(response, request, environ, timedelta(milliseconds=12))

    line = access.read_text()
    assert TOKEN not in line
    assert line.strip() == (
        '203.0.113.5 "POST /in/…6HdJ/ HTTP/1.1" 200 '
        '"https://klaxon.example.com/ical/users/…6HdJ.ics" /in/…6HdJ/'
    )


def test_gunicorn_error_log_masks_too(tmp_path: Path) -> None:
    logger, _, errors = gunicorn_logger(tmp_path)
    logger.error("Error handling request %s", f"/in/{TOKEN}/")
    assert "Error handling request /in/…6HdJ/" in errors.read_text()
    assert TOKEN not in errors.read_text()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", [f"/in/{TOKEN}/", f"/ical/users/{TOKEN}.ics", f"/notifications/act/{TOKEN}/"]
)
def test_djangos_warning_for_a_refused_secret_url_does_not_print_the_token(path: str) -> None:
    # The console handler settings.LOGGING puts on the root logger, writing to a buffer.
    (console,) = [h for h in logging.getLogger().handlers if h.get_name() == "console"]
    assert isinstance(console, logging.StreamHandler)
    buffer = io.StringIO()
    previous = console.setStream(buffer)
    try:
        response = Client().get(path)
    finally:
        console.setStream(previous)

    assert response.status_code in (400, 404)
    printed = buffer.getvalue()
    assert "django.request" in printed and "…6HdJ" in printed
    assert TOKEN not in printed


def test_a_traceback_quoting_the_path_is_masked_too() -> None:
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.addFilter(MaskSecretPaths())
    logger = logging.getLogger("tests.log_masking")
    logger.addHandler(handler)
    try:
        try:
            raise ValueError(f"no calendar at /ical/schedules/{TOKEN}.ics")
        except ValueError:
            logger.exception("Internal Server Error: %s", f"/ical/schedules/{TOKEN}.ics")
    finally:
        logger.removeHandler(handler)

    printed = buffer.getvalue()
    assert "ValueError: no calendar at /ical/schedules/…6HdJ.ics" in printed
    assert TOKEN not in printed
