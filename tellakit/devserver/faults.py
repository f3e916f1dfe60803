"""Fault injection: cut connections, answer chosen statuses, add latency, cap bandwidth,
flip a byte of a request body.

Rules match on method (None = any) and a regular expression searched in the request
path. They are checked in the order added; the first rule that fires wins (a byte flip is
decided apart, so it combines with the others: the first flip rule that fires applies).

The bandwidth cap emulates a slow link between client and server: while it is active, the
connections that carry requests get a small kernel receive buffer (limit_receive_buffer,
applied when a request starts under a cap or a cap starts during it), bodies are read in
small paced steps, and when the client hangs up the bytes not yet paced through are dropped,
as a reset drops what a real slow link had not yet carried. Without a cap nothing changes.
"""

from __future__ import annotations

import contextlib
import logging
import random
import re
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: poll() flags of a peer that closed its side; POLLRDHUP is Linux's "FIN received" (set even
#: while sent bytes are still waiting in the receive buffer).
_HANGUP = getattr(select, "POLLRDHUP", 0x2000) | select.POLLHUP | select.POLLERR


def peer_hung_up(sock: Any) -> bool:
    """True when the client behind ``sock`` has closed or reset its connection."""
    if sock is None:
        return False
    try:
        poller = select.poll()
        poller.register(sock, _HANGUP)
        return bool(poller.poll(0))
    except (OSError, ValueError, TypeError):
        return False


class ConnectionCut(Exception):
    """Raised inside the server when the fault injector cuts a request."""


class _HideCuts(logging.Filter):
    """wsgidav logs a traceback for every failed PUT; a deliberate cut is not news."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, ConnectionCut)


logging.getLogger("wsgidav.request_server").addFilter(_HideCuts())


@dataclass
class Rule:
    """One fault rule."""

    kind: str  # "cut", "respond", "latency", "probability", "flip", "cut_response"
    method: str | None
    path: re.Pattern[str] | None
    status: int = 0
    nbytes: int = 0
    seconds: float = 0.0
    nth: int = 1
    times: int = 1  # how many times it fires (cut/respond); <= 0 = forever
    headers: list[tuple[str, str]] = field(default_factory=list)
    p: float = 0.0
    xor: int = 0x01  # flip: the mask applied to the byte at nbytes
    rng: random.Random | None = None
    seen: int = 0  # matching requests so far
    fired: int = 0

    def matches(self, method: str, path: str) -> bool:
        """Whether the rule applies to this request."""
        if self.method and self.method.upper() != method.upper():
            return False
        return self.path is None or self.path.search(path) is not None

    def exhausted(self) -> bool:
        return self.times > 0 and self.fired >= self.times


@dataclass
class Decision:
    """What the injector decided for one request."""

    status: int | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    cut_after: int | None = None
    cut_rule: Rule | None = None
    latency: float = 0.0
    flip_rule: Rule | None = None  # flips the body byte at flip_rule.nbytes when reached
    response_cut_rule: Rule | None = None  # ends the answer after response_cut_rule.nbytes


class Faults:
    """The fault injector of one server (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[Rule] = []
        self._bandwidth: int | None = None

    @staticmethod
    def _compile(path: str | None) -> re.Pattern[str] | None:
        return re.compile(path) if path else None

    def cut_after(
        self, nbytes: int, *, method: str | None = None, path: str | None = None, times: int = 1
    ) -> None:
        """Drop the TCP connection after ``nbytes`` of a matching request's body were read."""
        self._add(Rule("cut", method, self._compile(path), nbytes=nbytes, times=times))

    def respond(
        self,
        status: int,
        *,
        method: str | None = None,
        path: str | None = None,
        nth: int = 1,
        times: int = 1,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer ``status`` to the ``nth`` matching request (and the ``times - 1`` after it)."""
        hdrs = list((headers or {}).items())
        self._add(
            Rule(
                "respond",
                method,
                self._compile(path),
                status=status,
                nth=nth,
                times=times,
                headers=hdrs,
            )
        )

    def latency(
        self, seconds: float, *, method: str | None = None, path: str | None = None
    ) -> None:
        """Wait ``seconds`` before handling each matching request."""
        self._add(Rule("latency", method, self._compile(path), seconds=seconds, times=0))

    def flip_byte(
        self,
        offset: int,
        *,
        method: str | None = None,
        path: str | None = None,
        nth: int = 1,
        times: int = 1,
        xor: int = 0x01,
    ) -> None:
        """Corrupt the request body byte at ``offset`` (XOR ``xor``) of the ``nth`` matching
        request (and the ``times - 1`` after it), as a link that flips bits would; the server
        stores the corrupted byte. A body shorter than ``offset + 1`` does not use it up.

        E.g. one PUT: ``flip_byte(100, method="PUT", path="/files/alice/a.bin$")``; a middle
        chunk: ``path="/uploads/alice/[^/]+/00002$"``; the final chunk: its number likewise.
        """
        if offset < 0 or not 0 < xor < 256:
            raise ValueError("offset must be >= 0 and xor between 1 and 255")
        self._add(
            Rule(
                "flip",
                method,
                self._compile(path),
                nbytes=offset,
                nth=nth,
                times=times,
                xor=xor,
            )
        )

    def cut_response_after(
        self, nbytes: int, *, method: str | None = None, path: str | None = None, times: int = 1
    ) -> None:
        """End the connection after ``nbytes`` of a matching answer's body went out (a
        download cut mid-way); an answer shorter than that does not use the rule up."""
        self._add(Rule("cut_response", method, self._compile(path), nbytes=nbytes, times=times))

    def bandwidth(self, bytes_per_second: int | None) -> None:
        """Cap each request's body and response speed (None removes the cap)."""
        with self._lock:
            self._bandwidth = bytes_per_second

    def current_bandwidth(self) -> int | None:
        """The cap in bytes per second, None when there is none."""
        with self._lock:
            return self._bandwidth

    def probability(
        self,
        status: int,
        p: float,
        *,
        method: str | None = None,
        path: str | None = None,
        seed: int = 0,
    ) -> None:
        """Answer ``status`` to each matching request with probability ``p`` (seeded)."""
        self._add(
            Rule(
                "probability",
                method,
                self._compile(path),
                status=status,
                p=p,
                times=0,
                rng=random.Random(seed),
            )
        )

    def clear(self) -> None:
        """Remove every rule and the bandwidth cap."""
        with self._lock:
            self._rules.clear()
            self._bandwidth = None

    def _add(self, rule: Rule) -> None:
        with self._lock:
            self._rules.append(rule)

    def decide(self, method: str, path: str) -> Decision:
        """Apply the rules to one request."""
        decision = Decision()
        with self._lock:
            for rule in self._rules:
                if not rule.matches(method, path):
                    continue
                if rule.kind == "flip":
                    if decision.flip_rule is None and not rule.exhausted():
                        rule.seen += 1
                        if rule.seen >= rule.nth:
                            decision.flip_rule = rule  # used up when the byte goes by (claim)
                    continue
                if rule.kind == "cut_response":
                    if decision.response_cut_rule is None and not rule.exhausted():
                        decision.response_cut_rule = rule  # used up when it cuts (claim)
                    continue
                if rule.kind == "latency":
                    decision.latency += rule.seconds
                    continue
                if rule.exhausted() or decision.status is not None:
                    continue
                if decision.cut_after is not None:
                    continue
                rule.seen += 1
                if rule.kind == "respond" and rule.seen >= rule.nth:
                    rule.fired += 1
                    decision.status = rule.status
                    decision.headers = list(rule.headers)
                elif rule.kind == "probability" and rule.rng is not None:
                    if rule.rng.random() < rule.p:
                        rule.fired += 1
                        decision.status = rule.status
                elif rule.kind == "cut":
                    # Counted when the cut happens (claim): a request whose body is
                    # shorter than nbytes does not use the rule up.
                    decision.cut_after = rule.nbytes
                    decision.cut_rule = rule
        return decision

    def claim(self, rule: Rule | None) -> bool:
        """Use up one firing of a cut or flip rule; False when it is already used up."""
        if rule is None:
            return False
        with self._lock:
            if rule.exhausted():
                return False
            rule.fired += 1
            return True

    def add_spec(self, spec: str) -> None:
        """Add a rule from a CLI spec ``METHOD:PATH_REGEX:KIND:ARG[:ARG]``.

        ``*`` or an empty field means any. Kinds: ``cut:N`` (bytes), ``status:CODE[:NTH]``,
        ``latency:SECONDS``, ``bandwidth:BYTES_PER_S``, ``prob:CODE:P``,
        ``flip:OFFSET[:NTH]`` (once).
        Example: ``PUT:/uploads/:cut:1048576``.
        """
        parts = spec.split(":")
        if len(parts) < 4:
            raise ValueError(f"fault spec needs METHOD:PATH:KIND:ARG, got {spec!r}")
        method = None if parts[0] in ("", "*") else parts[0]
        path = None if parts[1] in ("", "*") else parts[1]
        kind, args = parts[2], parts[3:]
        if kind == "cut":
            self.cut_after(int(args[0]), method=method, path=path, times=0)
        elif kind == "status":
            nth = int(args[1]) if len(args) > 1 else 1
            self.respond(int(args[0]), method=method, path=path, nth=nth)
        elif kind == "latency":
            self.latency(float(args[0]), method=method, path=path)
        elif kind == "bandwidth":
            self.bandwidth(int(args[0]))
        elif kind == "prob":
            self.probability(int(args[0]), float(args[1]), method=method, path=path)
        elif kind == "flip":
            nth = int(args[1]) if len(args) > 1 else 1
            self.flip_byte(int(args[0]), method=method, path=path, nth=nth)
        else:
            raise ValueError(f"unknown fault kind {kind!r} in {spec!r}")


#: Receive buffer asked for on connections that carry a capped request (Linux doubles it).
CAPPED_RCVBUF = 64 * 1024
#: Largest body read while a cap is active: bytes are pulled from the socket in paced steps.
CAPPED_READ_STEP = 64 * 1024


def limit_receive_buffer(sock: Any) -> None:
    """Keep ``sock``'s kernel receive buffer small (a bandwidth cap is active).

    The cap is applied as the server reads. A default receive buffer grows to megabytes, so a
    client's bytes would sit on the server's side of a slow link and could complete a chunk
    after the client gave up; on a real slow link they are still on the client's side.
    Set when a capped request starts (before its first body read); it stays for the connection's
    life, new connections start with the kernel's default. Never called without a cap.
    """
    if sock is None:
        return
    # Setting it also turns off the kernel's receive-buffer autotuning for the socket.
    with contextlib.suppress(OSError, ValueError, TypeError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, CAPPED_RCVBUF)


class Throttle:
    """Sleeps so that the bytes passed through stay under the current bandwidth cap.

    The cap is read live, so changing or removing it also affects requests in flight.
    ``on_cap`` is called whenever a cap becomes active for this request (to shrink the
    connection's receive buffer).
    """

    def __init__(
        self,
        faults: Faults | None,
        hung_up: Callable[[], bool] | None = None,
        on_cap: Callable[[], None] | None = None,
    ) -> None:
        self._faults = faults
        self._hung_up = hung_up
        self._on_cap = on_cap
        self._rate: int | None = None
        self.start = time.monotonic()
        self.count = 0
        #: The client went away: no more sleeping for this request. Bytes not yet paced
        #: through never crossed the emulated link (CountingInput ends the body there), so
        #: the body read ends short and the handler unwinds (releasing the file's lock) at
        #: once, as a real server does when a request dies.
        self.abandoned = False

    def read_step(self) -> int | None:
        """How many bytes to pull from the socket at once; None while no cap is active."""
        rate = self._faults.current_bandwidth() if self._faults is not None else None
        if not rate:
            return None
        if rate != self._rate and self._on_cap is not None:
            self._on_cap()
        return max(4096, min(CAPPED_READ_STEP, rate // 10))

    def passed(self, n: int) -> None:
        """Account for ``n`` bytes, sleeping if ahead of the rate."""
        if self.abandoned:
            return
        rate = self._faults.current_bandwidth() if self._faults is not None else None
        if rate != self._rate:  # a new cap starts a new measurement
            if rate and self._on_cap is not None:
                self._on_cap()
            self._rate, self.start, self.count = rate, time.monotonic(), 0
        if not rate:
            return
        self.count += n
        while True:
            ahead = self.count / rate - (time.monotonic() - self.start)
            if ahead <= 0:
                return
            if self._hung_up is not None and self._hung_up():
                self.abandoned = True
                return
            time.sleep(min(ahead, 0.1))  # short naps: a lifted cap takes effect at once
            if self._faults is not None and self._faults.current_bandwidth() != rate:
                return


class CountingInput:
    """Wraps ``wsgi.input``: counts bytes, applies the bandwidth cap, the cut and the flip."""

    def __init__(
        self,
        raw: Any,
        throttle: Throttle,
        cut_after: int | None,
        cut: Any,
        flip: Any = None,
    ) -> None:
        self._raw = raw
        self._throttle = throttle
        self._cut_after = cut_after
        self._cut = cut
        #: (offset, xor, claim) of a byte to corrupt; claim() False: the rule was used up
        self._flip: tuple[int, int, Callable[[], bool]] | None = flip
        self.count = 0

    def _corrupt(self, data: bytes) -> bytes:
        """``data`` (the bytes from ``self.count`` on) with the chosen byte flipped."""
        if self._flip is None or not 0 <= self._flip[0] - self.count < len(data):
            return data  # not in this block: no copy
        corrupted = bytearray(data)
        with memoryview(corrupted) as view:
            self._corrupt_in_place(view, len(corrupted))
        return bytes(corrupted)

    def _limit(self, size: int) -> int:
        if self._cut_after is None:
            return size
        room = self._cut_after - self.count
        if room <= 0:
            self._cut_now()
            return size
        return room if size is None or size < 0 else min(size, room)

    def read(self, size: int = -1) -> bytes:
        """Read like a file (under a cap: in paced steps, ending where the client left)."""
        if self._throttle.abandoned:
            return b""
        step = self._throttle.read_step()
        if step is None:
            data = self._corrupt(self._raw.read(self._limit(size)))
            self._account(data)
            return data
        want = None if size is None or size < 0 else size
        parts: list[bytes] = []
        while want is None or want > 0:
            data = self._raw.read(self._limit(step if want is None else min(step, want)))
            if not data:
                break
            data = self._corrupt(data)
            self._account(data)
            if self._throttle.abandoned:
                # The client hung up while this step was being paced: on a real slow link
                # these bytes were still on its side, and its reset dropped them.
                self.count -= len(data)
                break
            parts.append(data)
            if want is not None:
                want -= len(data)
            step = self._throttle.read_step() or 1 << 20  # a lifted cap: full speed
        return b"".join(parts)

    def readinto(self, buffer: Any) -> int:
        """Read into ``buffer`` like a raw file (no copy when neither a cap nor a flip is on)."""
        if self._throttle.abandoned:
            return 0
        raw_readinto = getattr(self._raw, "readinto", None)
        if raw_readinto is None or self._throttle.read_step() is not None:
            data = self.read(len(buffer))
            buffer[: len(data)] = data
            return len(data)
        with (
            memoryview(buffer) as whole,
            whole.cast("B") as flat,
            flat[: self._limit(len(flat))] as view,
        ):
            n = int(raw_readinto(view) or 0)
            self._corrupt_in_place(view, n)
        self._account_count(n)
        return n

    def _corrupt_in_place(self, view: memoryview, n: int) -> None:
        """Flip the chosen byte if it is among ``view[:n]`` (the bytes from ``self.count``)."""
        if self._flip is None or not n:
            return
        offset, xor, claim = self._flip
        index = offset - self.count
        if not 0 <= index < n:
            return
        self._flip = None
        if claim():
            view[index] ^= xor

    def readline(self, size: int = -1) -> bytes:
        """Read a line like a file."""
        data = self._corrupt(self._raw.readline(self._limit(size)))
        self._account(data)
        return data

    def _account(self, data: bytes) -> None:
        self._account_count(len(data))

    def _account_count(self, n: int) -> None:
        self.count += n
        self._throttle.passed(n)
        if self._cut_after is not None and self.count >= self._cut_after:
            self._cut_now()

    def _cut_now(self) -> None:
        # The cut callback returns False when the rule was used up by another request
        # meanwhile: then this request simply goes on.
        if self._cut():
            raise ConnectionCut("connection cut by the fault injector")
        self._cut_after = None

    def __iter__(self) -> Any:
        while True:
            line = self.readline()
            if not line:
                return
            yield line
