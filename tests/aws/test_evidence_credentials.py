"""An integration's read-only AWS credentials: only admins set, test and remove them;
they are stored encrypted, audited without the secret, and never shown again anywhere."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from pytest_django.asserts import assertContains, assertNotContains
from rest_framework.authtoken.models import Token

from audit.models import AuditEntry
from aws.models import AwsCredentials
from integrations.models import Integration
from tests.aws.conftest import boto, client_for
from tests.factories import IntegrationFactory

pytestmark = pytest.mark.django_db

KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
EXTERNAL_ID = "klaxon-external-7f3a9c"


@pytest.fixture
def integration() -> Integration:
    integration: Integration = IntegrationFactory(name="Prod")
    return integration


def set_keys(client: Client, integration: Integration, **changes: str) -> Any:
    data = {
        "kind": "keys",
        "region": "eu-west-1",
        "access_key_id": KEY_ID,
        "secret_access_key": SECRET,
        **changes,
    }
    return client.post(f"/aws/integrations/{integration.pk}/credentials/", data)


def test_an_admin_saves_keys_encrypted_and_the_page_shows_only_the_last_four(
    integration: Integration, admin: Any
) -> None:
    client = client_for(admin)

    response = set_keys(client, integration)

    assert response.status_code == 302
    assert response["Location"] == f"/integrations/{integration.pk}/#aws-evidence"
    stored = AwsCredentials.objects.get(integration=integration)
    assert SECRET not in stored.secret and KEY_ID not in stored.secret
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {AwsCredentials._meta.db_table}")
        assert SECRET not in repr(cursor.fetchall())
    page = client.get(integration.get_absolute_url())
    assertContains(page, "Set: access key ending in MPLE, region eu-west-1")
    assertContains(page, "Test credentials")
    assertContains(page, 'data-confirm="Remove the AWS credentials?')
    assertNotContains(page, KEY_ID)
    assertNotContains(page, SECRET)


def test_the_change_is_audited_without_the_secret(integration: Integration, admin: Any) -> None:
    set_keys(client_for(admin), integration)

    entry = AuditEntry.objects.get(object_type="integration", object_id=integration.pk)
    assert entry.actor == admin
    assert entry.changes["aws_evidence_credentials"] == [
        None,
        "access key ending in MPLE, region eu-west-1",
    ]
    assert SECRET not in json.dumps([entry.before, entry.after, entry.changes])
    assert KEY_ID not in json.dumps([entry.before, entry.after, entry.changes])


def test_saving_the_same_key_with_a_new_secret_is_audited_again(
    integration: Integration, admin: Any
) -> None:
    client = client_for(admin)
    set_keys(client, integration)
    set_keys(client, integration, secret_access_key="x" * 40)

    assert AuditEntry.objects.filter(object_id=integration.pk).count() == 2


def test_a_role_is_shown_by_its_arn_and_its_external_id_never(
    integration: Integration, admin: Any
) -> None:
    client = client_for(admin)
    arn = "arn:aws:iam::123456789012:role/klaxon-evidence"

    client.post(
        f"/aws/integrations/{integration.pk}/credentials/",
        {"kind": "role", "region": "us-east-1", "role_arn": arn, "external_id": EXTERNAL_ID},
    )

    page = client.get(integration.get_absolute_url())
    assertContains(page, f"Set: role {arn}, region us-east-1")
    assertNotContains(page, EXTERNAL_ID)
    assertNotContains(client.get(f"/aws/integrations/{integration.pk}/credentials/"), EXTERNAL_ID)


def test_bad_values_are_refused_in_words_and_never_echoed(
    integration: Integration, admin: Any
) -> None:
    response = set_keys(client_for(admin), integration, access_key_id="not a key", region="mars-1")

    assert response.status_code == 200
    assertContains(response, "Not a valid value: expected 16-128 capital letters and digits.")
    assertContains(response, "&#x27;mars-1&#x27; is not an AWS region name")
    assertNotContains(response, SECRET)
    assert not AwsCredentials.objects.exists()


def test_a_missing_secret_is_named(integration: Integration, admin: Any) -> None:
    response = set_keys(client_for(admin), integration, secret_access_key="")

    assertContains(response, "Required for this kind of credentials.")
    assert not AwsCredentials.objects.exists()


def test_remove_forgets_them_and_is_audited(integration: Integration, admin: Any) -> None:
    client = client_for(admin)
    set_keys(client, integration)

    response = client.post(f"/aws/integrations/{integration.pk}/credentials/remove/")

    assert response.status_code == 302
    assert not AwsCredentials.objects.exists()
    latest = AuditEntry.objects.filter(object_id=integration.pk).latest("id")
    assert latest.changes["aws_evidence_credentials"][1] is None
    assertContains(client.get(integration.get_absolute_url()), "no AWS credentials set")


@pytest.mark.parametrize("role_name", ["viewer", "responder"])
def test_only_admins_set_test_or_remove_credentials(
    integration: Integration, admin: Any, role_name: str, request: pytest.FixtureRequest
) -> None:
    set_keys(client_for(admin), integration)
    before = AwsCredentials.objects.get().secret
    client = client_for(request.getfixturevalue(role_name))
    base = f"/aws/integrations/{integration.pk}/credentials/"

    assert client.get(base).status_code == 403
    assert set_keys(client, integration, secret_access_key="y" * 40).status_code == 403
    assert client.post(base + "test/").status_code == 403
    assert client.post(base + "remove/").status_code == 403
    assert AwsCredentials.objects.get().secret == before
    page = client.get(integration.get_absolute_url())
    assertContains(page, "Set: access key ending in MPLE")
    assertNotContains(page, "Test credentials")
    assertNotContains(page, "/credentials/remove/")


def test_viewers_see_that_none_are_set_and_who_can_set_them(
    integration: Integration, viewer: Any
) -> None:
    page = client_for(viewer).get(integration.get_absolute_url())

    assertContains(page, "no AWS credentials set. An admin can set them.")
    assertNotContains(page, "Set credentials")


# ----------------------------------------------------------------- test credentials


@pytest.fixture
def reader_key(aws: str) -> dict[str, str]:
    iam = boto(aws, "iam")
    iam.create_user(UserName="klaxon-reader")
    key: dict[str, str] = iam.create_access_key(UserName="klaxon-reader")["AccessKey"]
    return key


def test_testing_working_keys_says_who_aws_knows_them_as(
    integration: Integration, admin: Any, reader_key: dict[str, str]
) -> None:
    client = client_for(admin)
    set_keys(
        client,
        integration,
        access_key_id=reader_key["AccessKeyId"],
        secret_access_key=reader_key["SecretAccessKey"],
    )

    response = client.post(f"/aws/integrations/{integration.pk}/credentials/test/", follow=True)

    assertContains(
        response,
        "Works: AWS knows these credentials as arn:aws:iam::123456789012:user/klaxon-reader "
        "(account 123456789012), and they may list metric filters in eu-west-1.",
    )
    stored = AwsCredentials.objects.get()
    assert stored.test_ok is True and stored.tested_at is not None


def test_testing_a_wrong_secret_says_aws_refused_it(
    integration: Integration,
    admin: Any,
    reader_key: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import moto.settings

    client = client_for(admin)
    set_keys(client, integration, access_key_id=reader_key["AccessKeyId"])
    monkeypatch.setattr(moto.settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)

    response = client.post(f"/aws/integrations/{integration.pk}/credentials/test/", follow=True)

    assertContains(
        response,
        "Failed: AWS did not accept the credentials to call sts:GetCallerIdentity "
        "(SignatureDoesNotMatch",
    )
    assert AwsCredentials.objects.get().test_ok is False


def test_the_secret_appears_in_no_page_api_answer_audit_row_or_log(
    integration: Integration,
    admin: Any,
    reader_key: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = reader_key["SecretAccessKey"]
    client = client_for(admin)
    set_keys(
        client, integration, access_key_id=reader_key["AccessKeyId"], secret_access_key=secret
    )
    client.post(f"/aws/integrations/{integration.pk}/credentials/test/")
    api = Client(headers={"Authorization": f"Token {Token.objects.create(user=admin).key}"})

    seen = [
        client.get(integration.get_absolute_url()),
        client.get(f"/aws/integrations/{integration.pk}/credentials/"),
        client.get("/audit/"),
        *(client.get(entry.get_absolute_url()) for entry in AuditEntry.objects.all()),
        api.get("/api/v1/integrations/"),
        api.get(f"/api/v1/integrations/{integration.pk}/"),
        api.get(
            f"/api/v1/integrations/{integration.pk}/aws-setup/",
            {"format": "cli", "log_group": "g"},
        ),
    ]
    for response in seen:
        assert response.status_code == 200, response
        assert secret not in response.content.decode()
    assert secret not in json.dumps(list(AuditEntry.objects.values()), default=str)
    assert secret not in caplog.text
    assert "botocore" in caplog.text  # the AWS calls were logged, at DEBUG, without it
