"""Browser tests: Playwright driving Debian's Chromium (/usr/bin/chromium), headless,
against Django's live test server (a real HTTP server in a thread, real transactions).

With CI=true a missing browser fails the run (.ci/run installs it); elsewhere these tests
are skipped when Chromium or Playwright is not installed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
# Screenshots of the main pages: test-results/ by default; KLAXON_SCREENSHOTS=docs
# writes the ones the README shows (docs/screenshots/).
SHOTS = ROOT / ("docs/screenshots" if os.environ.get("KLAXON_SCREENSHOTS") == "docs"
                else "test-results/screenshots")  # fmt: skip


def _ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if _ci():
            raise
        pytest.skip("playwright is not installed (make test installs it)")
    if not CHROMIUM.exists():
        if _ci():
            raise RuntimeError(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is not installed (apt install chromium)")
    # Playwright's sync API refuses to run inside an asyncio loop; pytest has none here.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture
def browser_page(chromium: Any, live_server: Any) -> Iterator[Any]:
    context = chromium.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 900}
    )
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
def demo(transactional_db: Any, settings: Any, live_server: Any) -> None:
    """The demo data of `make run`, and one alarm escalated to alice through it."""
    settings.KLAXON_BASE_URL = live_server.url
    call_command("seed_demo", "--history", stdout=open("/dev/null", "w"))  # noqa: SIM115
    from accounts.models import User
    from integrations.models import Integration
    from integrations.services import integration_send_test_alert

    integration = Integration.objects.get()
    admin = User.objects.get(username="admin")
    integration_send_test_alert(integration=integration, user=admin)
