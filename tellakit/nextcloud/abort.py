"""Aborting a request in flight when its cancel token is set, wherever the request is.

``StreamBody`` checks the token between the pieces of a body, but once the last piece is
handed to the kernel the request thread sits in the wait for the server's answer, where no
token is checked. Several MB fit in loopback socket buffers, so a slow server would go on
reading the body, and complete the file or chunk, seconds after a pause.

So while a request with a token runs inside :func:`watch`, the connection classes of the
session (``session._WatchedHTTPConnection`` and its HTTPS twin) register the socket they use
with the current :class:`RequestWatch` (a context variable, so only the request of this
thread). One shared watcher thread polls the tokens of the running watches every
``POLL_SECONDS``; when one is set it shuts the socket's reading side down (SO_LINGER 0
first). That wakes the request thread waiting for the answer; urllib3 then closes the
connection, which with SO_LINGER 0 is a reset: the kernel drops what it still queued, and
the server's read of the body fails instead of completing. A request still running at the
next poll with bytes still queued to send (a thread blocked in send(), which a read shutdown
does not wake) gets both sides shut down; the FIN that adds goes out only after the queued
bytes, so the reset overtakes it. With nothing queued (the thread is only slow to wake, on a
loaded machine) no FIN is sent: the server, which has nothing more to read, would take it
for the end of a complete request, where the reset tells it the request died.

Bytes the server's kernel has already acknowledged cannot be called back: when the whole rest
of the body sits in the server's receive buffer, the server completes the request. Over a
real slow link the unsent part waits on this side (or in flight), where the reset drops it.

The watch keeps its own duplicate of the socket's descriptor, so the socket it shuts down is
always the request's own, never a later one that reused the descriptor number.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import socket
import struct
import threading
from collections.abc import Iterator
from typing import Any

from tellakit.nextcloud.cancel import CancelToken, is_cancelled

log = logging.getLogger(__name__)

#: How often the watcher looks at the tokens (a pause takes effect within about this much).
POLL_SECONDS = 0.1
#: The watcher thread ends after this many idle polls; the next watch starts a new one.
IDLE_POLLS = 50

_LINGER_RESET = struct.pack("ii", 1, 0)
#: ioctl asking a TCP socket for its unacknowledged send queue (SIOCOUTQ = TIOCOUTQ on Linux);
#: None where there is none (then a second abort shuts both sides down)
_OUTQ: int | None
try:
    import fcntl
    import termios

    _OUTQ = termios.TIOCOUTQ
except (ImportError, AttributeError):  # pragma: no cover - not POSIX
    _OUTQ = None


class RequestWatch:
    """The sockets of one request and whether its token made the watcher abort them."""

    def __init__(self, cancel: CancelToken) -> None:
        self.cancel = cancel
        self.aborted = False
        self._lock = threading.Lock()
        self._socks: list[socket.socket] = []
        self._seen: list[Any] = []  # the connection's own socket objects, registered once
        self._closed = False

    def register(self, sock: Any) -> None:
        """Remember ``sock`` (the request's connection); abort it at once if already due."""
        with self._lock:
            if any(s is sock for s in self._seen):
                return
            self._seen.append(sock)
        try:
            dup = socket.fromfd(sock.fileno(), sock.family, sock.type)
        except (OSError, AttributeError, ValueError):
            return  # not a real socket (or already closed): nothing to abort later
        with self._lock:
            if self._closed:
                dup.close()
                return
            self._socks.append(dup)
            if self.aborted:  # cut before it could send: nothing of the body is lost
                _shut(dup, socket.SHUT_RDWR)

    def abort(self) -> None:
        """Cut the request's sockets; the request thread then fails at once.

        The first call shuts the reading side (ends a wait for the answer, no FIN sent);
        a second call, when the request is still running by then, shuts both sides.
        """
        with self._lock:
            if self._closed:
                return
            again = self.aborted
            self.aborted = True
            for sock in self._socks:
                # A FIN only where a sender may be blocked; nothing queued: no thread is.
                _shut(sock, socket.SHUT_RDWR if again and _unsent(sock) != 0 else socket.SHUT_RD)

    def close(self) -> None:
        """The request is over: forget (close the duplicates of) its sockets."""
        with self._lock:
            self._closed = True
            socks, self._socks = self._socks, []
            self._seen = []
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.close()


def _unsent(sock: socket.socket) -> int | None:
    """Bytes in ``sock``'s send queue not yet acknowledged (SIOCOUTQ); None where unknown."""
    if _OUTQ is None:
        return None
    try:
        answer = fcntl.ioctl(sock.fileno(), _OUTQ, struct.pack("i", 0))
    except (OSError, ValueError):
        return None
    return int(struct.unpack("i", answer)[0])


def _shut(sock: socket.socket, how: int) -> None:
    # SO_LINGER 0 makes the close that follows a reset (the session sets it on its own
    # connections already; set it here too for any other). shutdown() wakes a thread blocked
    # on the same socket (SHUT_RD a recv(), SHUT_WR a send()), which close() from another
    # thread would not.
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
    with contextlib.suppress(OSError):
        sock.shutdown(how)


class _Watcher:
    """One daemon thread for all running watches; it ends when idle and restarts on demand."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._watches: set[RequestWatch] = set()
        self._thread: threading.Thread | None = None

    def add(self, watch: RequestWatch) -> None:
        with self._lock:
            self._watches.add(watch)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="tellakit-cancel-watcher", daemon=True
                )
                self._thread.start()

    def discard(self, watch: RequestWatch) -> None:
        with self._lock:
            self._watches.discard(watch)

    def _run(self) -> None:
        idle = 0
        stop = threading.Event()
        while True:
            stop.wait(POLL_SECONDS)
            with self._lock:
                watches = list(self._watches)
                if not watches:
                    idle += 1
                    if idle >= IDLE_POLLS:
                        self._thread = None
                        return
                    continue
            idle = 0
            for watch in watches:
                try:
                    if is_cancelled(watch.cancel):
                        watch.abort()
                except Exception:  # a faulty token must not kill the watcher of all requests
                    log.exception("checking a cancel token failed")


_WATCHER = _Watcher()
_CURRENT: contextvars.ContextVar[RequestWatch | None] = contextvars.ContextVar(
    "tellakit_request_watch", default=None
)


@contextlib.contextmanager
def watch(cancel: CancelToken | None) -> Iterator[RequestWatch | None]:
    """Run the request made inside this block under ``cancel`` (None: no watch at all).

    Yields the :class:`RequestWatch`; its ``aborted`` tells afterwards whether the watcher
    cut the connection because the token was set.
    """
    if cancel is None:
        yield None
        return
    current = RequestWatch(cancel)
    reset = _CURRENT.set(current)
    _WATCHER.add(current)
    try:
        yield current
    finally:
        _WATCHER.discard(current)
        _CURRENT.reset(reset)
        current.close()


def register_socket(sock: Any) -> None:
    """Called by the session's connections with the socket a request is about to use."""
    current = _CURRENT.get()
    if current is not None and sock is not None:
        current.register(sock)
