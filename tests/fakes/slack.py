"""A local Slack Web API: chat.postMessage, chat.update, conversations.open and
users.lookupByEmail answered as Slack documents them (HTTP 200 with ``ok: true`` and the
object, or ``ok: false`` and an error code; a Bearer bot token is required). It keeps
the messages posted, so a test can read what a channel would show."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.server import LocalServer, Recorded, Reply

BOT_TOKEN = "xoxb-fake-klaxon-token"


@dataclass
class Posted:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str = ""
    updates: int = 0
    replies: list[Posted] = field(default_factory=list)


class FakeSlack(LocalServer):
    def __init__(self) -> None:
        super().__init__()
        # channel id -> "member", "not_in_channel" or "archived"
        self.channels: dict[str, str] = {}
        self.users: dict[str, str] = {}  # email -> user id
        self.inactive_users: set[str] = set()
        self.messages: dict[tuple[str, str], Posted] = {}
        self._ts = itertools.count(1)

    @property
    def api_base(self) -> str:
        return f"{self.base_url}/api/"

    def calls(self, method: str) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.path == f"/api/{method}"]

    @staticmethod
    def params(request: Recorded) -> dict[str, Any]:
        """The call's arguments, wherever the client put them (query, form or JSON)."""
        found: dict[str, Any] = dict(request.query)
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("application/json"):
            found.update(request.json())
        elif request.body:
            found.update(request.form())
        return found

    def handle(self, request: Recorded) -> Reply:
        method = request.path.removeprefix("/api/")
        auth = request.headers.get("authorization", "")
        if not auth:
            return self._error("not_authed")
        if auth != f"Bearer {BOT_TOKEN}":
            return self._error("invalid_auth")
        params = self.params(request)
        answer = {
            "chat.postMessage": self._post,
            "chat.update": self._update,
            "conversations.open": self._open,
            "users.lookupByEmail": self._lookup,
        }.get(method)
        if answer is None:
            return self._error("unknown_method")
        with self.lock:
            return answer(params)

    @staticmethod
    def _ok(**data: Any) -> Reply:
        return Reply.json(200, {"ok": True, **data})

    @staticmethod
    def _error(error: str, **data: Any) -> Reply:
        return Reply.json(200, {"ok": False, "error": error, **data})

    @staticmethod
    def _blocks(params: dict[str, Any]) -> list[dict[str, Any]]:
        blocks = params.get("blocks") or []
        return json.loads(blocks) if isinstance(blocks, str) else list(blocks)

    def _post(self, params: dict[str, Any]) -> Reply:
        channel = str(params.get("channel", ""))
        state = self.channels.get(channel)
        if state is None:
            return self._error("channel_not_found")
        if state != "member":
            return self._error(state)
        if not params.get("text") and not params.get("blocks"):
            return self._error("no_text")
        n = next(self._ts)
        posted = Posted(
            channel=channel,
            ts=f"{1700000000 + n}.{n:06d}",
            text=str(params.get("text", "")),
            blocks=self._blocks(params),
            thread_ts=str(params.get("thread_ts", "")),
        )
        self.messages[(channel, posted.ts)] = posted
        if posted.thread_ts in {ts for (c, ts) in self.messages if c == channel}:
            self.messages[(channel, posted.thread_ts)].replies.append(posted)
        return self._ok(channel=channel, ts=posted.ts, message={"text": posted.text})

    def _update(self, params: dict[str, Any]) -> Reply:
        key = (str(params.get("channel", "")), str(params.get("ts", "")))
        if key[0] not in self.channels:
            return self._error("channel_not_found")
        posted = self.messages.get(key)
        if posted is None:
            return self._error("message_not_found")
        posted.text = str(params.get("text", posted.text))
        posted.blocks = self._blocks(params) or posted.blocks
        posted.updates += 1
        return self._ok(channel=key[0], ts=key[1], text=posted.text)

    def _open(self, params: dict[str, Any]) -> Reply:
        user = str(params.get("users", ""))
        if user not in self.users.values():
            return self._error("user_not_found")
        if user in self.inactive_users:
            return self._error("user_disabled")
        dm = "D" + user[1:]
        self.channels[dm] = "member"
        return self._ok(channel={"id": dm})

    def _lookup(self, params: dict[str, Any]) -> Reply:
        email = str(params.get("email", ""))
        user = self.users.get(email)
        if user is None:
            return self._error("users_not_found")
        return self._ok(user={"id": user, "profile": {"email": email}})
