"""A local webhook receiver (http.server on 127.0.0.1) that records every request, answers each
with the next scripted status (then 200), and checks signatures with its secret."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sccli.notify.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]
    status: int

    @property
    def doc(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class Receiver:
    url: str
    statuses: list[int] = field(default_factory=list)  # answers to the next requests, then 200
    delays: list[float] = field(default_factory=list)  # seconds to stall before answering
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def delivered(self) -> list[Received]:
        """The requests answered 2xx."""
        with self.lock:
            return [r for r in self.requests if 200 <= r.status < 300]

    def verified(self, secret: str, request: Received) -> bool:
        """The receiver's side of the signature check."""
        return verify(secret, request.headers[TIMESTAMP_HEADER], request.body, request.headers[SIGNATURE_HEADER])


def serve() -> Iterator[Receiver]:
    """Start a receiver on a free port; yield it; stop it."""
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with receiver.lock:
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                delay = receiver.delays.pop(0) if receiver.delays else 0.0
            time.sleep(delay)
            with receiver.lock:
                receiver.requests.append(Received(body, dict(self.headers.items()), status))
            try:
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            except OSError:  # the client gave up (a timeout test)
                pass

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}/hook")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
