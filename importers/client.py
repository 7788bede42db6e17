"""The HTTP part the source clients share: one GET with a timeout, clear errors, and
retries when the source says it is rate limiting (429)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import requests

DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = 4
MAX_RETRY_WAIT = 60.0
MAX_PAGES = 1000

Params = Mapping[str, str | int]


class ImportSourceError(Exception):
    """The source (API or export file) cannot be read; the message says why and what to do."""


def path_part(value: object) -> str:
    """An id made safe to put in a URL path."""
    return quote(str(value), safe="")


def query_of(link: str) -> dict[str, str]:
    """The query parameters of a pagination link (the page to ask for next)."""
    return dict(parse_qsl(urlsplit(link).query))


class ApiClient:
    """GET JSON from ``base_url`` + path with fixed headers.

    Every request has a timeout. 401/403 mean the key was refused, 404 that the base URL
    or an id is wrong; 429 is retried after the server's Retry-After (or 1, 2, 4... s)
    up to ``retries`` times. ``sleep`` is a parameter so tests need not wait.
    """

    def __init__(
        self,
        *,
        name: str,
        base_url: str,
        headers: Mapping[str, str],
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        scheme = urlsplit(base_url).scheme
        if scheme not in ("http", "https"):
            raise ImportSourceError(f"--api-base must be an http(s) URL, not {base_url!r}")
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.headers = dict(headers)
        self.timeout = timeout
        self.retries = retries
        self.session = session or requests.Session()
        self.sleep = sleep

    def get(self, path: str, params: Params | None = None) -> Any:
        url = self.base_url + path
        for attempt in range(self.retries + 1):
            response = self._send(url, params)
            if response.status_code != 429:
                return self._json(response, url)
            if attempt < self.retries:
                self.sleep(_retry_wait(response, attempt))
        raise ImportSourceError(
            f"{self.name} kept answering 429 (rate limited) at {url} after "
            f"{self.retries} retries; wait a while and run the import again"
        )

    def _send(self, url: str, params: Params | None) -> requests.Response:
        try:
            return self.session.get(url, params=params, headers=self.headers, timeout=self.timeout)
        except requests.Timeout as exc:
            raise ImportSourceError(
                f"{self.name} did not answer within {self.timeout:g} s at {url}"
            ) from exc
        except requests.RequestException as exc:
            raise ImportSourceError(f"cannot reach {self.name} at {url}: {exc}") from exc

    def _json(self, response: requests.Response, url: str) -> Any:
        status = response.status_code
        if status in (401, 403):
            raise ImportSourceError(
                f"{self.name} refused the API key (HTTP {status}) at {url}: the API key was "
                "refused; check --api-key and that the key may read this"
            )
        if status == 404:
            raise ImportSourceError(
                f"{self.name} has nothing at {url} (HTTP 404): check --api-base"
            )
        if status >= 400:
            raise ImportSourceError(
                f"{self.name} answered HTTP {status} at {url}: {response.text[:300]}"
            )
        try:
            return response.json()
        except ValueError as exc:
            raise ImportSourceError(
                f"{self.name} answered {url} with something that is not JSON"
            ) from exc


class SourceClient:
    """What both source clients share: the HTTP client, built from the command options."""

    NAME = ""

    def __init__(
        self,
        *,
        api_base: str,
        api_key: str,
        timeout: float = DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.timeout = timeout
        self.http = ApiClient(
            name=self.NAME,
            base_url=api_base,
            headers={**self.auth_headers(api_key), "Accept": "application/json"},
            timeout=timeout,
            session=session,
            sleep=sleep,
        )

    def auth_headers(self, api_key: str) -> dict[str, str]:
        raise NotImplementedError

    def pages(
        self,
        path: str,
        params: Params | None,
        items: Callable[[Any], Any],
        next_link: Callable[[Any], Any],
    ) -> list[dict[str, Any]]:
        """Every item of a paged list: ``items(body)`` is a page, ``next_link(body)`` the
        link to the next one (we ask ``path`` again with that link's query)."""
        query: dict[str, str | int] = dict(params or {})
        found: list[dict[str, Any]] = []
        for _ in range(MAX_PAGES):
            body = self.http.get(path, query)
            page = items(body) if isinstance(body, dict) else None
            if not isinstance(page, list):
                raise ImportSourceError(f"{self.NAME}'s answer to {path} has no list of items")
            found += page
            link = next_link(body)
            if not page or not link:
                return found
            query = {**query, **query_of(str(link))}
        raise ImportSourceError(f"{self.NAME} kept paging {path} past {MAX_PAGES} pages")


def _retry_wait(response: requests.Response, attempt: int) -> float:
    header = response.headers.get("Retry-After", "")
    try:
        wait = float(header)
    except ValueError:
        wait = float(2**attempt)
    return min(max(wait, 0.0), MAX_RETRY_WAIT)


def read_export(path: str | Path, source: str) -> dict[str, Any]:
    """An export file (the source's API answers gathered in one JSON object)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ImportSourceError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ImportSourceError(f"{path} is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ImportSourceError(f"{path} must hold a JSON object, not a {type(data).__name__}")
    found = data.get("source")
    if found != source:
        raise ImportSourceError(f'{path} says "source": {found!r}; expected {source!r}')
    return data
