"""A field link in front of a server: a TCP proxy that drops every connection through it after a
random number of bytes has crossed it, as a mobile link that keeps resetting does.

The fault injector (faults.py) cuts one request; a real link drop ends every connection at
once, wherever each request was, and counts bytes across requests. ``FlakyLink`` does that:

    link = FlakyLink(server.url, drop_every=(4_000_000, 12_000_000), seed=7).start()
    ...connect the client to link.url...
    link.bytes_up, link.bytes_down, link.drops

Bytes are counted in both directions as the proxy reads them (what crossed the link). When the
count reaches the next drop point (drawn uniformly from ``drop_every``, seeded) the bytes beyond
it are not passed on and every open connection ends: the client's is reset, the server reads
what had crossed and then the end of the stream; new connections go through until the next
drop point. ``bandwidth`` caps the link's speed (bytes per second,
shared by all connections). It speaks TCP only, so it works for any client and server.

Thread rules: one accepting thread; two pumping threads per connection (one per direction).
``_lock`` guards the byte counts, the next drop point, the pacing clock and the set of open
connections. A drop shuts the sockets down (which wakes the pumps), and each connection closes
its own sockets when both pumps ended.
"""

from __future__ import annotations

import contextlib
import random
import socket
import struct
import threading
import time
from urllib.parse import urlsplit

_BLOCK = 64 * 1024


class _Connection:
    """One client connection and its connection to the server."""

    def __init__(self, client: socket.socket, server: socket.socket) -> None:
        self.client = client
        self.server = server
        self._left = 2  # pumps still running

    def shut(self) -> None:
        """The link dropped: the client's connection is reset; the server gets what had
        crossed before the drop, then the end of the stream (as a server behind a dead link
        reads what reached it, then times out)."""
        with contextlib.suppress(OSError):
            self.client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.client.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self.server.shutdown(socket.SHUT_WR)

    def pump_ended(self) -> bool:
        """Called once by each pump as it ends; True for the last one."""
        self._left -= 1
        return self._left == 0

    def close(self) -> None:
        for sock in (self.client, self.server):
            with contextlib.suppress(OSError):
                sock.close()


class FlakyLink:
    """A TCP proxy to ``target_url``'s host and port; see the module docstring."""

    def __init__(
        self,
        target_url: str,
        *,
        drop_every: tuple[int, int] | None = None,
        seed: int = 0,
        bandwidth: int | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        parts = urlsplit(target_url)
        self._scheme = parts.scheme or "http"
        self._target = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._path = parts.path.rstrip("/")
        self._host = host
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._drop_every = drop_every
        self._bandwidth = bandwidth
        self._paced_until = 0.0
        self._open: set[_Connection] = set()
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self.bytes_up = 0  # client -> server
        self.bytes_down = 0  # server -> client
        self.drops = 0
        self.connections = 0
        self._next_drop = self._draw(0)

    def __repr__(self) -> str:
        return (
            f"FlakyLink({self.url if self._listener else 'stopped'}, drop_every="
            f"{self._drop_every}, up={self.bytes_up}, down={self.bytes_down}, drops={self.drops})"
        )

    # --- control --------------------------------------------------------------------------------

    def start(self) -> FlakyLink:
        """Listen on a free port of ``host``; returns self."""
        listener = socket.create_server((self._host, 0))
        self._listener = listener
        self._thread = threading.Thread(target=self._accept, name="flaky-link", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and reset every open connection."""
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        self._drop_all()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> FlakyLink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The target URL, through the link."""
        if self._listener is None:
            raise RuntimeError("the link is not started")
        port = self._listener.getsockname()[1]
        return f"{self._scheme}://{self._host}:{port}{self._path}"

    def set_drops(self, drop_every: tuple[int, int] | None) -> None:
        """Change how often the link drops (None: never) from now on."""
        with self._lock:
            self._drop_every = drop_every
            self._next_drop = self._draw(self.bytes_up + self.bytes_down)

    def set_bandwidth(self, bytes_per_second: int | None) -> None:
        """Cap the link's speed (None: no cap)."""
        with self._lock:
            self._bandwidth = bytes_per_second

    @property
    def total(self) -> int:
        """Bytes that crossed the link, both directions."""
        with self._lock:
            return self.bytes_up + self.bytes_down

    # --- the proxy ------------------------------------------------------------------------------

    def _draw(self, count: int) -> int | None:
        if self._drop_every is None:
            return None
        low, high = self._drop_every
        return count + int(self._rng.uniform(low, high))

    def _accept(self) -> None:
        listener = self._listener
        while listener is not None:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self._target)
            except OSError:
                client.close()
                continue
            for sock in (client, server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Connection(client, server)
            with self._lock:
                self._open.add(conn)
                self.connections += 1
            for src, dst, up in ((client, server, True), (server, client, False)):
                threading.Thread(
                    target=self._pump,
                    args=(conn, src, dst, up),
                    name="flaky-link-pump",
                    daemon=True,
                ).start()

    def _pump(self, conn: _Connection, src: socket.socket, dst: socket.socket, up: bool) -> None:
        buf = bytearray(_BLOCK)
        view = memoryview(buf)
        try:
            while True:
                n = src.recv_into(buf)
                if not n:
                    with contextlib.suppress(OSError):
                        dst.shutdown(socket.SHUT_WR)  # the sender finished: pass its FIN on
                    return
                passed, drop, wait = self._cross(n, up)
                if wait > 0:
                    time.sleep(wait)
                if passed:
                    dst.sendall(view[:passed])
                if drop:
                    self._drop_all()
                    return
        except OSError:
            return
        finally:
            with self._lock:
                last = conn.pump_ended()
                if last:
                    self._open.discard(conn)
            if last:
                conn.close()

    def _cross(self, n: int, up: bool) -> tuple[int, bool, float]:
        """Count ``n`` bytes read: (how many pass on, whether the link drops now, seconds to
        wait for the bandwidth cap)."""
        with self._lock:
            count = self.bytes_up + self.bytes_down
            passed, drop = n, False
            if self._next_drop is not None and count + n >= self._next_drop:
                passed, drop = max(0, self._next_drop - count), True
                self.drops += 1
                self._next_drop = self._draw(count + passed)
            if up:
                self.bytes_up += passed
            else:
                self.bytes_down += passed
            wait = 0.0
            if self._bandwidth:
                now = time.monotonic()
                start = max(now, self._paced_until)
                self._paced_until = start + passed / self._bandwidth
                wait = self._paced_until - now
        return passed, drop, wait

    def _drop_all(self) -> None:
        with self._lock:
            conns = list(self._open)
        for conn in conns:
            conn.shut()
