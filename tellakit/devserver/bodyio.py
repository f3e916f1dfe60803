"""Request bodies without Python-level copies: from the socket into a reused buffer, into a file.

cheroot reads bodies through ``_pyio.BufferedReader`` (pure Python): every ``read(n)`` allocates
a bytearray per ``recv``, copies it into bytes and joins the pieces, which cost about a fifth
of the server's time on a large upload. ``SocketBody`` gives a body of known length a
``readinto`` that first takes what cheroot already buffered, then receives straight into the
caller's buffer; ``receive`` copies a body into a file through such buffers, hashing on a
second thread (``hashing.BlockHasher``) only when hashes are wanted.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from tellakit.devserver.hashing import BLOCK, BlockHasher, lend_buffer, return_buffer


class SocketBody:
    """``wsgi.input`` for a body of known length, read straight from the connection.

    Wraps cheroot's ``KnownLengthRFile`` and keeps its ``remaining`` count true (cheroot reads
    what a handler left unread before the next request on the connection).
    """

    def __init__(self, rfile: Any) -> None:
        self._rfile = rfile  # KnownLengthRFile
        self._stream = rfile.rfile  # cheroot's StreamReader on the socket

    @property
    def remaining(self) -> int:
        return int(self._rfile.remaining)

    def _buffered(self, view: memoryview) -> int:
        """Copy bytes cheroot already read from the socket into ``view``; 0 if none."""
        stream = self._stream
        with stream._read_lock:
            data, pos = stream._read_buf, stream._read_pos
            n = min(len(data) - pos, len(view))
            if n <= 0:
                return 0
            view[:n] = data[pos : pos + n]
            stream._read_pos = pos + n
            return n

    def readinto(self, buffer: Any) -> int:
        """Receive up to ``len(buffer)`` bytes of the body into ``buffer``; 0 at its end."""
        with memoryview(buffer) as whole, whole.cast("B") as flat:
            want = min(len(flat), self._rfile.remaining)
            if want <= 0:
                return 0
            with flat[:want] as view:
                n = self._buffered(view)
                if not n:
                    got = self._stream.raw.readinto(view)
                    if got is None:  # a non-blocking socket with nothing to read yet
                        raise TimeoutError("no body data available")
                    n = got
        self._rfile.remaining -= n
        self._stream.bytes_read += n
        return n

    def read(self, size: int | None = -1) -> bytes:
        """Read like a file: up to ``size`` bytes (all that is left by default)."""
        left = self._rfile.remaining
        want = left if size is None or size < 0 else min(size, left)
        buffer = bytearray(want)
        filled = fill(self, buffer, want)
        del buffer[filled:]
        return bytes(buffer)

    def readline(self, size: int | None = None) -> bytes:
        return bytes(self._rfile.readline(size))

    def readlines(self, sizehint: int = 0) -> list[bytes]:
        return list(self._rfile.readlines(sizehint))

    def __iter__(self) -> Any:
        return iter(self._rfile)


def with_socket_body(rfile: Any) -> Any:
    """``rfile`` (cheroot's request body) wrapped in a SocketBody when that is safe."""
    stream = getattr(rfile, "rfile", None)
    if (
        hasattr(rfile, "remaining")
        and type(rfile).__name__ == "KnownLengthRFile"
        and all(hasattr(stream, a) for a in ("_read_buf", "_read_pos", "_read_lock", "raw"))
    ):
        return SocketBody(rfile)
    return rfile  # chunked transfer encoding, or a cheroot whose reader changed: as it is


def fill(stream: Any, buffer: bytearray, want: int) -> int:
    """Fill ``buffer[:want]`` from ``stream`` (short only at the body's end); bytes read."""
    readinto = getattr(stream, "readinto", None)
    if readinto is None:
        data = stream.read(want)
        buffer[: len(data)] = data
        return len(data)
    filled = 0
    with memoryview(buffer) as view:
        while filled < want:
            with view[filled:want] as rest:
                n = readinto(rest)
            if not n:
                break
            filled += n
    return filled


def write_all(fd: int, view: memoryview) -> None:
    """Write all of ``view`` to the file descriptor ``fd``."""
    while view:
        n = os.write(fd, view)
        view = view[n:]


def receive(
    stream: Any,
    fd: int,
    expected: int | None,
    digests: list[Any],
    before_write: Callable[[int], None] | None = None,
) -> int:
    """Copy a request body (``expected`` bytes, or to its end) into the open file ``fd``.

    ``digests`` (hashlib objects) are updated with every byte, on a second thread.
    ``before_write(total)`` is called with the running count before each block is written
    (it may raise, e.g. when a quota is exceeded). Returns the bytes read.
    """
    hasher = BlockHasher(digests) if digests else None
    own = None if hasher is not None else lend_buffer()
    count = 0
    try:
        while expected is None or count < expected:
            buffer = hasher.buffer() if hasher is not None else own
            assert buffer is not None
            want = BLOCK if expected is None else min(BLOCK, expected - count)
            n = fill(stream, buffer, want)
            if not n:
                if hasher is not None:
                    hasher.give_back(buffer)
                break
            count += n
            if before_write is not None:
                before_write(count)
            with memoryview(buffer) as view, view[:n] as block:
                write_all(fd, block)
            if hasher is not None:
                hasher.hash(buffer, n)
    finally:
        if hasher is not None:
            hasher.join()
        if own is not None:
            return_buffer(own)
    return count
