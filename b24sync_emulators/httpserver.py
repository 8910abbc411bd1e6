"""The HTTP plumbing both emulators share: a threaded server on 127.0.0.1 and plain request/reply objects.

An emulator is an `App` with one method, `handle(Request) -> Reply`. The server
can run in a background thread (tests) or in the foreground until a signal
(`b24sync emulate`).
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol
from urllib.parse import urlsplit


@dataclass
class Request:
    method: str  # GET, POST, PATCH...
    path: str  # raw (percent-encoded) path
    query: str  # raw query string
    headers: dict[str, str]  # lower-case names
    body: bytes
    client: str = "127.0.0.1"


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering
    delay: float = 0.0  # seconds to wait before answering


class App(Protocol):
    def handle(self, request: Request) -> Reply: ...


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # answer at once; keep-alive clients would otherwise wait for delayed ACKs
    wbufsize = 1 << 16  # headers and body leave in one write, flushed after each request
    server: EmulatorServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's signature
        return  # quiet: tests and the demo have their own output

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, True)

    def finish(self) -> None:
        self.server.track(self.connection, False)
        super().finish()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        target = self.path
        try:  # http.server reads the request line as latin-1; a client may send raw UTF-8 (Cyrillic names)
            target = target.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
        parts = urlsplit(target)
        request = Request(
            method=self.command,
            path=parts.path,
            query=parts.query,
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
            client=self.client_address[0],
        )
        stats = getattr(self.server.app, "stats", None)
        if stats is not None:
            stats.enter()
        try:
            try:
                reply = self.server.app.handle(request)
            except Exception as failure:  # an emulator bug must show, not hang the client
                reply = Reply(500, f"emulator error: {type(failure).__name__}: {failure}".encode(),
                              "text/plain; charset=utf-8")
            if reply.delay > 0:
                self.server.wait(reply.delay)
        finally:
            if stats is not None:
                stats.leave()
        if reply.drop:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = _serve


class EmulatorServer(ThreadingHTTPServer):
    """A threaded HTTP server bound to one app."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, app: App, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__((host, port), _Handler)

    def track(self, connection: socket.socket, open_: bool) -> None:
        with self._connections_lock:
            (self._connections.add if open_ else self._connections.discard)(connection)

    @property
    def root(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def wait(self, seconds: float) -> None:
        """Added latency; cut short when the server stops so shutdown never hangs."""
        self._stopping.wait(seconds)

    def start(self) -> EmulatorServer:
        """Serve in a background thread (for tests); returns self."""
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and cut every open keep-alive connection, as a server that goes down does."""
        self._stopping.set()
        self.shutdown()
        self.server_close()
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread:
            self._thread.join(timeout=5)
