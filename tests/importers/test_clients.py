"""The API clients against the fake Opsgenie and Grafana OnCall servers: the auth header,
paging, and the errors a person running the import would see."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest

from importers.client import ImportSourceError
from importers.oncall_api import OnCallClient, fetch_oncall
from importers.opsgenie_api import OpsgenieClient, fetch_opsgenie
from tests.fakes.json_api import Reply
from tests.fakes.oncall_server import FakeOnCall
from tests.fakes.opsgenie_server import FakeOpsgenie, recorded_export

# -------------------------------------------------------------------------- Opsgenie


def test_the_opsgenie_client_reads_everything_the_fake_recorded(
    opsgenie_client: OpsgenieClient,
) -> None:
    assert fetch_opsgenie(opsgenie_client) == recorded_export()


def test_the_opsgenie_key_goes_in_a_geniekey_authorization_header(
    opsgenie: FakeOpsgenie, opsgenie_client: OpsgenieClient
) -> None:
    opsgenie_client.teams()

    (call,) = opsgenie.calls_to("/v2/teams")
    assert call.headers["Authorization"] == f"GenieKey {opsgenie.api_key}"


def test_opsgenie_users_are_read_page_after_page_by_offset(
    opsgenie: FakeOpsgenie, opsgenie_client: OpsgenieClient
) -> None:
    users = opsgenie_client.users()

    assert len(users) == 6
    offsets = [call.query["offset"] for call in opsgenie.calls_to("/v2/users")]
    assert offsets == ["0", "4"]  # the fake serves four a page; paging.next says 4


def test_a_wrong_opsgenie_key_is_reported_as_refused(opsgenie: FakeOpsgenie) -> None:
    client = OpsgenieClient(api_base=opsgenie.base_url, api_key="not-the-key")

    with pytest.raises(ImportSourceError, match="the API key was refused"):
        client.users()


def test_opsgenie_rate_limiting_is_waited_out_as_retry_after_says(
    opsgenie: FakeOpsgenie, opsgenie_client: OpsgenieClient, waits: list[float]
) -> None:
    busy = Reply(429, {"message": "Too many requests"}, headers={"Retry-After": "3"})
    opsgenie.fail_with(busy, busy)

    assert len(opsgenie_client.integrations()) == 5
    assert waits == [3.0, 3.0]


def test_rate_limiting_without_retry_after_backs_off_and_finally_gives_up(
    opsgenie: FakeOpsgenie, opsgenie_client: OpsgenieClient, waits: list[float]
) -> None:
    opsgenie.fail_with(*[Reply(429, {"message": "Too many requests"})] * 5)

    with pytest.raises(ImportSourceError, match="kept answering 429"):
        opsgenie_client.escalations()
    assert waits == [1.0, 2.0, 4.0, 8.0]


def test_an_unknown_schedule_is_a_404_naming_the_url(opsgenie_client: OpsgenieClient) -> None:
    with pytest.raises(ImportSourceError, match="HTTP 404.*check --api-base"):
        opsgenie_client.schedule_overrides("no-such-schedule")


def test_a_server_error_is_reported_with_its_status_and_body(
    opsgenie: FakeOpsgenie, opsgenie_client: OpsgenieClient
) -> None:
    opsgenie.fail_with(Reply(503, {"message": "Service unavailable"}))

    with pytest.raises(ImportSourceError, match="HTTP 503.*Service unavailable"):
        opsgenie_client.heartbeats()


def test_an_answer_that_is_not_json_is_reported(
    opsgenie: FakeOpsgenie, opsgenie_client: OpsgenieClient
) -> None:
    opsgenie.fail_with(Reply(200, "<html>login</html>", content_type="text/html"))

    with pytest.raises(ImportSourceError, match="not JSON"):
        opsgenie_client.teams()


def test_who_is_on_call_is_asked_flat_at_the_given_instant(
    opsgenie: FakeOpsgenie, opsgenie_client: OpsgenieClient
) -> None:
    schedule = recorded_export()["schedules"][2]  # eight-hour turns from 06:30 IST
    at = datetime(2026, 1, 1, 9, 30, tzinfo=UTC)  # the second turn: dan

    assert opsgenie_client.on_call_usernames(schedule["id"], at) == ["dan@example.com"]
    (call,) = opsgenie.calls_to(f"/v2/schedules/{schedule['id']}/on-calls")
    assert call.query == {"date": "2026-01-01T09:30:00Z", "flat": "true"}


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


def test_a_source_that_does_not_answer_times_out_with_a_clear_message(silent_port: int) -> None:
    client = OpsgenieClient(api_base=f"http://127.0.0.1:{silent_port}", api_key="k", timeout=0.3)

    with pytest.raises(ImportSourceError, match=r"did not answer within 0\.3 s"):
        client.teams()


def test_a_source_that_cannot_be_reached_says_so() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    client = OpsgenieClient(api_base=f"http://127.0.0.1:{port}", api_key="k", timeout=2)

    with pytest.raises(ImportSourceError, match="cannot reach Opsgenie"):
        client.teams()


def test_the_api_base_must_be_an_http_url() -> None:
    with pytest.raises(ImportSourceError, match="--api-base must be an http"):
        OpsgenieClient(api_base="api.opsgenie.com", api_key="k")


# ---------------------------------------------------------------------- Grafana OnCall


def test_the_oncall_token_is_the_whole_authorization_header(
    oncall: FakeOnCall, oncall_client: OnCallClient
) -> None:
    oncall_client.teams()

    assert oncall.calls_to("/api/v1/teams/")[0].headers["Authorization"] == oncall.api_key


def test_oncall_lists_follow_next_links_to_the_last_page(
    oncall: FakeOnCall, oncall_client: OnCallClient
) -> None:
    users = oncall_client.users()

    assert [u["username"] for u in users] == ["alice", "bob", "carol", "dan", "erin", "frank"]
    pages = [call.query.get("page", "1") for call in oncall.calls_to("/api/v1/users/")]
    assert pages == ["1", "2", "3"]  # two a page in the fake


def test_a_wrong_oncall_token_is_reported_as_refused(oncall: FakeOnCall) -> None:
    client = OnCallClient(api_base=oncall.base_url, api_key="nope")

    with pytest.raises(ImportSourceError, match="the API key was refused"):
        client.schedules()


def test_oncall_rate_limiting_is_retried(
    oncall: FakeOnCall, oncall_client: OnCallClient, waits: list[float]
) -> None:
    oncall.fail_with(Reply(429, {"detail": "Request was throttled."}, {"Retry-After": "1"}))

    assert len(oncall_client.teams()) == 2
    assert waits == [1.0]


def test_a_web_schedule_gets_its_own_shifts_and_an_ical_one_its_calendar(
    oncall: FakeOnCall, oncall_client: OnCallClient
) -> None:
    export = fetch_oncall(oncall_client)

    primary, secondary, ops = export["schedules"]
    assert {s["name"] for s in primary["on_call_shifts"]} == {
        "Weekly primary", "Business hours", "Evenings", "Frank covers",
    }  # fmt: skip
    assert oncall.calls_to("/api/v1/on_call_shifts/")[-1].query["schedule_id"] == primary["id"]
    assert [s["id"] for s in secondary["on_call_shifts"]] == secondary["shifts"]
    assert ops["ical_primary"].startswith("BEGIN:VCALENDAR")
    assert "Authorization" not in oncall.calls_to("/ical/ops-primary.ics")[0].headers


def test_an_ical_calendar_that_cannot_be_read_is_noted_on_its_schedule(
    oncall: FakeOnCall, oncall_client: OnCallClient
) -> None:
    oncall.export["schedules"][2]["ical_url_primary"] = "{base}/ical/gone.ics"

    ops = fetch_oncall(oncall_client)["schedules"][2]

    assert "ical_primary" not in ops
    assert "gone.ics answered HTTP 404" in ops["ical_error"]


def test_final_shifts_are_asked_for_a_date_range_and_paged(
    oncall: FakeOnCall, oncall_client: OnCallClient
) -> None:
    schedule_id = oncall.export["schedules"][0]["id"]

    shifts = oncall_client.final_shifts(schedule_id, date(2026, 3, 1), date(2026, 3, 31))

    assert len(shifts) > 50  # more than one page of 50
    first = oncall.calls_to(f"/api/v1/schedules/{schedule_id}/final_shifts")[0]
    assert first.query == {"start_date": "2026-03-01", "end_date": "2026-03-31"}
    assert {"user_pk", "user_email", "user_username", "shift_start", "shift_end"} == set(shifts[0])
