"""Fixtures for the AWS pack's pages and evidence: people in each role, and moto's
server standing in for AWS (the one thing faked, over real HTTP)."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from django.test import Client

from accounts.models import Membership, User
from tests.factories import TeamFactory, UserFactory


def member(username: str, role: str) -> User:
    user: User = UserFactory(username=username)
    Membership.objects.create(team=TeamFactory(), user=user, role=role)
    return user


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def admin(db: Any) -> User:
    user: User = UserFactory(username="ada", is_staff=True)
    return user


@pytest.fixture
def viewer(db: Any) -> User:
    return member("vera", Membership.Role.VIEWER)


@pytest.fixture
def responder(db: Any) -> User:
    return member("rita", Membership.Role.RESPONDER)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def endpoint(moto_server: str) -> str:
    """The server, emptied: each test starts from a fresh account."""
    request = urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass
    return moto_server


@pytest.fixture
def aws(endpoint: str, settings: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """moto's server, emptied, as Klaxon's AWS endpoint; returns its URL."""
    settings.AWS_ENDPOINT_URL = endpoint
    # The Klaxon host's own credentials (they assume a role, when one is configured).
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "host-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "host-secret")
    return endpoint


def boto(endpoint: str, service: str, region: str = "eu-west-1", **credentials: str) -> Any:
    """A client of moto's server, as the account's owner (or with ``credentials``)."""
    return boto3.client(
        service,
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id=credentials.get("key", "testing"),
        aws_secret_access_key=credentials.get("secret", "testing"),
    )
