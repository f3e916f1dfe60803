"""Outermost WSGI layer: request log, access log line, fault injection."""

from __future__ import annotations

import contextlib
import errno
import socket
import struct
import time
from collections.abc import Iterable, Iterator
from typing import Any

from tellakit.devserver.faults import (
    CountingInput,
    Faults,
    Throttle,
    limit_receive_buffer,
    peer_hung_up,
)
from tellakit.devserver.reqlog import RequestLog, RequestRecord, log_line
from tellakit.devserver.responses import (
    Environ,
    StartResponse,
    drain,
    respond,
    sabre_error_body,
)


def request_path(environ: Environ) -> str:
    """The decoded URL path (cheroot hands it over as latin-1 of the raw bytes)."""
    raw = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    try:
        return raw.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return raw


class Frontend:
    """Wraps the Nextcloud application with the fault injector and the request log."""

    def __init__(self, app: Any, faults: Faults, log: RequestLog) -> None:
        self.app = app
        self.faults = faults
        self.log = log

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        path = request_path(environ)
        record = RequestRecord(method, path, 0, 0, 0, time.time())
        decision = self.faults.decide(method, path)
        sock = getattr(environ.get("tellakit.conn"), "socket", None)
        throttle = Throttle(
            self.faults,
            hung_up=lambda: peer_hung_up(sock),
            on_cap=lambda: limit_receive_buffer(sock),
        )
        if self.faults.current_bandwidth():
            limit_receive_buffer(sock)  # before any body byte is read
        cut_state = {"cut": False}

        def cut() -> bool:
            if not self.faults.claim(decision.cut_rule):
                return False
            cut_state["cut"] = True
            finish()  # logged before the client can notice the cut
            # The socket is reset once the handlers below have unwound (part files gone,
            # busy marks released), in _reset().
            return True

        flip = None
        if decision.flip_rule is not None:
            rule = decision.flip_rule
            flip = (rule.nbytes, rule.xor, lambda: self.faults.claim(rule))
        counting = CountingInput(environ["wsgi.input"], throttle, decision.cut_after, cut, flip)
        environ["wsgi.input"] = counting
        if decision.latency:
            time.sleep(decision.latency)

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if cut_state["cut"]:
                _reset(environ)
            record.status = int(status.split(" ", 1)[0])
            return start_response(status, headers, exc_info)

        def finish() -> None:
            if getattr(finish, "done", False):
                return
            finish.done = True  # type: ignore[attr-defined]
            record.bytes_in = counting.count
            if cut_state["cut"]:
                record.status = 0
            self.log.append(record)
            log_line(environ.get("REMOTE_ADDR", "-"), record)

        try:
            if decision.status is not None:
                drain(environ)
                result: Iterable[bytes] = _fault_response(start, path, decision)
            else:
                result = self.app(environ, start)
        except BaseException:
            finish()
            if cut_state["cut"]:
                _reset(environ)
            raise
        if decision.response_cut_rule is not None:
            rule = decision.response_cut_rule

            def answer_cut(sent: int) -> None:
                record.bytes_out = sent
                record.status = 0
                finish()  # logged before the client can notice the cut

            result = self._cut_answer(environ, result, rule, answer_cut)
        return self._iterate(environ, result, record, throttle, finish, cut_state)

    def _cut_answer(
        self, environ: Environ, result: Iterable[bytes], rule: Any, on_cut: Any
    ) -> Iterator[bytes]:
        """The answer's blocks up to ``rule.nbytes``; then the connection ends (FIN, so the
        client gets every byte sent and then sees the answer end short)."""
        sent = 0
        try:
            for block in result:
                if sent + len(block) > rule.nbytes and self.faults.claim(rule):
                    if rule.nbytes > sent:
                        yield block[: rule.nbytes - sent]
                    yield b""  # _iterate looks one block ahead: this lets the last one go out
                    on_cut(rule.nbytes)
                    _end_connection(environ.get("tellakit.conn"))
                    raise ConnectionResetError(errno.ECONNRESET, "answer cut by fault injector")
                sent += len(block)
                yield block
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()

    def _iterate(
        self,
        environ: Environ,
        result: Iterable[bytes],
        record: RequestRecord,
        throttle: Throttle,
        finish: Any,
        cut_state: dict[str, bool],
    ) -> Iterator[bytes]:
        # One block of look-ahead: the record is complete before the last block goes out,
        # so a test that got the whole response always finds its request in the log.
        iterator = iter(result)
        try:
            try:
                pending = next(iterator)
            except StopIteration:
                finish()
                return
            while True:
                try:
                    following = next(iterator)
                except StopIteration:
                    record.bytes_out += len(pending)
                    finish()
                    throttle.passed(len(pending))
                    yield pending
                    return
                record.bytes_out += len(pending)
                throttle.passed(len(pending))
                yield pending
                pending = following
        except BaseException:
            finish()
            if cut_state["cut"]:
                _reset(environ)
            raise
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
            finish()


def _fault_response(start: StartResponse, path: str, decision: Any) -> list[bytes]:
    status = int(decision.status)
    headers = list(decision.headers)
    if path.startswith("/remote.php/"):
        body = sabre_error_body(status, f"Injected fault: HTTP {status}")
        return respond(
            start, status, body, content_type="application/xml; charset=utf-8", headers=headers
        )
    return respond(start, status, b"", headers=headers)


def _reset(environ: Environ) -> None:
    """Reset the connection of a cut request and leave the request."""
    _drop_connection(environ.get("tellakit.conn"))
    raise ConnectionResetError(errno.ECONNRESET, "connection cut by fault injector")


def _end_connection(conn: Any) -> None:
    """Close the TCP connection under the running request in order (FIN after the data)."""
    sock = getattr(conn, "socket", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _drop_connection(conn: Any) -> None:
    """Reset the TCP connection under the running request."""
    sock = getattr(conn, "socket", None)
    if sock is None:
        return
    try:
        # Linger 0: the kernel sends RST, so the client sees the connection die at once.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
