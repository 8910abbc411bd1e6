"""An alert inbox: the endpoint Apprise's `json://host:port/path` target posts to, keeping what it gets.

Apprise's JSON notification posts `{"version", "title", "message", "type", "attachments"}` to the URL's path
(https://github.com/caronc/apprise/wiki/Notify_Custom_JSON). The sandbox, the demo and the tests point
`notify.urls` here, so alerts are seen without any network. `GET /_emulator/alerts` lists them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from b24sync_emulators.httpserver import EmulatorServer, Reply, Request


@dataclass
class InboxApp:
    """Every message posted to any path, in order; `wait_for` lets a test wait for one without sleeping."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def handle(self, request: Request) -> Reply:
        if request.method == "GET" and request.path.rstrip("/") == "/_emulator/alerts":
            with self.changed:
                return Reply(body=json.dumps(self.messages, ensure_ascii=False).encode("utf-8"))
        if request.method != "POST":
            return Reply(status=405, body=b'{"error": "POST a JSON notification"}')
        try:
            message = json.loads(request.body or b"{}")
        except ValueError:
            return Reply(status=400, body=b'{"error": "the body is not JSON"}')
        with self.changed:
            self.messages.append(message if isinstance(message, dict) else {"message": message})
            self.changed.notify_all()
        return Reply(body=b'{"ok": true}')

    def titles(self) -> list[str]:
        with self.changed:
            return [str(message.get("title", "")) for message in self.messages]

    def wait_for(self, predicate: Callable[[list[str]], bool], timeout: float = 60) -> list[str]:
        """Block until `predicate(titles)` holds (a condition variable, not a poll); the titles, or raise."""
        with self.changed:
            if not self.changed.wait_for(lambda: predicate(self.titles()), timeout=timeout):
                raise AssertionError(f"no such alert in {timeout} s; got {self.titles()}")
            return self.titles()


@dataclass
class RunningInbox:
    app: InboxApp
    server: EmulatorServer

    @property
    def url(self) -> str:
        """The Apprise URL that reaches this inbox."""
        return "json://" + self.server.root.split("://", 1)[1] + "/alerts"

    def stop(self) -> None:
        self.server.stop()


def start_inbox(host: str = "127.0.0.1", port: int = 0) -> RunningInbox:
    app = InboxApp()
    return RunningInbox(app, EmulatorServer(app, host, port).start())
