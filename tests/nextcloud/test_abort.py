"""A request under a cancel token is cut while it waits for the answer (abort.py).

The server here reads the whole request and then never answers: the client sits in the wait
for the answer, where only the watcher can end it. Without the watcher these requests would
hang until the read timeout (120 s) and the per-test timeout would fail them.
"""

from __future__ import annotations

import http.server
import io
import socket
import ssl
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tellakit.nextcloud import Cancelled, abort, webdav
from tellakit.nextcloud.session import NextcloudSession

from .servers import self_signed_cert

pytestmark = pytest.mark.timeout(30)


class _SilentServer:
    """Accepts connections, reads each request (headers and body), never answers."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.tls = tls
        scheme = "https" if tls is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self.listener.getsockname()[1]}"
        self.received: list[int] = []  # body bytes read per connection, when it ended
        self.ended: list[str] = []  # how each connection ended: "reset" or "eof"
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        data = b""
        body = 0
        try:
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            _head, _, rest = data.partition(b"\r\n\r\n")
            body = len(rest)
            while True:  # read until the client goes away; never answer
                piece = conn.recv(1 << 20)
                if not piece:
                    self.ended.append("eof")
                    break
                body += len(piece)
        except (ConnectionResetError, ssl.SSLError):
            self.ended.append("reset")
        finally:
            self.received.append(body)
            conn.close()
            self.done.set()

    def close(self) -> None:
        self.listener.close()


@contextmanager
def silent_server(tls: ssl.SSLContext | None = None) -> Iterator[_SilentServer]:
    server = _SilentServer(tls)
    try:
        yield server
    finally:
        server.close()


def put_cancelled_once_sent(session: NextcloudSession, url: str, size: int) -> Cancelled:
    """PUT ``size`` bytes, cancelled once the whole body is sent; the ``Cancelled`` raised."""
    cancel = threading.Event()

    def on_progress(n: int) -> None:
        if n == size:  # the whole body is with the kernel: from now on we only wait
            cancel.set()

    with pytest.raises(Cancelled) as info:
        webdav.put(
            session, url, io.BytesIO(bytes(size)), size, on_progress=on_progress, cancel=cancel
        )
    return info.value


@pytest.mark.parametrize("size", [1, 300_000])
def test_cancel_while_waiting_for_the_answer_cuts_the_connection(size: int) -> None:
    with silent_server() as server, NextcloudSession("alice", "pw") as session:
        cancelled = put_cancelled_once_sent(session, f"{server.url}/f", size)
        assert cancelled.bytes_sent == size
        assert server.done.wait(10)
    assert server.ended == ["reset"]  # a reset, not a polite FIN after the queued bytes


def test_cancel_while_waiting_for_the_answer_cuts_a_tls_connection(tmp_path: Path) -> None:
    cert, key = self_signed_cert(tmp_path)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    size = 300_000
    with silent_server(ctx) as server, NextcloudSession("alice", "pw") as session:
        session.verify = str(cert)  # verification stays on, against this throwaway CA
        cancelled = put_cancelled_once_sent(session, f"{server.url}/f", size)
        assert cancelled.bytes_sent == size
        assert server.done.wait(10)
    assert server.received == [size]


class _Created(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so the client pools the connection

    def do_PUT(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


class _CountingServer(http.server.ThreadingHTTPServer):
    connections = 0

    def process_request(self, request: Any, client_address: Any) -> None:
        self.connections += 1
        super().process_request(request, client_address)


def test_a_finished_request_is_not_cut_later_and_its_connection_is_reused() -> None:
    httpd = _CountingServer(("127.0.0.1", 0), _Created)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    cancel = threading.Event()
    try:
        with NextcloudSession("alice", "pw") as session:
            webdav.put(session, f"{url}/a", io.BytesIO(b"one"), 3, cancel=cancel)
            cancel.set()  # after the answer: the watcher must leave the connection alone
            time.sleep(3 * abort.POLL_SECONDS)  # give it the chance to do wrong
            webdav.put(session, f"{url}/b", io.BytesIO(b"two"), 3)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert httpd.connections == 1  # the pooled connection was still good: no reconnect


def test_a_second_abort_with_nothing_left_to_send_still_ends_in_a_reset() -> None:
    # A loaded machine: the request thread is slow to wake after the first abort, so the
    # watcher's next poll aborts again before the thread closes the connection. Its body was
    # all sent and read: a FIN now would tell the server the request ended normally.
    if abort._OUTQ is None:
        pytest.skip("no SIOCOUTQ on this system: a second abort shuts both sides down")
    listener = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(listener.getsockname())
    server, _ = listener.accept()
    try:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.sendall(b"x" * 100_000)
        received = 0
        while received < 100_000:
            received += len(server.recv(1 << 20))
        deadline = time.monotonic() + 10
        while abort._unsent(client) not in (0, None):  # acknowledged by the server's kernel
            assert time.monotonic() < deadline
            time.sleep(0.01)
        cancel = threading.Event()
        cancel.set()
        watch = abort.RequestWatch(cancel)
        watch.register(client)
        watch.abort()  # the watcher's first poll
        watch.abort()  # its next one, the request thread still not done
        client.close()  # the request thread finally lets go...
        watch.close()  # ... and the watch's own descriptor goes: the socket closes
        server.settimeout(10)
        with pytest.raises(ConnectionResetError):
            assert server.recv(1) != b"", "a FIN: the server saw a polite end"
    finally:
        server.close()
        listener.close()
