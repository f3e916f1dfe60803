"""Sending one file's chunks, several at once: the pipe stays full while answers are awaited.

The coordinator (the report's worker thread) plans each chunk (``ChunkPlanner``: its size and
how many may be in flight), records it in the chunk map *before* its first byte is sent, hands
it to a sender thread and, as answers come, records the confirmed chunks. Each sender reads the
body through its own reader (the vault's, decrypting as the body is read, or a sealed body's
read-ahead; while one sender waits for the server, another reads and sends), seeks to its
chunk and PUTs it. Nextcloud assembles by
chunk number, in whatever order they arrived. By default one body crosses at a time and the
next starts as soon as the one before was handed to the kernel (its answer is awaited in
parallel), so a drop loses about one chunk and the server gets chunks in order;
``Tuning.side_by_side`` lets bodies cross together (a sealed body then needs one extra pass for
its digest, see ``transfer.InOrderDigest``).

When a chunk fails, no new chunk starts; the others in flight finish (or fail), so a fault on
one connection does not waste the others. Then the first error is raised (a vault error before
any other: it says why a body stopped). A dropped connection is told to the link model with the
bytes the lost requests had sent; a pause or delete stops every sender within about a second.

Thread rules: only the coordinator writes the chunk map, the vault and the link's streak; the
senders run one chunk each at a time and report bytes through ``_lock``, which guards the
per-chunk byte counts and the confirmed count that progress reports read. The coordinator
sleeps on ``_wake``, which senders set when a chunk ends or a body was wholly handed over.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Protocol, TypeVar

from tellakit.engine.chunking import ChunkPlanner
from tellakit.engine.chunkmap import Chunk, ChunkMap
from tellakit.engine.control import StopToken, check
from tellakit.engine.link import LinkModel
from tellakit.engine.ports import BlobStream, ChunkedUploadPort
from tellakit.errors import ConnectionLost, VaultError

T = TypeVar("T")
#: Seconds between two reports of bytes in flight (a body reports every slice it sends).
PROGRESS_INTERVAL = 0.05


class Body(Protocol):
    """A sender's view of the file (``transfer.GuardedReader``): seekable, remembers a vault
    error raised inside a request body."""

    error: VaultError | None

    def read(self, n: int = -1) -> bytes: ...

    def seek(self, offset: int) -> None: ...


class Guard(Protocol):
    """Runs one request with the transfer's 423 retries; re-raises a body's vault error."""

    def __call__(self, send: Callable[[], T], reader: Body, /) -> T: ...


class _Either:
    """A cancel token set when the run's token is, or when the coordinator itself failed
    (e.g. the vault was locked meanwhile): its senders must not go on alone."""

    def __init__(self, token: StopToken, abort: threading.Event) -> None:
        self._token = token
        self._abort = abort

    def is_set(self) -> bool:
        return self._token.is_set() or self._abort.is_set()


@dataclass
class _Flight:
    chunk: Chunk
    started: float
    sent: int = 0


class ChunkPipeline:
    """Sends the unconfirmed chunks of ``chunks`` and new ones until ``total`` bytes are on the
    server; see the module docstring.

    ``open_body`` opens a fresh reader of the file (``total`` bytes, seekable) wrapped for the
    guard; ``record`` writes the chunk map (and the confirmed count) to the vault;
    ``on_progress(confirmed, in_flight)`` reports bytes; ``on_chunk(confirmed)`` says a chunk
    was confirmed and recorded.
    """

    def __init__(
        self,
        *,
        upload: ChunkedUploadPort,
        open_body: Callable[[ExitStack], Body],
        total: int,
        chunks: ChunkMap,
        planner: ChunkPlanner,
        link: LinkModel | None,
        token: StopToken,
        guard: Guard,
        record: Callable[[ChunkMap], None],
        on_progress: Callable[[int, int], None],
        on_chunk: Callable[[int], None],
        began: float = 0.0,
    ) -> None:
        self.upload = upload
        self.open_body = open_body
        self.total = total
        self.chunks = chunks
        self.planner = planner
        self.link = link
        self.token = token
        self.guard = guard
        self.record = record
        self.on_progress = on_progress
        self.on_chunk = on_chunk
        self.began = began  # when the transfer began using the link (LinkModel.begin)
        self._lock = threading.Lock()
        self._flying: dict[int, _Flight] = {}  # chunk number -> flight
        self._confirmed = chunks.confirmed
        self._local = threading.local()
        self._readers = ExitStack()  # every sender's reader, closed when the run ends
        self._wake = threading.Event()  # set by senders: a chunk ended or a body was sent
        self._reported = 0.0  # when bytes in flight were last reported
        self._abort = threading.Event()  # the coordinator failed: stop the senders
        self._cancel = _Either(token, self._abort)
        self.requests = 0

    # --- the coordinator --------------------------------------------------------------------

    def run(self) -> None:
        """Send until every chunk is confirmed; raise the first error (or Stopped)."""
        again = deque(self.chunks.unconfirmed())  # in flight when last recorded: send again
        futures: dict[Future[None], _Flight] = {}
        failures: list[tuple[BaseException, _Flight]] = []
        started = time.monotonic()
        sent_here = 0
        self.on_progress(self._confirmed, 0)
        with (
            self._readers,
            ThreadPoolExecutor(self.planner.parallel, thread_name_prefix="tellakit-chunk") as pool,
            self._stopping_senders_on_error(),
        ):
            while True:
                if not failures and not self.token.is_set():
                    self._start(pool, again, futures)
                if not futures:
                    break
                self._wake.wait()  # a chunk ended, or a body was wholly handed over
                self._wake.clear()
                confirmed = []
                for future in [f for f in futures if f.done()]:
                    flight = futures.pop(future)
                    error = future.exception()
                    if error is None:
                        confirmed.append(flight)
                    else:
                        failures.append((error, flight))
                if confirmed:
                    sent_here += self._confirm(confirmed, started, sent_here)
        if failures:
            self._failed(failures)
        check(self.token)

    def _start(
        self, pool: ThreadPoolExecutor, again: deque[Chunk], futures: dict[Future[None], _Flight]
    ) -> None:
        """Hand the chunks planned now to the senders (``futures`` gains them)."""
        new, planned = self._plan(again, list(futures.values()))
        if planned:
            self.record(self.chunks)  # in flight, before the first byte
        for chunk in new:
            flight = _Flight(chunk, time.monotonic())
            with self._lock:
                self._flying[chunk.number] = flight
            future = pool.submit(self._send, flight)
            future.add_done_callback(lambda _: self._wake.set())
            futures[future] = flight
            self.requests += 1

    @contextmanager
    def _stopping_senders_on_error(self) -> Iterator[None]:
        """If the coordinator fails, stop the senders before the pool waits for them."""
        try:
            yield
        except BaseException:
            self._abort.set()
            raise

    def _plan(self, again: deque[Chunk], flying: list[_Flight]) -> tuple[list[Chunk], bool]:
        """The chunks to start now: first those to send again, then new ones at the end;
        True when new ones were added to the map (it must be recorded before they go).

        On a link that drops (``Plan.stagger``) a chunk starts only once every body in flight
        was wholly handed over: one body crosses the link at a time (a drop loses at most
        about one chunk) while the answer of the one before is awaited.
        """
        new: list[Chunk] = []
        planned = False
        while True:
            plan = self.planner.plan()
            if len(flying) + len(new) >= plan.in_flight:
                break
            if plan.stagger and (new or any(f.sent < f.chunk.size for f in flying)):
                break
            if again:
                new.append(again.popleft())
                continue
            offset, number = self.chunks.frontier
            if offset >= self.total:
                break
            size = self.planner.next_size(offset, self.total, number)
            new.append(self.chunks.add(size))
            planned = True
        return new, planned

    def _confirm(self, flights: list[_Flight], started: float, before: int) -> int:
        """Record confirmed chunks, then tell the link, the planner and the listeners."""
        for flight in flights:
            self.chunks.confirm(flight.chunk.number)
        self.record(self.chunks)
        now = time.monotonic()
        nbytes = sum(f.chunk.size for f in flights)
        rate = (before + nbytes) / (now - started) if now > started else None
        with self._lock:
            for flight in flights:
                self._flying.pop(flight.chunk.number, None)
            self._confirmed = self.chunks.confirmed
            confirmed, in_flight = self._confirmed, self._in_flight()
        if self.link is not None:
            self.link.delivered(nbytes, rate)
        for flight in flights:
            self.planner.observe(flight.chunk.size, now - flight.started)
        self.on_chunk(confirmed)
        self.on_progress(confirmed, in_flight)
        return nbytes

    def _failed(self, failures: list[tuple[BaseException, _Flight]]) -> None:
        """Tell the link about a drop; raise the error that says most."""
        lost = sum(f.sent for e, f in failures if isinstance(e, ConnectionLost))
        if self.link is not None and any(isinstance(e, ConnectionLost) for e, _ in failures):
            self.link.dropped(lost, self.began)
        with self._lock:
            self._flying.clear()
            confirmed = self._confirmed
        self.on_progress(confirmed, 0)
        errors = [e for e, _ in failures]
        vault = [e for e in errors if isinstance(e, VaultError)]
        raise (vault or errors)[0]

    # --- the senders ------------------------------------------------------------------------

    def _body(self) -> Body:
        """This sender thread's reader of the file (opened on its first chunk)."""
        body: Body | None = getattr(self._local, "body", None)
        if body is None:
            with self._lock:  # the stack of readers is shared by the sender threads
                body = self.open_body(self._readers)
            self._local.body = body
        return body

    def _send(self, flight: _Flight) -> None:
        chunk = flight.chunk
        body = self._body()

        def send() -> None:
            body.seek(chunk.offset)
            self.upload.upload_chunk(
                chunk.number,
                body,
                chunk.size,
                on_progress=lambda n: self._sent(flight, n),
                cancel=self._cancel,
            )

        self.guard(send, body)

    def _sent(self, flight: _Flight, nbytes: int) -> None:
        now = time.monotonic()
        whole = nbytes >= flight.chunk.size
        with self._lock:
            flight.sent = nbytes
            if not whole and now - self._reported < PROGRESS_INTERVAL:
                return  # the views show at most ten updates a second anyway
            self._reported = now
            confirmed, in_flight = self._confirmed, self._in_flight()
        if whole:
            self._wake.set()  # its body is with the kernel: the next chunk may start
        self.on_progress(confirmed, in_flight)

    def _in_flight(self) -> int:
        """Bytes sent of the chunks in flight (the caller holds ``_lock``)."""
        return sum(f.sent for f in self._flying.values())


def open_stream(
    opener: Callable[[], BlobStream], wrap: Callable[[BlobStream], Body]
) -> Callable[[ExitStack], Body]:
    """An ``open_body`` for the pipeline: ``opener()`` entered on ``stack``, then wrapped."""

    def open_body(stack: ExitStack) -> Body:
        stream = opener()
        stack.callback(stream.__exit__, None, None, None)
        return wrap(stream.__enter__())

    return open_body
