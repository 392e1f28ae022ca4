"""Local AWS over real HTTP for failure tests: the drills' moto server (DynamoDB writes atomic),
and a proxy in front of it that loses, delays or fails chosen replies.

Both listen on 127.0.0.1 only. The handlers' own boto3 clients reach them through botocore's
standard AWS_ENDPOINT_URL, so retries, timeouts and error parsing are botocore's own.
"""

from __future__ import annotations

import contextlib
import http.client
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from drills.local_aws import moto_server
from drills.local_aws import reset as reset_moto

#: The drills' moto server: DynamoDB requests serialized, so conditional writes are atomic as in
#: DynamoDB (moto applies one in several unlocked steps).
atomic_moto_server = moto_server

__all__ = ["FaultProxy", "Rule", "atomic_moto_server", "fault_proxy", "reset_moto"]


@dataclass
class Rule:
    """What the proxy does to the next `times` requests for `operation` (e.g. "PutItem")."""

    operation: str
    #: "lose": forward, then close the connection without a reply (applied, reply lost);
    #: "delay": forward, then reply after `delay_s`; "fail": answer `status` without forwarding.
    action: str
    times: int = 1
    delay_s: float = 0.0
    status: int = 500


@dataclass
class FaultProxy:
    upstream: str
    rules: list[Rule] = field(default_factory=list)
    #: operation -> requests that reached the proxy (forwarded or not)
    seen: dict[str, int] = field(default_factory=dict)
    #: operation -> requests forwarded to the server
    forwarded: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, operation: str) -> Rule | None:
        with self.lock:
            self.seen[operation] = self.seen.get(operation, 0) + 1
            for rule in self.rules:
                if rule.operation == operation and rule.times > 0:
                    rule.times -= 1
                    return rule
        return None

    def count_forwarded(self, operation: str) -> None:
        with self.lock:
            self.forwarded[operation] = self.forwarded.get(operation, 0) + 1


def _handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    target = urlsplit(proxy.upstream)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

        def _relay(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            operation = str(self.headers.get("X-Amz-Target", "")).rpartition(".")[2]
            rule = proxy.take(operation)
            if rule is not None and rule.action == "fail":
                payload = b'{"__type":"InternalServerError","message":"injected"}'
                self.send_response(rule.status)
                self.send_header("Content-Type", "application/x-amz-json-1.0")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return
            connection = http.client.HTTPConnection(target.netloc, timeout=30)
            headers = {key: value for key, value in self.headers.items()}
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            proxy.count_forwarded(operation)
            connection.close()
            if rule is not None and rule.action == "lose":
                self.close_connection = True
                self.connection.shutdown(2)
                return
            if rule is not None and rule.action == "delay":
                time.sleep(rule.delay_s)
            self.send_response(response.status)
            for key, value in response.getheaders():
                if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            # The client may have given up waiting (a read timeout): what a slow reply does.
            with contextlib.suppress(OSError):
                self.wfile.write(payload)

        do_POST = _relay
        do_GET = _relay

    return Handler


@contextmanager
def fault_proxy(upstream: str) -> Iterator[tuple[str, FaultProxy]]:
    """A proxy on 127.0.0.1 in front of `upstream`; yields its URL and its rule book."""
    proxy = FaultProxy(upstream)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(proxy))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", proxy
    finally:
        server.shutdown()
        server.server_close()
